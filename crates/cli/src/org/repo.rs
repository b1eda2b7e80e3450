//! One repository of a sweep, start to end: ask its remote for its refs (unchanged since the last complete
//! scan under the same rules: neither fetched nor scanned), enter its fork network (waiting for the
//! network's lender), make it available (clone, borrowing the lender's objects, or fetch into the cache, or
//! read a local one in place), decide whether anything is new (its refs digest against the last scan under
//! the same rules), scan its history through the sweep's blob filter into a sink of its own (without the
//! commits the lender scanned in this run, whose findings it copies with this repository's name), and record
//! the outcome in the datastore in one transaction; only then does it lend to its network. Every failure becomes the repository's recorded error, never the
//! sweep's. Owns the per-repository sink (findings and messages of this repository only) and the outcome's
//! wording; knows nothing of listings, scheduling or printing.
use super::dedup::{Claims, RepoFilter};
use super::network::Networks;
use keysweep_detect::Scanner;
use keysweep_model::{BlobFinding, BlobSink, Diagnostics, Finding, Origin, Stats};
use keysweep_sources::git::history::{scan_history_filtered, HistoryOptions, Selection};
use keysweep_sources::org::clone::{cached_mirror, is_local, sync_with, CloneOptions};
use keysweep_sources::org::remote::advertised;
use keysweep_sources::org::RepoSpec;
use keysweep_store::datastore::{
    Datastore, FindingFilter, RepoOutcome, RepoRecord, STATUS_DONE, STATUS_EMPTY, STATUS_FAILED,
};
use std::sync::Mutex;

/// What the sweep shares with every repository.
pub struct Context<'a> {
    pub store: &'a dyn Datastore,
    pub scanner: &'a Scanner,
    pub claims: &'a Claims,
    /// Fork networks: who lends objects and scanned commits to whom.
    pub networks: &'a Networks,
    pub run: &'a str,
    pub rules_version: &'a str,
    pub history: &'a HistoryOptions,
    /// Archives inside blobs are opened within these limits (as `keysweep git` does).
    pub archives: keysweep_sources::archive::ArchiveLimits,
    /// Scan even when the refs are unchanged since the last scan (blobs already read are still skipped).
    pub rescan: bool,
}

/// How one repository ended.
#[derive(Debug)]
pub enum Outcome {
    Scanned {
        blobs_read: u64,
        blobs_skipped: u64,
        findings: Vec<Finding>,
    },
    /// Refs unchanged since its last complete scan under these rules; `fetched` false when the remote's
    /// advertisement said so and nothing was fetched.
    Unchanged {
        fetched: bool,
    },
    /// No refs: nothing to scan.
    Empty,
    Failed(String),
}

/// A repository's own sink: blob reads go to the shared scanner, findings and messages stay here.
struct RepoSink<'a> {
    scanner: &'a Scanner,
    found: Mutex<Vec<BlobFinding>>,
    messages: Mutex<Vec<(bool, String)>>,
    stats: Stats,
}

impl Diagnostics for RepoSink<'_> {
    fn warn(&self, msg: String) {
        if let Ok(mut m) = self.messages.lock() {
            m.push((false, msg));
        }
    }
    fn error(&self, msg: String) {
        self.stats
            .errors
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut m) = self.messages.lock() {
            m.push((true, msg));
        }
    }
    fn stats(&self) -> &Stats {
        &self.stats
    }
}

impl BlobSink for RepoSink<'_> {
    fn find_in_blob(&self, data: &[u8], origin: &Origin) -> Vec<BlobFinding> {
        self.scanner.find_in_blob(data, origin)
    }
    fn collect(&self, found: Vec<BlobFinding>) {
        if let Ok(mut f) = self.found.lock() {
            f.extend(found);
        }
    }
}

/// Sweep one repository. `previous` is what the datastore knew of it before this run; `owner` a number
/// unique among the repositories of this run. Warnings are returned (each naming the repository) with the
/// outcome.
pub fn sweep(
    ctx: &Context<'_>,
    spec: &RepoSpec,
    clone: &CloneOptions,
    previous: Option<&RepoRecord>,
    owner: u64,
) -> (Outcome, Vec<String>) {
    let mut warnings = Vec::new();
    let outcome = sweep_inner(ctx, spec, clone, previous, owner, &mut warnings);
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            let msg = e.to_string();
            let _ = ctx
                .store
                .set_repository_status(&spec.id, STATUS_FAILED, Some(&msg), None);
            Outcome::Failed(msg)
        }
    };
    (outcome, warnings)
}

/// An error that names the repository.
#[derive(Debug)]
struct RepoError(String);

impl std::fmt::Display for RepoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn sweep_inner(
    ctx: &Context<'_>,
    spec: &RepoSpec,
    clone: &CloneOptions,
    previous: Option<&RepoRecord>,
    owner: u64,
    warnings: &mut Vec<String>,
) -> Result<Outcome, RepoError> {
    let id = &spec.id;
    // The digest of its last complete scan under these rules, if any.
    let last_scan = previous
        .filter(|p| !ctx.rescan && p.status == STATUS_DONE)
        .and_then(|p| p.refs_digest.as_deref())
        .and_then(|d| d.strip_prefix(ctx.rules_version))
        .and_then(|d| d.strip_prefix(':'));
    // One cheap request before a fetch: a mirror whose remote advertises exactly the refs last scanned
    // needs neither a fetch nor a scan. (Any error here: the fetch below meets it again and records it.)
    let advertised = if is_local(spec) {
        None
    } else {
        advertised(spec, clone).ok()
    };
    if let (Some(last), Some(adv)) = (last_scan, &advertised) {
        if let Some(mirror) = cached_mirror(spec, clone).filter(|_| adv.digest == last) {
            // It still lends its mirror's objects to a new repository of its network.
            let (entered, _) = ctx.networks.enter(id, &adv.ids);
            entered.finish(Some(mirror), None);
            return Ok(Outcome::Unchanged { fetched: false });
        }
    }
    // A repository of the same fork network started before this one: wait for it, then borrow its
    // objects and skip the commits it scanned.
    let (entered, lender) = match &advertised {
        Some(adv) => {
            let (e, l) = ctx.networks.enter(id, &adv.ids);
            (Some(e), l)
        }
        None => (None, None),
    };
    let lent = lender.map(|l| ctx.networks.wait(&l));
    let reference = lent.as_ref().and_then(|l| l.mirror.clone());
    let (path, _how) = sync_with(spec, clone, reference.as_deref()).map_err(|e| RepoError(e.0))?;
    let repo = keysweep_sources::git::open(&path)
        .map_err(|e| RepoError(format!("{id}: not a readable git repository: {e:#}")))?;
    let (refs, digest) =
        keysweep_sources::git::refs_digest(&repo).map_err(|e| RepoError(format!("{id}: {e:#}")))?;
    if refs == 0 {
        ctx.store
            .complete_repository(&RepoOutcome {
                run: ctx.run,
                repository: id,
                rules_version: ctx.rules_version,
                findings: &[],
                scanned: &[],
                status: STATUS_EMPTY,
                error: Some("empty repository: no refs, nothing to scan"),
                refs_digest: None,
            })
            .map_err(|e| RepoError(format!("{id}: recording the result: {e:#}")))?;
        return Ok(Outcome::Empty);
    }
    // The digest that says "scanned completely under these rules".
    let key = format!("{}:{digest}", ctx.rules_version);
    // The commits its refs point at now: what a complete scan covers.
    let tips = ref_commits(&repo);
    if last_scan == Some(digest.as_str()) {
        if let Some(e) = entered {
            e.finish(Some(path.clone()), Some(tips));
        }
        return Ok(Outcome::Unchanged { fetched: true });
    }
    // Commits the lender's complete scan covered (those this mirror holds): not walked again here.
    let exclude: Vec<gix::ObjectId> = lent
        .as_ref()
        .and_then(|l| l.scanned.as_ref())
        .map(|t| t.iter().copied().filter(|c| repo.has_object(c)).collect())
        .unwrap_or_default();
    let mut history = ctx.history.clone();
    if !exclude.is_empty() {
        history.selection = Selection::AllRefsExcept {
            exclude: exclude.clone(),
        };
    }
    let sink = RepoSink {
        scanner: ctx.scanner,
        found: Mutex::new(Vec::new()),
        messages: Mutex::new(Vec::new()),
        stats: Stats::default(),
    };
    let filter = RepoFilter::new(ctx.claims, ctx.store, ctx.rules_version, owner);
    let archives = keysweep_sources::archive::ArchiveSink::new(&sink, ctx.archives);
    let result = scan_history_filtered(&archives, &repo, &history, Some(&filter));
    let messages = sink.messages.into_inner().unwrap_or_default();
    let mut errors: Vec<String> = Vec::new();
    for (is_error, text) in messages {
        let text = if text.contains(id.as_str()) {
            text
        } else {
            format!("{id}: {text}")
        };
        if is_error {
            errors.push(text.clone());
        }
        warnings.push(text);
    }
    if let Some(e) = filter.error() {
        warnings.push(format!("{id}: {e} (blobs read again rather than skipped)"));
    }
    let failure = match &result {
        Err(e) => Some(format!("{id}: {e:#}")),
        Ok(stats) if stats.failed => Some(match errors.first() {
            Some(first) if errors.len() > 1 => {
                format!("{first} (and {} more errors)", errors.len() - 1)
            }
            Some(first) => first.clone(),
            None => format!("{id}: the object database is damaged"),
        }),
        Ok(_) => None,
    };
    let found = sink.found.into_inner().unwrap_or_default();
    let findings = ctx.scanner.aggregate(found);
    // The datastore holds no secret: not as a value (previews only), and not where scanned content repeats
    // one (a path, a commit message, a tag name, an error naming a path).
    let redactor = crate::pipeline::content_redactor(ctx.scanner, &findings, warnings, &[]);
    let mut stored: Vec<Finding> = findings.iter().map(|f| redactor.redacted(f)).collect();
    let mut failure = failure.map(|f| redactor.scrub(&f).into_owned());
    // What the lender found in the commits this scan skipped, located in this repository too.
    if let (Some(l), false, None) = (&lent, exclude.is_empty(), &failure) {
        match inherited(ctx.store, &l.id, &repo, &tips) {
            Ok(found) => stored.extend(found),
            Err(e) => failure = Some(format!("{id}: copying {}'s locations: {e:#}", l.id)),
        }
    }
    let scanned = filter.scanned();
    // What was read is recorded even when the scan failed part-way (those results are real); a failed
    // repository keeps no digest, so the next run scans it again.
    let recorded = ctx.store.complete_repository(&RepoOutcome {
        run: ctx.run,
        repository: id,
        rules_version: ctx.rules_version,
        findings: &stored,
        scanned: &scanned,
        status: if failure.is_some() {
            STATUS_FAILED
        } else {
            STATUS_DONE
        },
        error: failure.as_deref(),
        refs_digest: if failure.is_some() { None } else { Some(&key) },
    });
    filter.release();
    recorded.map_err(|e| RepoError(format!("{id}: recording the result: {e:#}")))?;
    if let Some(e) = entered {
        // Lent only once recorded: a repository of its network then finds its locations in the datastore.
        e.finish(
            failure.is_none().then(|| path.clone()),
            failure.is_none().then_some(tips),
        );
    }
    if let Some(f) = failure {
        return Err(RepoError(f));
    }
    Ok(Outcome::Scanned {
        blobs_read: scanned.len() as u64,
        blobs_skipped: filter.skipped(),
        findings,
    })
}

/// The commits `repo`'s refs point at (tags peeled); a ref that cannot be read is left out (a borrower then
/// skips less, never more).
fn ref_commits(repo: &gix::Repository) -> Vec<gix::ObjectId> {
    let mut out = Vec::new();
    let Ok(platform) = repo.references() else {
        return out;
    };
    let Ok(all) = platform.all() else {
        return out;
    };
    for mut r in all.flatten() {
        if let Ok(id) = r.peel_to_id() {
            let id = id.detach();
            if repo
                .find_header(id)
                .is_ok_and(|h| h.kind() == gix::object::Kind::Commit)
            {
                out.push(id);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The lender's findings located in commits `tips` reach (the history this repository shares with it and
/// did not walk), as findings of this repository: same fingerprints, commits, paths and lines. Their refs
/// and "in HEAD" details are the lender's.
fn inherited(
    store: &dyn Datastore,
    lender: &str,
    repo: &gix::Repository,
    tips: &[gix::ObjectId],
) -> anyhow::Result<Vec<Finding>> {
    let found = store.findings(&FindingFilter {
        repository: Some(lender.to_string()),
        ..FindingFilter::default()
    })?;
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let mut reach: std::collections::HashSet<String> = std::collections::HashSet::new();
    for info in repo.rev_walk(tips.iter().copied()).all()? {
        reach.insert(info?.id.to_string());
    }
    let mut out = Vec::new();
    for sf in found {
        let locations: Vec<_> = sf
            .finding
            .locations
            .iter()
            .zip(&sf.repositories)
            .filter(|(loc, r)| {
                r.as_str() == lender && loc.meta.commit().is_some_and(|c| reach.contains(c))
            })
            .map(|(loc, _)| loc.clone())
            .collect();
        if !locations.is_empty() {
            out.push(Finding {
                locations,
                ..sf.finding
            });
        }
    }
    Ok(out)
}
