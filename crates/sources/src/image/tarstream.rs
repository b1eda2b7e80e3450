//! Bounded tar iteration for layers, nested archives and image tarballs. The `tar` crate's `Entries` reads a GNU
//! long name (`L`) or a PAX header (`x`) whole into memory, however large its size field says it is; this reader
//! walks the headers itself and keeps at most `MAX_PATH_LEN` bytes of a path and at most `MAX_EXTENSION_HEADER`
//! bytes of a PAX header, skipping the rest by streaming (or seeking), so a hostile header costs time linear in its
//! size and no memory. Field parsing (checksum, octal and base-256 sizes, the ustar prefix, PAX records) is the
//! `tar` crate's; this module owns only the walk: extension headers applied to the entry they precede (a GNU
//! long name wins over a PAX `path`, a PAX `size` overrides the header's, as in Go's `archive/tar`, which
//! container runtimes use), GNU sparse extension blocks stepped over, data read or skipped on request. Knows
//! nothing of layers, images or scanning; the caller words the warnings.
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// Longest path kept for an entry (Linux `PATH_MAX`); a longer GNU long name or PAX `path` is cut to this and the
/// entry is reported with the cut path.
pub const MAX_PATH_LEN: usize = 4096;

/// Largest PAX extended header read (the limit Go's `archive/tar`, and so Docker and containerd, apply to PAX and
/// GNU long-name headers); a larger one is skipped unread and its records are ignored.
pub const MAX_EXTENSION_HEADER: u64 = 1 << 20;

const BLOCK: u64 = 512;

/// A byte stream tar entries are read from, with a way to skip data without holding it.
pub trait TarInput: Read {
    /// Skip `n` bytes; fails with `UnexpectedEof` when the stream ends first.
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let copied = io::copy(&mut Read::take(&mut *self, n), &mut io::sink())?;
        if copied < n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive ends inside an entry",
            ));
        }
        Ok(())
    }
}

impl TarInput for &[u8] {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let all = *self;
        let Some(rest) = usize::try_from(n).ok().and_then(|n| all.get(n..)) else {
            *self = &[];
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive ends inside an entry",
            ));
        };
        *self = rest;
        Ok(())
    }
}

impl TarInput for File {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let n = i64::try_from(n).map_err(|_| io::Error::other("entry size out of range"))?;
        self.seek(SeekFrom::Current(n)).map(|_| ())
    }
}

/// Something unusual about an entry's headers, for the caller to warn about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderNote {
    /// The path (GNU long name or PAX `path`) was `len` bytes and was cut to `MAX_PATH_LEN`.
    PathCut { len: u64 },
    /// A PAX header of `size` bytes was over `MAX_EXTENSION_HEADER` and was skipped unread.
    PaxSkipped { size: u64 },
}

/// One entry of the archive, extension headers applied.
#[derive(Debug, Clone)]
pub struct TarEntry {
    /// The entry's path, lossy UTF-8, at most `MAX_PATH_LEN` bytes, plus `…#` and a 12-hex-digit hash of the
    /// whole path when cut.
    pub path: String,
    pub kind: tar::EntryType,
    /// Bytes of data the entry has in the archive.
    pub size: u64,
    /// Offset of the data from the start of the stream.
    pub data_offset: u64,
    /// Offset of the entry's first header (its first extension header, if any).
    pub header_offset: u64,
    pub notes: Vec<HeaderNote>,
}

/// Walks the entries of a tar stream.
pub struct TarReader<R> {
    inner: R,
    pos: u64,
    /// Data bytes of the current entry not read yet, then its padding.
    remaining: u64,
    padding: u64,
    done: bool,
}

/// A path cut to its first `MAX_PATH_LEN` bytes, then `…#` and 12 hex digits of the SHA-256 of the whole path:
/// two long paths with the same beginning stay two paths.
fn cut_path(head: &[u8], digest: &[u8; 32]) -> String {
    let mut p = String::from_utf8_lossy(head).into_owned();
    p.push_str("…#");
    for b in &digest[..6] {
        p.push_str(&format!("{b:02x}"));
    }
    p
}

fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

impl<R: TarInput> TarReader<R> {
    pub fn new(inner: R) -> Self {
        TarReader {
            inner,
            pos: 0,
            remaining: 0,
            padding: 0,
            done: false,
        }
    }

    pub fn into_inner(self) -> R {
        self.inner
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        self.inner.skip(n)?;
        self.pos += n;
        Ok(())
    }

    /// Read one header block; `false` at a clean end of stream.
    fn read_block(&mut self, block: &mut [u8; 512]) -> io::Result<bool> {
        let mut read = 0;
        while read < block.len() {
            match self.inner.read(&mut block[read..]) {
                Ok(0) if read == 0 => return Ok(false),
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("archive ends inside a header at byte {}", self.pos),
                    ))
                }
                Ok(n) => read += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pos += BLOCK;
        Ok(true)
    }

    /// Read an extension header's data whole (`size` is at most `MAX_EXTENSION_HEADER`), then its padding.
    fn read_extension(&mut self, size: u64) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        (&mut self.inner).take(size).read_to_end(&mut out)?;
        if (out.len() as u64) < size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive ends inside an extension header",
            ));
        }
        self.pos += size;
        self.skip(padding(size))?;
        Ok(out)
    }

    /// Stream a GNU long name: keep its first `MAX_PATH_LEN + 1` bytes, hash all of it, skip the padding. Returns
    /// the kept bytes, the hash and the name's length without its trailing NULs.
    fn read_long_name(&mut self, size: u64) -> io::Result<(Vec<u8>, [u8; 32], u64)> {
        let keep = MAX_PATH_LEN + 1;
        let mut head = Vec::new();
        let mut hash = Sha256::new();
        let mut left = size;
        let mut trailing = 0u64;
        let mut buf = [0u8; 16 << 10];
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            let n = match self.inner.read(&mut buf[..want]) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "archive ends inside a GNU long name",
                    ))
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hash.update(&buf[..n]);
            trailing = match buf[..n].iter().rposition(|&b| b != 0) {
                Some(i) => (n - i - 1) as u64,
                None => trailing + n as u64,
            };
            let room = keep.saturating_sub(head.len()).min(n);
            head.extend_from_slice(&buf[..room]);
            left -= n as u64;
            self.pos += n as u64;
        }
        self.skip(padding(size))?;
        Ok((head, hash.finalize().into(), size - trailing))
    }

    /// The next entry, or `None` at the end of the archive. Data of the previous entry that was not read is
    /// skipped.
    pub fn next_entry(&mut self) -> io::Result<Option<TarEntry>> {
        if self.done {
            return Ok(None);
        }
        let rest = self.remaining + self.padding;
        self.remaining = 0;
        self.padding = 0;
        self.skip(rest)?;
        let header_offset = self.pos;
        let mut long_name: Option<(Vec<u8>, [u8; 32])> = None;
        let mut pax_path: Option<Vec<u8>> = None;
        let mut pax_size: Option<u64> = None;
        let mut notes = Vec::new();
        let mut pending = false;
        let mut block = [0u8; 512];
        loop {
            let at = self.pos;
            if !self.read_block(&mut block)? || block.iter().all(|&b| b == 0) {
                self.done = true;
                if pending {
                    return Err(io::Error::other(
                        "extension headers at the end of the archive describe no entry",
                    ));
                }
                return Ok(None);
            }
            let header = tar::Header::from_byte_slice(&block).clone();
            let sum: u32 = block[..148]
                .iter()
                .chain(&block[156..])
                .map(|&b| b as u32)
                .sum::<u32>()
                + 8 * 32;
            if header.cksum().ok() != Some(sum) {
                return Err(io::Error::other(format!(
                    "tar header checksum mismatch at byte {at}"
                )));
            }
            let kind = header.entry_type();
            let size = header.entry_size()?;
            match kind {
                tar::EntryType::GNULongName => {
                    let (mut name, digest, len) = self.read_long_name(size)?;
                    while name.last() == Some(&0) {
                        name.pop();
                    }
                    notes.retain(|n| !matches!(n, HeaderNote::PathCut { .. }));
                    if len > MAX_PATH_LEN as u64 {
                        notes.push(HeaderNote::PathCut { len });
                    }
                    long_name = Some((name, digest));
                    pending = true;
                }
                tar::EntryType::XHeader => {
                    if size > MAX_EXTENSION_HEADER {
                        self.skip(size + padding(size))?;
                        notes.push(HeaderNote::PaxSkipped { size });
                    } else {
                        let data = self.read_extension(size)?;
                        for rec in tar::PaxExtensions::new(&data) {
                            // A malformed record ends the header, as in the `tar` crate.
                            let Ok(rec) = rec else { break };
                            match rec.key_bytes() {
                                b"path" => pax_path = Some(rec.value_bytes().to_vec()),
                                b"size" => {
                                    pax_size =
                                        rec.value().ok().and_then(|v| v.trim().parse::<u64>().ok())
                                }
                                _ => {}
                            }
                        }
                    }
                    pending = true;
                }
                tar::EntryType::GNULongLink | tar::EntryType::XGlobalHeader => {
                    self.skip(size + padding(size))?;
                    pending = true;
                }
                _ => {
                    if kind.is_gnu_sparse() {
                        // Extension blocks listing further sparse chunks sit between header and data.
                        let mut extended = header.as_gnu().is_some_and(|g| g.isextended[0] != 0);
                        while extended {
                            if !self.read_block(&mut block)? {
                                return Err(io::Error::new(
                                    io::ErrorKind::UnexpectedEof,
                                    "archive ends inside a sparse header",
                                ));
                            }
                            extended = block[504] != 0;
                        }
                    }
                    let size = pax_size.unwrap_or(size);
                    let (path, digest) = match (long_name, pax_path) {
                        (Some((n, d)), _) => (n, d),
                        (None, Some(p)) => {
                            if p.len() > MAX_PATH_LEN {
                                notes.push(HeaderNote::PathCut {
                                    len: p.len() as u64,
                                });
                            }
                            let d = Sha256::digest(&p).into();
                            (p, d)
                        }
                        (None, None) => (header.path_bytes().into_owned(), [0; 32]),
                    };
                    let path = if path.len() > MAX_PATH_LEN {
                        cut_path(&path[..MAX_PATH_LEN], &digest)
                    } else {
                        String::from_utf8_lossy(&path).into_owned()
                    };
                    self.remaining = size;
                    self.padding = padding(size);
                    return Ok(Some(TarEntry {
                        path,
                        kind,
                        size,
                        data_offset: self.pos,
                        header_offset,
                        notes,
                    }));
                }
            }
        }
    }

    /// Read up to `max` bytes of the current entry's data into `buf` (cleared first).
    pub fn read_data(&mut self, max: u64, buf: &mut Vec<u8>) -> io::Result<()> {
        buf.clear();
        let want = self.remaining.min(max);
        (&mut self.inner).take(want).read_to_end(buf)?;
        let got = buf.len() as u64;
        self.pos += got;
        self.remaining -= got;
        if got < want {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive ends inside an entry",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(path: &str, kind: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_size(size);
        h.set_mode(0o644);
        h.set_entry_type(kind);
        h.set_cksum();
        h
    }

    fn entries(data: &[u8]) -> Vec<(TarEntry, Vec<u8>)> {
        let mut r = TarReader::new(data);
        let mut out = Vec::new();
        while let Some(e) = r.next_entry().unwrap() {
            let mut buf = Vec::new();
            r.read_data(u64::MAX, &mut buf).unwrap();
            out.push((e, buf));
        }
        out
    }

    #[test]
    fn long_names_and_pax_headers_are_capped() {
        let long = "d/".repeat(300_000) + "f.txt";
        let long_pax = format!("{long}/2");
        let mut b = tar::Builder::new(Vec::new());
        // GNU long name (the builder writes an `L` entry for a long path).
        let mut h = tar::Header::new_gnu();
        h.set_size(4);
        h.set_mode(0o644);
        b.append_data(&mut h, &long, &b"abcd"[..]).unwrap();
        // A PAX path with the same beginning, then a normal entry.
        b.append_pax_extensions([("path", long_pax.as_bytes())])
            .unwrap();
        b.append(&header("short", tar::EntryType::Regular, 2), &b"xy"[..])
            .unwrap();
        b.append(
            &header("plain.txt", tar::EntryType::Regular, 5),
            &b"hello"[..],
        )
        .unwrap();
        let data = b.into_inner().unwrap();
        let got = entries(&data);
        assert_eq!(got.len(), 3);
        assert_ne!(got[0].0.path, got[1].0.path, "a hash keeps cut paths apart");
        for ((e, _), len) in got[..2].iter().zip([long.len(), long_pax.len()]) {
            assert!(e.path.len() <= MAX_PATH_LEN + 16, "{}", e.path.len());
            assert!(e.path.starts_with("d/d/") && e.path.contains("…#"));
            assert_eq!(e.notes, vec![HeaderNote::PathCut { len: len as u64 }]);
        }
        assert_eq!(got[0].1, b"abcd");
        assert_eq!(got[1].1, b"xy");
        assert_eq!(got[2].0.path, "plain.txt");
        assert_eq!(got[2].1, b"hello");
        assert!(got[2].0.notes.is_empty());
    }

    #[test]
    fn pax_size_overrides_and_huge_pax_headers_are_skipped() {
        let mut b = tar::Builder::new(Vec::new());
        // The header says 0 bytes, PAX says 6 (Go writes sizes over 8 GiB so).
        b.append_pax_extensions([("size", &b"6"[..]), ("path", &b"real/name.txt"[..])])
            .unwrap();
        let mut h = header("ustar-name", tar::EntryType::Regular, 0);
        h.set_cksum();
        b.append(&h, &b""[..]).unwrap();
        let mut data = b.into_inner().unwrap();
        // Six data bytes and their padding follow the header.
        let end = data.len() - 1024;
        data.truncate(end);
        let mut block = [0u8; 512];
        block[..6].copy_from_slice(b"secret");
        data.extend_from_slice(&block);
        // A PAX header of 2 MiB, never read whole, before a normal entry.
        let big = vec![b'a'; 2 << 20];
        let mut x = header("pax", tar::EntryType::XHeader, big.len() as u64);
        x.set_cksum();
        data.extend_from_slice(x.as_bytes());
        data.extend_from_slice(&big);
        data.extend_from_slice(header("after.txt", tar::EntryType::Regular, 2).as_bytes());
        let mut block = [0u8; 512];
        block[..2].copy_from_slice(b"ok");
        data.extend_from_slice(&block);
        data.extend_from_slice(&[0u8; 1024]);
        let got = entries(&data);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0.path, "real/name.txt");
        assert_eq!(got[0].1, b"secret");
        assert_eq!(got[1].0.path, "after.txt");
        assert_eq!(got[1].1, b"ok");
        assert_eq!(
            got[1].0.notes,
            vec![HeaderNote::PaxSkipped {
                size: big.len() as u64
            }]
        );
    }

    #[test]
    fn corrupt_and_truncated_archives_are_errors() {
        let mut data = header("a.txt", tar::EntryType::Regular, 3)
            .as_bytes()
            .to_vec();
        data[0] ^= 1;
        assert!(TarReader::new(&data[..]).next_entry().is_err());
        let data = header("a.txt", tar::EntryType::Regular, 3000)
            .as_bytes()
            .to_vec();
        let mut r = TarReader::new(&data[..]);
        assert!(r.next_entry().unwrap().is_some());
        assert!(r.read_data(u64::MAX, &mut Vec::new()).is_err());
        let l = header("././@LongLink", tar::EntryType::GNULongName, 1 << 40);
        assert!(TarReader::new(l.as_bytes().as_slice())
            .next_entry()
            .is_err());
    }
}
