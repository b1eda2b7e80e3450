//! The history tree pass's shared record of which trees and blobs have been reached, and by which commit.
//! It owns the claim rule and nothing else: it reads no object and scans nothing.
//!
//! The tree pass runs several walkers at once, each on its own contiguous range ("chunk") of the
//! parents-first commit order. Every tree and blob is claimed by its position in that order (a commit at
//! index `t` has position `t + 1`; trees of excluded range boundaries have position 0, objects named
//! directly by refs or found dangling come last):
//! - reached at a position *after* its claim: skipped (the earlier walk covers it);
//! - reached at a position *before* its claim (another walker ran ahead on a later chunk): claimed again and
//!   walked again, and a blob's record (commit and path) is replaced;
//! - reached for the first time: claimed; a blob is then handed to the scanners (once only).
//!
//! When every walker is done, each blob's record therefore names the first commit in parents-first order
//! whose tree holds it, and the path at which that commit's walk met it: exactly what one walker visiting
//! every commit in order records. A blob whose record moved to another path after it was handed to the
//! scanners is reported (`BlobClaim::Moved`), so that it is scanned again under the path it is reported at.
use gix::hashtable::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

/// Position of the trees and blobs of excluded range boundaries: reached "before" every commit, never
/// scanned.
pub const BOUNDARY: u32 = 0;
/// Position of objects named directly by refs and of dangling blobs: after every commit.
pub const LAST: u32 = u32::MAX;

/// An object id as a map key, compared as five integers rather than by a `memcmp` call: the tree pass
/// tests every changed entry of every tree version against the claims (millions of lookups in a large
/// history). 4-byte aligned, so that a tree's claim (id and position) takes 24 bytes. Hashed by its first
/// 8 bytes, as gix's own object-id tables are; its shard is chosen by the next 4, so that the hash bits of
/// one shard's table are not all alike.
#[derive(Clone, Copy, PartialEq, Eq)]
struct IdKey([u32; 5]);

impl IdKey {
    fn new(id: &gix::oid) -> Self {
        // keysweep is built for SHA-1 repositories only (gix feature `sha1`): ids are 20 bytes.
        let mut b = [0u8; 20];
        let src = id.as_bytes();
        let n = src.len().min(20);
        b[..n].copy_from_slice(&src[..n]);
        let word =
            |i: usize| u32::from_ne_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
        IdKey([word(0), word(1), word(2), word(3), word(4)])
    }

    fn shard(&self, shards: usize) -> usize {
        self.0[2] as usize % shards
    }
}

impl std::hash::Hash for IdKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let [a, b, ..] = self.0;
        state.write(&(u64::from(a) | (u64::from(b) << 32)).to_ne_bytes());
    }
}

/// A map from object ids, split into independently locked shards: one per walker. More shards made waits
/// no rarer with two walkers, and cost peak memory: each shard's table grows by doubling on its own, and the
/// allocator keeps the freed smaller tables (64 shards: +50 MB on a 670,000-object history; one per walker:
/// none measurable).
struct Sharded<V>(Box<[Mutex<HashMap<IdKey, V>>]>);

impl<V> Sharded<V> {
    fn new(shards: usize) -> Self {
        Sharded((0..shards.max(1)).map(|_| Mutex::default()).collect())
    }

    fn shard(&self, key: &IdKey) -> MutexGuard<'_, HashMap<IdKey, V>> {
        // A poisoned shard (a walker panicked while holding it) still holds consistent claims.
        self.0[key.shard(self.0.len())]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn for_each(&self, mut f: impl FnMut(&V)) {
        for s in self.0.iter() {
            let s = s.lock().unwrap_or_else(|e| e.into_inner());
            s.values().for_each(&mut f);
        }
    }
}

/// What the pass recorded of a blob.
pub struct BlobRecord {
    /// Position of the claiming commit (see the module comment).
    pos: u32,
    /// The claiming commit's index in the scan's graph (`u32::MAX`: no commit).
    pub commit: u32,
    /// The path at which it was met.
    pub path: Box<str>,
    /// The record made when the blob was handed to the scanners (not replaced since).
    first: bool,
}

/// The outcome of reaching a blob.
pub enum BlobClaim {
    /// Reached for the first time: scan it, under this path.
    New(String),
    /// Reached before its claim: the record now names this commit and path. `Some(path)` when the record
    /// replaced was the one the blob was handed to the scanners with (under that path).
    Moved(Option<Box<str>>),
    /// Claimed at or before this position: nothing to do.
    Held,
}

/// The claims of one tree pass.
pub struct Claims {
    trees: Sharded<u32>,
    blobs: Sharded<BlobRecord>,
    /// Trees walked again because a walker reached them before the position that had claimed them.
    pub trees_rewalked: AtomicU64,
    /// Blob records replaced the same way.
    pub blobs_moved: AtomicU64,
}

impl Claims {
    /// Claims for a pass of `walkers` walkers.
    pub fn new(walkers: usize) -> Self {
        Claims {
            trees: Sharded::new(walkers),
            blobs: Sharded::new(walkers),
            trees_rewalked: AtomicU64::new(0),
            blobs_moved: AtomicU64::new(0),
        }
    }

    /// Reach tree `id` at `pos`: true when it must be walked now.
    pub fn tree(&self, id: &gix::oid, pos: u32) -> bool {
        let key = IdKey::new(id);
        let mut shard = self.trees.shard(&key);
        match shard.get_mut(&key) {
            Some(held) if *held <= pos => false,
            Some(held) => {
                *held = pos;
                self.trees_rewalked.fetch_add(1, Relaxed);
                true
            }
            None => {
                shard.insert(key, pos);
                true
            }
        }
    }

    /// Reach blob `id` at `pos`, in commit `commit`, at the path `path` makes.
    pub fn blob(
        &self,
        id: &gix::oid,
        pos: u32,
        commit: u32,
        path: impl FnOnce() -> String,
    ) -> BlobClaim {
        let key = IdKey::new(id);
        let mut shard = self.blobs.shard(&key);
        match shard.get_mut(&key) {
            Some(held) if held.pos <= pos => BlobClaim::Held,
            Some(held) => {
                let old = std::mem::replace(
                    held,
                    BlobRecord {
                        pos,
                        commit,
                        path: path().into_boxed_str(),
                        first: false,
                    },
                );
                self.blobs_moved.fetch_add(1, Relaxed);
                BlobClaim::Moved(old.first.then_some(old.path))
            }
            None => {
                let path = path();
                shard.insert(
                    key,
                    BlobRecord {
                        pos,
                        commit,
                        path: path.clone().into_boxed_str(),
                        first: true,
                    },
                );
                BlobClaim::New(path)
            }
        }
    }

    /// Free the tree claims once every walker is done (only blob records are asked for after the pass).
    pub fn release_trees(&self) {
        for s in self.trees.0.iter() {
            *s.lock().unwrap_or_else(|e| e.into_inner()) = HashMap::default();
        }
    }

    /// The record of blob `id`: (commit, path).
    pub fn record(&self, id: &gix::oid) -> Option<(u32, Box<str>)> {
        let key = IdKey::new(id);
        let shard = self.blobs.shard(&key);
        shard.get(&key).map(|r| (r.commit, r.path.clone()))
    }

    /// Blobs claimed by commits or refs (boundary blobs, never scanned, are not counted).
    pub fn blob_count(&self) -> usize {
        let mut n = 0;
        self.blobs.for_each(|r| n += usize::from(r.pos != BOUNDARY));
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gix::ObjectId;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_bytes_or_panic(&[n; 20])
    }

    #[test]
    fn the_earliest_position_holds_a_tree() {
        let c = Claims::new(2);
        assert!(c.tree(&id(1), 10), "first reach walks");
        assert!(!c.tree(&id(1), 12), "a later position skips");
        assert!(!c.tree(&id(1), 10), "the same position skips");
        assert!(c.tree(&id(1), 3), "an earlier position walks again");
        assert!(!c.tree(&id(1), 5));
        assert!(!c.tree(&id(1), LAST));
        assert!(c.tree(&id(2), BOUNDARY) && !c.tree(&id(2), 1));
        assert_eq!(c.trees_rewalked.load(Relaxed), 1);
    }

    #[test]
    fn a_blob_is_handed_out_once_and_its_record_moves_to_the_earliest_position() {
        let c = Claims::new(2);
        let b = id(7);
        assert!(
            matches!(c.blob(&b, 20, 19, || "late/a.txt".into()), BlobClaim::New(p) if p == "late/a.txt")
        );
        assert!(matches!(
            c.blob(&b, 25, 24, || unreachable!()),
            BlobClaim::Held
        ));
        // Reached earlier: the record moves, and the path it was scanned under is returned once.
        assert!(
            matches!(c.blob(&b, 5, 4, || "early/a.txt".into()), BlobClaim::Moved(Some(p)) if &*p == "late/a.txt")
        );
        assert!(matches!(
            c.blob(&b, 2, 1, || "earliest.txt".into()),
            BlobClaim::Moved(None)
        ));
        assert!(matches!(
            c.blob(&b, 3, 2, || unreachable!()),
            BlobClaim::Held
        ));
        let (commit, path) = c.record(&b).expect("recorded");
        assert_eq!((commit, &*path), (1, "earliest.txt"));
        assert!(matches!(
            c.blob(&id(8), BOUNDARY, u32::MAX, String::new),
            BlobClaim::New(_)
        ));
        assert_eq!(c.blob_count(), 1, "boundary blobs are not counted");
    }

    #[test]
    fn concurrent_walkers_agree_on_the_earliest_claim() {
        let c = Claims::new(2);
        let ids: Vec<ObjectId> = (0..=255u8).map(id).collect();
        std::thread::scope(|s| {
            for w in 0..4u32 {
                let (c, ids) = (&c, &ids);
                s.spawn(move || {
                    for pos in (1..50u32).rev() {
                        for i in ids {
                            let _ = c.blob(i, pos * 4 + w, pos, || format!("{pos}/{w}"));
                        }
                    }
                });
            }
        });
        for i in &ids {
            let (commit, path) = c.record(i).expect("recorded");
            assert_eq!((commit, &*path), (1, "1/0"));
        }
    }
}
