//! `keysweep worker`: one of any number of identical processes, on any number of machines, that sweep the
//! repositories `keysweep org --enqueue-only` queued in a shared datastore. Each of its `-j` slots claims a
//! repository under a lease (committed at once: a lease, not a lock held by a live connection), keeps the
//! lease alive with a heartbeat while it sweeps (`repo::sweep`, the same code as `keysweep org`), and on a
//! failure puts the repository back in the queue with an exponential backoff, parking it as `failed` with
//! its error after `--max-attempts` claims. A worker that dies loses its leases when they expire, and others
//! claim those repositories again; results are idempotent, so a repository finished twice is stored once.
//! Without `--follow` the worker stops when nothing is queued or running anywhere. Owns the worker's
//! options, its identity (`host:pid:slot`), the heartbeat and retry policy, and its log lines; the queue's
//! statements belong to the datastore.
use super::EXIT_REPOS_FAILED;
use super::{check_sweep_options, dedup, repo, sweep_scanner, CloneSet, SweepArgs, Tokens};
use crate::pipeline::print_message;
use crate::{CommonArgs, EXIT_CLEAN};
use anyhow::Result;
use clap::Args;
use keysweep_report::Redactor;
use keysweep_sources::git::history::HistoryOptions;
use keysweep_sources::org::{Platform, RepoSpec};
use keysweep_store::datastore::{self, Datastore, RepoRecord, STATUS_DONE, STATUS_FAILED};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct WorkerCmd {
    /// Keep polling for work when the queue is empty (a long-running worker: a Kubernetes Deployment);
    /// without it the worker stops once nothing is queued or running (a Job).
    #[arg(long)]
    pub follow: bool,
    /// Seconds a claim lasts without a heartbeat: a worker that dies loses its repositories after this
    /// long. The heartbeat renews it every third of it.
    #[arg(long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(2..=86_400))]
    pub lease: u64,
    /// Claims of one repository before it is parked as failed with its last error.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub max_attempts: u64,
    /// Seconds before the first retry of a failed repository; each later retry waits twice as long (at
    /// most an hour).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub retry_backoff: u64,
    /// Seconds between looks at a queue with nothing claimable.
    #[arg(long, value_name = "SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub poll_interval: u64,
    #[command(flatten)]
    pub sweep: SweepArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Seconds to wait before the retry after `attempts` failed claims.
pub fn backoff(base: u64, attempts: u64) -> u64 {
    let doubled = base.saturating_mul(1u64 << attempts.saturating_sub(1).min(20));
    doubled.min(3600)
}

fn platform_of(name: &str) -> Platform {
    match name {
        "github" => Platform::GitHub,
        "gitlab" => Platform::GitLab,
        "huggingface" => Platform::HuggingFace,
        _ => Platform::Direct,
    }
}

/// This machine's name, for lease owners.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[derive(Default)]
struct Tally {
    swept: AtomicU64,
    parked: AtomicU64,
    retried: AtomicU64,
    findings: AtomicU64,
}

pub fn worker_cmd(cmd: WorkerCmd) -> Result<i32> {
    let common = &cmd.common;
    check_sweep_options(common, "worker")?;
    let quiet = common.quiet;
    let say = |line: &str| {
        if !quiet {
            crate::pipeline::print_line(line, &keysweep_report::Redactor::default());
        }
    };
    let (scanner, rules_version) = sweep_scanner(common)?;
    let store = datastore::open(&cmd.sweep.datastore)?;
    let store: &dyn Datastore = store.as_ref();
    let tokens = Tokens::from_env();
    let clones = CloneSet::new(&cmd.sweep, &tokens);
    let history = HistoryOptions {
        max_file_size: common.max_file_size,
        ..HistoryOptions::default()
    };
    let run = store.begin_run(&rules_version, "worker")?;
    let claims = dedup::Claims::default();
    let networks = super::network::Networks::default();
    let ctx = repo::Context {
        store,
        scanner: &scanner,
        claims: &claims,
        networks: &networks,
        run: &run,
        rules_version: &rules_version,
        history: &history,
        archives: common.archive_limits(),
        rescan: cmd.sweep.rescan,
    };
    let slots = match common.threads {
        0 => std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(1, 8),
        n => n,
    };
    let me = format!("{}:{}", host_name(), std::process::id());
    say(&format!(
        "worker {me}: {slots} slots on {} (lease {}s)",
        store.describe(),
        cmd.lease
    ));
    let started = Instant::now();
    let tally = Tally::default();
    let next_owner = AtomicU64::new(0);
    let fatal: std::sync::Mutex<Option<anyhow::Error>> = std::sync::Mutex::new(None);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for slot in 0..slots {
            let owner = format!("{me}:{slot}");
            let (ctx, clones, tally, next_owner, fatal, stop, cmd) =
                (&ctx, &clones, &tally, &next_owner, &fatal, &stop, &cmd);
            scope.spawn(move || {
                let r = slot_loop(ctx, clones, cmd, &owner, tally, next_owner, stop, quiet);
                if let Err(e) = r {
                    stop.store(true, Relaxed);
                    if let Ok(mut f) = fatal.lock() {
                        f.get_or_insert(e);
                    }
                }
            });
        }
    });
    store.finish_run(&run)?;
    if let Some(e) = fatal.into_inner().ok().flatten() {
        return Err(e);
    }
    let g = |a: &AtomicU64| a.load(Relaxed);
    say(&format!(
        "worker {me}: {} repositories swept, {} retried later, {} parked as failed, {} findings, in {}; {}",
        g(&tally.swept),
        g(&tally.retried),
        g(&tally.parked),
        g(&tally.findings),
        crate::progress::duration(started.elapsed()),
        if cmd.follow {
            "stopped"
        } else {
            "nothing left to claim"
        }
    ));
    Ok(if g(&tally.parked) > 0 {
        EXIT_REPOS_FAILED
    } else {
        EXIT_CLEAN
    })
}

/// One slot: claim, sweep, record, until the queue is empty (or forever with `--follow`).
#[allow(clippy::too_many_arguments)]
fn slot_loop(
    ctx: &repo::Context<'_>,
    clones: &CloneSet,
    cmd: &WorkerCmd,
    owner: &str,
    tally: &Tally,
    next_owner: &AtomicU64,
    stop: &AtomicBool,
    quiet: bool,
) -> Result<()> {
    let store = ctx.store;
    let say = |line: &str| {
        if !quiet {
            crate::pipeline::print_line(line, &keysweep_report::Redactor::default());
        }
    };
    while !stop.load(Relaxed) {
        let Some(rec) = store.claim(owner, cmd.lease)? else {
            let q = store.queue_counts()?;
            if !cmd.follow && q.ready == 0 && q.waiting == 0 && q.running == 0 {
                return Ok(());
            }
            // Others are running (their leases may expire) or retries are waiting for their backoff.
            std::thread::sleep(Duration::from_secs(cmd.poll_interval));
            continue;
        };
        let id = rec.id.clone();
        if rec.attempts > cmd.max_attempts {
            // Claimed again and again without an outcome: its workers died (out of memory on it, say).
            let msg = format!(
                "{id}: parked after {} claims without an outcome (workers lost their lease on it){}",
                rec.attempts - 1,
                rec.error
                    .as_deref()
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default()
            );
            store.set_repository_status(&id, STATUS_FAILED, Some(&msg), None)?;
            tally.parked.fetch_add(1, Relaxed);
            print_message("error", &msg, &Redactor::default(), false);
            continue;
        }
        say(&format!(
            "worker {owner}: {id}: claimed (attempt {})",
            rec.attempts
        ));
        let spec = RepoSpec {
            id: rec.id.clone(),
            clone_url: rec.clone_url.clone(),
            platform: platform_of(&rec.platform),
            fork: rec.fork,
            archived: rec.archived,
            size: None,
            kind: None,
        };
        // What the last complete scan covered: a digest is kept only for a complete scan.
        let previous = RepoRecord {
            status: if rec.refs_digest.is_some() {
                STATUS_DONE.to_string()
            } else {
                rec.status.clone()
            },
            ..rec.clone()
        };
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let lost = AtomicBool::new(false);
        let (outcome, warnings) = std::thread::scope(|s| {
            // The heartbeat: renew the lease every third of it until the sweep ends.
            let (id, lost) = (&id, &lost);
            s.spawn(move || {
                let every = Duration::from_secs((cmd.lease / 3).max(1));
                while let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(every) {
                    match store.heartbeat(id, owner, cmd.lease) {
                        Ok(true) => {}
                        Ok(false) => {
                            lost.store(true, Relaxed);
                            return;
                        }
                        // A database hiccup: try again at the next beat (the lease has slack).
                        Err(_) => {}
                    }
                }
            });
            let r = repo::sweep(
                ctx,
                &spec,
                clones.for_platform(spec.platform),
                Some(&previous),
                next_owner.fetch_add(1, Relaxed),
            );
            let _ = done_tx.send(());
            r
        });
        let mut secrets: Vec<String> = Vec::new();
        let status = match outcome {
            repo::Outcome::Scanned {
                blobs_read,
                blobs_skipped,
                findings,
            } => {
                tally.swept.fetch_add(1, Relaxed);
                tally.findings.fetch_add(findings.len() as u64, Relaxed);
                let n = findings.len();
                secrets.extend(findings.into_iter().map(|f| f.secret));
                format!(
                    "done: {blobs_read} blobs read, {blobs_skipped} already known, {n} findings"
                )
            }
            repo::Outcome::Unchanged { .. } => {
                store.set_repository_status(&id, STATUS_DONE, None, rec.refs_digest.as_deref())?;
                tally.swept.fetch_add(1, Relaxed);
                "unchanged since its last scan".into()
            }
            repo::Outcome::Empty => {
                tally.swept.fetch_add(1, Relaxed);
                "empty: no refs, nothing to scan".into()
            }
            repo::Outcome::Failed(msg) => {
                let redactor = Redactor::new(
                    ctx.scanner
                        .secrets_in_text(msg.as_bytes())
                        .into_iter()
                        .map(|s| String::from_utf8_lossy(&s).into_owned())
                        .collect::<Vec<String>>(),
                );
                let msg = redactor.scrub(&msg).into_owned();
                if rec.attempts < cmd.max_attempts {
                    let wait = backoff(cmd.retry_backoff, rec.attempts);
                    store.requeue(&id, &msg, datastore::now().saturating_add(wait as i64))?;
                    tally.retried.fetch_add(1, Relaxed);
                    format!("failed, retried in {wait}s: {msg}")
                } else {
                    tally.parked.fetch_add(1, Relaxed);
                    format!("failed {} times, parked: {msg}", rec.attempts)
                }
            }
        };
        if !quiet {
            let redactor = Redactor::new(secrets);
            for w in &warnings {
                print_message("warning", w, &redactor, false);
            }
            let line = format!("worker {owner}: {id}: {status}");
            crate::pipeline::print_line(&line, &redactor);
            if lost.load(Relaxed) {
                print_message(
                    "warning",
                    &format!("worker {owner}: {id}: the lease was lost while sweeping (another worker may have swept it too; results are stored once)"),
                    &redactor,
                    false,
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        assert_eq!(backoff(60, 1), 60);
        assert_eq!(backoff(60, 2), 120);
        assert_eq!(backoff(60, 3), 240);
        assert_eq!(backoff(60, 60), 3600);
        assert_eq!(backoff(0, 5), 0);
    }
}
