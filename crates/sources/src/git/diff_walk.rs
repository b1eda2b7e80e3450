//! The history tree pass's walker: walks a commit's tree against a base (a parent commit's tree, whose
//! blobs and subtrees were all seen before) and looks only at the entries that differ from it.
//!
//! Raw tree bytes are compared, not parsed entries: entries inside the common byte prefix of a tree and its
//! base are skipped unparsed of the base, and once the rest of both trees is byte-identical (known from their
//! common suffix) the tree is done. In a large directory where one file changed, one entry is looked at, not
//! every entry of the directory (measured: per-entry set lookups were a third of the pass on a history of
//! flat source directories). Trees, and the base each is diffed against, are borrowed from the pack
//! reader's cache, never copied: it keeps recently read versions, so a child commit's base is usually at
//! hand without decoding it again, and a base that a newer version replaced at its path is evicted first,
//! so the kept trees are mostly the latest version of each directory walked.
use super::packs::PackReader;
use super::{counted, EntryPath, Problems, TreeItem};
use gix::ObjectId;
use keysweep_model::Diagnostics;
use std::cmp::Ordering;
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

/// The tree walker of the history pass. Trees are borrowed from its pack reader, whose cache keeps recently
/// read versions (see `packs`): nothing is copied out of it.
pub struct DiffWalker {
    hash_len: usize,
    /// Reads from the packs through a delta-chain cache.
    packs: PackReader,
}

impl DiffWalker {
    /// A walker reading trees through `packs` (see `packs`: history reads older versions first; its cache
    /// also keeps the trees a child commit's diff starts from).
    pub fn new(repo: &gix::Repository, packs: PackReader) -> Self {
        DiffWalker {
            hash_len: repo.object_hash().len_in_bytes(),
            packs,
        }
    }

    /// What the walker's reads cost so far.
    pub fn counts(&self) -> super::packs::ReadCounts {
        self.packs.counts()
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
        let hash_len = self.hash_len;
        let mut stack: Vec<(ObjectId, Option<ObjectId>, Vec<u8>)> = Vec::new();
        if enter(&root) {
            stack.push((root, base.filter(|b| *b != root), Vec::new()));
        }
        while let Some((tree, base, prefix)) = stack.pop() {
            // The base first: reading `tree` (often a delta of the base) builds on it. Both are borrowed
            // from the reader; the base is then first in line for eviction (`tree` replaces it at its path,
            // and the next commits' diffs start from `tree`), so the cache keeps mostly the latest version
            // of each directory walked, whatever its last change's age.
            let (base_data, found) = self.packs.read_pair(repo, base.as_deref(), &tree);
            let Some(data) = counted(found, repo, &tree, scanner, problems) else {
                continue;
            };
            if data.kind != gix::objs::Kind::Tree {
                problems.corrupt.fetch_add(1, Relaxed);
                continue;
            }
            let data = data.data;
            let b: &[u8] = base_data
                .filter(|d| d.kind == gix::objs::Kind::Tree)
                .map_or(&[], |d| d.data);
            let (pre, suf) = (common_prefix(data, b), common_suffix(data, b));
            let (mut pos, mut bpos) = (0usize, 0usize);
            while pos < data.len() {
                let Some(e) = parse(data, pos, hash_len) else {
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
                    let Some(be) = parse(b, bpos, hash_len) else {
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
