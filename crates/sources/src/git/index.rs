//! The index file as the pre-commit scan (`staged`) reads it: the entries are walked in place in the mapped
//! file (versions 2, 3 and 4), one at a time, never materialised, and the cache-tree extension (`TREE`) is
//! decoded with gix-index's own decoder. gix's full decode allocates every entry and copies every path (about
//! 6 MB of fresh memory for a 50,000-file repository, a quarter of the hook's warm start in page faults alone)
//! when the hook needs the few entries outside the directories the cache tree shows unchanged. A split index
//! (`link` extension: entries live in a shared index file) is not read here: `Index::open` says so and the
//! caller uses gix. Hostile data: every read is bounds-checked, the declared entry count is walked against the
//! bytes present, and anything malformed is an error naming what is wrong; work is linear in the file's size.
//! The trailing checksum is not verified (as before: git's `index.skipHash` does the same).
use anyhow::{anyhow, bail, Result};
use gix::index::extension::Tree;
use std::path::Path;

/// One index entry, borrowed from the file (or, in version 4, from the path being rebuilt).
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    pub path: &'a [u8],
    /// The raw mode (`0o100644` for a file, `0o100755` executable, `0o120000` symlink, `0o160000` gitlink).
    pub mode: u32,
    /// The object id's raw bytes.
    pub id: &'a [u8],
    /// `git add -N`: staged as a path, without content.
    pub intent_to_add: bool,
}

pub struct Index {
    map: memmap2::Mmap,
    version: u32,
    count: u32,
    hash_len: usize,
    /// Where the entries end (and the extensions begin).
    entries_end: usize,
    tree: Option<Tree>,
}

const HEADER: usize = 12;
/// ctime, mtime (8 bytes each), dev, ino, mode, uid, gid, size (4 each).
const STAT: usize = 40;
const EXTENDED: u16 = 0x4000;
const NAME_MASK: u16 = 0x0fff;
const INTENT_TO_ADD: u16 = 0x2000;

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// git's offset varint (`varint.c`): the number stripped from the previous path in version 4.
fn varint(b: &[u8]) -> Option<(usize, usize)> {
    let mut used = 1;
    let mut c = *b.first()?;
    let mut val = u64::from(c & 127);
    while c & 128 != 0 {
        val = val.checked_add(1)?;
        if val > u64::MAX >> 7 {
            return None;
        }
        c = *b.get(used)?;
        used += 1;
        val = (val << 7) + u64::from(c & 127);
    }
    Some((usize::try_from(val).ok()?, used))
}

impl Index {
    /// Map and check the index at `path`; `Ok(None)` for a split index (left to gix).
    pub fn open(path: &Path, hash: gix::hash::Kind) -> Result<Option<Index>> {
        let (file, _) = keysweep_model::fsutil::open_regular(path, true)
            .map_err(|e| anyhow!("cannot open it: {e}"))?;
        // SAFETY: read-only map; git replaces the index by renaming a new file over it, never rewrites it in
        // place (a file truncated concurrently could raise SIGBUS, the accepted trade-off of mmap readers).
        let map =
            unsafe { memmap2::Mmap::map(&file) }.map_err(|e| anyhow!("cannot map it: {e}"))?;
        let hash_len = hash.len_in_bytes();
        if map.len() < HEADER + hash_len || &map[..4] != b"DIRC" {
            bail!("not an index file (no DIRC header)");
        }
        let version = be32(&map, 4).unwrap_or(0);
        if !(2..=4).contains(&version) {
            bail!("unsupported index version {version}");
        }
        let count = be32(&map, 8).unwrap_or(0);
        let mut index = Index {
            map,
            version,
            count,
            hash_len,
            entries_end: HEADER,
            tree: None,
        };
        index.entries_end = index.walk(|_| {})?;
        let end = index.map.len() - hash_len;
        let mut at = index.entries_end;
        while at < end {
            let (Some(sig), Some(size)) = (index.map.get(at..at + 4), be32(&index.map, at + 4))
            else {
                bail!("truncated extension header at byte {at}");
            };
            let body = at + 8;
            let Some(data) = (size as usize)
                .checked_add(body)
                .filter(|&e| e <= end)
                .map(|e| &index.map[body..e])
            else {
                bail!(
                    "extension {} at byte {at} runs past the end",
                    String::from_utf8_lossy(sig)
                );
            };
            match sig {
                b"link" => return Ok(None),
                // A cache tree that does not decode is ignored: every HEAD tree is then read.
                b"TREE" => index.tree = gix::index::extension::tree::decode(data, hash, None),
                _ => {}
            }
            at = body + data.len();
        }
        Ok(Some(index))
    }

    /// The cache tree, if the index has a valid one.
    pub fn tree(&self) -> Option<&Tree> {
        self.tree.as_ref()
    }

    /// Call `f` with every entry, in file order.
    pub fn for_each(&self, f: impl FnMut(EntryRef<'_>)) -> Result<()> {
        self.walk(f).map(|_| ())
    }

    /// Walk the entries; returns the offset where they end.
    fn walk(&self, mut f: impl FnMut(EntryRef<'_>)) -> Result<usize> {
        let data = &self.map[..self.map.len() - self.hash_len];
        let fixed = STAT + self.hash_len + 2;
        let mut path = Vec::new();
        let mut at = HEADER;
        for n in 0..self.count {
            let bad = |what: &str| anyhow!("entry {n} at byte {at}: {what}");
            let Some(head) = data.get(at..at + fixed) else {
                bail!(bad("truncated"));
            };
            let mode = be32(head, 24).ok_or_else(|| bad("truncated"))?;
            let flags = be16(head, STAT + self.hash_len).ok_or_else(|| bad("truncated"))?;
            let mut p = at + fixed;
            let mut intent_to_add = false;
            if flags & EXTENDED != 0 {
                if self.version < 3 {
                    bail!(bad("extended flags in a version 2 index"));
                }
                let ext = be16(data, p).ok_or_else(|| bad("truncated"))?;
                intent_to_add = ext & INTENT_TO_ADD != 0;
                p += 2;
            }
            let id = &head[STAT..STAT + self.hash_len];
            if self.version == 4 {
                let (strip, used) = data
                    .get(p..)
                    .and_then(varint)
                    .ok_or_else(|| bad("bad path prefix length"))?;
                p += used;
                let rest = data.get(p..).unwrap_or_default();
                let nul = memchr::memchr(0, rest).ok_or_else(|| bad("unterminated path"))?;
                let keep = path
                    .len()
                    .checked_sub(strip)
                    .ok_or_else(|| bad("path prefix longer than the previous path"))?;
                path.truncate(keep);
                path.extend_from_slice(&rest[..nul]);
                at = p + nul + 1;
                f(EntryRef {
                    path: &path,
                    mode,
                    id,
                    intent_to_add,
                });
            } else {
                let len = match flags & NAME_MASK {
                    NAME_MASK => memchr::memchr(0, data.get(p..).unwrap_or_default())
                        .ok_or_else(|| bad("unterminated path"))?,
                    n => n as usize,
                };
                let name = data.get(p..p + len).ok_or_else(|| bad("truncated path"))?;
                // Entries are padded with 1 to 8 NULs to a multiple of 8 bytes.
                let next = at + (p - at + len + 8) / 8 * 8;
                if next > data.len() {
                    bail!(bad("truncated padding"));
                }
                f(EntryRef {
                    path: name,
                    mode,
                    id,
                    intent_to_add,
                });
                at = next;
            }
        }
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .expect("git");
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }

    /// A repository with nested folders, a symlink, a commit (so the cache tree exists), then a modification
    /// and an intent-to-add entry (extended flags: version 3); with `long`, also a path over 4,095 bytes.
    fn repo(long: bool) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        git(d, &["init", "-q"]);
        for (p, body) in [
            ("a.txt", "a"),
            ("dir/b.txt", "b"),
            ("dir/sub/c.txt", "c"),
            ("dir-x/d.txt", "d"),
            ("zz/e.txt", "e"),
        ] {
            let f = d.join(p);
            std::fs::create_dir_all(f.parent().expect("parent")).expect("mkdir");
            std::fs::write(f, body).expect("write");
        }
        // A path over 4,095 bytes (its length no longer fits the entry's flags), staged without a file.
        let long = long.then(|| -> Vec<String> {
            (0..22).map(|i| format!("{i}{}", "x".repeat(200))).collect()
        });
        if let Some(long) = long {
            let long = format!("long/{}/f.txt", long.join("/"));
            let blob = "2e65efe2a145dda7ee51d1741299f848e5bf752e"; // `git hash-object` of "a"
            git(d, &["add", "a.txt"]);
            git(
                d,
                &[
                    "update-index",
                    "--add",
                    "--cacheinfo",
                    &format!("100644,{blob},{long}"),
                ],
            );
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink("a.txt", d.join("link")).expect("symlink");
        git(d, &["add", "-A"]);
        git(d, &["commit", "-qm", "one"]);
        std::fs::write(d.join("dir/b.txt"), "b2").expect("write");
        std::fs::write(d.join("new.txt"), "n").expect("write");
        git(d, &["add", "dir/b.txt"]);
        git(d, &["add", "-N", "new.txt"]);
        tmp
    }

    type Row = (Vec<u8>, u32, Vec<u8>, bool);

    fn lean(dir: &Path) -> (Vec<Row>, Option<Tree>) {
        let index = Index::open(&dir.join(".git/index"), gix::hash::Kind::Sha1)
            .expect("open")
            .expect("not split");
        let mut rows = Vec::new();
        index
            .for_each(|e| rows.push((e.path.to_vec(), e.mode, e.id.to_vec(), e.intent_to_add)))
            .expect("walk");
        assert_eq!(rows.len(), index.count as usize);
        (rows, index.tree().cloned())
    }

    fn gix_rows(dir: &Path) -> (Vec<Row>, Option<Tree>) {
        let index = gix::index::File::at(
            dir.join(".git/index"),
            gix::hash::Kind::Sha1,
            true,
            Default::default(),
        )
        .expect("gix");
        let rows = index
            .entries()
            .iter()
            .map(|e| {
                (
                    e.path(&index).to_vec(),
                    e.mode.bits(),
                    e.id.as_slice().to_vec(),
                    e.flags.contains(gix::index::entry::Flags::INTENT_TO_ADD),
                )
            })
            .collect();
        (rows, index.tree().cloned())
    }

    #[test]
    fn entries_and_cache_tree_are_those_gix_decodes_in_every_version() {
        let tmp = repo(false);
        let d = tmp.path();
        for version in ["3", "4", "2"] {
            if version == "2" {
                // Version 2 cannot hold the intent-to-add flag.
                git(d, &["rm", "-q", "--cached", "new.txt"]);
            }
            git(d, &["update-index", "--index-version", version]);
            let raw = std::fs::read(d.join(".git/index")).expect("read");
            assert_eq!(be32(&raw, 4), Some(version.parse().expect("n")));
            let (got, tree) = lean(d);
            let (want, want_tree) = gix_rows(d);
            assert_eq!(got, want, "version {version}");
            assert!(got.len() >= 6, "{got:?}");
            assert_eq!(
                got.iter().filter(|r| r.3).count(),
                usize::from(version != "2")
            );
            assert!(got.iter().any(|r| r.1 == 0o100644));
            let tree = tree.expect("a cache tree");
            let want_tree = want_tree.expect("gix's cache tree");
            assert_eq!(format!("{tree:?}"), format!("{want_tree:?}"));
            assert!(!tree.children.is_empty());
        }
    }

    /// A path too long for the entry's length field (gix-index cannot read this one: git's own listing is the
    /// reference), and the entries after it.
    #[test]
    fn entries_are_those_git_lists_with_a_path_over_4095_bytes() {
        let tmp = repo(true);
        let d = tmp.path();
        for version in ["3", "4"] {
            git(d, &["update-index", "--index-version", version]);
            let out = Command::new("git")
                .arg("-C")
                .arg(d)
                .args(["ls-files", "-s", "-z"])
                .output()
                .expect("git ls-files");
            let want: Vec<(Vec<u8>, u32, String)> = out
                .stdout
                .split(|&b| b == 0)
                .filter(|r| !r.is_empty())
                .map(|r| {
                    let tab = r.iter().position(|&b| b == b'\t').expect("tab");
                    let meta = String::from_utf8_lossy(&r[..tab]).into_owned();
                    let mut f = meta.split(' ');
                    let mode = u32::from_str_radix(f.next().expect("mode"), 8).expect("octal");
                    (
                        r[tab + 1..].to_vec(),
                        mode,
                        f.next().expect("oid").to_string(),
                    )
                })
                .collect();
            let (got, _) = lean(d);
            let got: Vec<(Vec<u8>, u32, String)> = got
                .into_iter()
                .map(|(p, m, id, _)| (p, m, id.iter().map(|b| format!("{b:02x}")).collect()))
                .collect();
            assert_eq!(got, want, "version {version}");
            assert!(got.iter().any(|r| r.0.len() > 4400), "the long path");
        }
    }

    #[test]
    fn a_split_index_is_left_to_gix() {
        let tmp = repo(false);
        let d = tmp.path();
        git(d, &["update-index", "--split-index"]);
        let index = Index::open(&d.join(".git/index"), gix::hash::Kind::Sha1).expect("open");
        assert!(index.is_none());
    }

    /// Truncated and corrupted files are errors or walk what they hold, never a panic, and never read past
    /// the end.
    #[test]
    fn damaged_index_files_are_errors_not_panics() {
        let tmp = repo(false);
        let d = tmp.path();
        for version in ["3", "4"] {
            git(d, &["update-index", "--index-version", version]);
            let good = std::fs::read(d.join(".git/index")).expect("read");
            let path = tmp.path().join("damaged");
            let open = |bytes: &[u8]| {
                std::fs::write(&path, bytes).expect("write");
                Index::open(&path, gix::hash::Kind::Sha1).map(|i| {
                    let mut n = 0;
                    i.map(|i| i.for_each(|_| n += 1))
                })
            };
            let entries_end = Index::open(&d.join(".git/index"), gix::hash::Kind::Sha1)
                .expect("open")
                .expect("not split")
                .entries_end;
            for cut in 0..good.len() {
                if cut < entries_end + 20 {
                    assert!(
                        open(&good[..cut]).is_err(),
                        "cut at {cut} of {}",
                        good.len()
                    );
                } else {
                    let _ = open(&good[..cut]);
                }
            }
            // Every byte set to 0xff in turn (counts, lengths, flags, path bytes).
            for i in 0..good.len() {
                let mut bad = good.clone();
                bad[i] = 0xff;
                let _ = open(&bad);
                bad[i] = 0;
                let _ = open(&bad);
            }
            assert!(open(b"DIRC\0\0\0\x09\0\0\0\0aaaaaaaaaaaaaaaaaaaa").is_err());
            assert!(open(b"not an index").is_err());
        }
    }

    #[test]
    fn varints_are_gits() {
        assert_eq!(varint(&[0x05]), Some((5, 1)));
        // 0x80 0x00 is 128 in git's encoding (each continuation adds one).
        assert_eq!(varint(&[0x80, 0x00]), Some((128, 2)));
        assert_eq!(varint(&[0x81, 0x7f]), Some((((1 + 1) << 7) + 127, 2)));
        assert_eq!(varint(&[0x80]), None);
        assert_eq!(varint(&[0xff; 12]), None);
    }
}
