//! Git history scan: every blob reachable from any ref (branches, tags, remote-tracking refs, `refs/stash`
//! and its reflog, notes, detached HEAD), or only what a commit range introduced, scanned exactly once by object
//! id, plus commit and annotated-tag messages.
//!
//! One pass records provenance cheaply: commits are ordered parents-first, and each commit's tree is walked
//! against a parent's tree (`diff_walk`: only entries that differ are looked at) skipping every subtree
//! already seen, so each unique tree is walked about once and each blob is attributed to the first commit
//! (in topological order) whose tree holds it — the commit that introduced it, merges included. The pass
//! runs on walker threads (up to one per core) taking ranges of the order in turn, the second and later ones
//! only while the blob workers are short of work; `claims` keeps the attribution exactly that of one walker
//! visiting every commit in order. The blobs the walkers find are read and scanned in parallel as they are
//! found, one at a time per blob worker: each blob goes to the lane of its path (`lanes`), so every version
//! of a file reaches the same worker, whose chain cache holds the version before. Only for blobs that produced
//! findings is the rest computed: author/date/summary, the refs that reach the introducing commit (a walk over
//! its descendants, gathering the refs' ranks among their sorted names, not the names: thousands of refs
//! cost little) and whether the secret is still present in HEAD's tree. Refs are peeled from their pack
//! entries' headers (a commit is not read twice), so neither time nor peak RSS grows with their number.
use super::claims::{self, BlobClaim, Claims};
use super::diff_walk::DiffWalker;
use super::lanes::{self, Lanes};
use super::packs::{PackReader, Packs, ReadCounts};
use super::{read, CommitMeta, Problems, TreeItem};
use crate::exclude::Excludes;
use anyhow::Result;
use gix::hashtable::{HashMap, HashSet};
use gix::ObjectId;
use keysweep_model::limits::MAX_REFS;
use keysweep_model::{BlobFinding, BlobId, BlobSink, Origin};
use rayon::iter::ParallelIterator;
use std::collections::{BinaryHeap, HashMap as StdHashMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Mutex;

/// Most bytes of decoded pack entries each walker of the tree pass keeps (`packs`: every version along a
/// delta chain, the versions a newer one replaced evicted first). The walker borrows its trees there
/// (`diff_walk`), so this is also its store of recently read trees, read again as the base of a child
/// commit's diff: room for the latest version of every directory of most histories (3 MB on the
/// 100,000-commit bench, whose trees take 4 GB over its history) beside the versions of a chain. On that
/// bench the walkers applied 3.7M deltas with 8 MB, 2.4M with 12 MB, 1.5M with 16 MB and 1.3M with 24 MB
/// (for 0.81M tree deltas in the pack); 16 MB cost 5-10% less CPU than 12 MB, and 24 MB did no better
/// than 16 MB for 30 MB more peak RSS.
const TREE_PASS_DELTA_CACHE: usize = 16 << 20;
/// Fewest bytes of it: see `tree_cache_bytes`.
const TREE_PASS_DELTA_CACHE_MIN: usize = 4 << 20;

/// Each tree walker's cache for packs of `pack_bytes` in all: a 32nd of them, within
/// `TREE_PASS_DELTA_CACHE_MIN` and `TREE_PASS_DELTA_CACHE`. The directories' latest versions grow with the
/// repository, and the packs' size is what is known of it before the pass. A full cache is resident for
/// the whole scan (a cache fills: every version of every tree passes through it), twice with two walkers.
/// Measured: on the 20,000- and 30,000-commit benches (70-95 MB packs) 4 MB applied no more deltas than
/// 16 MB (real-src: 136k against 157k; repacked 108k both; synthetic 93k against 108k) for 25-45 MB less
/// peak RSS; the 100,000-commit bench's 700 MB pack keeps 16 MB.
fn tree_cache_bytes(pack_bytes: u64) -> usize {
    usize::try_from(pack_bytes / 32)
        .unwrap_or(usize::MAX)
        .clamp(TREE_PASS_DELTA_CACHE_MIN, TREE_PASS_DELTA_CACHE)
}
/// Bytes of decoded pack entries each blob worker keeps. Every version of a file reaches the same worker
/// (`lanes`), in history order, so a version is usually one delta away from the one read before it (on the
/// 100,000-commit bench, whose fast-import pack chains blobs across paths, 2 and 4 MB did the same).
const BLOB_READ_CACHE: usize = 2 << 20;

/// No commit (blob reached from a tag pointing at a tree or blob, or a dangling blob).
const NO_COMMIT: u32 = u32::MAX;

/// Which commits to scan.
#[derive(Debug, Clone, Default)]
pub enum Selection {
    /// Everything reachable from any ref.
    #[default]
    AllRefs,
    /// Everything reachable from any ref except what `exclude` reaches (commits another scan covered: a
    /// sweep's fork after the repository it shares history with). Blobs of the excluded side are not read;
    /// the refs, their tag messages and provenance are those of `AllRefs`.
    AllRefsExcept { exclude: Vec<ObjectId> },
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
    /// Seconds spent walking commits, walking trees (alongside the blobs), reading + scanning blobs, and
    /// making the provenance of what was found.
    pub phase_secs: [f64; 4],
    /// Ranges of the commit order the tree pass was cut into (one per walker or more).
    pub tree_chunks: usize,
    /// Trees walked twice: a walker on a later range reached them first (see `claims`).
    pub trees_rewalked: u64,
    /// Blob records moved to an earlier commit the same way.
    pub blobs_moved: u64,
    /// What the blob workers' reads cost (deltas applied, bytes built through deltas, bytes inflated).
    pub blob_reads: ReadCounts,
    /// The same for the tree pass's walkers.
    pub tree_reads: ReadCounts,
    /// Batches of blobs a blob worker took from another worker's lane (see `lanes`).
    pub batches_stolen: u64,
    /// Bytes of each tree walker's cache (see `tree_cache_bytes`).
    pub tree_cache: usize,
    /// Commits decoded on every core before the commit walk (see `decode_leading_commits`).
    pub commits_decoded_ahead: usize,
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

/// A blob for the workers: its id, path, and the index of its introducing commit in the graph (`NO_COMMIT`).
type Item = (ObjectId, String, u32);

/// A blob worker's own state: its repository handle, pack reader, and the message context of the commit it
/// last read a blob of.
type WorkerState = (
    gix::Repository,
    PackReader,
    Option<(ObjectId, std::sync::Arc<str>)>,
);

/// The tree pass asks the filter about this many blobs at a time.
const FILTER_BATCH: usize = 512;
/// Most walker threads of the tree pass (one per rayon thread up to this).
const MAX_WALKERS: usize = 16;
/// Ranges of the commit order per walker (see `chunk_order`).
const CHUNKS_PER_WALKER: usize = 8;
/// Blobs a walker hands to a blob worker's lane at a time (one lock, one wake-up, per batch).
const SEND_BATCH: usize = 16;
/// Most blobs waiting for the blob workers in all lanes (a walker waits beyond it): the hand-over holds a
/// bounded number of paths, however far the tree pass runs ahead.
const QUEUE_BOUND: usize = 4096;
/// Blobs waiting for the blob workers under which they are short of work: walkers other than the first
/// then take ranges of the commit order too.
const STARVING: usize = 64;
/// Fewest commits in a range of the commit order.
const MIN_CHUNK: usize = 256;

struct CommitNode {
    id: ObjectId,
    tree: ObjectId,
    parents: Vec<u32>,
    time: i64,
}

/// The commit graph of the scan.
#[derive(Default)]
struct Graph {
    nodes: Vec<CommitNode>,
    index: HashMap<ObjectId, u32>,
    parent_ids: Vec<Vec<ObjectId>>,
}

/// Names of the refs reaching a commit (at most `MAX_REFS`) and how many there are.
type Refs = (Vec<String>, usize);

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

    // Every pack is mapped once, here, and read through by the ref peeling, the commit walk, the tree pass
    // and the blob workers (each with its own cache).
    let packs = Packs::open(repo);
    let mut commit_reader = packs.reader(0);

    // 1. Tips: (object, ref name). Annotated tags are peeled here, their messages scanned.
    let mut tips: Vec<(ObjectId, String)> = Vec::new();
    let mut messages: Vec<MessageFinding> = Vec::new();
    let mut tag_messages: Vec<TagMessage> = Vec::new();
    let mut loose: Vec<(ObjectId, String)> = Vec::new(); // trees or blobs named directly by a ref
    let mut hidden_tips: Vec<ObjectId> = Vec::new();
    match &opts.selection {
        Selection::AllRefs | Selection::AllRefsExcept { .. } => {
            if let Selection::AllRefsExcept { exclude } = &opts.selection {
                hidden_tips.extend(exclude.iter().copied());
            }
            collect_ref_tips(
                scanner,
                repo,
                &mut commit_reader,
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
    let mut seeds: Vec<ObjectId> = tips.iter().map(|t| t.0).collect();
    let mut dangling_blobs: Vec<ObjectId> = Vec::new();
    // Only a full history reads most commits at the packs' front; a range (`--range`, `--since`, a sweep's
    // already-scanned tips) reads few of them, so its walk reads what it reaches (measured on the
    // 100,000-commit bench: a one-commit range took 1.4 → 1.7 s and 55 MB more decoding them all ahead).
    let mut decoded = if hidden_tips.is_empty() {
        decode_leading_commits(&packs, repo.object_hash())
    } else {
        HashMap::default()
    };
    stats.commits_decoded_ahead = decoded.len();
    walk_commits(
        repo,
        (&mut commit_reader, &mut decoded),
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
            (&mut commit_reader, &mut decoded),
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
    drop(decoded);
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

    // 3 + 4. The tree pass, parents first, on walker threads that take chunks of the order (see `claims`:
    // each unique tree decoded about once, each blob attributed to the first commit holding it), feeding the
    // blobs they find to parallel workers that read and scan them, one blob in memory per worker.
    let found: Mutex<Vec<(ObjectId, Vec<BlobFinding>)>> = Mutex::new(Vec::new());
    let blob_bytes = std::sync::atomic::AtomicU64::new(0);
    let blobs_scanned = std::sync::atomic::AtomicU64::new(0);
    let sync = repo.clone().into_sync();
    let max = opts.max_file_size;
    let walkers = rayon::current_num_threads().clamp(1, MAX_WALKERS);
    let claims = Claims::new(walkers);
    let tree_cache = tree_cache_bytes(packs.bytes());
    stats.tree_cache = tree_cache;
    // Trees of the commits just outside a range: their blobs were introduced before it, never scanned.
    {
        let mut walker = DiffWalker::new(repo, packs.reader(0));
        for t in boundary_trees {
            walker.walk(
                repo,
                t,
                None,
                scanner,
                &problems,
                &mut |id| claims.tree(id, claims::BOUNDARY),
                &mut |TreeItem::Blob(id, _)| {
                    claims.blob(id, claims::BOUNDARY, NO_COMMIT, String::new);
                },
            );
        }
    }
    let chunks = chunk_order(order.len(), walkers);
    stats.tree_chunks = chunks.len();
    // One lane per blob worker; every version of a path goes to the same one (see `lanes`).
    let blob_workers = rayon::current_num_threads().max(1);
    let lanes: Lanes<Item> = Lanes::new(blob_workers, walkers, QUEUE_BOUND);
    let (sync_ref, graph_ref, packs_ref, lanes_ref) = (&sync, &graph, &packs, &lanes);
    let tail = Tail {
        loose: &loose,
        dangling: dangling_blobs,
    };
    let pass = PassInput {
        graph: &graph,
        order: &order,
        chunks: &chunks,
        next: std::sync::atomic::AtomicUsize::new(0),
        done: std::sync::atomic::AtomicUsize::new(0),
        walkers,
        lanes: &lanes,
        tail: Mutex::new(Some(tail)),
        claims: &claims,
        scanner,
        problems: &problems,
    };
    // Every worker's handle on the repository: blobs are read from the packs this scan mapped (the tree
    // pass's, so the pack pages are mapped once); gix's handle serves the rest, without its object and
    // delta-base caches (~20 MB per worker).
    let worker_state = || {
        let mut r = sync_ref.to_thread_local();
        r.objects.unset_object_cache();
        r.objects.unset_pack_cache();
        (r, packs_ref.reader(BLOB_READ_CACHE), None)
    };
    // Read and scan one blob.
    let scan_one = |(r, packs, context): &mut WorkerState, (id, path, commit): Item| {
        let skip = |size: u64| {
            scanner.skipped_large(&format!("{path} (blob {id})"), size, max);
        };
        // Told from the header: a blob over the limit is never inflated. The blob is borrowed from the
        // reader (its chain cache keeps it for the file's next version), not copied out.
        let data = match packs.read_ref_counted(r, &id, max, scanner, &problems) {
            Ok(Some(data)) => data,
            Ok(None) => return,
            Err(size) => {
                blob_bytes.fetch_add(size, Relaxed);
                skip(size);
                return;
            }
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
        if let Some(c) = graph_ref.nodes.get(commit as usize).map(|n| n.id) {
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
                v.push((id, f));
            }
        }
    };
    let (outcomes, reads) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..walkers)
            .map(|w| {
                let pass = &pass;
                s.spawn(move || {
                    // First: dropping it closes this walker's side of the lanes, however the walk ends.
                    let mut emit = Emitter {
                        lanes: lanes_ref,
                        pending: (0..blob_workers).map(|_| Vec::new()).collect(),
                        filter,
                        exclude: &opts.exclude,
                        batch: Vec::new(),
                        decisions: Vec::new(),
                        deferred: Vec::new(),
                    };
                    let started = std::time::Instant::now();
                    let mut r = sync_ref.to_thread_local();
                    // Trees are read from the packs in history order, oldest first, through a cache that
                    // keeps every version along a delta chain (`packs`). The handle serves what is not in a
                    // pack. The walker borrows its trees from that cache (not copied): gix's object cache
                    // would copy every tree.
                    r.objects.unset_object_cache();
                    r.objects.unset_pack_cache();
                    // Every walker has a cache of `tree_cache` bytes: one smaller than the latest versions of the
                    // directories it walks (3 MB of trees on the 100,000-commit bench) evicts them, and
                    // each next version then rebuilds its delta chain (measured: 15 GB of intermediate
                    // versions built for 4 GB of trees).
                    let mut walker = DiffWalker::new(&r, packs_ref.reader(tree_cache));
                    let mut out = pass.walk(w, &r, &mut walker, &mut emit);
                    out.deferred = emit.finish();
                    out.reads = walker.counts();
                    out.secs = started.elapsed().as_secs_f64();
                    out
                })
            })
            .collect();
        let scan_one = &scan_one;
        let workers: Vec<_> = (0..blob_workers)
            .map(|lane| {
                s.spawn(move || {
                    // Leaves the lanes however the worker ends (a panic included): walkers never wait on
                    // lanes no worker drains.
                    struct Leave<'a>(&'a Lanes<Item>);
                    impl Drop for Leave<'_> {
                        fn drop(&mut self) {
                            self.0.leave();
                        }
                    }
                    let _leave = Leave(lanes_ref);
                    let mut state = worker_state();
                    while let Some(batch) = lanes_ref.take(lane) {
                        for item in batch {
                            scan_one(&mut state, item);
                        }
                    }
                    state.1.counts()
                })
            })
            .collect();
        let outcomes = handles.into_iter().map(|h| h.join()).collect::<Vec<_>>();
        let reads = workers.into_iter().map(|h| h.join()).collect::<Vec<_>>();
        (outcomes, reads)
    });
    for r in reads {
        match r {
            Ok(counts) => stats.blob_reads += counts,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
    stats.batches_stolen = lanes.stolen();
    claims.release_trees();
    let mut deferred: Vec<Item> = Vec::new();
    let mut moved: Vec<(ObjectId, Box<str>)> = Vec::new();
    let mut blob_refs: StdHashMap<ObjectId, String> = StdHashMap::new();
    for o in outcomes {
        let o =
            o.map_err(|_| anyhow::anyhow!("{}: the tree walk failed", super::repo_name(repo)))?;
        deferred.extend(o.deferred);
        moved.extend(o.moved);
        blob_refs.extend(o.blob_refs);
        stats.tree_reads += o.reads;
        stats.phase_secs[1] = stats.phase_secs[1].max(o.secs);
    }
    // Blobs another scan was reading: those it found something in (or could not read) are read here too.
    let mut again: Vec<Item> = Vec::new();
    if let Some(filter) = filter {
        let ids: Vec<ObjectId> = deferred.iter().map(|d| d.0).collect();
        let wanted = filter.settle(&ids);
        again.extend(
            deferred
                .into_iter()
                .zip(wanted.into_iter().chain(std::iter::repeat(true)))
                .filter_map(|(d, w)| w.then_some(d)),
        );
    }
    // Blobs scanned under one path and then found, by a walker on an earlier chunk, at another path of an
    // earlier commit: what they yield is what they yield at the path they are reported at.
    if !moved.is_empty() {
        let mut rescan: HashSet<ObjectId> = HashSet::default();
        for (id, scanned_at) in &moved {
            let Some((commit, path)) = claims.record(id) else {
                continue;
            };
            if *path != **scanned_at {
                rescan.insert(*id);
                if !opts.exclude.repo_path(&path) {
                    again.push((*id, path.into(), commit));
                }
            }
        }
        if let Ok(mut v) = found.lock() {
            v.retain(|(id, _)| !rescan.contains(id));
        }
    }
    if !again.is_empty() {
        use rayon::iter::IntoParallelIterator;
        again
            .into_par_iter()
            .for_each_init(worker_state, |state, item| scan_one(state, item));
    }
    stats.blobs = claims.blob_count();
    stats.trees_rewalked = claims.trees_rewalked.load(Relaxed);
    stats.blobs_moved = claims.blobs_moved.load(Relaxed);
    stats.blob_bytes = blob_bytes.load(Relaxed);
    stats.phase_secs[2] = clock.elapsed().as_secs_f64();
    let found = found.into_inner().unwrap_or_default();

    // 5. Provenance, only for what produced findings.
    let clock = std::time::Instant::now();
    let any = !found.is_empty() || !messages.is_empty() || !tag_messages.is_empty();
    if any {
        // The ref names sorted once; each tip commit holds its refs' ranks among them, so a walk over a
        // commit's descendants collects numbers, not strings (thousands of refs reach an old commit).
        let mut ref_names: Vec<&str> = tips.iter().map(|t| t.1.as_str()).collect();
        ref_names.sort_unstable();
        ref_names.dedup();
        let mut refs_at: StdHashMap<u32, Vec<u32>> = StdHashMap::new();
        for (id, name) in &tips {
            if let (Some(&i), Ok(rank)) =
                (graph.index.get(id), ref_names.binary_search(&name.as_str()))
            {
                refs_at.entry(i).or_default().push(rank as u32);
            }
        }
        let head_blobs = head_blob_set(repo, &packs, scanner, &problems);
        let mut live: std::collections::HashSet<(usize, Vec<u8>)> = Default::default();
        for (id, fs) in &found {
            if head_blobs.contains(id) {
                for f in fs {
                    live.insert((f.rule, f.secret.clone()));
                }
            }
        }
        let mut commit_cache: StdHashMap<u32, (CommitMeta, Refs)> = StdHashMap::new();
        let mut provenance = |c: u32| -> (CommitMeta, Refs) {
            commit_cache
                .entry(c)
                .or_insert_with(|| {
                    let node = &graph.nodes[c as usize];
                    let meta = CommitMeta::load(repo, &node.id, scanner, &problems);
                    (meta, reaching_refs(c, &children, &refs_at, &ref_names))
                })
                .clone()
        };
        for (id, mut fs) in found {
            let commit = claims.record(&id).map_or(NO_COMMIT, |r| r.0);
            let (cm, refs) = if commit == NO_COMMIT {
                let names: Vec<String> = blob_refs.get(&id).cloned().into_iter().collect();
                let n = names.len();
                (None, (names, n))
            } else {
                let (m, r) = provenance(commit);
                (Some(m), r)
            };
            for f in &mut fs {
                let meta = &mut f.location.meta;
                if let Some(cm) = &cm {
                    cm.insert_into(meta);
                }
                meta.blob = BlobId::from_bytes(id.as_bytes());
                insert_refs(meta, &refs);
                meta.git_mut().live_in_head = Some(live.contains(&(f.rule, f.secret.clone())));
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
                    meta.git_mut().tag = Some(t.clone());
                }
                insert_refs(meta, &refs);
                meta.git_mut().live_in_head = Some(live.contains(&(f.rule, f.secret.clone())));
            }
            scanner.collect(fs);
        }
        for (name, tag_id, mut fs) in tag_messages {
            for f in &mut fs {
                let git = f.location.meta.git_mut();
                git.tag = Some(name.clone());
                git.tag_object = Some(tag_id.to_string());
                git.refs = Some(vec![name.clone()]);
                git.live_in_head = Some(live.contains(&(f.rule, f.secret.clone())));
            }
            scanner.collect(fs);
        }
    }

    stats.phase_secs[3] = clock.elapsed().as_secs_f64();

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

/// Objects named directly by refs and dangling blobs: walked once every chunk is done.
struct Tail<'a> {
    loose: &'a [(ObjectId, String)],
    dangling: Vec<ObjectId>,
}

/// What the tree pass's walkers share.
struct PassInput<'a> {
    graph: &'a Graph,
    order: &'a [u32],
    /// Ranges of `order`, taken in turn by the walkers.
    chunks: &'a [std::ops::Range<usize>],
    next: std::sync::atomic::AtomicUsize,
    /// Walkers that have no chunk left.
    done: std::sync::atomic::AtomicUsize,
    walkers: usize,
    /// The blob workers' lanes.
    lanes: &'a Lanes<Item>,
    /// Taken by the last walker to finish its chunks.
    tail: Mutex<Option<Tail<'a>>>,
    claims: &'a Claims,
    scanner: &'a dyn BlobSink,
    problems: &'a Problems,
}

/// What one walker of the tree pass leaves.
#[derive(Default)]
struct WalkerOutcome {
    /// Blobs the filter deferred (see `BlobFilter::settle`).
    deferred: Vec<Item>,
    /// Blobs whose record moved after they were handed out, with the path they were handed out under.
    moved: Vec<(ObjectId, Box<str>)>,
    /// The ref naming each ref-named blob this walker claimed.
    blob_refs: StdHashMap<ObjectId, String>,
    /// What the walker's tree reads cost.
    reads: ReadCounts,
    secs: f64,
}

impl PassInput<'_> {
    /// Walker `w`: chunks of the order until none is left; the last walker to finish also walks the tail.
    /// Walker 0 takes the next chunk at once. The others take one only while the blob workers are short of
    /// work: when reading and scanning blobs is the slower half (most histories of source files), walker 0
    /// alone keeps them busy, and a second walker would only add the cost of starting a range cold (its
    /// base trees and their delta chains decoded again).
    fn walk(
        &self,
        w: usize,
        repo: &gix::Repository,
        walker: &mut DiffWalker,
        emit: &mut Emitter<'_>,
    ) -> WalkerOutcome {
        let mut out = WalkerOutcome::default();
        let (claims, scanner, problems) = (self.claims, self.scanner, self.problems);
        loop {
            if w > 0 {
                while self.next.load(Relaxed) < self.chunks.len() && self.lanes.queued() >= STARVING
                {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
            }
            let Some(range) = self.chunks.get(self.next.fetch_add(1, Relaxed)) else {
                break;
            };
            for t in range.clone() {
                let c = self.order[t];
                let pos = t as u32 + 1;
                let node = &self.graph.nodes[c as usize];
                // Diff against a parent's tree (earlier in the order): only what changed is looked at. The
                // parent's own entries are covered by the walk of the parent's chunk.
                let base = node
                    .parents
                    .first()
                    .map(|&p| self.graph.nodes[p as usize].tree);
                walker.walk(
                    repo,
                    node.tree,
                    base,
                    scanner,
                    problems,
                    &mut |id| claims.tree(id, pos),
                    &mut |TreeItem::Blob(id, path)| match claims
                        .blob(id, pos, c, || path.to_string_lossy())
                    {
                        BlobClaim::New(path) => emit.push((id.to_owned(), path, c)),
                        BlobClaim::Moved(Some(was)) => out.moved.push((id.to_owned(), was)),
                        BlobClaim::Moved(None) | BlobClaim::Held => {}
                    },
                );
            }
        }
        if self.done.fetch_add(1, Relaxed) + 1 == self.walkers {
            let tail = self.tail.lock().ok().and_then(|mut t| t.take());
            if let Some(tail) = tail {
                self.walk_tail(repo, walker, emit, tail, &mut out);
            }
        }
        out
    }

    /// Trees and blobs named directly by refs, then dangling blobs (after every commit: `claims::LAST`).
    fn walk_tail(
        &self,
        repo: &gix::Repository,
        walker: &mut DiffWalker,
        emit: &mut Emitter<'_>,
        tail: Tail<'_>,
        out: &mut WalkerOutcome,
    ) {
        let (claims, scanner, problems) = (self.claims, self.scanner, self.problems);
        let mut claim = |id: &gix::oid, path: &dyn Fn() -> String, name: Option<&String>| {
            if let BlobClaim::New(path) = claims.blob(id, claims::LAST, NO_COMMIT, path) {
                if let Some(name) = name {
                    out.blob_refs.insert(id.to_owned(), name.clone());
                }
                emit.push((id.to_owned(), path, NO_COMMIT));
            }
        };
        let mut buf = Vec::new();
        for (id, name) in tail.loose {
            let kind = read(repo, id, &mut buf, scanner, problems).map(|d| d.kind);
            match kind {
                Some(gix::objs::Kind::Blob) => claim(id, &|| format!("<{name}>"), Some(name)),
                Some(gix::objs::Kind::Tree) => walker.walk(
                    repo,
                    *id,
                    None,
                    scanner,
                    problems,
                    &mut |t| claims.tree(t, claims::LAST),
                    &mut |TreeItem::Blob(b, path)| {
                        claim(b, &|| path.to_string_lossy(), Some(name));
                    },
                ),
                _ => {}
            }
        }
        for id in tail.dangling {
            claim(&id, &|| "<dangling blob>".to_string(), None);
        }
    }
}

/// A walker's way to the blob workers: excluded paths are dropped, and with a filter, blobs wait in a batch
/// for its decision (deferred ones are kept for `settle`). Blobs go to their path's lane `SEND_BATCH` at a
/// time. Dropping it (at the end of the walk, or when a walker panics) tells the lanes this walker is done.
struct Emitter<'a> {
    lanes: &'a Lanes<Item>,
    /// Blobs for each lane, not sent yet.
    pending: Vec<Vec<Item>>,
    filter: Option<&'a dyn BlobFilter>,
    exclude: &'a Excludes,
    batch: Vec<Item>,
    decisions: Vec<BlobDecision>,
    deferred: Vec<Item>,
}

impl Emitter<'_> {
    fn push(&mut self, item: Item) {
        if self.exclude.repo_path(&item.1) {
            return;
        }
        if self.filter.is_none() {
            self.send(item);
            return;
        }
        self.batch.push(item);
        if self.batch.len() >= FILTER_BATCH {
            self.flush();
        }
    }

    fn send(&mut self, item: Item) {
        let lane = lanes::lane_of(&item.1, self.pending.len());
        let Some(pending) = self.pending.get_mut(lane) else {
            return;
        };
        pending.push(item);
        if pending.len() >= SEND_BATCH {
            let batch = std::mem::replace(pending, Vec::with_capacity(SEND_BATCH));
            self.lanes.send(lane, batch);
        }
    }

    fn send_pending(&mut self) {
        for (lane, pending) in self.pending.iter_mut().enumerate() {
            self.lanes.send(lane, std::mem::take(pending));
        }
    }

    fn flush(&mut self) {
        let Some(filter) = self.filter else { return };
        let ids: Vec<ObjectId> = self.batch.iter().map(|b| b.0).collect();
        self.decisions.clear();
        filter.decide(&ids, &mut self.decisions);
        let batch = std::mem::take(&mut self.batch);
        let decisions = std::mem::take(&mut self.decisions);
        for (item, d) in batch.into_iter().zip(
            decisions
                .iter()
                .copied()
                .chain(std::iter::repeat(BlobDecision::Scan)),
        ) {
            match d {
                BlobDecision::Scan => self.send(item),
                BlobDecision::Skip => {}
                BlobDecision::Defer => self.deferred.push(item),
            }
        }
        self.decisions = decisions;
    }

    /// Send what is left; the deferred blobs.
    fn finish(mut self) -> Vec<Item> {
        self.flush();
        self.send_pending();
        std::mem::take(&mut self.deferred)
    }
}

impl Drop for Emitter<'_> {
    fn drop(&mut self) {
        self.lanes.close();
    }
}

/// The tree pass's chunks: `n` commits in parents-first order cut into ranges for `walkers` walkers. One
/// range for one walker or a short history. Otherwise several ranges per walker, so that a walker that
/// finishes early takes more work, none shorter than `MIN_CHUNK` commits (each range's first commits diff
/// against trees the walker has not read yet).
fn chunk_order(n: usize, walkers: usize) -> Vec<std::ops::Range<usize>> {
    let count = if walkers <= 1 {
        1
    } else {
        (n / MIN_CHUNK).clamp(1, walkers * CHUNKS_PER_WALKER)
    };
    (0..count)
        .map(|i| (i * n / count)..((i + 1) * n / count))
        .filter(|r| !r.is_empty())
        .collect()
}

/// Every ref's target (peeling annotated tags, whose messages are scanned), HEAD when detached, and each
/// entry of the stash reflog.
fn collect_ref_tips(
    scanner: &dyn BlobSink,
    repo: &gix::Repository,
    packs: &mut PackReader,
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
            // Most refs name a commit: its pack entry's header says so (the commit walk reads it).
            match packs.kind_of(&cur) {
                Some(gix::objs::Kind::Commit) => {
                    tips.push((cur, name.clone()));
                    break;
                }
                Some(gix::objs::Kind::Tree | gix::objs::Kind::Blob) => {
                    loose.push((cur, name.clone()));
                    break;
                }
                Some(gix::objs::Kind::Tag) | None => {}
            }
            let Some(data) = packs.read_counted(repo, &cur, &mut buf, scanner, problems) else {
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

/// What the commit walk needs of a commit: its tree, parents, committer time and message.
struct Decoded {
    tree: ObjectId,
    parents: Vec<ObjectId>,
    time: i64,
    message: Vec<u8>,
}

impl Decoded {
    /// `None` when `data` is not a well-formed commit.
    fn parse(data: &[u8], hash: gix::hash::Kind) -> Option<Self> {
        let c = gix::objs::CommitRef::from_bytes(data, hash).ok()?;
        Some(Decoded {
            tree: c.tree(),
            parents: c.parents().collect(),
            time: c.committer().map(|s| s.seconds()).unwrap_or(0),
            message: c.message.to_vec(),
        })
    }
}

/// Fewest commits at the front of the packs worth decoding ahead.
const DECODE_AHEAD_MIN: usize = 64;
/// Most bytes of commits decoded ahead (35 MB on the 100,000-commit bench; a history with more is
/// decoded ahead up to here, the rest read by the walk as it goes).
const DECODE_AHEAD_BYTES: u64 = 64 << 20;

/// The commits at the front of the packs (`Packs::leading_commits`: git writes a pack's commits first),
/// decoded on every rayon thread before the commit walk, which then takes them by id instead of reading
/// them one at a time: the walk's reads follow the parents, one after another, and were the part of the
/// scan that ran on one core (inflating ~300 bytes a commit is mostly libdeflate's set-up). Commits no ref
/// reaches are decoded too, and dropped after the walk (only what it reaches is scanned); one that cannot
/// be decoded here is read by id by the walk, which counts what is wrong with it.
fn decode_leading_commits(packs: &Packs, hash: gix::hash::Kind) -> HashMap<ObjectId, Decoded> {
    use rayon::slice::ParallelSlice;
    let list = packs.leading_commits(DECODE_AHEAD_BYTES);
    let mut map: HashMap<ObjectId, Decoded> = HashMap::default();
    if list.len() < DECODE_AHEAD_MIN {
        return map;
    }
    let parts: Vec<Vec<(ObjectId, Decoded)>> = list
        .par_chunks(1024)
        .map_init(
            || packs.reader(0),
            |reader, chunk| {
                chunk
                    .iter()
                    .filter_map(|&(b, at, id)| {
                        let (kind, data) = reader.read_at(b, at)?;
                        if kind != gix::objs::Kind::Commit {
                            return None;
                        }
                        Some((id, Decoded::parse(data, hash)?))
                    })
                    .collect()
            },
        )
        .collect();
    map.reserve(list.len());
    for part in parts {
        map.extend(part);
    }
    map
}

/// Add every commit reachable from `seeds` (stopping at `hidden` and shallow boundaries) to the graph,
/// scanning each commit message. The messages are scanned on a second thread while the walk goes on: the
/// walk is serial, and scanning them in line made up much of its time.
#[allow(clippy::too_many_arguments)]
fn walk_commits(
    repo: &gix::Repository,
    // The commit reader, and the commits decoded ahead (`decode_leading_commits`), taken from there first.
    (packs, decoded): (&mut PackReader, &mut HashMap<ObjectId, Decoded>),
    graph: &mut Graph,
    seeds: &[ObjectId],
    hidden: &HashSet<ObjectId>,
    shallow: &HashSet<ObjectId>,
    scanner: &dyn BlobSink,
    problems: &Problems,
    messages: &mut Vec<MessageFinding>,
) {
    /// Messages handed to the scanning thread at a time.
    const BATCH: usize = 64;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(u32, Vec<u8>)>>(64);
    std::thread::scope(|scope| {
        let scanning = scope.spawn(move || {
            let origin = Origin::new("git", "<commit message>");
            let mut found = Vec::new();
            for batch in rx {
                for (commit, message) in batch {
                    let f = scanner.find_in_blob(&message, &origin);
                    if !f.is_empty() {
                        found.push(MessageFinding {
                            commit,
                            tag: None,
                            found: f,
                        });
                    }
                }
            }
            found
        });
        let mut queue: VecDeque<ObjectId> = seeds.iter().copied().collect();
        let mut buf = Vec::new();
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(id) = queue.pop_front() {
            if graph.index.contains_key(&id) || hidden.contains(&id) {
                continue;
            }
            let commit = match decoded.remove(&id) {
                Some(d) => d,
                None => {
                    let Some(data) = packs.read_counted(repo, &id, &mut buf, scanner, problems)
                    else {
                        continue;
                    };
                    if data.kind != gix::objs::Kind::Commit {
                        continue;
                    }
                    let Some(d) = Decoded::parse(data.data, repo.object_hash()) else {
                        problems.corrupt.fetch_add(1, Relaxed);
                        continue;
                    };
                    d
                }
            };
            let idx = graph.nodes.len() as u32;
            let parents: Vec<ObjectId> = if shallow.contains(&id) {
                Vec::new()
            } else {
                commit.parents
            };
            queue.extend(parents.iter().copied());
            batch.push((idx, commit.message));
            if batch.len() == BATCH {
                // The scanning thread only ends when this sender is dropped.
                let _ = tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
            }
            graph.nodes.push(CommitNode {
                id,
                tree: commit.tree,
                parents: Vec::new(),
                time: commit.time,
            });
            graph.parent_ids.push(parents);
            graph.index.insert(id, idx);
        }
        if !batch.is_empty() {
            let _ = tx.send(batch);
        }
        drop(tx);
        match scanning.join() {
            Ok(found) => messages.extend(found),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
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

/// Names of the refs whose tips descend from (or are) commit `c`, sorted (branches, then remotes, stash and
/// tags), at most `MAX_REFS` of them, and how many there are.
fn reaching_refs(
    c: u32,
    children: &[Vec<u32>],
    refs_at: &StdHashMap<u32, Vec<u32>>,
    names: &[&str],
) -> (Vec<String>, usize) {
    let mut seen = vec![false; children.len()];
    let mut stack = vec![c];
    // Ranks into `names` (sorted): the first `MAX_REFS` ranks are the first names.
    let mut ranks: Vec<u32> = Vec::new();
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i as usize], true) {
            continue;
        }
        if let Some(r) = refs_at.get(&i) {
            ranks.extend_from_slice(r);
        }
        stack.extend(children[i as usize].iter().copied());
    }
    ranks.sort_unstable();
    ranks.dedup();
    let kept = ranks
        .iter()
        .take(MAX_REFS)
        .filter_map(|&r| names.get(r as usize).map(|n| n.to_string()))
        .collect();
    (kept, ranks.len())
}

/// Record the refs reaching a location: the names kept, and their number when more reach it.
fn insert_refs(meta: &mut keysweep_model::Meta, (names, total): &Refs) {
    let git = meta.git_mut();
    git.refs = Some(names.clone());
    if *total > names.len() {
        git.refs_total = Some(*total as u64);
    }
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
    DiffWalker::new(repo, packs.reader(0)).walk(
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

#[cfg(test)]
mod tests {
    use super::*;
    use keysweep_model::Stats;

    /// A sink that scans nothing and counts the blobs handed to it (not the commit messages).
    #[derive(Default)]
    struct Count {
        stats: Stats,
        blobs: std::sync::atomic::AtomicUsize,
    }

    impl keysweep_model::Diagnostics for Count {
        fn warn(&self, _: String) {}
        fn error(&self, _: String) {}
        fn stats(&self) -> &Stats {
            &self.stats
        }
    }

    impl BlobSink for Count {
        fn find_in_blob(&self, _: &[u8], origin: &Origin) -> Vec<BlobFinding> {
            if !origin.path.starts_with('<') {
                self.blobs.fetch_add(1, Relaxed);
            }
            Vec::new()
        }
        fn collect(&self, _: Vec<BlobFinding>) {}
    }

    /// Run git with `args` in `dir`, `input` on its standard input; it must succeed.
    fn git_with_input(dir: &std::path::Path, args: &[&str], input: &str) {
        use std::io::Write;
        let mut child = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("git runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("input");
        assert!(child.wait().expect("git ends").success(), "git {args:?}");
    }

    /// Four files, each changed in turn `versions` times, packed with its deltas recomputed (`repack -adf`:
    /// as `gc --aggressive` or a server packs, each version a delta of a newer version of the same file,
    /// chains up to 50 deep).
    fn growing_files(versions: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let ok = std::process::Command::new("git")
            .args(["init", "-q"])
            .current_dir(dir.path())
            .status()
            .expect("git init")
            .success();
        assert!(ok);
        let mut stream = String::new();
        let mut texts = vec![String::new(); 4];
        for v in 0..versions {
            for (f, text) in texts.iter_mut().enumerate() {
                text.push_str(&format!(
                    "file {f}: line {v} of a text that grows by a line a version\n"
                ));
                stream.push_str(&format!(
                    "commit refs/heads/main\ncommitter t <t@t> {v} +0000\ndata 1\nx\nM 100644 inline f{f}.txt\ndata {}\n{text}\n",
                    text.len()
                ));
            }
        }
        git_with_input(dir.path(), &["fast-import", "--quiet"], &stream);
        let ok = std::process::Command::new("git")
            .args(["repack", "-adf", "-q"])
            .current_dir(dir.path())
            .status()
            .expect("git repack")
            .success();
        assert!(ok);
        dir
    }

    /// The versions of a file reach a blob worker in history order (one worker here; with more, the
    /// versions of one path share a lane: `lanes`), and its chain cache keeps the versions built on the
    /// way to the oldest: each version costs about one delta, not a rebuild of its chain (which, without
    /// the cache, costs up to 50 deltas a version here: thousands in all).
    #[test]
    fn each_version_of_a_file_costs_one_delta() {
        let dir = growing_files(120);
        let sink = Count::default();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("pool");
        let stats = pool
            .install(|| {
                let repo = gix::open(dir.path()).expect("open");
                scan_history(&sink, &repo, &HistoryOptions::default())
            })
            .expect("scan");
        assert_eq!(stats.blobs, 480);
        assert_eq!(sink.blobs.load(Relaxed), 480);
        let reads = stats.blob_reads;
        assert!(reads.deltas > 100, "{reads:?}: the repack wrote no deltas?");
        assert!(reads.deltas <= 480, "{reads:?}: chains were rebuilt");
        assert_eq!(reads.copied, 0, "{reads:?}");
        assert_eq!(stats.tree_reads.copied, 0, "{:?}", stats.tree_reads);
        // A small repository's walkers keep the smallest cache, not the 100,000-commit bench's 16 MB.
        assert_eq!(stats.tree_cache, TREE_PASS_DELTA_CACHE_MIN);
        // The repack wrote the 480 commits first: all decoded ahead of the walk, none read by it.
        assert_eq!(stats.commits, 480);
        assert_eq!(stats.commits_decoded_ahead, 480);
    }

    /// A range reads only the commits it reaches: none is decoded ahead (all 480 would be, costing a short
    /// range on a long history more than its walk).
    #[test]
    fn a_range_decodes_no_commit_ahead() {
        let dir = growing_files(120);
        let sink = Count::default();
        let repo = gix::open(dir.path()).expect("open");
        let head = repo
            .find_reference("refs/heads/main")
            .expect("main")
            .peel_to_id()
            .expect("peel")
            .detach();
        let parent = repo
            .find_commit(head)
            .expect("commit")
            .parent_ids()
            .next()
            .expect("parent")
            .detach();
        let opts = HistoryOptions {
            selection: Selection::Range {
                include: vec![head],
                exclude: vec![parent],
            },
            ..HistoryOptions::default()
        };
        let stats = scan_history(&sink, &repo, &opts).expect("scan");
        assert_eq!(stats.commits, 1);
        assert_eq!(stats.commits_decoded_ahead, 0);
    }

    /// The commits decoded ahead are those the repack wrote first, up to the byte budget: a long history
    /// does not hold every commit decoded at once.
    #[test]
    fn commits_decoded_ahead_stay_within_their_budget() {
        let dir = growing_files(30);
        let repo = gix::open(dir.path()).expect("open");
        let packs = Packs::open(&repo);
        let all = packs.leading_commits(u64::MAX);
        assert_eq!(all.len(), 120);
        let some = packs.leading_commits(1000);
        assert!(
            !some.is_empty() && some.len() < 12,
            "{} commits",
            some.len()
        );
        assert_eq!(some[..], all[..some.len()]);
    }

    /// The walkers' cache follows the packs' size between its bounds.
    #[test]
    fn the_tree_cache_grows_with_the_packs() {
        assert_eq!(tree_cache_bytes(0), TREE_PASS_DELTA_CACHE_MIN);
        assert_eq!(tree_cache_bytes(95 << 20), TREE_PASS_DELTA_CACHE_MIN);
        assert_eq!(tree_cache_bytes(320 << 20), 10 << 20);
        assert_eq!(tree_cache_bytes(700 << 20), TREE_PASS_DELTA_CACHE);
        assert_eq!(tree_cache_bytes(u64::MAX), TREE_PASS_DELTA_CACHE);
    }
    /// Refs naming commits are peeled from their pack entries' headers: a repository with a hundred
    /// branches and tags costs the peeling no inflated byte (each commit read whole cost ~300 bytes
    /// inflated a ref; the commit walk reads them anyway), and every ref is still a tip.
    #[test]
    fn refs_to_commits_are_peeled_without_reading_them() {
        let dir = growing_files(30);
        let repo = gix::open(dir.path()).expect("open");
        let commits: Vec<ObjectId> = {
            let out = std::process::Command::new("git")
                .args(["rev-list", "--all"])
                .current_dir(dir.path())
                .output()
                .expect("git rev-list");
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| ObjectId::from_hex(l.as_bytes()).ok())
                .collect()
        };
        assert_eq!(commits.len(), 120);
        let mut updates = String::new();
        for (i, c) in commits.iter().enumerate().take(100) {
            let kind = if i % 2 == 0 { "heads/b" } else { "tags/t" };
            updates.push_str(&format!("create refs/{kind}{i} {c}\n"));
        }
        git_with_input(dir.path(), &["update-ref", "--stdin"], &updates);
        let packs = Packs::open(&repo);
        let mut reader = packs.reader(0);
        let (sink, problems) = (Count::default(), Problems::default());
        let (mut tips, mut loose, mut tag_messages) = (Vec::new(), Vec::new(), Vec::new());
        collect_ref_tips(
            &sink,
            &repo,
            &mut reader,
            &problems,
            &mut tips,
            &mut loose,
            &mut tag_messages,
        )
        .expect("refs");
        assert_eq!(tips.len(), 101, "main and the 100 refs");
        assert!(tips
            .iter()
            .any(|(id, name)| name == "refs/tags/t99" && *id == commits[99]));
        assert!(loose.is_empty());
        assert_eq!(reader.counts().inflated, 0, "{:?}", reader.counts());
    }
}
