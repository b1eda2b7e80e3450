//! Fork networks within one sweep: repositories whose remotes advertise a common object id (a branch or tag
//! at the same commit, as a fork and its parent usually have) are one network. The first repository of a
//! network to start lends to the others: they wait for it to end, clone with `--reference` to its mirror
//! (only their own objects are transferred) and, when it was scanned completely in this run, skip the
//! commits its refs reach (its findings there are copied with this repository's name; see `repo`). Owns the
//! map of advertised ids to the repository that registered them first and each lender's outcome; memory is
//! bounded by the ids the sweep's repositories advertise. Waits follow registration order (a repository
//! only waits for one registered before it, which never waits for it), so they cannot deadlock; a
//! repository that ends in any way, panics included, releases its waiters (`Entered`'s `Drop`). Knows nothing
//! of cloning, scanning or the datastore.
use gix::ObjectId;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard};

/// What a finished lender offers the repositories of its network.
#[derive(Debug, Clone, Default)]
pub struct Lent {
    /// Its repository identity.
    pub id: String,
    /// Its mirror, when its scan (or an unchanged check) succeeded: safe to borrow objects from.
    pub mirror: Option<PathBuf>,
    /// The commits its refs pointed at when it was scanned completely in this run: everything they reach
    /// was read (blobs) or is recorded (findings, with their locations).
    pub scanned: Option<Vec<ObjectId>>,
}

#[derive(Default)]
struct Inner {
    /// Advertised object id → the repository that registered it first.
    owner: HashMap<String, String>,
    /// Repositories registered: `None` while in flight, then what they lend.
    repos: HashMap<String, Option<Lent>>,
}

/// The fork networks of a sweep.
#[derive(Default)]
pub struct Networks {
    inner: Mutex<Inner>,
    changed: Condvar,
}

impl Networks {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Register `id` with the object ids its remote advertises. Returns its registration (released when
    /// dropped) and the repository of its network registered before it, if any.
    pub fn enter<'a>(&'a self, id: &str, ids: &[String]) -> (Entered<'a>, Option<String>) {
        let mut inner = self.lock();
        let mut lender: Option<String> = None;
        for oid in ids {
            match inner.owner.get(oid) {
                Some(o) if o != id => {
                    lender.get_or_insert_with(|| o.clone());
                }
                Some(_) => {}
                None => {
                    inner.owner.insert(oid.clone(), id.to_string());
                }
            }
        }
        // A repository seen again in one sweep (it never is: identities are unique) keeps its outcome.
        inner.repos.entry(id.to_string()).or_insert(None);
        drop(inner);
        (
            Entered {
                networks: self,
                id: id.to_string(),
                done: false,
            },
            lender,
        )
    }

    /// Wait until `lender` has ended; what it lends.
    pub fn wait(&self, lender: &str) -> Lent {
        let mut inner = self.lock();
        loop {
            match inner.repos.get(lender) {
                Some(Some(lent)) => return lent.clone(),
                Some(None) => {}
                None => return Lent::default(),
            }
            inner = self.changed.wait(inner).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn finish(&self, id: &str, lent: Lent) {
        let mut inner = self.lock();
        inner.repos.insert(id.to_string(), Some(lent));
        drop(inner);
        self.changed.notify_all();
    }
}

/// A repository registered in its network; its waiters are released when it is finished or dropped.
pub struct Entered<'a> {
    networks: &'a Networks,
    id: String,
    done: bool,
}

impl Entered<'_> {
    /// The repository ended: what it lends.
    pub fn finish(mut self, mirror: Option<PathBuf>, scanned: Option<Vec<ObjectId>>) {
        self.done = true;
        self.networks.finish(
            &self.id,
            Lent {
                id: self.id.clone(),
                mirror,
                scanned,
            },
        );
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.networks.finish(
                &self.id,
                Lent {
                    id: self.id.clone(),
                    ..Lent::default()
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_repository_of_a_network_lends_and_its_waiters_are_released_however_it_ends() {
        let n = Networks::default();
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (a, none) = n.enter("a", &ids(&["1", "2"]));
        assert!(none.is_none());
        let (_b, lender) = n.enter("b", &ids(&["2", "3"]));
        assert_eq!(lender.as_deref(), Some("a"));
        let (_c, lender) = n.enter("c", &ids(&["3"]));
        assert_eq!(lender.as_deref(), Some("b"), "3 was b's first");
        let (_d, none) = n.enter("d", &ids(&["4"]));
        assert!(none.is_none());
        std::thread::scope(|s| {
            let w = s.spawn(|| n.wait("a"));
            std::thread::sleep(std::time::Duration::from_millis(20));
            a.finish(Some(PathBuf::from("/m/a")), None);
            let lent = w.join().unwrap();
            assert_eq!(lent.mirror, Some(PathBuf::from("/m/a")));
        });
        // Dropped without finishing (a failure, a panic): its waiters go on, with nothing lent.
        let (e, _) = n.enter("e", &ids(&["5"]));
        drop(e);
        assert!(n.wait("e").mirror.is_none());
    }
}
