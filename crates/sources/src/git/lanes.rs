//! The history scan's queues from the tree pass to the blob workers: one lane per worker, a blob routed to
//! a lane by a hash of its path, a bound on what all lanes hold together. It owns only the hand-over: it
//! reads no object and scans nothing.
//!
//! Why lanes: git stores the versions of one file as a delta chain, and the blob workers read them through a
//! chain cache (`packs`): a version whose previous one is cached costs one small delta, and one whose chain
//! is not cached inflates its base and applies every delta up to it again (on the 100,000-commit bench,
//! 2.66 GB inflated for 2.1 GB of blobs). Through one shared queue, the versions of a file were split
//! between the workers, and neither cache held the chains. Routed by path, each worker reads every version
//! of its files in history order.
//!
//! Work stealing, so that no core idles: a worker whose lane is empty takes a batch from another lane, but
//! only from one holding at least `STEAL_FROM` batches (its own worker has more than the one at hand), or
//! once the input has ended. Otherwise it waits for its lane to fill.
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

/// A worker takes from another lane only when that lane holds this many batches (or the input ended).
const STEAL_FROM: usize = 2;

/// The lane of a blob at `path` among `lanes`: the same for every version of the file (FNV-1a of the path).
pub fn lane_of(path: &str, lanes: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in path.as_bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h % lanes.max(1) as u64) as usize
}

/// Lanes of batches of `T`, holding at most `bound` items in all.
pub struct Lanes<T> {
    state: Mutex<State<T>>,
    /// Signalled when a batch arrives or the input ends.
    filled: Condvar,
    /// Signalled when a batch is taken.
    drained: Condvar,
    bound: usize,
}

struct State<T> {
    lanes: Vec<VecDeque<Vec<T>>>,
    /// Items in all lanes.
    items: usize,
    /// Senders that have not closed yet.
    senders: usize,
    /// Workers that have not left (a worker that panicked leaves: senders then stop waiting).
    workers: usize,
    /// Batches taken from another worker's lane.
    stolen: u64,
}

impl<T> Lanes<T> {
    /// `lanes` lanes (at least one) for as many workers, fed by `senders` senders, each of which calls
    /// `close` once when done; each worker calls `leave` once when it stops.
    pub fn new(lanes: usize, senders: usize, bound: usize) -> Self {
        Lanes {
            state: Mutex::new(State {
                lanes: (0..lanes.max(1)).map(|_| VecDeque::new()).collect(),
                items: 0,
                senders,
                workers: lanes.max(1),
                stolen: 0,
            }),
            filled: Condvar::new(),
            drained: Condvar::new(),
            bound: bound.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A poisoned lock (a worker panicked) still holds consistent queues.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue `batch` on `lane`, waiting while the lanes hold `bound` items or more. Once every worker has
    /// left (they panicked), the batch is dropped.
    pub fn send(&self, lane: usize, batch: Vec<T>) {
        if batch.is_empty() {
            return;
        }
        let mut s = self.lock();
        while s.items >= self.bound && s.workers > 0 {
            s = self.drained.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        if s.workers == 0 {
            return;
        }
        s.items += batch.len();
        let n = s.lanes.len();
        s.lanes[lane % n].push_back(batch);
        drop(s);
        self.filled.notify_all();
    }

    /// One sender is done.
    pub fn close(&self) {
        let mut s = self.lock();
        s.senders = s.senders.saturating_sub(1);
        drop(s);
        self.filled.notify_all();
    }

    /// A worker stopped.
    pub fn leave(&self) {
        let mut s = self.lock();
        s.workers = s.workers.saturating_sub(1);
        drop(s);
        self.drained.notify_all();
    }

    /// The next batch for the worker of `lane`: its own lane's oldest, else another lane's (see the module
    /// comment); `None` once every sender closed and every lane is empty.
    pub fn take(&self, lane: usize) -> Option<Vec<T>> {
        let mut s = self.lock();
        loop {
            let n = s.lanes.len();
            let own = lane % n;
            let ended = s.senders == 0;
            let from = if !s.lanes[own].is_empty() {
                Some(own)
            } else {
                // The fullest other lane.
                (0..n)
                    .filter(|&l| l != own)
                    .max_by_key(|&l| s.lanes[l].len())
                    .filter(|&l| {
                        let held = s.lanes[l].len();
                        held >= STEAL_FROM || (ended && held > 0)
                    })
            };
            if let Some(l) = from {
                // Stolen batches come from the back: the lane's own worker keeps the versions it is next to
                // read, whose predecessors its cache holds.
                let batch = if l == own {
                    s.lanes[l].pop_front()
                } else {
                    s.stolen += 1;
                    s.lanes[l].pop_back()
                };
                if let Some(batch) = batch {
                    s.items -= batch.len();
                    drop(s);
                    self.drained.notify_all();
                    return Some(batch);
                }
            }
            if ended && s.items == 0 {
                return None;
            }
            s = self.filled.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Items waiting in all lanes.
    pub fn queued(&self) -> usize {
        self.lock().items
    }

    /// Batches a worker took from another worker's lane.
    pub fn stolen(&self) -> u64 {
        self.lock().stolen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_of_a_path_goes_to_one_lane_and_paths_spread() {
        let paths: Vec<String> = (0..200)
            .map(|i| format!("src/dir{}/file{i}.rs", i % 7))
            .collect();
        let mut per_lane = [0usize; 2];
        for p in &paths {
            let l = lane_of(p, 2);
            assert_eq!(l, lane_of(&p.clone(), 2), "{p}");
            per_lane[l] += 1;
        }
        assert!(per_lane.iter().all(|&n| n > 50), "{per_lane:?}");
    }

    #[test]
    fn a_worker_takes_its_own_lane_first_and_steals_only_from_a_lane_with_work_to_spare() {
        let lanes: Lanes<u32> = Lanes::new(2, 1, 100);
        lanes.send(0, vec![1, 2]);
        lanes.send(0, vec![3]);
        lanes.send(1, vec![10]);
        assert_eq!(lanes.take(1), Some(vec![10]), "its own lane first");
        // Lane 0 holds two batches: worker 1 takes the newest, worker 0 keeps the oldest.
        assert_eq!(lanes.take(1), Some(vec![3]));
        assert_eq!(lanes.stolen(), 1);
        assert_eq!(lanes.take(0), Some(vec![1, 2]));
        lanes.send(0, vec![4]);
        // One batch in lane 0 and the input still open: worker 1 would wait; after the end it takes it.
        lanes.close();
        assert_eq!(lanes.take(1), Some(vec![4]));
        assert_eq!(lanes.take(0), None);
        assert_eq!(lanes.take(1), None);
        assert_eq!(lanes.queued(), 0);
    }

    #[test]
    fn a_waiting_worker_wakes_for_its_lane_and_senders_wait_at_the_bound() {
        let lanes: Lanes<u32> = Lanes::new(2, 1, 4);
        let mut seen = Vec::new();
        std::thread::scope(|s| {
            let l = &lanes;
            let worker = s.spawn(move || {
                let mut got = Vec::new();
                while let Some(b) = l.take(1) {
                    assert!(l.queued() <= 4, "over the bound");
                    got.extend(b);
                }
                got
            });
            for i in 0..50u32 {
                lanes.send(1, vec![i, i + 100]);
                assert!(lanes.queued() <= 4, "over the bound");
            }
            lanes.close();
            seen = worker.join().expect("worker");
        });
        assert_eq!(seen.len(), 100);
        assert_eq!(seen[..4], [0, 100, 1, 101], "in order");
    }
}
