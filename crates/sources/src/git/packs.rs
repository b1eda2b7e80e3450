//! Reading objects straight from the repository's pack files, with a cache that knows delta chains. It owns
//! the history scan's object reads: the ref peeling (an entry's header tells a commit, `kind_of`), the
//! commit walk, the tree pass and the blob workers (each with a cache) and HEAD's blob set all read through
//! one mapping of each pack. The tree pass and the blob workers
//! borrow what they read from the reader (`read_pair`, `read_ref_counted`): an object the cache keeps is
//! never copied out of it. Through gix's mappings as
//! well, each read would fault in another ~64 KB of pack pages, counted again in the peak RSS. Pages of the
//! mappings that the readers have not touched for a while are dropped from the resident set (`Shared`), so
//! the peak no longer grows with the pack.
//!
//! Why: git stores older versions of a file or directory as deltas against newer ones. A chain can be up to
//! 50 deltas long. The tree pass reads history oldest first, and gix's decoder caches only the object it
//! was asked for, never the versions it built on the way. So every older tree inflated and applied its
//! whole chain again. On a 30,000-commit history that was half of the tree pass.
//!
//! Here, an object whose chain is not cached is built from the first cached (or undeltified) base up, one
//! delta at a time, and every intermediate version is kept in a byte-capped LRU cache. The next, newer
//! version is then usually one of those intermediates, and reading it costs a lookup.
//!
//! Packs whose deltas point the other way (fast-import's, where each version is a delta of the previous
//! one) need the opposite: the next version is built from the last one read, which must still be cached,
//! however long ago its directory last changed. So a version that the object just read was built from, and
//! that was itself read before, is superseded and evicted first; and once the reads show deltas pointing to
//! older versions, so are the versions built on the way up a chain (old ones, read already). Plain LRU
//! evicted the latest versions of quiet directories instead: on the 100,000-commit bench each next version
//! then rebuilt its chain, 18.5 GB of intermediate versions built for 4 GB of trees.
//!
//! The decoding is this module's own (`delta` applies one delta): entries are inflated whole with
//! libdeflate (the entry header gives the size), each delta is applied straight from the cached base into
//! the result, which goes into the cache as it is. gix's decoder copies base and result several
//! times per delta and inflates through a streaming zlib; on the bench histories this cut 10-20% of the
//! scan's CPU time. A chain with a base named by id (rare in local packs) is left to gix's decoder.
//!
//! Objects that are not in a pack this reader opened (loose objects, alternates, packs added while the
//! scan runs), or that it cannot decode, are read through gix's object database. That path reports missing
//! and corrupt objects exactly as before.
use super::delta;
use gix::objs::Find;
use gix::odb::pack;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Bound of `PackReader::forward`: how much evidence one way it takes to turn the other way.
const DIRECTION_SPAN: i32 = 64;

/// Longest delta chain followed before giving the object to gix (git's own limit is far below this). It
/// also ends a cycle in a corrupt pack.
const MAX_CHAIN: usize = 10_000;

/// Bounds of a window of `Shared`: the spans marked in one add up to half the packs' size within these.
/// Smaller windows drop more pages that are touched again: a third more CPU on the 100,000-commit bench
/// at 32 MB (faults and TLB flushes), 1-2% at 256 MB; 192 MB took its peak RSS from 632 to 576 MB with
/// no CPU lost in the same batch (160 MB: 540 MB, CPU in doubt).
const RELEASE_MIN: u64 = 32 << 20;
const RELEASE_MAX: u64 = 192 << 20;
/// log2 of the span of pack pages counted as one: a read fault on a file mapping maps up to 64 KB of cached
/// file pages around the faulting address (the kernel's `fault_around_bytes`), aligned to 64 KB.
const CHUNK_SHIFT: u32 = 16;

/// The repository's packs, opened (mapped) once and shared by every thread's reader.
#[derive(Clone)]
pub struct Packs(std::sync::Arc<Shared>);

/// What every reader shares: the packs, and which of their pages the readers mapped in lately.
///
/// A scan reads every object of the packs through read-only mappings: every page touched stays counted in
/// the process's resident set, so its peak grew with the packs (770 MB of the 1,038 MB peak on the
/// 100,000-commit bench's 696 MB pack). The readers move through a pack roughly in history order, so most
/// of what they touched is not touched again. Each read marks the 64 KB spans of the pack its entry lies
/// in. Once the spans marked since the last release add up to `release` bytes, the pages of every span
/// marked in the window before and not in this one are dropped (`madvise(MADV_DONTNEED)`), and a new window
/// starts: the mapped pages stay within about twice `release` plus what is in use. A span dropped and
/// touched again is mapped in again from the page cache (a minor fault). Dropping every page at each
/// release instead cost a third more CPU on that bench: the readers' working set is larger than a window.
struct Shared {
    packs: Vec<Pack>,
    /// Bytes of the spans marked in this window.
    marked: AtomicU64,
    /// Release once this many bytes are marked (`u64::MAX`: never).
    release: u64,
    /// Releases done (for tests).
    #[cfg(test)]
    releases: AtomicU64,
}

impl Shared {
    /// Mark the spans of `len` bytes at `at` in pack `b` as touched in this window, and release what the
    /// last window touched and this one did not once this window's spans reach `release` bytes.
    fn touch(&self, b: usize, at: u64, len: u64) {
        if self.release == u64::MAX {
            return;
        }
        let Some(pack) = self.packs.get(b) else {
            return;
        };
        let last = pack.window.len() as u64 * 64;
        let (first, end) = (
            at >> CHUNK_SHIFT,
            (at.saturating_add(len) >> CHUNK_SHIFT) + 1,
        );
        let mut new = 0u64;
        for span in first..end.min(last) {
            let (word, bit) = (&pack.window[(span / 64) as usize], 1u64 << (span % 64));
            // A plain load first: most reads fall in spans already marked, and a load keeps the word's
            // cache line shared between the threads.
            if word.load(Relaxed) & bit == 0 && word.fetch_or(bit, Relaxed) & bit == 0 {
                new += 1 << CHUNK_SHIFT;
            }
        }
        if new == 0 {
            return;
        }
        let before = self.marked.fetch_add(new, Relaxed);
        if before < self.release && before + new >= self.release {
            // Only the reader whose marks reached the bound releases; the others go on marking (a span
            // marked during the release counts in the new window).
            self.marked.store(0, Relaxed);
            self.release_cold();
        }
    }

    /// Drop the pages of every span marked in the last window and not in this one; this window becomes
    /// the last.
    fn release_cold(&self) {
        #[cfg(test)]
        self.releases.fetch_add(1, Relaxed);
        for pack in &self.packs {
            // Runs of cold spans, as (first span, end span).
            let mut run: Option<(u64, u64)> = None;
            for (i, (now, last)) in pack.window.iter().zip(pack.last_window.iter()).enumerate() {
                let now = now.swap(0, Relaxed);
                let cold = last.swap(now, Relaxed) & !now;
                if cold == 0 {
                    continue;
                }
                for bit in 0..64u64 {
                    if cold & (1 << bit) == 0 {
                        continue;
                    }
                    let span = i as u64 * 64 + bit;
                    run = match run {
                        Some((first, end)) if end == span => Some((first, span + 1)),
                        Some(done) => {
                            pack.drop_pages(done);
                            Some((span, span + 1))
                        }
                        None => Some((span, span + 1)),
                    };
                }
            }
            if let Some(done) = run {
                pack.drop_pages(done);
            }
        }
    }
}

/// The system's page size, asked once.
#[cfg(target_os = "linux")]
fn page_size() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    // SAFETY: `sysconf` reads a system constant; it touches no memory of ours.
    *PAGE.get_or_init(|| unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as usize)
}

impl Pack {
    /// Drop the resident pages of spans `first..end` of the mapping (Linux; elsewhere nothing happens).
    fn drop_pages(&self, (first, end): (u64, u64)) {
        #[cfg(test)]
        self.dropped.fetch_add(end - first, Relaxed);
        #[cfg(target_os = "linux")]
        {
            // gix maps a pack file whole (memmap2's `Mmap`: the type says it is a mapping, never a heap
            // buffer, on which `MADV_DONTNEED` would zero the memory).
            let data: &pack::data::File<memmap2::Mmap> = &self.bundle.pack;
            let len = data.data_len() as u64;
            let (from, to) = (
                (first << CHUNK_SHIFT).min(len),
                (end << CHUNK_SHIFT).min(len),
            );
            let Some(range) = data.entry_slice(from..to) else {
                return;
            };
            // SAFETY: `range` lies in gix's read-only private mapping of the pack file (`PROT_READ`,
            // `MAP_PRIVATE`, from file offset 0, so its start is page-aligned, and so is `range`'s: a
            // multiple of 64 KB from it; checked below). No page of it is ever written, so
            // `MADV_DONTNEED` only unmaps pages: the next access to one maps the same file bytes in again,
            // and every slice a reader (of this thread or another) holds into it reads the same bytes
            // before and after. The call changes no memory Rust can observe.
            if !range.is_empty() && (range.as_ptr() as usize).is_multiple_of(page_size()) {
                unsafe {
                    libc::madvise(
                        range.as_ptr() as *mut libc::c_void,
                        range.len(),
                        libc::MADV_DONTNEED,
                    );
                }
            }
        }
    }
}

/// One pack and its index, with the index's fan-out table: the tree pass and the blob workers search the
/// index once per object, and gix's search (a comparison through a closure and `memcmp` per step) was a
/// visible part of both.
struct Pack {
    bundle: pack::Bundle,
    /// `fan[b]..fan[b + 1]`: the index positions of the ids whose first byte is `b`.
    fan: Box<[u32; 257]>,
    /// One bit per 64 KB span of the pack: marked in this window, and in the last (see `Shared`).
    window: Box<[AtomicU64]>,
    last_window: Box<[AtomicU64]>,
    /// Spans whose pages were dropped (for tests).
    #[cfg(test)]
    dropped: AtomicU64,
}

impl Pack {
    fn new(bundle: pack::Bundle) -> Self {
        let index = &bundle.index;
        let n = index.num_objects();
        let mut fan = Box::new([0u32; 257]);
        for first in 0..256usize {
            // The first position whose id starts with a byte above `first`.
            let (mut lo, mut hi) = (fan[first], n);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if usize::from(index.oid_at_index(mid).first_byte()) <= first {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            fan[first + 1] = lo;
        }
        let words = (bundle.pack.data_len() as u64 >> CHUNK_SHIFT) / 64 + 1;
        let bits = || (0..words).map(|_| AtomicU64::new(0)).collect();
        Pack {
            bundle,
            fan,
            window: bits(),
            last_window: bits(),
            #[cfg(test)]
            dropped: AtomicU64::new(0),
        }
    }

    /// The pack offset of `id`. Object ids are uniformly distributed, so the search guesses where `id`
    /// lies between the bounds from their values (interpolation: two or three probes instead of about
    /// seventeen halvings of a million-object index, each probe a likely cache miss), and halves the range
    /// once a few guesses have not found it (a crafted index stays logarithmic). The first 8 bytes are
    /// compared as one number, the rest only when those are equal.
    fn offset_of(&self, id: &gix::oid) -> Option<u64> {
        /// Guesses before the search only halves.
        const GUESSES: u32 = 4;
        let index = &self.bundle.index;
        let want = id.as_bytes();
        let key = prefix(want)?;
        let first = usize::from(id.first_byte());
        let (mut lo, mut hi) = (self.fan[first], self.fan[first + 1]);
        // Every id in `lo..hi` has a prefix in `lo_key..=hi_key`.
        let mut lo_key = (first as u64) << 56;
        let mut hi_key = lo_key | ((1 << 56) - 1);
        let mut guesses = 0;
        while lo < hi {
            let mid = if guesses < GUESSES && lo_key <= key && key <= hi_key {
                guesses += 1;
                let span = u128::from(hi - lo);
                let at = u128::from(key - lo_key) * span / (u128::from(hi_key - lo_key) + 1);
                lo + u32::try_from(at).unwrap_or(0).min(hi - lo - 1)
            } else {
                lo + (hi - lo) / 2
            };
            let have = index.oid_at_index(mid).as_bytes();
            let have_key = prefix(have)?;
            match key.cmp(&have_key).then_with(|| want[8..].cmp(&have[8..])) {
                std::cmp::Ordering::Less => (hi, hi_key) = (mid, have_key),
                std::cmp::Ordering::Greater => (lo, lo_key) = (mid + 1, have_key),
                std::cmp::Ordering::Equal => return Some(index.pack_offset_at_index(mid)),
            }
        }
        None
    }
}

/// The first 8 bytes of an object id, as a number that sorts like them.
fn prefix(id: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(id.get(..8)?.try_into().ok()?))
}

impl Packs {
    /// Open every `*.idx`/`*.pack` pair in the repository's object directory. A pack that cannot be opened is
    /// skipped: its objects then come through gix, which reports what is wrong with them.
    pub fn open(repo: &gix::Repository) -> Self {
        Self::open_releasing(repo, None)
    }

    /// `open`, with windows of `release` bytes (`None`: half the packs' size, within `RELEASE_MIN` and
    /// `RELEASE_MAX`) between releases of the packs' pages (see `Shared`).
    fn open_releasing(repo: &gix::Repository, release: Option<u64>) -> Self {
        let dir = repo.objects.store_ref().path().join("pack");
        let mut indexes: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "idx"))
                    .collect()
            })
            .unwrap_or_default();
        indexes.sort();
        let packs = indexes
            .iter()
            .filter_map(|p| pack::Bundle::at(p, repo.object_hash()).ok())
            .map(Pack::new)
            .collect::<Vec<_>>();
        let size: u64 = packs.iter().map(|p| p.bundle.pack.data_len() as u64).sum();
        let release = release.unwrap_or((size / 2).clamp(RELEASE_MIN, RELEASE_MAX));
        Packs(std::sync::Arc::new(Shared {
            packs,
            marked: Default::default(),
            release,
            #[cfg(test)]
            releases: Default::default(),
        }))
    }

    /// The packs' size in bytes, in all.
    pub fn bytes(&self) -> u64 {
        self.0
            .packs
            .iter()
            .map(|p| p.bundle.pack.data_len() as u64)
            .sum()
    }

    /// The commits stored whole at the start of each pack, as (pack, offset, id), in pack order: git writes
    /// a pack's commits first, so the commit walk can have them decoded on every core before it asks for
    /// them one by one (`history`). The run ends at the first entry of another kind (a pack that does not
    /// start with commits, as fast-import writes them, gives none). Only the index and the headers of the
    /// run are read: the entries below a bound, sorted by offset, the bound doubled while the run reaches it.
    /// The run is cut once its commits add up to `max_bytes` (their headers say their size): what the walk
    /// holds decoded ahead stays bounded however long the history.
    pub fn leading_commits(&self, max_bytes: u64) -> Vec<(usize, u64, gix::ObjectId)> {
        let mut out = Vec::new();
        let mut budget = max_bytes;
        for (b, pack) in self.0.packs.iter().enumerate() {
            let (index, data) = (&pack.bundle.index, &pack.bundle.pack);
            let len = data.data_len() as u64;
            let mut bound = (len / 16).max(1 << 20);
            loop {
                let mut below: Vec<(u64, u32)> = (0..index.num_objects())
                    .filter_map(|i| {
                        let at = index.pack_offset_at_index(i);
                        (at < bound).then_some((at, i))
                    })
                    .collect();
                below.sort_unstable();
                let mut run = Vec::new();
                let mut left = budget;
                let mut ended = false;
                for &(at, i) in &below {
                    match data.entry(at) {
                        Ok(e)
                            if matches!(e.header, pack::data::entry::Header::Commit)
                                && e.decompressed_size <= left =>
                        {
                            left -= e.decompressed_size;
                            run.push((b, at, index.oid_at_index(i).to_owned()));
                        }
                        _ => {
                            ended = true;
                            break;
                        }
                    }
                }
                if ended || bound >= len {
                    out.extend(run);
                    budget = left;
                    break;
                }
                bound = bound.saturating_mul(2);
            }
        }
        out
    }

    /// A reader over these packs with its own cache of `cache_bytes` (0: none), for one thread.
    pub fn reader(&self, cache_bytes: usize) -> PackReader {
        PackReader {
            bundles: self.0.clone(),
            cache: ChainCache::new(cache_bytes),
            inflate: libdeflater::Decompressor::new(),
            gix_inflate: Default::default(),
            chain: Vec::new(),
            last_pack: 0,
            forward: 0,
            last_found: None,
            counts: ReadCounts::default(),
            own: [Vec::new(), Vec::new()],
        }
    }
}

/// One thread's reader: the shared packs plus a chain-aware cache of decoded pack entries.
pub struct PackReader {
    bundles: std::sync::Arc<Shared>,
    cache: ChainCache,
    /// Inflates pack entries: libdeflate decompresses a whole buffer at once (the size is known from the
    /// entry header), about twice as fast as a streaming inflater on the small objects history is made of.
    inflate: libdeflater::Decompressor,
    /// For chains left to gix's decoder.
    gix_inflate: gix::zlib::Inflate,
    /// The uncached deltas of the chain being resolved, newest first (reused between reads).
    chain: Vec<pack::data::Entry>,
    /// Which pack held the last object found: consecutive reads are usually in the same pack.
    last_pack: usize,
    /// Which way the deltas read so far point, from -`DIRECTION_SPAN` (to newer versions: the versions
    /// built on the way to an object are read next) to `DIRECTION_SPAN` (to older versions, as in
    /// fast-import's packs: those versions were read already, and are evicted first).
    forward: i32,
    /// The last object found, and where.
    last_found: Option<(gix::ObjectId, usize, u64)>,
    /// What this reader's reads cost.
    counts: ReadCounts,
    /// The reader's own buffers, for objects the cache does not hold (see `At`).
    own: [Vec<u8>; 2],
}

/// Where an object just read is: in the cache, or in one of the reader's own buffers (an object too large
/// for the cache, or read through gix). Readers borrow it from there until their next read: no copy.
#[derive(Clone, Copy)]
enum At {
    Cache(Slot),
    Own(usize),
}

/// What a reader's reads cost: deltas applied, bytes of the versions they built, bytes inflated (objects
/// and delta instructions), bytes copied out of the cache (reads into a caller's buffer; borrowing reads
/// copy nothing). A history scan adds up its blob workers' and its walkers' (`HistoryStats`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReadCounts {
    pub deltas: u64,
    pub built: u64,
    pub inflated: u64,
    pub copied: u64,
}

impl std::ops::AddAssign for ReadCounts {
    fn add_assign(&mut self, o: Self) {
        self.deltas += o.deltas;
        self.built += o.built;
        self.inflated += o.inflated;
        self.copied += o.copied;
    }
}

impl PackReader {
    /// What this reader's reads have cost so far.
    pub fn counts(&self) -> ReadCounts {
        self.counts
    }

    /// Read `id` like `super::read`: missing and corrupt objects are counted in `problems` and give `None`.
    pub fn read_counted<'a>(
        &mut self,
        repo: &gix::Repository,
        id: &gix::oid,
        out: &'a mut Vec<u8>,
        scanner: &dyn keysweep_model::Diagnostics,
        problems: &super::Problems,
    ) -> Option<gix::objs::Data<'a>> {
        let found = self.read(repo, id, out);
        super::counted(found, repo, id, scanner, problems)
    }

    /// Read object `id` into `out`: from a pack when this reader has it, else through gix's object database
    /// (whose error, or `None` for a missing object, is returned as is).
    pub fn read<'a>(
        &mut self,
        repo: &gix::Repository,
        id: &gix::oid,
        out: &'a mut Vec<u8>,
    ) -> gix::Result<Option<gix::objs::Data<'a>>> {
        match self.read_limited(repo, id, out, u64::MAX) {
            Ok(found) => found,
            // Nothing is over `u64::MAX`.
            Err(_) => Ok(None),
        }
    }

    /// `read_counted` for an object that is wanted only up to `max` bytes: `Err(size)` when it is larger,
    /// told from its pack entry's header (for a delta, from the delta itself, which the read inflates anyway)
    /// or from gix's object header, before anything larger than the delta is inflated. History skips blobs
    /// over the size limit this way: AI repositories often hold model weights or datasets gigabytes large.
    pub fn read_counted_limited<'a>(
        &mut self,
        repo: &gix::Repository,
        id: &gix::oid,
        out: &'a mut Vec<u8>,
        max: u64,
        scanner: &dyn keysweep_model::Diagnostics,
        problems: &super::Problems,
    ) -> Result<Option<gix::objs::Data<'a>>, u64> {
        let found = self.read_limited(repo, id, out, max)?;
        Ok(super::counted(found, repo, id, scanner, problems))
    }

    /// `read`, refusing objects over `max` bytes with `Err(size)`: the object lands in `out` (moved there
    /// from the reader's own buffer, or copied out of the cache).
    fn read_limited<'a>(
        &mut self,
        repo: &gix::Repository,
        id: &gix::oid,
        out: &'a mut Vec<u8>,
        max: u64,
    ) -> Result<gix::Result<Option<gix::objs::Data<'a>>>, u64> {
        let kind = match self.load(repo, id, max, 0)? {
            Ok(Some((kind, At::Own(i)))) => {
                std::mem::swap(out, &mut self.own[i]);
                kind
            }
            Ok(Some((kind, at))) => {
                out.clear();
                out.extend_from_slice(self.slice(at));
                self.counts.copied += out.len() as u64;
                kind
            }
            Ok(None) => return Ok(Ok(None)),
            Err(e) => return Ok(Err(e)),
        };
        Ok(Ok(Some(gix::objs::Data::new(
            out,
            kind,
            repo.object_hash(),
        ))))
    }

    /// The object at `offset` of pack `b` (an entry `Packs::leading_commits` listed), borrowed until the
    /// next read; `None` when it cannot be decoded here (the caller reads it by id).
    pub fn read_at(&mut self, b: usize, offset: u64) -> Option<(gix::objs::Kind, &[u8])> {
        match self.decode(b, offset, u64::MAX, 0)? {
            Ok((kind, at)) => Some((kind, self.slice(at))),
            Err(_) => None,
        }
    }

    /// The kind of object `id`, told from its pack entry's header alone (nothing inflated); `None` when
    /// this reader's packs do not hold it or its entry is a delta (the caller reads it whole). Peeling the
    /// refs asks this once per ref: a repository with thousands of branches and tags costs a header each,
    /// not a commit read each (the commit walk reads the commits anyway).
    pub fn kind_of(&mut self, id: &gix::oid) -> Option<gix::objs::Kind> {
        let (b, offset) = self.find(id)?;
        let bundles = self.bundles.clone();
        let data = &bundles.packs.get(b)?.bundle.pack;
        let entry = data.entry(offset).ok()?;
        self.bundles.touch(b, offset, 64);
        entry.header.as_kind()
    }

    /// `read_counted_limited`, the object borrowed from the reader (its cache or its own buffer) until the
    /// next read: nothing is copied.
    pub fn read_ref_counted(
        &mut self,
        repo: &gix::Repository,
        id: &gix::oid,
        max: u64,
        scanner: &dyn keysweep_model::Diagnostics,
        problems: &super::Problems,
    ) -> Result<Option<gix::objs::Data<'_>>, u64> {
        let found = self.load(repo, id, max, 0)?;
        let hash = repo.object_hash();
        let found =
            found.map(|o| o.map(|(kind, at)| gix::objs::Data::new(self.slice(at), kind, hash)));
        Ok(super::counted(found, repo, id, scanner, problems))
    }

    /// Two objects at once, both borrowed from the reader until its next read (the tree pass: a tree and
    /// the tree it is diffed against). `first` stays in the cache while `second` is read, and is then put
    /// first in line for eviction: a diff's base, which the newer version just read replaces at its path.
    /// Errors reading `first` give `None` (the caller treats it as absent).
    pub fn read_pair(
        &mut self,
        repo: &gix::Repository,
        first: Option<&gix::oid>,
        second: &gix::oid,
    ) -> (
        Option<gix::objs::Data<'_>>,
        gix::Result<Option<gix::objs::Data<'_>>>,
    ) {
        let one = first.and_then(|id| self.load(repo, id, u64::MAX, 0).ok()?.ok()?);
        let pinned = match one {
            Some((_, At::Cache(slot))) => Some(slot),
            _ => None,
        };
        self.cache.pinned = pinned;
        let two = self.load(repo, second, u64::MAX, 1);
        self.cache.pinned = None;
        if let Some(slot) = pinned {
            self.cache.demote(slot.1, slot.0);
        }
        let hash = repo.object_hash();
        let one = one.map(|(kind, at)| gix::objs::Data::new(self.slice(at), kind, hash));
        let two = match two {
            Ok(found) => {
                found.map(|o| o.map(|(kind, at)| gix::objs::Data::new(self.slice(at), kind, hash)))
            }
            // Nothing is over `u64::MAX`.
            Err(_) => Ok(None),
        };
        (one, two)
    }

    /// The bytes of an object just loaded (an entry the cache no longer holds, which `pinned` rules out
    /// between a load and its use, reads as empty).
    fn slice(&self, at: At) -> &[u8] {
        match at {
            At::Cache(slot) => self.cache.peek(slot).unwrap_or(&[]),
            At::Own(i) => self.own.get(i).map_or(&[], |v| v.as_slice()),
        }
    }

    /// Read `id` into the cache or own buffer `own`, refusing objects over `max` bytes with `Err(size)`:
    /// from a pack when this reader has it, else through gix's object database.
    fn load(
        &mut self,
        repo: &gix::Repository,
        id: &gix::oid,
        max: u64,
        own: usize,
    ) -> Result<gix::Result<Option<(gix::objs::Kind, At)>>, u64> {
        if let Some((b, o)) = self.find(id) {
            match self.decode(b, o, max, own) {
                Some(Ok(found)) => return Ok(Ok(Some(found))),
                Some(Err(size)) => return Err(size),
                None => {}
            }
        }
        if max != u64::MAX {
            let size = gix::objs::FindHeader::try_header(&repo.objects, id)
                .ok()
                .flatten()
                .map(|h| h.size);
            if let Some(size) = size.filter(|&n| n > max) {
                return Err(size);
            }
        }
        let mut buf = std::mem::take(&mut self.own[own]);
        let found = repo
            .objects
            .try_find(id, &mut buf)
            .map(|o| o.map(|d| (d.kind, d.data.len())));
        // gix decodes into the buffer it is given, from its start.
        if let Ok(Some((_, len))) = found {
            buf.truncate(len);
        }
        self.own[own] = buf;
        Ok(found.map(|o| o.map(|(kind, _)| (kind, At::Own(own)))))
    }

    /// The pack and pack offset of `id`.
    fn find(&mut self, id: &gix::oid) -> Option<(usize, u64)> {
        // An object asked for twice in a row is searched for once.
        if let Some((last, b, offset)) = &self.last_found {
            if last.as_ref() == id {
                return Some((*b, *offset));
            }
        }
        let n = self.bundles.packs.len();
        let first = self.last_pack;
        let (b, offset) = (0..n)
            .map(|i| (first + i) % n)
            .find_map(|b| Some((b, self.bundles.packs[b].offset_of(id)?)))?;
        self.last_pack = b;
        self.last_found = Some((id.to_owned(), b, offset));
        Some((b, offset))
    }

    /// Decode the entry at `offset` of pack `b` into the cache, or into own buffer `own` when the cache will
    /// not hold it; `Some(Err(size))` when the object is over `max` bytes, `None` on any error (the caller
    /// falls back).
    fn decode(
        &mut self,
        b: usize,
        offset: u64,
        max: u64,
        own: usize,
    ) -> Option<Result<(gix::objs::Kind, At), u64>> {
        let bundles = self.bundles.clone();
        let data = &bundles.packs[b].bundle.pack;
        // Walk down the chain to the first cached or undeltified entry, noting the deltas on the way. The
        // object's own delta is inflated first: its header says the object's size.
        self.chain.clear();
        let mut top_delta = None;
        let mut at = offset;
        let (kind, mut held, mut base_key) = loop {
            let entry = data.entry(at).ok()?;
            // The entry's compressed data is no longer than its inflated size (plus a few bytes).
            self.bundles
                .touch(b, at, entry.decompressed_size.saturating_add(64));
            if let Some(kind) = self.cache.kind(data.id, entry.data_offset) {
                if self.chain.is_empty() && !self.cache.requested(data.id, entry.data_offset) {
                    // Built earlier on the way to another object, asked for only now: an older version
                    // was read first, through a chain from a newer one.
                    self.forward = (self.forward - 1).max(-DIRECTION_SPAN);
                }
                break (kind, None, entry.data_offset);
            }
            match entry.header {
                pack::data::entry::Header::OfsDelta { base_distance } => {
                    if self.chain.is_empty() {
                        let delta = self.inflated(data, &entry)?;
                        let size = delta::result_size(&delta)?;
                        if size > max {
                            self.cache.recycle(delta);
                            return Some(Err(size));
                        }
                        top_delta = Some(delta);
                    }
                    at = entry.checked_base_pack_offset(base_distance)?;
                    self.chain.push(entry);
                }
                // A base named by id (rare in local packs): gix resolves the whole chain.
                pack::data::entry::Header::RefDelta { .. } => {
                    if let Some(delta) = top_delta.take() {
                        self.cache.recycle(delta);
                    }
                    let mut out = std::mem::take(&mut self.own[own]);
                    let found = self.decode_by_gix(b, offset, &mut out, max);
                    self.own[own] = out;
                    return found.map(|r| r.map(|kind| (kind, At::Own(own))));
                }
                header => {
                    let kind = header.as_kind()?;
                    if self.chain.is_empty() && entry.decompressed_size > max {
                        return Some(Err(entry.decompressed_size));
                    }
                    let buf = self.inflated(data, &entry)?;
                    // Kept here if the cache will not hold it.
                    let held = self.cache.insert(data.id, entry.data_offset, buf, kind);
                    if self.chain.is_empty() {
                        self.cache.requested(data.id, entry.data_offset);
                    } else if self.forward > 0 {
                        self.cache.demote(data.id, entry.data_offset);
                    }
                    break (kind, held, entry.data_offset);
                }
            }
            if self.chain.len() > MAX_CHAIN {
                return None;
            }
        };
        // Apply the deltas from the base up. Every version lands in the cache for the next read (history
        // reads newer versions next); one too large for it is held here only until the next is built.
        for i in (0..self.chain.len()).rev() {
            let entry = self.chain[i].clone();
            let last = i == 0;
            let delta = match top_delta.take().filter(|_| last) {
                Some(delta) => delta,
                None => self.inflated(data, &entry)?,
            };
            let want = delta::result_size(&delta)?;
            let mut next = self.cache.buffer(usize::try_from(want).ok()?);
            let applied = match &held {
                Some(buf) => delta::apply(buf, &delta, &mut next),
                None => self
                    .cache
                    .get(data.id, base_key)
                    .and_then(|base| delta::apply(base, &delta, &mut next)),
            };
            self.cache.recycle(delta);
            self.counts.deltas += 1;
            self.counts.built += next.len() as u64;
            // The object asked for was built from a cached version that was itself asked for before: in a
            // pack whose deltas point to older versions (fast-import's, and many pushes'), the version it
            // replaces, which history reading oldest first will not ask for again.
            if last
                && held.is_none()
                && self.chain.len() == 1
                && self.cache.supersede(data.id, base_key)
            {
                self.forward = (self.forward + 1).min(DIRECTION_SPAN);
            }
            if last {
                if applied.is_none() {
                    self.cache.recycle(next);
                    return None;
                }
                // Kept in the cache, not copied: the caller borrows it there.
                let key = Slot::new(data.id, entry.data_offset);
                return Some(Ok((kind, self.keep(key, next, kind, own))));
            }
            applied?;
            if let Some(old) = held.take() {
                self.cache.recycle(old);
            }
            held = self.cache.insert(data.id, entry.data_offset, next, kind);
            if held.is_none() && self.forward > 0 {
                // Built on the way up a chain whose deltas point to older versions: an old version the
                // history already read past.
                self.cache.demote(data.id, entry.data_offset);
            }
            base_key = entry.data_offset;
        }
        // The object itself was the base: cached, or undeltified and too large for the cache.
        match held {
            Some(buf) => {
                let old = std::mem::replace(&mut self.own[own], buf);
                self.cache.recycle(old);
                Some(Ok((kind, At::Own(own))))
            }
            None => {
                let cached = self.cache.get(data.id, base_key)?;
                if cached.len() as u64 > max {
                    return Some(Err(cached.len() as u64));
                }
                Some(Ok((kind, At::Cache(Slot::new(data.id, base_key)))))
            }
        }
    }

    /// Keep `buf`, the object asked for, in the cache (asked for, so it counts as a requested version), or
    /// in own buffer `own` when it will not fit.
    fn keep(&mut self, key: Slot, buf: Vec<u8>, kind: gix::objs::Kind, own: usize) -> At {
        match self.cache.insert(key.1, key.0, buf, kind) {
            None => {
                self.cache.requested(key.1, key.0);
                At::Cache(key)
            }
            Some(buf) => {
                let old = std::mem::replace(&mut self.own[own], buf);
                self.cache.recycle(old);
                At::Own(own)
            }
        }
    }

    /// The inflated data of `entry` (an object, or a delta's instructions) in a buffer of the cache's.
    fn inflated(&mut self, data: &pack::data::File, entry: &pack::data::Entry) -> Option<Vec<u8>> {
        if entry.decompressed_size > delta::MAX_RESULT {
            return None;
        }
        let size = usize::try_from(entry.decompressed_size).ok()?;
        let mut buf = self.cache.filled(size);
        let input = data.entry_slice(entry.data_offset..data.pack_end() as u64)?;
        let n = self.inflate.zlib_decompress(input, &mut buf).ok()?;
        self.counts.inflated += n as u64;
        (n == size).then_some(buf)
    }

    /// Decode the entry at `offset` of pack `b` with gix's decoder (whole chain at once, nothing cached),
    /// after its header said it is no larger than `max`.
    fn decode_by_gix(
        &mut self,
        b: usize,
        offset: u64,
        out: &mut Vec<u8>,
        max: u64,
    ) -> Option<Result<gix::objs::Kind, u64>> {
        let bundle = &self.bundles.packs[b].bundle;
        let data = &bundle.pack;
        let entry = data.entry(offset).ok()?;
        if max != u64::MAX {
            let resolve = |id: &gix::oid| {
                Ok(entry_of(bundle, id).map(pack::data::decode::header::ResolvedBase::InPack))
            };
            let size = data
                .decode_header(entry.clone(), &mut self.gix_inflate, &resolve)
                .ok()?
                .object_size;
            if size > max {
                return Some(Err(size));
            }
        }
        let resolve = |id: &gix::oid, _: &mut Vec<u8>| {
            Ok(entry_of(bundle, id).map(pack::data::decode::entry::ResolvedBase::InPack))
        };
        data.decode_entry(
            entry,
            out,
            &mut self.gix_inflate,
            &resolve,
            &mut pack::cache::Never,
        )
        .ok()
        .map(|o| Ok(o.kind))
    }
}

/// The entry of object `id` in `bundle`, for resolving a base named by id.
fn entry_of(bundle: &pack::Bundle, id: &gix::oid) -> Option<pack::data::Entry> {
    let e = bundle.index.lookup(id)?;
    bundle.pack.entry(bundle.index.pack_offset_at_index(e)).ok()
}

/// Decoded pack entries keyed by (pack, data offset), evicted least recently used first over a byte budget.
struct ChainCache {
    entries: gix::hashtable::HashMap<Slot, Cached>,
    /// Keys in use order, oldest first, with the stamp they had then (stale ones are skipped).
    order: VecDeque<(Slot, u64)>,
    /// Keys of superseded versions (see `supersede`), evicted before anything in `order`.
    superseded: VecDeque<(Slot, u64)>,
    stamp: u64,
    bytes: usize,
    cap: usize,
    /// Evicted and finished-with buffers, for reuse: at most `spare_count`, of `spare_bytes` in all.
    spare: Vec<Vec<u8>>,
    spare_count: usize,
    spare_bytes: usize,
    /// An entry a reader holds on to while it reads another (`PackReader::read_pair`): never evicted.
    pinned: Option<Slot>,
}

/// How many spare buffers are kept for reuse (at most a quarter of the cache's bytes in all, or `SPARE_MAX`;
/// 64 instead of 16 cost 5-10% more CPU on the 100,000-commit bench, in one batch).
const SPARE_BUFFERS: usize = 16;
/// Largest spare buffer kept by a reader without a cache (intermediate versions of a blob's chain).
const SPARE_MAX: usize = 256 << 10;

/// A cache key: a pack entry's data offset and its pack's id, which also serve as its hash, mixed (the
/// table is hashed by a key's first 8 bytes, as gix's object-id tables are; SipHash over a tuple was a
/// visible part of the tree pass).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Slot(u64, u32);

impl Slot {
    fn new(pack: u32, offset: u64) -> Self {
        Slot(offset, pack)
    }
}

impl std::hash::Hash for Slot {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mixed = (self.0 ^ (u64::from(self.1) << 48)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        state.write(&mixed.to_ne_bytes());
    }
}

struct Cached {
    data: Vec<u8>,
    kind: gix::objs::Kind,
    stamp: u64,
    /// Asked for by a read (not only built on the way to another object).
    requested: bool,
}

impl ChainCache {
    fn new(cap: usize) -> Self {
        ChainCache {
            entries: Default::default(),
            order: VecDeque::new(),
            superseded: VecDeque::new(),
            stamp: 0,
            bytes: 0,
            cap,
            spare: Vec::new(),
            spare_count: SPARE_BUFFERS,
            spare_bytes: 0,
            pinned: None,
        }
    }

    /// The cached entry under `slot`, not counted as a use.
    fn peek(&self, slot: Slot) -> Option<&[u8]> {
        self.entries.get(&slot).map(|c| c.data.as_slice())
    }

    /// The kind of the cached entry at `offset`, if it is cached (not counted as a use).
    fn kind(&self, pack: u32, offset: u64) -> Option<gix::objs::Kind> {
        self.entries.get(&Slot::new(pack, offset)).map(|c| c.kind)
    }

    /// The cached entry at `offset`, counted as a use.
    fn get(&mut self, pack: u32, offset: u64) -> Option<&[u8]> {
        let key = Slot::new(pack, offset);
        let stamp = self.touch(key);
        let c = self.entries.get_mut(&key)?;
        c.stamp = stamp;
        Some(&c.data)
    }

    /// Note that the entry at `offset` was asked for by a read; whether it had been before.
    fn requested(&mut self, pack: u32, offset: u64) -> bool {
        match self.entries.get_mut(&Slot::new(pack, offset)) {
            Some(c) => std::mem::replace(&mut c.requested, true),
            None => false,
        }
    }

    /// Put the entry at `offset` first in line for eviction (unless it is used again first).
    fn demote(&mut self, pack: u32, offset: u64) {
        let key = Slot::new(pack, offset);
        let Some(c) = self.entries.get(&key) else {
            return;
        };
        self.superseded.push_back((key, c.stamp));
        // Entries used again since, or evicted, stay in the queue: compact when they dominate.
        if self.superseded.len() > 4 * self.entries.len() + 64 {
            let entries = &self.entries;
            self.superseded
                .retain(|(k, s)| entries.get(k).is_some_and(|c| c.stamp == *s));
        }
    }

    /// The entry at `offset` was the base of the object just asked for. If it was asked for itself before,
    /// it is an older version that the new one replaces: it goes before everything else when room is
    /// needed, unless it is used again first. (Versions built on the way to an older one, as in packs whose
    /// deltas point to newer versions, were not asked for yet: they keep their place.) Without this, the
    /// latest version of a directory untouched for a few hundred commits was evicted by the superseded
    /// versions of busier ones, and its next version rebuilt its whole delta chain, up to 50 deltas.
    /// Returns whether it was.
    fn supersede(&mut self, pack: u32, offset: u64) -> bool {
        let asked = self
            .entries
            .get(&Slot::new(pack, offset))
            .is_some_and(|c| c.requested);
        if asked {
            self.demote(pack, offset);
        }
        asked
    }

    /// Whether an entry of `len` bytes would be kept.
    fn fits(&self, len: usize) -> bool {
        len <= self.cap / 4
    }

    /// Keep `data` under `offset`; an entry too large for the cache is handed back.
    fn insert(
        &mut self,
        pack: u32,
        offset: u64,
        data: Vec<u8>,
        kind: gix::objs::Kind,
    ) -> Option<Vec<u8>> {
        if !self.fits(data.capacity()) {
            return Some(data);
        }
        let key = Slot::new(pack, offset);
        let stamp = self.touch(key);
        self.bytes += data.capacity();
        let cached = Cached {
            data,
            kind,
            stamp,
            requested: false,
        };
        if let Some(old) = self.entries.insert(key, cached) {
            self.bytes -= old.data.capacity();
            self.recycle(old.data);
        }
        self.evict();
        None
    }

    /// An empty buffer with room for `len` bytes: a spare one of about that size, or a new one. One much
    /// larger would hold (and count) memory the entry does not need.
    fn buffer(&mut self, len: usize) -> Vec<u8> {
        let mut buf = self.spare_for(len);
        buf.clear();
        buf
    }

    /// `len` bytes to be overwritten (inflated into): like `buffer`, but a spare buffer's old bytes are
    /// kept instead of zeroed again, so only what it lacks is zeroed.
    fn filled(&mut self, len: usize) -> Vec<u8> {
        let mut buf = self.spare_for(len);
        buf.resize(len, 0);
        buf
    }

    /// A spare buffer of about `len` bytes' capacity, with its old contents, or a new empty one.
    fn spare_for(&mut self, len: usize) -> Vec<u8> {
        let fit = self
            .spare
            .iter()
            .position(|b| b.capacity() >= len && b.capacity() <= 2 * len + 64);
        match fit {
            Some(i) => {
                let buf = self.spare.swap_remove(i);
                self.spare_bytes -= buf.capacity();
                buf
            }
            None => Vec::with_capacity(len),
        }
    }

    /// Keep a finished-with buffer for reuse (the oldest spare one goes when there are enough).
    fn recycle(&mut self, buf: Vec<u8>) {
        if buf.capacity() == 0 || buf.capacity() > (self.cap / 4).max(SPARE_MAX) {
            return;
        }
        let limit = (self.cap / 4).max(SPARE_MAX);
        while !self.spare.is_empty()
            && (self.spare.len() >= self.spare_count || self.spare_bytes + buf.capacity() > limit)
        {
            let old = self.spare.swap_remove(0);
            self.spare_bytes -= old.capacity();
        }
        self.spare_bytes += buf.capacity();
        self.spare.push(buf);
    }

    fn touch(&mut self, key: Slot) -> u64 {
        self.stamp += 1;
        self.order.push_back((key, self.stamp));
        // Stale order entries pile up on hits: compact when they dominate.
        if self.order.len() > 4 * self.entries.len() + 64 {
            let entries = &self.entries;
            self.order
                .retain(|(k, s)| entries.get(k).is_some_and(|c| c.stamp == *s));
        }
        self.stamp
    }

    fn evict(&mut self) {
        let mut pinned = None;
        while self.bytes > self.cap {
            let Some((key, stamp)) = self
                .superseded
                .pop_front()
                .or_else(|| self.order.pop_front())
            else {
                break;
            };
            let current = self.entries.get(&key).is_some_and(|c| c.stamp == stamp);
            if Some(key) == self.pinned {
                // Back in line once the rest is evicted.
                if current {
                    pinned = Some((key, stamp));
                }
                continue;
            }
            if current {
                if let Some(c) = self.entries.remove(&key) {
                    self.bytes -= c.data.capacity();
                    self.recycle(c.data);
                }
            }
        }
        if let Some(entry) = pinned {
            self.order.push_front(entry);
        }
    }
}

/// The id of every object this reader can see in its packs (for tests).
#[cfg(test)]
fn packed_ids(reader: &PackReader) -> Vec<gix::ObjectId> {
    reader
        .bundles
        .packs
        .iter()
        .flat_map(|b| b.bundle.index.iter().map(|e| e.oid))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `git ARGS` in `dir` with a fixed identity; fails the test if git does.
    fn git_in(dir: &std::path::Path, args: &[&str]) {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t")
            .output()
            .expect("git runs")
            .status
            .success();
        assert!(ok, "git {args:?}");
    }

    /// A repository of 40 commits of a growing file and directory, after `gc --aggressive` (so older
    /// versions are deltas, in chains).
    fn deltified_repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let git = |args: &[&str]| git_in(dir.path(), args);
        git(&["init", "-q"]);
        // A file and a directory that grow over 40 commits: git deltifies their older versions.
        std::fs::create_dir(dir.path().join("d")).expect("mkdir");
        let mut text = String::new();
        for i in 0..40 {
            text.push_str(&format!(
                "line {i} of a file that grows with every commit\n"
            ));
            std::fs::write(dir.path().join("f.txt"), &text).expect("write");
            std::fs::write(dir.path().join(format!("d/n{i}.txt")), &text).expect("write");
            git(&["add", "-A"]);
            git(&["commit", "-q", "-m", &format!("c{i}")]);
        }
        git(&["gc", "-q", "--aggressive"]);
        dir
    }

    /// Reads `ids` in order through `reader`, each byte-identical to gix's own read of it (kind and data).
    fn assert_reads_like_gix(
        reader: &mut PackReader,
        repo: &gix::Repository,
        ids: &[gix::ObjectId],
        what: &str,
    ) {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for id in ids {
            let got = reader
                .read(repo, id, &mut ours)
                .expect("read")
                .expect("found");
            let want = repo
                .objects
                .try_find(id, &mut theirs)
                .expect("read")
                .expect("found");
            assert_eq!(got.kind, want.kind, "{id} ({what})");
            assert!(got.data == want.data, "{id} differs ({what})");
        }
    }

    /// Every object read through the chain cache, in any order and with a cache small enough to evict, is
    /// byte-identical to gix's own read.
    #[test]
    fn chain_cache_reads_equal_gix_reads() {
        let dir = deltified_repo();
        let repo = gix::open(dir.path()).expect("open");
        for cap in [0, 1 << 10, 64 << 10, 8 << 20] {
            let mut reader = Packs::open(&repo).reader(cap);
            let mut ids = packed_ids(&reader);
            assert!(ids.len() > 100, "{} packed objects", ids.len());
            // Oldest-first-like and reverse orders both.
            ids.sort();
            let mut order = ids.clone();
            order.extend(ids.iter().rev().copied());
            assert_reads_like_gix(&mut reader, &repo, &order, &format!("cache {cap}"));
        }
    }

    /// History read oldest first from a pack whose deltas point to older versions (`git fast-import`'s): a
    /// directory changed once every 12 commits keeps its latest version cached while a busier one goes
    /// through many versions, so each of its versions costs one delta, not a rebuild of its chain.
    #[test]
    fn forward_delta_chains_keep_the_latest_version_of_a_quiet_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let git = |args: &[&str], input: Option<&[u8]>| {
            use std::io::Write;
            let mut child = std::process::Command::new("git")
                .args(args)
                .current_dir(dir.path())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("git runs");
            if let Some(input) = input {
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(input)
                    .expect("stream");
            }
            assert!(child.wait().expect("git ends").success(), "git {args:?}");
        };
        git(&["init", "-q"], None);
        // Two directories of 100 files (3.6 KB trees); each round changes a file of `a` once and of `b`
        // twelve times, one commit each.
        let mut stream = String::new();
        let mut commit = |changes: &[(String, String)]| {
            stream.push_str("commit refs/heads/main\ncommitter t <t@t> 0 +0000\ndata 1\nx\n");
            for (path, text) in changes {
                stream.push_str(&format!(
                    "M 100644 inline {path}\ndata {}\n{text}\n",
                    text.len()
                ));
            }
        };
        let all: Vec<(String, String)> = ["a", "b"]
            .iter()
            .flat_map(|d| (0..100).map(move |i| (format!("{d}/f{i:03}.txt"), "v0".to_string())))
            .collect();
        commit(&all);
        for round in 1..=40 {
            commit(&[(format!("a/f{:03}.txt", round % 100), format!("a{round}"))]);
            for k in 0..12 {
                let n = round * 12 + k;
                commit(&[(format!("b/f{:03}.txt", n % 100), format!("b{n}"))]);
            }
        }
        git(&["fast-import", "--quiet"], Some(stream.as_bytes()));
        let repo = gix::open(dir.path()).expect("open");
        // The trees each commit changed, oldest commit first, as the tree pass reads them.
        let mut commits: Vec<gix::ObjectId> = Vec::new();
        let mut at = repo
            .find_reference("refs/heads/main")
            .expect("main")
            .id()
            .detach();
        loop {
            commits.push(at);
            let parent = repo
                .find_commit(at)
                .expect("commit")
                .parent_ids()
                .next()
                .map(|p| p.detach());
            match parent {
                Some(p) => at = p,
                None => break,
            }
        }
        commits.reverse();
        let mut reads: Vec<gix::ObjectId> = Vec::new();
        let mut last: [Option<gix::ObjectId>; 2] = [None, None];
        for c in &commits {
            let tree = repo.find_commit(*c).expect("commit").tree().expect("tree");
            reads.push(tree.id);
            for (i, name) in ["a", "b"].iter().enumerate() {
                let id = tree.find_entry(*name).expect("directory").object_id();
                if last[i] != Some(id) {
                    reads.push(id);
                    last[i] = Some(id);
                }
            }
        }
        // Room for a few versions of a directory, not for the 12 versions of `b` between two of `a`.
        let mut reader = Packs::open(&repo).reader(32 << 10);
        assert_reads_like_gix(&mut reader, &repo, &reads, "cache 32 KiB");
        // fast-import stores the first version whole and each later one as a delta of the one before.
        assert!(
            reader.counts.deltas > 0,
            "no delta was read: the test tests nothing"
        );
        assert!(
            reader.counts.deltas <= reads.len() as u64,
            "{} deltas applied for {} reads: chains were rebuilt",
            reader.counts.deltas,
            reads.len()
        );
    }

    /// Kilobytes of the mapping starting at `start` resident in this process (`/proc/self/smaps`).
    #[cfg(target_os = "linux")]
    fn resident_kb(start: usize) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ') {
                if let Some((from, _)) = range.split_once('-') {
                    if let Ok(from) = usize::from_str_radix(from, 16) {
                        inside = from == start;
                        continue;
                    }
                }
            }
            if let Some(kb) = line.strip_prefix("Rss:").filter(|_| inside) {
                return kb.trim().trim_end_matches("kB").trim().parse().expect("kB");
            }
        }
        panic!("no mapping at {start:#x}");
    }

    /// Reading a pack larger than a release window through the readers keeps only about two windows of
    /// its pages resident (each a little over 4 spans here: a 64 KB entry's marks cross up to 3 spans), and every read still equals gix's: the pages dropped are mapped in again
    /// unchanged when read again.
    #[cfg(target_os = "linux")]
    #[test]
    fn pages_of_spans_read_in_an_earlier_window_are_released() {
        let dir = tempfile::tempdir().expect("tempdir");
        let git = |args: &[&str]| git_in(dir.path(), args);
        git(&["init", "-q"]);
        // 48 files of 64 KB of pseudo-random bytes (incompressible): a 3 MB pack.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..48 {
            let bytes: Vec<u8> = (0..64 << 10)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            std::fs::write(dir.path().join(format!("r{i}.bin")), bytes).expect("write");
            git(&["add", "-A"]);
            git(&["commit", "-q", "-m", &format!("c{i}")]);
        }
        git(&["gc", "-q"]);
        let repo = gix::open(dir.path()).expect("open");
        // Windows of 4 spans (256 KB).
        let packs = Packs::open_releasing(&repo, Some(4 << CHUNK_SHIFT));
        let pack = &packs.0.packs[0];
        let map = pack
            .bundle
            .pack
            .entry_slice(0..pack.bundle.pack.data_len() as u64);
        let (start, len) = map.map(|m| (m.as_ptr() as usize, m.len())).expect("mapped");
        assert!(len > 3 << 20, "a {len}-byte pack");
        let mut reader = packs.reader(0);
        let mut ids = packed_ids(&reader);
        // In pack order, then again in id order (all over the pack).
        ids.sort_by_key(|id| pack.offset_of(id));
        let mut order = ids.clone();
        ids.sort();
        order.extend(ids);
        assert_reads_like_gix(&mut reader, &repo, &order, "released");
        assert!(packs.0.releases.load(Relaxed) > 10, "released too rarely");
        assert!(pack.dropped.load(Relaxed) > 0, "nothing dropped");
        let resident = resident_kb(start) << 10;
        assert!(
            resident <= 16 << CHUNK_SHIFT,
            "{resident} bytes of the {len}-byte pack resident"
        );
    }

    /// A read limited to `max` bytes refuses exactly the objects over it, naming their size, whether the
    /// object is undeltified, a delta, or cached; and the index search finds what gix's finds.
    #[test]
    fn limited_reads_refuse_exactly_the_objects_over_the_limit() {
        let dir = deltified_repo();
        let repo = gix::open(dir.path()).expect("open");
        let packs = Packs::open(&repo);
        let ids = packed_ids(&packs.reader(0));
        for cap in [0, 8 << 20] {
            let mut reader = packs.reader(cap);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            // Twice: the second round reads from the cache.
            for id in ids.iter().chain(&ids) {
                let size = repo
                    .objects
                    .try_find(id, &mut b)
                    .expect("read")
                    .expect("found")
                    .data
                    .len() as u64;
                if size > 0 {
                    let refused = reader.read_limited(&repo, id, &mut a, size - 1);
                    assert!(matches!(refused, Err(n) if n == size), "{id}: {size} bytes");
                }
                let read = reader.read_limited(&repo, id, &mut a, size);
                assert!(
                    matches!(read, Ok(Ok(Some(ref d))) if d.data == b.as_slice()),
                    "{id}"
                );
            }
        }
        let pack = &packs.0.packs[0];
        for id in &ids {
            let index = &pack.bundle.index;
            let theirs = index.lookup(id).map(|e| index.pack_offset_at_index(e));
            assert_eq!(pack.offset_of(id), theirs, "{id}");
            assert!(theirs.is_some());
        }
        let mut absent = ids[0];
        absent.as_mut_slice()[19] ^= 1;
        assert!(!ids.contains(&absent));
        assert_eq!(pack.offset_of(&absent), None);
        assert_eq!(
            pack.offset_of(&gix::ObjectId::null(gix::hash::Kind::Sha1)),
            None
        );
    }

    /// The entry a reader holds on to while it reads another (`read_pair`) stays while everything else is
    /// evicted around it, then takes its place in line again.
    #[test]
    fn a_pinned_entry_is_not_evicted() {
        let mut cache = ChainCache::new(4 << 10);
        let kind = gix::objs::Kind::Tree;
        assert!(cache.insert(0, 1, vec![1; 1000], kind).is_none());
        cache.pinned = Some(Slot::new(0, 1));
        for offset in 2..20 {
            assert!(cache
                .insert(0, offset, vec![offset as u8; 1000], kind)
                .is_none());
        }
        assert!(
            cache.peek(Slot::new(0, 1)) == Some(&[1u8; 1000][..]),
            "pinned"
        );
        assert!(cache.peek(Slot::new(0, 2)).is_none(), "not evicted at all?");
        cache.pinned = None;
        for offset in 20..24 {
            cache.insert(0, offset, vec![0; 1000], kind);
        }
        assert!(
            cache.peek(Slot::new(0, 1)).is_none(),
            "evicted once unpinned"
        );
    }

    /// A tree and its base read as a pair are both borrowed from the reader, equal to gix's reads, with
    /// nothing copied, with or without a cache (and with one that holds only a few versions).
    #[test]
    fn pairs_are_borrowed_and_the_first_survives_the_second_read() {
        let dir = deltified_repo();
        let repo = gix::open(dir.path()).expect("open");
        // The versions of directory `d`, oldest first.
        let mut versions: Vec<gix::ObjectId> = Vec::new();
        let mut at = repo.head_id().expect("head").detach();
        loop {
            let commit = repo.find_commit(at).expect("commit");
            let tree = commit.tree().expect("tree");
            versions.push(tree.find_entry("d").expect("d").object_id());
            let parent = commit.parent_ids().next().map(|p| p.detach());
            match parent {
                Some(p) => at = p,
                None => break,
            }
        }
        versions.reverse();
        assert_eq!(versions.len(), 40);
        let mut theirs = Vec::new();
        let mut gix_read = |id: &gix::ObjectId| {
            repo.objects
                .try_find(id, &mut theirs)
                .expect("read")
                .expect("found")
                .data
                .to_vec()
        };
        let want: Vec<Vec<u8>> = versions.iter().map(&mut gix_read).collect();
        // `d` grows to 40 entries (1.5 KB); 8 KB holds only a few versions: reading the oldest builds its
        // chain from the newest, 39 versions through the cache.
        for cap in [0, 8 << 10, 8 << 20] {
            let packs = Packs::open(&repo);
            let mut reader = packs.reader(cap);
            let mut pairs: Vec<(usize, usize)> = (1..40).map(|i| (i - 1, i)).collect();
            pairs.push((39, 0));
            pairs.push((20, 0));
            for (a, b) in pairs {
                let (one, two) = reader.read_pair(&repo, Some(&versions[a]), &versions[b]);
                let one = one.expect("first read");
                let two = two.expect("second read").expect("found");
                assert!(
                    one.data == want[a].as_slice(),
                    "cache {cap}: version {a} of {a}/{b}"
                );
                assert!(
                    two.data == want[b].as_slice(),
                    "cache {cap}: version {b} of {a}/{b}"
                );
            }
            assert!(
                reader.counts().deltas > 0,
                "no delta read: the test tests nothing"
            );
            assert_eq!(reader.counts().copied, 0, "cache {cap}");
        }
    }

    /// A pack with bytes overwritten anywhere (entry headers, zlib streams, delta instructions) gives
    /// errors or fallbacks, never a panic, with or without a cache.
    #[test]
    fn corrupt_packs_never_panic() {
        let dir = deltified_repo();
        let pack_dir = dir.path().join(".git/objects/pack");
        let pack = std::fs::read_dir(&pack_dir)
            .expect("pack dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "pack"))
            .expect("a pack");
        let original = std::fs::read(&pack).expect("read pack");
        let ids = packed_ids(&Packs::open(&gix::open(dir.path()).expect("open")).reader(0));
        // A fixed pseudo-random sequence: reproducible failures.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut failed = 0;
        for round in 0..40 {
            let mut bytes = original.clone();
            for _ in 0..1 + round % 8 {
                // Past the 12-byte pack header, before the trailing checksum.
                let at = 12 + (next() as usize) % (bytes.len() - 32);
                bytes[at] = next() as u8;
            }
            std::fs::write(&pack, &bytes).expect("write pack");
            let repo = gix::open(dir.path()).expect("open");
            for cap in [0, 64 << 10] {
                let mut reader = Packs::open(&repo).reader(cap);
                let mut out = Vec::new();
                for id in &ids {
                    let _ = reader.read_limited(&repo, id, &mut out, 100);
                    if !matches!(reader.read(&repo, id, &mut out), Ok(Some(_))) {
                        failed += 1;
                    }
                }
            }
        }
        assert!(
            failed > 0,
            "the corruption hit no object: the test tests nothing"
        );
        std::fs::write(&pack, &original).expect("restore pack");
    }
}
