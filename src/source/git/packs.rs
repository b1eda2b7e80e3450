//! Reading objects straight from the repository's pack files, with a cache that knows delta chains. It owns
//! the history scan's object reads: the commit walk, the tree pass (with the cache), the blob workers
//! (without one) and HEAD's blob set all read through one mapping of each pack. Through gix's mappings as
//! well, each read would fault in another ~64 KB of pack pages, counted again in the peak RSS.
//!
//! Why: git stores older versions of a file or directory as deltas against newer ones. A chain can be up to
//! 50 deltas long. The tree pass reads history oldest first, and gix's decoder caches only the object it
//! was asked for, never the versions it built on the way. So every older tree inflated and applied its
//! whole chain again. On a 30,000-commit history that was half of the tree pass.
//!
//! Here, an object whose chain is not cached is built from the first cached (or undeltified) base up, one
//! delta at a time, and every intermediate version is kept in a byte-capped LRU cache. The next, newer
//! version is then usually one of those intermediates, and reading it costs a copy.
//!
//! Objects that are not in a pack this reader opened (loose objects, alternates, packs added while the
//! scan runs), or that it cannot decode, are read through gix's object database. That path reports missing
//! and corrupt objects exactly as before.
use gix::objs::Find;
use gix::odb::pack;
use std::collections::VecDeque;

/// Longest delta chain followed before giving the object to gix (git's own limit is far below this). It
/// also ends a cycle in a corrupt pack.
const MAX_CHAIN: usize = 10_000;

/// The repository's packs, opened (mapped) once and shared by every thread's reader.
#[derive(Clone)]
pub struct Packs(std::sync::Arc<Vec<pack::Bundle>>);

impl Packs {
    /// Open every `*.idx`/`*.pack` pair in the repository's object directory. A pack that cannot be opened is
    /// skipped: its objects then come through gix, which reports what is wrong with them.
    pub fn open(repo: &gix::Repository) -> Self {
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
        let bundles = indexes
            .iter()
            .filter_map(|p| pack::Bundle::at(p, repo.object_hash()).ok())
            .collect();
        Packs(std::sync::Arc::new(bundles))
    }

    /// A reader over these packs with its own cache of `cache_bytes` (0: none), for one thread.
    pub fn reader(&self, cache_bytes: usize) -> PackReader {
        PackReader {
            bundles: self.0.clone(),
            cache: ChainCache::new(cache_bytes),
            inflate: Default::default(),
            chain: Vec::new(),
            last_pack: 0,
        }
    }
}

/// One thread's reader: the shared packs plus a chain-aware cache of decoded pack entries.
pub struct PackReader {
    bundles: std::sync::Arc<Vec<pack::Bundle>>,
    cache: ChainCache,
    inflate: gix::zlib::Inflate,
    /// Data offsets of the uncached part of the chain being resolved (reused between reads).
    chain: Vec<u64>,
    /// Which pack held the last object found: consecutive reads are usually in the same pack.
    last_pack: usize,
}

impl PackReader {
    /// Read `id` like `super::read`: missing and corrupt objects are counted in `problems` and give `None`.
    pub fn read_counted<'a>(
        &mut self,
        repo: &gix::Repository,
        id: &gix::oid,
        out: &'a mut Vec<u8>,
        scanner: &crate::scan::Scanner,
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
        if let Some(kind) = self.find(id).and_then(|(b, o)| self.decode(b, o, out)) {
            return Ok(Some(gix::objs::Data::new(out, kind, repo.object_hash())));
        }
        repo.objects.try_find(id, out)
    }

    /// The pack and pack offset of `id`.
    fn find(&mut self, id: &gix::oid) -> Option<(usize, u64)> {
        let n = self.bundles.len();
        let first = self.last_pack;
        let (b, offset) = (0..n).map(|i| (first + i) % n).find_map(|b| {
            let index = &self.bundles[b].index;
            let offset = index.lookup(id).map(|e| index.pack_offset_at_index(e))?;
            Some((b, offset))
        })?;
        self.last_pack = b;
        Some((b, offset))
    }

    /// Decode the entry at `offset` of pack `b` into `out`; `None` on any error (the caller falls back).
    fn decode(&mut self, b: usize, offset: u64, out: &mut Vec<u8>) -> Option<gix::objs::Kind> {
        let bundle = &self.bundles[b];
        let data = &bundle.pack;
        // Walk down the chain to the first cached or undeltified entry, noting the uncached deltas (with no
        // cache, gix resolves the whole chain at once).
        self.chain.clear();
        let mut at = offset;
        while self.cache.cap > 0 {
            let entry = data.entry(at).ok()?;
            if self.cache.contains(data.id, entry.data_offset) {
                break;
            }
            match entry.header {
                pack::data::entry::Header::OfsDelta { base_distance } => {
                    self.chain.push(at);
                    at = entry.checked_base_pack_offset(base_distance)?;
                }
                // A base named by id: gix resolves it (through `resolve` below); nothing is kept under it.
                pack::data::entry::Header::RefDelta { .. } => {
                    self.chain.push(at);
                    break;
                }
                _ => break,
            }
            if self.chain.len() > MAX_CHAIN {
                return None;
            }
        }
        let resolve = |id: &gix::oid, _: &mut Vec<u8>| {
            Ok(bundle
                .index
                .lookup(id)
                .and_then(|e| data.entry(bundle.index.pack_offset_at_index(e)).ok())
                .map(pack::data::decode::entry::ResolvedBase::InPack))
        };
        // Build each uncached version from its base up; each lands in the cache for the next one. One the
        // cache will not hold (too large) ends this: building the rest one by one would redo its chain each
        // time, so gix resolves the rest at once.
        for &at in self.chain.iter().skip(1).rev() {
            let entry = data.entry(at).ok()?;
            let key = entry.data_offset;
            data.decode_entry(entry, out, &mut self.inflate, &resolve, &mut self.cache)
                .ok()?;
            if !self.cache.contains(data.id, key) {
                break;
            }
        }
        let entry = data.entry(offset).ok()?;
        let outcome = data
            .decode_entry(entry, out, &mut self.inflate, &resolve, &mut self.cache)
            .ok()?;
        Some(outcome.kind)
    }
}

/// Decoded pack entries keyed by (pack, data offset), evicted least recently used first over a byte budget.
struct ChainCache {
    entries: std::collections::HashMap<(u32, u64), Cached>,
    /// Keys in use order, oldest first, with the stamp they had then (stale ones are skipped).
    order: VecDeque<((u32, u64), u64)>,
    stamp: u64,
    bytes: usize,
    cap: usize,
    /// Evicted buffers, for reuse.
    spare: Vec<Vec<u8>>,
}

/// How many evicted buffers are kept for reuse.
const SPARE_BUFFERS: usize = 16;

struct Cached {
    data: Vec<u8>,
    kind: gix::objs::Kind,
    compressed_size: usize,
    stamp: u64,
}

impl ChainCache {
    fn new(cap: usize) -> Self {
        ChainCache {
            entries: Default::default(),
            order: VecDeque::new(),
            stamp: 0,
            bytes: 0,
            cap,
            spare: Vec::new(),
        }
    }

    fn contains(&self, pack: u32, offset: u64) -> bool {
        self.entries.contains_key(&(pack, offset))
    }

    fn touch(&mut self, key: (u32, u64)) -> u64 {
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
        while self.bytes > self.cap {
            let Some((key, stamp)) = self.order.pop_front() else {
                break;
            };
            if self.entries.get(&key).is_some_and(|c| c.stamp == stamp) {
                if let Some(c) = self.entries.remove(&key) {
                    self.bytes -= c.data.capacity();
                    if self.spare.len() == SPARE_BUFFERS {
                        self.spare.swap_remove(0);
                    }
                    self.spare.push(c.data);
                }
            }
        }
    }
}

impl pack::cache::DecodeEntry for ChainCache {
    fn put(
        &mut self,
        pack: u32,
        offset: u64,
        data: &[u8],
        kind: gix::objs::Kind,
        compressed_size: usize,
    ) {
        if data.len() > self.cap / 4 {
            return;
        }
        let key = (pack, offset);
        // Reuse an evicted buffer of about the right size (fewer allocations, less heap fragmentation); one
        // much larger would hold (and count) memory the entry does not need.
        let fit = self
            .spare
            .iter()
            .position(|b| b.capacity() >= data.len() && b.capacity() <= 2 * data.len() + 64);
        let mut buf = match fit {
            Some(i) => self.spare.swap_remove(i),
            None => Vec::with_capacity(data.len()),
        };
        buf.clear();
        buf.extend_from_slice(data);
        let stamp = self.touch(key);
        self.bytes += buf.capacity();
        if let Some(old) = self.entries.insert(
            key,
            Cached {
                data: buf,
                kind,
                compressed_size,
                stamp,
            },
        ) {
            self.bytes -= old.data.capacity();
        }
        self.evict();
    }

    fn get(
        &mut self,
        pack: u32,
        offset: u64,
        out: &mut Vec<u8>,
    ) -> Option<(gix::objs::Kind, usize)> {
        let key = (pack, offset);
        let stamp = self.stamp + 1;
        let c = self.entries.get_mut(&key)?;
        c.stamp = stamp;
        out.clear();
        out.extend_from_slice(&c.data);
        let found = (c.kind, c.compressed_size);
        self.touch(key);
        Some(found)
    }
}

/// The id of every object this reader can see in its packs (for tests).
#[cfg(test)]
fn packed_ids(reader: &PackReader) -> Vec<gix::ObjectId> {
    reader
        .bundles
        .iter()
        .flat_map(|b| b.index.iter().map(|e| e.oid))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every object read through the chain cache, in any order and with a cache small enough to evict, is
    /// byte-identical to gix's own read.
    #[test]
    fn chain_cache_reads_equal_gix_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git")
                .args(args)
                .current_dir(dir.path())
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@t")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@t")
                .output()
                .expect("git runs")
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
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
        let repo = gix::open(dir.path()).expect("open");
        for cap in [1 << 10, 64 << 10, 8 << 20] {
            let mut reader = Packs::open(&repo).reader(cap);
            let mut ids = packed_ids(&reader);
            assert!(ids.len() > 100, "{} packed objects", ids.len());
            // Oldest-first-like and reverse orders both.
            ids.sort();
            let mut order = ids.clone();
            order.extend(ids.iter().rev().copied());
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for id in &order {
                let ours = reader
                    .read(&repo, id, &mut a)
                    .expect("read")
                    .expect("found");
                let theirs = repo
                    .objects
                    .try_find(id, &mut b)
                    .expect("read")
                    .expect("found");
                assert_eq!(ours.kind, theirs.kind, "{id}");
                assert!(ours.data == theirs.data, "{id} differs (cache {cap})");
            }
        }
    }
}
