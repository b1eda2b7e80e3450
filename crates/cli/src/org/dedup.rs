//! Every blob once across a sweep: the `BlobFilter` each repository's history scan asks before reading a
//! blob. Owns the claims of the repositories being scanned right now (a blob one of them is reading is
//! deferred by the others, then settled: skipped if it held nothing, read again if it held findings, since
//! each repository needs its own locations), the lookup of blobs already recorded in the datastore under the
//! same rules version, and the list of what each repository read (recorded with its results, in one
//! transaction, by the caller). Claims live only while their repository is in flight: memory stays bounded
//! by the repositories scanned at once, not by the organisation. Knows nothing of cloning or printing.
use gix::ObjectId;
use keysweep_sources::git::history::{BlobDecision, BlobFilter};
use keysweep_store::datastore::Datastore;
use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Its owner is reading it now.
    Reading,
    /// Its owner read it; whether it held findings.
    Read(bool),
}

#[derive(Clone, Copy)]
struct Claim {
    owner: u64,
    state: State,
}

/// The blobs claimed by the repositories in flight.
#[derive(Default)]
pub struct Claims {
    map: Mutex<HashMap<ObjectId, Claim>>,
    changed: Condvar,
}

impl Claims {
    fn lock(&self) -> MutexGuard<'_, HashMap<ObjectId, Claim>> {
        // A panicking scan thread cannot leave the map half-updated (single inserts and removes).
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One repository's filter: its claims, what it read, and any datastore error it met (the scan then reads
/// rather than skips: correctness over speed).
pub struct RepoFilter<'a> {
    claims: &'a Claims,
    store: &'a dyn Datastore,
    rules_version: &'a str,
    owner: u64,
    claimed: Mutex<Vec<ObjectId>>,
    scanned: Mutex<Vec<(ObjectId, bool)>>,
    skipped: std::sync::atomic::AtomicU64,
    error: Mutex<Option<String>>,
}

impl<'a> RepoFilter<'a> {
    pub fn new(
        claims: &'a Claims,
        store: &'a dyn Datastore,
        rules_version: &'a str,
        owner: u64,
    ) -> Self {
        RepoFilter {
            claims,
            store,
            rules_version,
            owner,
            claimed: Mutex::new(Vec::new()),
            scanned: Mutex::new(Vec::new()),
            skipped: Default::default(),
            error: Mutex::new(None),
        }
    }

    /// The blobs this repository's scan read, with whether each had findings (hex ids, for the datastore).
    pub fn scanned(&self) -> Vec<(String, bool)> {
        self.scanned
            .lock()
            .map(|v| v.iter().map(|(id, f)| (id.to_string(), *f)).collect())
            .unwrap_or_default()
    }

    /// Blobs skipped because an earlier scan (this run or another) read them and found nothing.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The first datastore error met (the scan went on, reading instead of skipping).
    pub fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }

    fn note_error(&self, e: anyhow::Error) {
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert_with(|| format!("datastore lookup failed: {e:#}"));
        }
    }

    /// Of `ids`, which were recorded as read without findings (`true`) under this rules version.
    fn known_clean(&self, ids: &[ObjectId]) -> Vec<bool> {
        let hex: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        match self.store.scanned_blobs(&hex, self.rules_version) {
            Ok(known) => known.into_iter().map(|k| k == Some(false)).collect(),
            Err(e) => {
                self.note_error(e);
                vec![false; ids.len()]
            }
        }
    }

    /// Drop this repository's claims: its results are recorded (or it failed), so later lookups go to the
    /// datastore.
    pub fn release(&self) {
        let claimed = self
            .claimed
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default();
        let mut map = self.claims.lock();
        for id in claimed {
            if map.get(&id).is_some_and(|c| c.owner == self.owner) {
                map.remove(&id);
            }
        }
        drop(map);
        self.claims.changed.notify_all();
    }
}

impl BlobFilter for RepoFilter<'_> {
    fn decide(&self, ids: &[ObjectId], out: &mut Vec<BlobDecision>) {
        let first = out.len();
        let mut fresh: Vec<usize> = Vec::new();
        {
            let mut map = self.claims.lock();
            let mut claimed = self.claimed.lock().unwrap_or_else(|p| p.into_inner());
            for (k, id) in ids.iter().enumerate() {
                let d = match map.get(id) {
                    Some(c) if c.owner == self.owner => BlobDecision::Skip,
                    Some(c) => match c.state {
                        State::Reading => BlobDecision::Defer,
                        State::Read(false) => BlobDecision::Skip,
                        State::Read(true) => BlobDecision::Scan,
                    },
                    None => {
                        map.insert(
                            *id,
                            Claim {
                                owner: self.owner,
                                state: State::Reading,
                            },
                        );
                        claimed.push(*id);
                        fresh.push(k);
                        BlobDecision::Scan
                    }
                };
                out.push(d);
            }
        }
        if fresh.is_empty() {
            return;
        }
        // Claimed first, looked up after: two repositories never both read a blob the datastore lacks.
        let fresh_ids: Vec<ObjectId> = fresh.iter().map(|&k| ids[k]).collect();
        let clean = self.known_clean(&fresh_ids);
        let mut settled = false;
        let mut map = self.claims.lock();
        for (&k, is_clean) in fresh.iter().zip(clean) {
            if is_clean {
                out[first + k] = BlobDecision::Skip;
                if let Some(c) = map.get_mut(&ids[k]) {
                    c.state = State::Read(false);
                    settled = true;
                }
            }
        }
        drop(map);
        let skipped = out[first..]
            .iter()
            .filter(|d| **d == BlobDecision::Skip)
            .count();
        self.skipped
            .fetch_add(skipped as u64, std::sync::atomic::Ordering::Relaxed);
        if settled {
            self.claims.changed.notify_all();
        }
    }

    fn scanned(&self, id: &ObjectId, had_findings: bool) {
        if let Ok(mut v) = self.scanned.lock() {
            v.push((*id, had_findings));
        }
        let mut map = self.claims.lock();
        if let Some(c) = map.get_mut(id) {
            if c.owner == self.owner {
                c.state = State::Read(had_findings);
                drop(map);
                self.claims.changed.notify_all();
            }
        }
    }

    fn settle(&self, deferred: &[ObjectId]) -> Vec<bool> {
        // This scan's main pass is over: a blob it claimed and never read (over the size limit, unreadable)
        // will not be read by it now; let waiting repositories decide for themselves.
        {
            let claimed = self.claimed.lock().unwrap_or_else(|p| p.into_inner());
            let mut map = self.claims.lock();
            for id in claimed.iter() {
                if map
                    .get(id)
                    .is_some_and(|c| c.owner == self.owner && c.state == State::Reading)
                {
                    map.remove(id);
                }
            }
        }
        self.claims.changed.notify_all();
        // Wait for the repositories reading the deferred blobs. They are in their main pass (a scan in
        // `settle` holds no `Reading` claim), which waits on nobody: this cannot deadlock.
        let mut answer: Vec<Option<bool>> = vec![None; deferred.len()];
        let mut absent: Vec<usize> = Vec::new();
        let mut is_absent = vec![false; deferred.len()];
        let mut map = self.claims.lock();
        loop {
            let mut pending = false;
            for (k, id) in deferred.iter().enumerate() {
                if answer[k].is_some() || is_absent[k] {
                    continue;
                }
                match map.get(id).map(|c| c.state) {
                    Some(State::Reading) => pending = true,
                    Some(State::Read(findings)) => answer[k] = Some(findings),
                    None => {
                        is_absent[k] = true;
                        absent.push(k);
                    }
                }
            }
            if !pending {
                break;
            }
            map = self
                .claims
                .changed
                .wait_timeout(map, Duration::from_millis(500))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        drop(map);
        // Released claims: recorded by their owner (then the datastore knows), or given up.
        if !absent.is_empty() {
            let ids: Vec<ObjectId> = absent.iter().map(|&k| deferred[k]).collect();
            for (&k, clean) in absent.iter().zip(self.known_clean(&ids)) {
                answer[k] = Some(!clean);
            }
        }
        let wanted: Vec<bool> = answer.into_iter().map(|a| a.unwrap_or(true)).collect();
        let skipped = wanted.iter().filter(|w| !**w).count();
        self.skipped
            .fetch_add(skipped as u64, std::sync::atomic::Ordering::Relaxed);
        wanted
    }
}
