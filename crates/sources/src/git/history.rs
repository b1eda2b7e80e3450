//! Git history scan: every blob reachable from any ref (branches, tags, remote-tracking refs, `refs/stash`
//! and its reflog, notes, detached HEAD), or only what a commit range introduced, scanned exactly once by object
//! id, plus commit and annotated-tag messages.
//!
//! One pass records provenance cheaply: commits are visited parents-first, and each commit's tree is walked
//! against a parent's tree (`diff_walk`: only entries that differ are looked at) skipping every subtree
//! already seen, so each unique tree is walked once and each blob is attributed to the first commit (in
//! topological order) whose tree holds it — the commit that introduced it, merges included.
//! Blobs are then read and scanned in parallel, one at a time per thread. Only for blobs that produced
//! findings is the rest computed: author/date/summary, the refs that reach the introducing commit (a walk over
//! its descendants) and whether the secret is still present in HEAD's tree.
use super::diff_walk::DiffWalker;
use super::packs::{PackReader, Packs};
use super::{read, CommitMeta, Problems, TreeItem};
use crate::exclude::Excludes;
use anyhow::Result;
use gix::hashtable::{HashMap, HashSet};
use gix::ObjectId;
use keysweep_model::{BlobFinding, BlobSink, Origin};
use rayon::iter::{ParallelBridge, ParallelIterator};
use serde_json::Value;
use std::collections::{BTreeSet, BinaryHeap, HashMap as StdHashMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Mutex;

/// Bytes of decoded pack entries the tree pass keeps (`packs`: every version along a delta chain).
const TREE_PASS_DELTA_CACHE: usize = 8 << 20;
/// Bytes of decoded pack entries each blob worker keeps: none. Versions of one file reach the workers far
/// apart in history order and split between them; 2-8 MB per worker gained nothing measurable on the three
/// bench histories and added 4-17 MB of peak RSS.
const BLOB_READ_CACHE: usize = 0;
/// Bytes of recently read trees the tree pass keeps (read again as the base of a child commit's diff).
const TREE_PASS_RECENT_TREES: usize = 2 << 20;

/// An object id as a set key, compared as three integers rather than by a `memcmp` call: the tree pass
/// tests every blob entry of every tree version against the set of blobs seen (millions of lookups in a
/// large history). Hashed by its first 8 bytes, as gix's own object-id tables are.
#[derive(Clone, Copy, PartialEq, Eq)]
struct IdKey(u64, u64, u32);

impl IdKey {
    fn new(id: &gix::oid) -> Self {
        // keysweep is built for SHA-1 repositories only (gix feature `sha1`): ids are 20 bytes.
        let mut b = [0u8; 20];
        let src = id.as_bytes();
        let n = src.len().min(20);
        b[..n].copy_from_slice(&src[..n]);
        let [a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7, c0, c1, c2, c3] = b;
        IdKey(
            u64::from_ne_bytes([a0, a1, a2, a3, a4, a5, a6, a7]),
            u64::from_ne_bytes([b0, b1, b2, b3, b4, b5, b6, b7]),
            u32::from_ne_bytes([c0, c1, c2, c3]),
        )
    }
}

impl std::hash::Hash for IdKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write(&self.0.to_ne_bytes());
    }
}

/// No commit (blob reached from a tag pointing at a tree or blob, or a dangling blob).
const NO_COMMIT: u32 = u32::MAX;

/// Which commits to scan.
#[derive(Debug, Clone, Default)]
pub enum Selection {
    /// Everything reachable from any ref.
    #[default]
    AllRefs,
    /// Commits reachable from `include` but not from `exclude` (`A..B`: exclude A, include B).
    Range {
        include: Vec<ObjectId>,
        exclude: Vec<ObjectId>,
    },
}

/// Options of a history scan.
#[derive(Debug, Clone)]
pub struct HistoryOptions {
    pub selection: Selection,
    /// Also scan objects no ref reaches (dangling commits and blobs).
    pub unreachable: bool,
    /// Skip blobs larger than this many bytes (counted and warned about).
    pub max_file_size: u64,
    /// Blobs at these paths (relative to the repository root) are never read.
    pub exclude: Excludes,
}

impl Default for HistoryOptions {
    fn default() -> Self {
        HistoryOptions {
            selection: Selection::AllRefs,
            unreachable: false,
            max_file_size: keysweep_model::limits::DEFAULT_MAX_FILE_SIZE,
            exclude: Excludes::default(),
        }
    }
}

/// What a history scan covered.
#[derive(Debug, Default, Clone)]
pub struct HistoryStats {
    pub refs: usize,
    pub commits: usize,
    pub blobs: usize,
    pub blob_bytes: u64,
    pub shallow_boundary: usize,
    pub missing: u64,
    pub corrupt: u64,
    /// The object database is corrupt (a damaged pack or index, an undecodable object): an error.
    pub failed: bool,
    /// Seconds spent walking commits, walking trees, and reading + scanning blobs.
    pub phase_secs: [f64; 3],
}

/// What a sweep's `BlobFilter` says of a blob the tree pass found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobDecision {
    /// Read and scan it here.
    Scan,
    /// Scanned before, with nothing found: leave it.
    Skip,
    /// Another scan running now is reading it: ask `settle` after this scan's own blobs.
    Defer,
}

/// Lets a bulk sweep scan each blob once across many repositories: the tree pass asks, in batches, which of
/// the blobs it found to read; workers report each blob they scanned; after the main pass, `settle` says which
/// deferred blobs this scan must read itself (waiting, if it must, for the scans that claimed them). A blob
/// with findings must still be scanned in every repository holding it (its locations there need this
/// repository's provenance): a filter answers `Scan` for those. `settle` is always called once, after the
/// main pass (with an empty list when nothing was deferred).
pub trait BlobFilter: Sync {
    /// One decision per id, in order, pushed onto `out`.
    fn decide(&self, ids: &[ObjectId], out: &mut Vec<BlobDecision>);
    /// A blob this scan read and scanned, and whether it had findings.
    fn scanned(&self, id: &ObjectId, had_findings: bool);
    /// For each deferred blob, whether this scan must read it itself.
    fn settle(&self, deferred: &[ObjectId]) -> Vec<bool>;
}

/// A blob for the workers: its index among the pass's blobs, id, path and introducing commit.
type Item = (usize, ObjectId, String, Option<ObjectId>);

/// A blob worker's own state: its repository handle, pack reader, read buffer, and the message context of
/// the commit it last read a blob of.
type WorkerState = (
    gix::Repository,
    PackReader,
    Vec<u8>,
    Option<(ObjectId, std::sync::Arc<str>)>,
);

/// The tree pass asks the filter about this many blobs at a time.
const FILTER_BATCH: usize = 512;

struct CommitNode {
    id: ObjectId,
    tree: ObjectId,
    parents: Vec<u32>,
    time: i64,
}

struct BlobEntry {
    id: ObjectId,
    commit: u32,
    path: String,
}

/// The commit graph of the scan.
#[derive(Default)]
struct Graph {
    nodes: Vec<CommitNode>,
    index: HashMap<ObjectId, u32>,
    parent_ids: Vec<Vec<ObjectId>>,
}

/// Findings in an annotated tag's message: (ref name, tag object, findings).
type TagMessage = (String, ObjectId, Vec<BlobFinding>);

/// A message (commit or annotated tag) finding awaiting provenance.
struct MessageFinding {
    commit: u32,
    tag: Option<String>,
    found: Vec<BlobFinding>,
}

/// Scan the history of `repo`.
pub fn scan_history(
    scanner: &dyn BlobSink,
    repo: &gix::Repository,
    opts: &HistoryOptions,
) -> Result<HistoryStats> {
    scan_history_filtered(scanner, repo, opts, None)
}

/// Scan the history of `repo`, reading only the blobs `filter` wants (a sweep's blob-level deduplication).
pub fn scan_history_filtered(
    scanner: &dyn BlobSink,
    repo: &gix::Repository,
    opts: &HistoryOptions,
    filter: Option<&dyn BlobFilter>,
) -> Result<HistoryStats> {
    let problems = Problems::default();
    let mut stats = HistoryStats::default();
    let shallow: HashSet<ObjectId> = repo
        .shallow_commits()
        .ok()
        .flatten()
        .map(|s| s.iter().copied().collect())
        .unwrap_or_default();

    // 1. Tips: (object, ref name). Annotated tags are peeled here, their messages scanned.
    let mut tips: Vec<(ObjectId, String)> = Vec::new();
    let mut messages: Vec<MessageFinding> = Vec::new();
    let mut tag_messages: Vec<TagMessage> = Vec::new();
    let mut loose: Vec<(ObjectId, String)> = Vec::new(); // trees or blobs named directly by a ref
    let mut hidden_tips: Vec<ObjectId> = Vec::new();
    match &opts.selection {
        Selection::AllRefs => {
            collect_ref_tips(
                scanner,
                repo,
                &problems,
                &mut tips,
                &mut loose,
                &mut tag_messages,
            )?;
        }
        Selection::Range { include, exclude } => {
            for id in include {
                tips.push((*id, "range".into()));
            }
            hidden_tips.extend(exclude.iter().copied());
        }
    }
    stats.refs = tips.len();

    // 2. Commit graph (hidden side first for ranges).
    let mut clock = std::time::Instant::now();
    let hidden = walk_hidden(repo, &hidden_tips, scanner, &problems);
    let mut graph = Graph::default();
    // Every pack is mapped once, here, and read through by the commit walk, the tree pass and the blob
    // workers (each with its own cache).
    let packs = Packs::open(repo);
    let mut commit_reader = packs.reader(0);
    let mut seeds: Vec<ObjectId> = tips.iter().map(|t| t.0).collect();
    let mut dangling_blobs: Vec<ObjectId> = Vec::new();
    walk_commits(
        repo,
        &mut commit_reader,
        &mut graph,
        &seeds,
        &hidden,
        &shallow,
        scanner,
        &problems,
        &mut messages,
    );
    if opts.unreachable {
        let (commits, blobs) = enumerate_unreachable(repo, &graph, scanner)?;
        for c in &commits {
            tips.push((*c, "(dangling)".into()));
        }
        seeds = commits;
        walk_commits(
            repo,
            &mut commit_reader,
            &mut graph,
            &seeds,
            &hidden,
            &shallow,
            scanner,
            &problems,
            &mut messages,
        );
        dangling_blobs = blobs;
    }
    // Resolve parent indices; parents outside the graph (hidden, missing, shallow) are dropped.
    let mut boundary_trees: Vec<ObjectId> = Vec::new();
    let mut boundary_seen: HashSet<ObjectId> = HashSet::default();
    for i in 0..graph.nodes.len() {
        let parents = std::mem::take(&mut graph.parent_ids[i]);
        for p in parents {
            if let Some(&pi) = graph.index.get(&p) {
                graph.nodes[i].parents.push(pi);
            } else if hidden.contains(&p) && boundary_seen.insert(p) {
                if let Some(tree) = commit_tree(repo, &p, scanner, &problems) {
                    boundary_trees.push(tree);
                }
            }
        }
    }
    stats.commits = graph.nodes.len();
    let order = topo_order(&graph);
    let mut children: Vec<Vec<u32>> = vec![Vec::new(); graph.nodes.len()];
    for (i, n) in graph.nodes.iter().enumerate() {
        for &p in &n.parents {
            children[p as usize].push(i as u32);
        }
    }

    stats.phase_secs[0] = clock.elapsed().as_secs_f64();
    clock = std::time::Instant::now();

    // 3 + 4. One pass over the trees, parents first (each unique tree decoded once, each blob attributed
    // once), on its own thread, feeding the blobs it finds to parallel workers that read and scan them, one
    // blob in memory per worker.
    let found: Mutex<Vec<(usize, Vec<BlobFinding>)>> = Mutex::new(Vec::new());
    let blob_bytes = std::sync::atomic::AtomicU64::new(0);
    let blobs_scanned = std::sync::atomic::AtomicU64::new(0);
    let sync = repo.clone().into_sync();
    let max = opts.max_file_size;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Item>(4096);
    let (sync_ref, graph_ref, order_ref, loose_ref, problems_ref, packs_ref) =
        (&sync, &graph, &order, &loose, &problems, &packs);
    // Every worker's handle on the repository: blobs are read from the packs this scan mapped (the tree
    // pass's, so the pack pages are mapped once); gix's handle serves the rest, without its object and
    // delta-base caches (~20 MB per worker).
    let worker_state = || {
        let mut r = sync_ref.to_thread_local();
        r.objects.unset_object_cache();
        r.objects.unset_pack_cache();
        (r, packs_ref.reader(BLOB_READ_CACHE), Vec::new(), None)
    };
    // Read and scan one blob.
    let scan_one = |(r, packs, buf, context): &mut WorkerState, (i, id, path, commit): Item| {
        let skip = |size: u64| {
            scanner.skipped_large(&format!("{path} (blob {id})"), size, max);
        };
        // Told from the header: a blob over the limit is never inflated.
        if let Some(size) = packs.size(r, &id).filter(|&n| n > max) {
            blob_bytes.fetch_add(size, Relaxed);
            skip(size);
            return;
        }
        let Some(data) = packs.read_counted(r, &id, buf, scanner, problems_ref) else {
            return;
        };
        if data.kind != gix::objs::Kind::Blob {
            return;
        }
        blob_bytes.fetch_add(data.data.len() as u64, Relaxed);
        if data.data.len() as u64 > max {
            skip(data.data.len() as u64);
            return;
        }
        let mut origin = Origin::new("git", path);
        // Decoder warnings name the commit that introduced the blob, not only its path.
        // Blobs reach a worker grouped by commit: the text is made once per commit, not per blob.
        if let Some(c) = commit {
            if context.as_ref().is_none_or(|(last, _)| *last != c) {
                *context = Some((c, format!("commit {}", c.to_hex_with_len(12)).into()));
            }
            origin.context = context.as_ref().map(|(_, text)| text.clone());
        }
        blobs_scanned.fetch_add(1, Relaxed);
        let f = scanner.find_in_blob(data.data, &origin);
        if let Some(filter) = filter {
            filter.scanned(&id, !f.is_empty());
        }
        if !f.is_empty() {
            if let Ok(mut v) = found.lock() {
                v.push((i, f));
            }
        }
    };
    let pass = std::thread::scope(|s| {
        let tree_packs = packs.reader(TREE_PASS_DELTA_CACHE);
        let producer = s.spawn(move || {
            let started = std::time::Instant::now();
            let mut r = sync_ref.to_thread_local();
            // Trees are read from the packs in history order, oldest first, through a cache that keeps every
            // version along a delta chain (`packs`). The handle serves what is not in a pack. The walker keeps
            // recently read trees itself (moved, not copied): gix's object cache would copy every tree.
            r.objects.unset_object_cache();
            r.objects.unset_pack_cache();
            // With a filter, blobs wait in a batch for its decision; deferred ones are kept for `settle`.
            let mut batch: Vec<Item> = Vec::new();
            let mut deferred: Vec<Item> = Vec::new();
            let mut decisions: Vec<BlobDecision> = Vec::new();
            let mut flush = |batch: &mut Vec<Item>| {
                let Some(filter) = filter else { return };
                let ids: Vec<ObjectId> = batch.iter().map(|b| b.1).collect();
                decisions.clear();
                filter.decide(&ids, &mut decisions);
                for (item, d) in batch.drain(..).zip(
                    decisions
                        .iter()
                        .copied()
                        .chain(std::iter::repeat(BlobDecision::Scan)),
                ) {
                    match d {
                        BlobDecision::Scan => {
                            let _ = tx.send(item);
                        }
                        BlobDecision::Skip => {}
                        BlobDecision::Defer => deferred.push(item),
                    }
                }
            };
            let out = tree_pass(
                &r,
                graph_ref,
                order_ref,
                boundary_trees,
                loose_ref,
                dangling_blobs,
                tree_packs,
                scanner,
                problems_ref,
                &mut |i, b| {
                    if opts.exclude.repo_path(&b.path) {
                        return;
                    }
                    let commit = graph_ref.nodes.get(b.commit as usize).map(|n| n.id);
                    let item = (i, b.id, b.path.clone(), commit);
                    if filter.is_none() {
                        let _ = tx.send(item);
                        return;
                    }
                    batch.push(item);
                    if batch.len() >= FILTER_BATCH {
                        flush(&mut batch);
                    }
                },
            );
            flush(&mut batch);
            drop(tx);
            (out, deferred, started.elapsed().as_secs_f64())
        });
        rx.into_iter()
            .par_bridge()
            .for_each_init(worker_state, |state, item| scan_one(state, item));
        producer.join()
    });
    let ((blobs, blob_refs), deferred, tree_secs) =
        pass.map_err(|_| anyhow::anyhow!("{}: the tree walk failed", super::repo_name(repo)))?;
    // Blobs another scan was reading: those it found something in (or could not read) are read here too.
    if let Some(filter) = filter {
        let ids: Vec<ObjectId> = deferred.iter().map(|d| d.1).collect();
        let wanted = filter.settle(&ids);
        let mine: Vec<Item> = deferred
            .into_iter()
            .zip(wanted.into_iter().chain(std::iter::repeat(true)))
            .filter_map(|(d, w)| w.then_some(d))
            .collect();
        use rayon::iter::IntoParallelIterator;
        mine.into_par_iter()
            .for_each_init(worker_state, |state, item| scan_one(state, item));
    }
    stats.blobs = blobs.len();
    stats.blob_bytes = blob_bytes.load(Relaxed);
    stats.phase_secs[1] = tree_secs;
    stats.phase_secs[2] = clock.elapsed().as_secs_f64();
    let found = found.into_inner().unwrap_or_default();

    // 5. Provenance, only for what produced findings.
    let any = !found.is_empty() || !messages.is_empty() || !tag_messages.is_empty();
    if any {
        let mut refs_at: StdHashMap<u32, Vec<String>> = StdHashMap::new();
        for (id, name) in &tips {
            if let Some(&i) = graph.index.get(id) {
                refs_at.entry(i).or_default().push(name.clone());
            }
        }
        let head_blobs = head_blob_set(repo, &packs, scanner, &problems);
        let mut live: std::collections::HashSet<(usize, Vec<u8>)> = Default::default();
        for (i, fs) in &found {
            if head_blobs.contains(&blobs[*i].id) {
                for f in fs {
                    live.insert((f.rule, f.secret.clone()));
                }
            }
        }
        let mut commit_cache: StdHashMap<u32, (CommitMeta, Vec<String>)> = StdHashMap::new();
        let mut provenance = |c: u32| -> (CommitMeta, Vec<String>) {
            commit_cache
                .entry(c)
                .or_insert_with(|| {
                    let node = &graph.nodes[c as usize];
                    let meta = CommitMeta::load(repo, &node.id, scanner, &problems);
                    (meta, reaching_refs(c, &children, &refs_at))
                })
                .clone()
        };
        for (i, mut fs) in found {
            let b = &blobs[i];
            let (cm, refs) = if b.commit == NO_COMMIT {
                (None, blob_refs.get(&i).cloned().into_iter().collect())
            } else {
                let (m, r) = provenance(b.commit);
                (Some(m), r)
            };
            for f in &mut fs {
                let meta = &mut f.location.meta;
                if let Some(cm) = &cm {
                    cm.insert_into(meta);
                }
                meta.insert("blob".into(), Value::from(b.id.to_string()));
                meta.insert("refs".into(), Value::from(refs.clone()));
                meta.insert(
                    "live_in_head".into(),
                    Value::from(live.contains(&(f.rule, f.secret.clone()))),
                );
            }
            scanner.collect(fs);
        }
        for m in messages {
            let (cm, refs) = provenance(m.commit);
            let mut fs = m.found;
            for f in &mut fs {
                let meta = &mut f.location.meta;
                cm.insert_into(meta);
                if let Some(t) = &m.tag {
                    meta.insert("tag".into(), Value::from(t.clone()));
                }
                meta.insert("refs".into(), Value::from(refs.clone()));
                meta.insert(
                    "live_in_head".into(),
                    Value::from(live.contains(&(f.rule, f.secret.clone()))),
                );
            }
            scanner.collect(fs);
        }
        for (name, tag_id, mut fs) in tag_messages {
            for f in &mut fs {
                let meta = &mut f.location.meta;
                meta.insert("tag".into(), Value::from(name.clone()));
                meta.insert("tag_object".into(), Value::from(tag_id.to_string()));
                meta.insert("refs".into(), Value::from(vec![name.clone()]));
                meta.insert(
                    "live_in_head".into(),
                    Value::from(live.contains(&(f.rule, f.secret.clone()))),
                );
            }
            scanner.collect(fs);
        }
    }

    // 6. What could not be read.
    if !shallow.is_empty() {
        stats.shallow_boundary = shallow.len();
        scanner.warn(format!(
            "{}: shallow clone: history before {} boundary commit(s) is not in the repository and was not \
             scanned; blobs present at the boundary are attributed to it",
            super::repo_name(repo),
            shallow.len()
        ));
    }
    stats.missing = problems.missing.load(Relaxed);
    stats.corrupt = problems.corrupt.load(Relaxed);
    stats.failed = problems.report(scanner, repo, blobs_scanned.load(Relaxed));
    Ok(stats)
}

/// The tree pass: walks each commit's tree (parents first) skipping subtrees already seen, then trees and
/// blobs named directly by refs, then dangling blobs. Each blob not seen before becomes an entry, handed to
/// `emit` with its index as soon as it is found. Returns the entries and the ref names of ref-named ones.
#[allow(clippy::too_many_arguments)]
fn tree_pass(
    repo: &gix::Repository,
    graph: &Graph,
    order: &[u32],
    boundary_trees: Vec<ObjectId>,
    loose: &[(ObjectId, String)],
    dangling_blobs: Vec<ObjectId>,
    packs: PackReader,
    scanner: &dyn BlobSink,
    problems: &Problems,
    emit: &mut dyn FnMut(usize, &BlobEntry),
) -> (Vec<BlobEntry>, StdHashMap<usize, String>) {
    let mut seen_trees: HashSet<IdKey> = HashSet::default();
    let mut seen_blobs: HashSet<IdKey> = HashSet::default();
    // One walker reads every tree of the pass (boundary snapshots and ref-named trees too) through the scan's
    // pack mappings.
    let mut walker = DiffWalker::new(repo, TREE_PASS_RECENT_TREES).with_packs(packs);
    for t in boundary_trees {
        walker.walk(
            repo,
            t,
            None,
            scanner,
            problems,
            &mut |id| seen_trees.insert(IdKey::new(id)),
            &mut |TreeItem::Blob(id, _)| {
                seen_blobs.insert(IdKey::new(id));
            },
        );
    }
    let mut blobs: Vec<BlobEntry> = Vec::new();
    let mut blob_refs: StdHashMap<usize, String> = StdHashMap::new();
    let mut add = |blobs: &mut Vec<BlobEntry>, e: BlobEntry| {
        emit(blobs.len(), &e);
        blobs.push(e);
    };
    for &c in order {
        let node = &graph.nodes[c as usize];
        // Diff against a parent's tree (walked before this commit, parents first): only what changed is
        // looked at.
        let base = node.parents.first().map(|&p| graph.nodes[p as usize].tree);
        walker.walk(
            repo,
            node.tree,
            base,
            scanner,
            problems,
            &mut |id| seen_trees.insert(IdKey::new(id)),
            &mut |TreeItem::Blob(id, path)| {
                if seen_blobs.insert(IdKey::new(id)) {
                    let path = path.to_string_lossy();
                    add(
                        &mut blobs,
                        BlobEntry {
                            id: id.to_owned(),
                            commit: c,
                            path,
                        },
                    );
                }
            },
        );
    }
    for (id, name) in loose {
        let mut buf = Vec::new();
        let kind = read(repo, id, &mut buf, scanner, problems).map(|d| d.kind);
        match kind {
            Some(gix::objs::Kind::Blob) if seen_blobs.insert(IdKey::new(id)) => {
                blob_refs.insert(blobs.len(), name.clone());
                let path = format!("<{name}>");
                add(
                    &mut blobs,
                    BlobEntry {
                        id: *id,
                        commit: NO_COMMIT,
                        path,
                    },
                );
            }
            Some(gix::objs::Kind::Tree) => {
                walker.walk(
                    repo,
                    *id,
                    None,
                    scanner,
                    problems,
                    &mut |t| seen_trees.insert(IdKey::new(t)),
                    &mut |TreeItem::Blob(b, path)| {
                        if seen_blobs.insert(IdKey::new(b)) {
                            blob_refs.insert(blobs.len(), name.clone());
                            let path = path.to_string_lossy();
                            add(
                                &mut blobs,
                                BlobEntry {
                                    id: b.to_owned(),
                                    commit: NO_COMMIT,
                                    path,
                                },
                            );
                        }
                    },
                );
            }
            _ => {}
        }
    }
    for id in dangling_blobs {
        if seen_blobs.insert(IdKey::new(&id)) {
            let path = "<dangling blob>".to_string();
            add(
                &mut blobs,
                BlobEntry {
                    id,
                    commit: NO_COMMIT,
                    path,
                },
            );
        }
    }
    (blobs, blob_refs)
}

/// Every ref's target (peeling annotated tags, whose messages are scanned), HEAD when detached, and each
/// entry of the stash reflog.
fn collect_ref_tips(
    scanner: &dyn BlobSink,
    repo: &gix::Repository,
    problems: &Problems,
    tips: &mut Vec<(ObjectId, String)>,
    loose: &mut Vec<(ObjectId, String)>,
    tag_messages: &mut Vec<TagMessage>,
) -> Result<()> {
    let platform = repo
        .references()
        .map_err(|e| anyhow::anyhow!("{}: cannot list refs: {e}", super::repo_name(repo)))?;
    let iter = platform
        .all()
        .map_err(|e| anyhow::anyhow!("{}: cannot list refs: {e}", super::repo_name(repo)))?;
    let mut targets: Vec<(ObjectId, String)> = Vec::new();
    for r in iter {
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                scanner.warn(format!("{}: unreadable ref: {e}", super::repo_name(repo)));
                continue;
            }
        };
        let name = r.name().as_bstr().to_string();
        if let Some(id) = r.try_id() {
            targets.push((id.detach(), name));
        }
    }
    // A detached HEAD is a tip of its own; an attached one is covered by its branch.
    if repo.head().is_ok_and(|h| h.is_detached()) {
        if let Ok(head) = repo.head_id() {
            targets.push((head.detach(), "HEAD".into()));
        }
    }
    if let Ok(Some(stash)) = repo.try_find_reference("refs/stash") {
        let mut platform = stash.log_iter();
        if let Ok(Some(lines)) = platform.all() {
            // The reflog is oldest first; `stash@{0}` is the newest entry.
            let ids: Vec<ObjectId> = lines
                .filter_map(|l| l.ok())
                .filter_map(|l| ObjectId::from_hex(l.new_oid).ok())
                .collect();
            let n = ids.len();
            for (i, id) in ids.into_iter().enumerate() {
                targets.push((id, format!("stash@{{{}}}", n - 1 - i)));
            }
        }
    }
    let hash_kind = repo.object_hash();
    let mut buf = Vec::new();
    for (id, name) in targets {
        let mut cur = id;
        // Peel tag chains (bounded against cycles in corrupt repositories).
        for _ in 0..16 {
            let Some(data) = read(repo, &cur, &mut buf, scanner, problems) else {
                break;
            };
            match data.kind {
                gix::objs::Kind::Commit => {
                    tips.push((cur, name.clone()));
                    break;
                }
                gix::objs::Kind::Tag => {
                    let Ok(tag) = gix::objs::TagRef::from_bytes(data.data, hash_kind) else {
                        problems.corrupt.fetch_add(1, Relaxed);
                        break;
                    };
                    let origin = Origin::new("git", "<tag message>");
                    let f = scanner.find_in_blob(tag.message, &origin);
                    if !f.is_empty() {
                        tag_messages.push((name.clone(), cur, f));
                    }
                    cur = tag.target();
                }
                gix::objs::Kind::Tree | gix::objs::Kind::Blob => {
                    loose.push((cur, name.clone()));
                    break;
                }
            }
        }
    }
    // The same tag object can be listed twice (HEAD and its branch, say): keep one of each message.
    tag_messages.sort_by_key(|a| a.1);
    tag_messages.dedup_by(|a, b| a.1 == b.1);
    Ok(())
}

/// All commits reachable from `tips` (the excluded side of a range).
fn walk_hidden(
    repo: &gix::Repository,
    tips: &[ObjectId],
    scanner: &dyn BlobSink,
    problems: &Problems,
) -> HashSet<ObjectId> {
    let mut seen: HashSet<ObjectId> = HashSet::default();
    let mut queue: Vec<ObjectId> = tips.to_vec();
    let mut buf = Vec::new();
    while let Some(id) = queue.pop() {
        if !seen.insert(id) {
            continue;
        }
        let Some(data) = read(repo, &id, &mut buf, scanner, problems) else {
            continue;
        };
        if let Ok(c) = gix::objs::CommitRef::from_bytes(data.data, repo.object_hash()) {
            queue.extend(c.parents().filter(|p| !seen.contains(p)));
        }
    }
    seen
}

fn commit_tree(
    repo: &gix::Repository,
    id: &ObjectId,
    scanner: &dyn BlobSink,
    problems: &Problems,
) -> Option<ObjectId> {
    let mut buf = Vec::new();
    let data = read(repo, id, &mut buf, scanner, problems)?;
    gix::objs::CommitRef::from_bytes(data.data, repo.object_hash())
        .ok()
        .map(|c| c.tree())
}

/// Add every commit reachable from `seeds` (stopping at `hidden` and shallow boundaries) to the graph,
/// scanning each commit message.
#[allow(clippy::too_many_arguments)]
fn walk_commits(
    repo: &gix::Repository,
    packs: &mut PackReader,
    graph: &mut Graph,
    seeds: &[ObjectId],
    hidden: &HashSet<ObjectId>,
    shallow: &HashSet<ObjectId>,
    scanner: &dyn BlobSink,
    problems: &Problems,
    messages: &mut Vec<MessageFinding>,
) {
    let mut queue: VecDeque<ObjectId> = seeds.iter().copied().collect();
    let mut buf = Vec::new();
    let origin = Origin::new("git", "<commit message>");
    while let Some(id) = queue.pop_front() {
        if graph.index.contains_key(&id) || hidden.contains(&id) {
            continue;
        }
        let Some(data) = packs.read_counted(repo, &id, &mut buf, scanner, problems) else {
            continue;
        };
        if data.kind != gix::objs::Kind::Commit {
            continue;
        }
        let Ok(c) = gix::objs::CommitRef::from_bytes(data.data, repo.object_hash()) else {
            problems.corrupt.fetch_add(1, Relaxed);
            continue;
        };
        let idx = graph.nodes.len() as u32;
        let parents: Vec<ObjectId> = if shallow.contains(&id) {
            Vec::new()
        } else {
            c.parents().collect()
        };
        queue.extend(parents.iter().copied());
        let f = scanner.find_in_blob(c.message, &origin);
        if !f.is_empty() {
            messages.push(MessageFinding {
                commit: idx,
                tag: None,
                found: f,
            });
        }
        graph.nodes.push(CommitNode {
            id,
            tree: c.tree(),
            parents: Vec::new(),
            time: c.committer().map(|s| s.seconds()).unwrap_or(0),
        });
        graph.parent_ids.push(parents);
        graph.index.insert(id, idx);
    }
}

/// Commits not in the graph and every blob in the object database (for `--unreachable`).
fn enumerate_unreachable(
    repo: &gix::Repository,
    graph: &Graph,
    scanner: &dyn BlobSink,
) -> Result<(Vec<ObjectId>, Vec<ObjectId>)> {
    use gix::objs::FindHeader;
    let mut commits = Vec::new();
    let mut blobs = Vec::new();
    let iter = repo
        .objects
        .iter()
        .map_err(|e| anyhow::anyhow!("{}: cannot list objects: {e}", super::repo_name(repo)))?;
    let mut seen: HashSet<ObjectId> = HashSet::default();
    for id in iter {
        let Ok(id) = id else {
            scanner.warn(format!(
                "{}: an object could not be listed",
                super::repo_name(repo)
            ));
            continue;
        };
        if !seen.insert(id) {
            continue;
        }
        match repo.objects.try_header(&id) {
            Ok(Some(h)) if h.kind == gix::objs::Kind::Commit && !graph.index.contains_key(&id) => {
                commits.push(id);
            }
            Ok(Some(h)) if h.kind == gix::objs::Kind::Blob => blobs.push(id),
            _ => {}
        }
    }
    Ok((commits, blobs))
}

/// Commits in parents-first order (Kahn's algorithm, older commits first among those ready).
fn topo_order(graph: &Graph) -> Vec<u32> {
    let n = graph.nodes.len();
    let mut pending: Vec<usize> = graph.nodes.iter().map(|c| c.parents.len()).collect();
    let mut children: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (i, c) in graph.nodes.iter().enumerate() {
        for &p in &c.parents {
            children[p as usize].push(i as u32);
        }
    }
    let mut ready: BinaryHeap<std::cmp::Reverse<(i64, u32)>> = graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| pending[*i] == 0)
        .map(|(i, c)| std::cmp::Reverse((c.time, i as u32)))
        .collect();
    let mut order = Vec::with_capacity(n);
    while let Some(std::cmp::Reverse((_, i))) = ready.pop() {
        order.push(i);
        for &ch in &children[i as usize] {
            pending[ch as usize] -= 1;
            if pending[ch as usize] == 0 {
                ready.push(std::cmp::Reverse((graph.nodes[ch as usize].time, ch)));
            }
        }
    }
    order
}

/// Names of the refs whose tips descend from (or are) commit `c`.
fn reaching_refs(
    c: u32,
    children: &[Vec<u32>],
    refs_at: &StdHashMap<u32, Vec<String>>,
) -> Vec<String> {
    let mut seen = vec![false; children.len()];
    let mut stack = vec![c];
    let mut names: BTreeSet<String> = BTreeSet::new();
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i as usize], true) {
            continue;
        }
        if let Some(r) = refs_at.get(&i) {
            names.extend(r.iter().cloned());
        }
        stack.extend(children[i as usize].iter().copied());
    }
    names.into_iter().collect()
}

/// Blob ids in HEAD's tree (empty when HEAD is unborn or unreadable).
/// (Read through the scan's pack mappings: through gix's own, each tree read would fault in another
/// ~64 KB of pack pages, counted again in the peak RSS.)
fn head_blob_set(
    repo: &gix::Repository,
    packs: &Packs,
    scanner: &dyn BlobSink,
    problems: &Problems,
) -> HashSet<ObjectId> {
    let mut set: HashSet<ObjectId> = HashSet::default();
    let Ok(tree) = repo.head_tree_id() else {
        return set;
    };
    DiffWalker::new(repo, 0).with_packs(packs.reader(0)).walk(
        repo,
        tree.detach(),
        None,
        scanner,
        problems,
        &mut |_| true,
        &mut |TreeItem::Blob(id, _)| {
            set.insert(id.to_owned());
        },
    );
    set
}
