//! The history tree pass's walker: walks a commit's tree against a base (a parent commit's tree, whose
//! blobs and subtrees were all seen before) and looks only at the entries that differ from it.
//!
//! Raw tree bytes are compared, not parsed entries: entries inside the common byte prefix of a tree and its
//! base are skipped unparsed of the base, and once the rest of both trees is byte-identical (known from their
//! common suffix) the tree is done. In a large directory where one file changed, one entry is looked at, not
//! every entry of the directory (measured: per-entry set lookups were a third of the pass on a history of
//! flat source directories). Recently read trees are kept, moved rather than copied, so that a child
//! commit's base is usually at hand without decoding it again; a base that a newer version replaced at its
//! path is evicted first, so the kept trees are mostly the latest version of each directory walked.
use super::packs::PackReader;
use super::{counted, EntryPath, Problems, TreeItem};
use gix::objs::Find;
use gix::ObjectId;
use keysweep_model::Diagnostics;
use std::cmp::Ordering;
use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;

/// What an entry holds, as far as the walk cares.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tree,
    /// A regular or executable file.
    Blob,
    Link,
    Submodule,
}

/// One entry of a raw tree.
struct Entry<'a> {
    kind: Kind,
    name: &'a [u8],
    oid: &'a gix::oid,
    /// Offset just past the entry.
    end: usize,
}

/// Parse the entry at `at` of a raw tree (`<octal mode> <name>\0<id>`); `None` when it is malformed.
fn parse(data: &[u8], at: usize, hash_len: usize) -> Option<Entry<'_>> {
    let rest = data.get(at..)?;
    // The mode: up to 7 octal digits, then a space (read in the same loop: a `memchr` call costs more
    // than these few bytes).
    let mut mode = 0u32;
    let mut sp = 0;
    loop {
        match *rest.get(sp)? {
            b' ' if sp > 0 => break,
            d @ b'0'..=b'7' if sp < 7 => mode = mode * 8 + u32::from(d - b'0'),
            _ => return None,
        }
        sp += 1;
    }
    let kind = match mode & 0o170000 {
        0o040000 => Kind::Tree,
        0o100000 => Kind::Blob,
        0o120000 => Kind::Link,
        0o160000 => Kind::Submodule,
        _ => return None,
    };
    let name_start = sp + 1;
    let nul = memchr::memchr(0, rest.get(name_start..)?)?;
    let name = &rest[name_start..name_start + nul];
    let id_start = name_start + nul + 1;
    let id = rest.get(id_start..id_start + hash_len)?;
    let oid = gix::oid::try_from_bytes(id).ok()?;
    Some(Entry {
        kind,
        name,
        oid,
        end: at + id_start + hash_len,
    })
}

/// Git's order of tree entries: by name, a tree's name compared as if it ended in `/`.
fn tree_order(a: &[u8], a_tree: bool, b: &[u8], b_tree: bool) -> Ordering {
    let n = a.len().min(b.len());
    a[..n].cmp(&b[..n]).then_with(|| {
        let end =
            |name: &[u8], tree: bool| name.get(n).copied().unwrap_or(if tree { b'/' } else { 0 });
        end(a, a_tree).cmp(&end(b, b_tree))
    })
}

/// 16 bytes at `at` as one integer (a load, not a `memcmp` call). `at + 16 <= s.len()`.
fn word(s: &[u8], at: usize) -> u128 {
    let mut w = [0u8; 16];
    w.copy_from_slice(&s[at..at + 16]);
    u128::from_ne_bytes(w)
}

/// Length of the common prefix of `a` and `b`.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    const W: usize = 16;
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + W <= n && word(a, i) == word(b, i) {
        i += W;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// Length of the common suffix of `a` and `b`.
fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    const W: usize = 16;
    let n = a.len().min(b.len());
    let (la, lb) = (a.len(), b.len());
    let mut i = 0;
    while i + W <= n && word(a, la - i - W) == word(b, lb - i - W) {
        i += W;
    }
    while i < n && a[la - i - 1] == b[lb - i - 1] {
        i += 1;
    }
    i
}

/// The tree walker of the history pass, with its cache of recently read trees.
pub struct DiffWalker {
    /// Kept trees, with the stamp of their last `keep`.
    recent: gix::hashtable::HashMap<ObjectId, (Vec<u8>, u64)>,
    /// Kept trees in the order they were kept, oldest first (stale stamps are skipped).
    order: VecDeque<(ObjectId, u64)>,
    /// Trees a newer version replaced at their path (a diff's base), evicted before anything in `order`.
    replaced: VecDeque<(ObjectId, u64)>,
    stamp: u64,
    /// Capacity of the kept buffers.
    bytes: usize,
    cap: usize,
    hash_len: usize,
    /// Buffers of evicted trees, for the next reads.
    spare: Vec<Vec<u8>>,
    /// Reads from the packs through a delta-chain cache (the history pass); `None` reads through gix.
    packs: Option<PackReader>,
}

/// How many evicted buffers are kept for reuse.
const SPARE_BUFFERS: usize = 8;

impl DiffWalker {
    /// A walker keeping up to `cache_bytes` of recently read trees.
    pub fn new(repo: &gix::Repository, cache_bytes: usize) -> Self {
        DiffWalker {
            recent: Default::default(),
            order: VecDeque::new(),
            replaced: VecDeque::new(),
            stamp: 0,
            bytes: 0,
            cap: cache_bytes,
            hash_len: repo.object_hash().len_in_bytes(),
            spare: Vec::new(),
            packs: None,
        }
    }

    /// Read trees from the packs through `packs` (see `packs`: history reads older versions first).
    pub fn with_packs(mut self, packs: PackReader) -> Self {
        self.packs = Some(packs);
        self
    }

    /// Walk `root` depth-first against `base`. Subtrees for which `enter` returns false are skipped (already
    /// seen); `on_item` receives every blob not identical to the base's entry of the same name. Symlinks and
    /// submodules are not blobs to scan. Problems reading `root` and its subtrees are counted; the base was
    /// read (and counted) when it was walked, and a base that cannot be read now is treated as empty.
    #[allow(clippy::too_many_arguments)]
    pub fn walk(
        &mut self,
        repo: &gix::Repository,
        root: ObjectId,
        base: Option<ObjectId>,
        scanner: &dyn Diagnostics,
        problems: &Problems,
        enter: &mut dyn FnMut(&gix::oid) -> bool,
        on_item: &mut dyn FnMut(TreeItem<'_>),
    ) {
        let mut stack: Vec<(ObjectId, Option<ObjectId>, Vec<u8>)> = Vec::new();
        if enter(&root) {
            stack.push((root, base.filter(|b| *b != root), Vec::new()));
        }
        while let Some((tree, base, prefix)) = stack.pop() {
            // The base first: reading `tree` (often a delta of the base) marks the base as replaced in
            // the pack reader's cache (see `packs`), where it may then be evicted.
            let base_data = base.and_then(|b| self.take(repo, &b, None).map(|d| (b, d)));
            let Some(data) = self.take(repo, &tree, Some((scanner, problems))) else {
                if let Some((id, d)) = base_data {
                    self.keep(id, d, false);
                }
                continue;
            };
            let b: &[u8] = base_data.as_ref().map_or(&[], |(_, d)| d.as_slice());
            let (pre, suf) = (common_prefix(&data, b), common_suffix(&data, b));
            let (mut pos, mut bpos) = (0usize, 0usize);
            while pos < data.len() {
                let Some(e) = parse(&data, pos, self.hash_len) else {
                    problems.corrupt.fetch_add(1, Relaxed);
                    break;
                };
                if e.end <= pre {
                    // Byte-identical to the base up to here: the same entries at the same offsets.
                    pos = e.end;
                    bpos = e.end;
                    continue;
                }
                // Both cursors are at entry boundaries; identical tails hold identical entries.
                let rest = data.len() - pos;
                if rest == b.len().saturating_sub(bpos) && rest <= suf {
                    break;
                }
                let is_tree = e.kind == Kind::Tree;
                let mut same: Option<Entry<'_>> = None;
                while bpos < b.len() {
                    let Some(be) = parse(b, bpos, self.hash_len) else {
                        bpos = b.len();
                        break;
                    };
                    match tree_order(be.name, be.kind == Kind::Tree, e.name, is_tree) {
                        Ordering::Less => bpos = be.end,
                        Ordering::Equal => {
                            bpos = be.end;
                            if be.kind == e.kind {
                                same = Some(be);
                            }
                            break;
                        }
                        Ordering::Greater => break,
                    }
                }
                pos = e.end;
                if same.as_ref().is_some_and(|be| be.oid == e.oid) {
                    continue;
                }
                let path = EntryPath {
                    prefix: &prefix,
                    name: e.name,
                };
                match e.kind {
                    Kind::Tree => {
                        if enter(e.oid) {
                            let mut sub = Vec::new();
                            path.write_to(&mut sub);
                            stack.push((e.oid.to_owned(), same.map(|be| be.oid.to_owned()), sub));
                        }
                    }
                    Kind::Blob => on_item(TreeItem::Blob(e.oid, path)),
                    Kind::Link | Kind::Submodule => {}
                }
            }
            // The base is the version `tree` replaces at this path: the next commits' diffs start from
            // `tree`, so the base goes first when room is needed. The kept trees are then mostly the
            // latest version of each directory walked, whatever its last change's age.
            self.keep(tree, data, false);
            if let Some((id, d)) = base_data {
                self.keep(id, d, true);
            }
        }
    }

    /// The bytes of tree `id`, taken out of the cache or read. `count`: count (and report) problems.
    fn take(
        &mut self,
        repo: &gix::Repository,
        id: &ObjectId,
        count: Option<(&dyn Diagnostics, &Problems)>,
    ) -> Option<Vec<u8>> {
        if let Some((d, _)) = self.recent.remove(id) {
            self.bytes -= d.capacity();
            return Some(d);
        }
        let mut buf = self.spare.pop().unwrap_or_default();
        let found = match self.packs.as_mut() {
            Some(packs) => packs.read(repo, id, &mut buf),
            None => repo.objects.try_find(id, &mut buf),
        };
        let (kind, len) = match count {
            Some((scanner, problems)) => {
                let d = counted(found, repo, id, scanner, problems)?;
                (d.kind, d.data.len())
            }
            None => {
                let d = found.ok().flatten()?;
                (d.kind, d.data.len())
            }
        };
        if kind != gix::objs::Kind::Tree {
            self.recycle(buf);
            if let Some((_, problems)) = count {
                problems.corrupt.fetch_add(1, Relaxed);
            }
            return None;
        }
        // gix decodes into the buffer it is given, from its start.
        buf.truncate(len);
        Some(buf)
    }

    /// Keep tree `id` for a later walk (`replaced`: a newer version replaced it), evicting replaced trees,
    /// then the oldest, over the byte budget.
    fn keep(&mut self, id: ObjectId, data: Vec<u8>, replaced: bool) {
        if data.capacity() > self.cap / 8 {
            return;
        }
        self.stamp += 1;
        let stamp = self.stamp;
        self.bytes += data.capacity();
        if let Some((old, _)) = self.recent.insert(id, (data, stamp)) {
            self.bytes -= old.capacity();
            self.recycle(old);
        }
        if replaced {
            self.replaced.push_back((id, stamp));
        } else {
            self.order.push_back((id, stamp));
        }
        while self.bytes > self.cap {
            let Some((old, stamp)) = self.replaced.pop_front().or_else(|| self.order.pop_front())
            else {
                break;
            };
            if self.recent.get(&old).is_some_and(|(_, s)| *s == stamp) {
                if let Some((d, _)) = self.recent.remove(&old) {
                    self.bytes -= d.capacity();
                    self.recycle(d);
                }
            }
        }
        // Ids taken out of the cache or kept again stay in the queues: keep them from growing without bound.
        for queue in [&mut self.order, &mut self.replaced] {
            if queue.len() > 4 * self.recent.len() + 1024 {
                let recent = &self.recent;
                queue.retain(|(id, s)| recent.get(id).is_some_and(|(_, t)| t == s));
            }
        }
    }

    fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS && buf.capacity() <= self.cap / 8 {
            buf.clear();
            self.spare.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(entries: &[(&str, &str, u8)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (mode, name, id) in entries {
            out.extend_from_slice(mode.as_bytes());
            out.push(b' ');
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            out.extend_from_slice(&[*id; 20]);
        }
        out
    }

    #[test]
    fn parses_entries_and_rejects_malformed_ones() {
        let t = raw(&[
            ("100644", "a.txt", 1),
            ("40000", "dir", 2),
            ("120000", "l", 3),
        ]);
        let e = parse(&t, 0, 20).expect("first entry");
        assert!(e.kind == Kind::Blob && e.name == b"a.txt");
        let e2 = parse(&t, e.end, 20).expect("second entry");
        assert!(e2.kind == Kind::Tree && e2.name == b"dir");
        let e3 = parse(&t, e2.end, 20).expect("third entry");
        assert!(e3.kind == Kind::Link && e3.end == t.len());
        assert!(parse(&t, t.len(), 20).is_none());
        assert!(parse(b"100644 a", 0, 20).is_none(), "no NUL");
        assert!(parse(b"100644 a\0short", 0, 20).is_none(), "truncated id");
        assert!(
            parse(b"10x644 a\0aaaaaaaaaaaaaaaaaaaa", 0, 20).is_none(),
            "bad mode"
        );
    }

    #[test]
    fn orders_trees_as_if_their_names_ended_in_a_slash() {
        assert_eq!(tree_order(b"a", true, b"a.b", false), Ordering::Greater);
        assert_eq!(tree_order(b"a", false, b"a.b", false), Ordering::Less);
        assert_eq!(tree_order(b"a", true, b"a", true), Ordering::Equal);
        assert_ne!(tree_order(b"a", true, b"a", false), Ordering::Equal);
    }

    #[test]
    fn common_prefix_and_suffix_lengths() {
        let a = b"0123456789abcdefghijXYZ0123456789abcdefghij";
        let b = b"0123456789abcdefghijQ0123456789abcdefghij";
        assert_eq!(common_prefix(a, b), 20);
        assert_eq!(common_suffix(a, b), 20);
        assert_eq!(common_prefix(a, a), a.len());
        assert_eq!(common_suffix(b"", a), 0);
    }
}
