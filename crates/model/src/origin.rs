//! A blob as a source hands it over (`Origin`: source name, path, typed provenance, which every location of a
//! finding in that blob repeats); and the binary sniff sources and decoders share. Knows nothing of how
//! blobs are read or scanned.
use crate::provenance::Meta;
use std::sync::Arc;

/// Where a blob came from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// `file`, `stdin`, `git`, `image`, …
    pub source: &'static str,
    /// Display path, also used to choose a decoder by name; shared (not copied) by the locations found in the blob.
    pub path: Arc<str>,
    /// Ignored by .gitignore (scanned only with `--no-ignore`).
    pub ignored: bool,
    /// Provenance copied into every location found in this blob (content id, commit, image, …; a source
    /// that knows the blob id sets `meta.blob`, else `BlobSink::scan_blob` computes it when there are
    /// findings). Its `detail` is left to the decoders.
    pub meta: Meta,
    /// Where the blob is, for messages about it (`commit 1a2b3c4d5e6f`): warnings name it after the path. Not
    /// copied into locations (a source completes their provenance itself).
    pub context: Option<Arc<str>>,
}

impl Origin {
    pub fn new(source: &'static str, path: impl Into<Arc<str>>) -> Self {
        Origin {
            source,
            path: path.into(),
            ..Default::default()
        }
    }
}

/// How many leading bytes the binary sniff looks at.
const SNIFF: usize = 8192;

/// Heuristic binary sniff over the first 8 KiB: binary when NULs are more than one in 200 bytes (at least
/// two of them), or other control bytes (C0 but tab, line feed, vertical tab, form feed, carriage return and
/// escape; DEL) more than one in 20. A single stray NUL in a text file no longer hides it, while executables,
/// images and compressed data (a NUL every ~256 bytes and ~11% control bytes) stay binary. Text in UTF-16 or
/// UTF-32 is detected and transcoded before this sniff (`decode::encoding`).
pub fn looks_binary(data: &[u8]) -> bool {
    let head = &data[..data.len().min(SNIFF)];
    let nuls = memchr::memchr_iter(0, head).count();
    if nuls == 0 {
        return false;
    }
    let controls = head
        .iter()
        .filter(|&&b| {
            (b < 0x20 && !matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | 0x1B)) || b == 0x7F
        })
        .count();
    (nuls >= 2 && nuls * 200 > head.len()) || controls * 20 > head.len()
}

#[cfg(test)]
mod tests {
    use super::looks_binary;

    #[test]
    fn one_stray_nul_is_text_executables_and_compressed_data_are_binary() {
        let mut text = "line of text = value\n".repeat(300).into_bytes();
        assert!(!looks_binary(&text));
        text[100] = 0;
        assert!(!looks_binary(&text), "one stray NUL");
        let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0\x3e\0\x01\0\0\0".to_vec();
        elf.extend(std::iter::repeat_n(0u8, 64));
        assert!(looks_binary(&elf));
        // Pseudo-random bytes, like compressed data.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..8192)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert!(looks_binary(&noise));
        assert!(!looks_binary(b""));
    }
}
