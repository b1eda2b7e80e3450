//! Text encodings other than UTF-8: detection of UTF-16 and UTF-32 (little and big endian) by byte-order
//! mark or, without one, by the NUL pattern ASCII-range text has in them, and transcoding to UTF-8 with a map
//! from UTF-8 offsets back to the raw bytes. Windows tools write `.env` files and `appsettings.json` in
//! UTF-16; read as bytes, such text has a NUL every other byte and was skipped as binary. Owns nothing else:
//! the scanner decides what to do with the text (`scan::Scanner::find_in_blob`).

/// A wide Unicode encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf16Le,
    Utf16Be,
    Utf32Le,
    Utf32Be,
}

impl Encoding {
    /// Bytes per code unit.
    fn unit(self) -> usize {
        match self {
            Encoding::Utf16Le | Encoding::Utf16Be => 2,
            Encoding::Utf32Le | Encoding::Utf32Be => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf16Le => "UTF-16LE",
            Encoding::Utf16Be => "UTF-16BE",
            Encoding::Utf32Le => "UTF-32LE",
            Encoding::Utf32Be => "UTF-32BE",
        }
    }
}

/// How many leading bytes the NUL-pattern heuristic looks at.
const SNIFF: usize = 1024;

/// Whether one code unit of `encoding` holds an ASCII character (the NUL pattern of ASCII-range text).
fn ascii_unit(encoding: Encoding, u: &[u8]) -> bool {
    match encoding {
        Encoding::Utf16Le => u[0] != 0 && u[1] == 0,
        Encoding::Utf16Be => u[0] == 0 && u[1] != 0,
        Encoding::Utf32Le => u[0] != 0 && u[1..] == [0, 0, 0],
        Encoding::Utf32Be => u[..3] == [0, 0, 0] && u[3] != 0,
    }
}

/// The encoding of `data` and the length of its byte-order mark (0 when detected without one), or `None`
/// for anything else (UTF-8, other 8-bit text, binary).
///
/// A mark alone is not enough: `FF FE` also starts Latin-1 text (`ÿþ`) and binary files. After a mark, at
/// least one ASCII character (a newline, a space, `=`…) must show its encoding's NUL pattern within the first
/// KiB. Without a mark, nine in ten code units of the first KiB must be ASCII characters of the encoding
/// (a few non-ASCII ones do not hide it), and at least four of them (a tiny binary blob does not look like
/// text by chance).
pub fn detect(data: &[u8]) -> Option<(Encoding, usize)> {
    // Every test below needs a NUL byte in the first KiB (after a mark): most blobs have none, and one
    // vectorised search settles them.
    memchr::memchr(0, &data[..data.len().min(SNIFF + 4)])?;
    // UTF-32LE's mark starts with UTF-16LE's: test it first.
    let marks: [(&[u8], Encoding); 4] = [
        (&[0xFF, 0xFE, 0, 0], Encoding::Utf32Le),
        (&[0, 0, 0xFE, 0xFF], Encoding::Utf32Be),
        (&[0xFF, 0xFE], Encoding::Utf16Le),
        (&[0xFE, 0xFF], Encoding::Utf16Be),
    ];
    for (mark, e) in marks {
        if data.starts_with(mark) {
            let body = &data[mark.len()..];
            let head = &body[..body.len().min(SNIFF)];
            if head.chunks_exact(e.unit()).any(|u| ascii_unit(e, u)) {
                return Some((e, mark.len()));
            }
        }
    }
    let head = &data[..data.len().min(SNIFF)];
    [
        Encoding::Utf32Le,
        Encoding::Utf32Be,
        Encoding::Utf16Le,
        Encoding::Utf16Be,
    ]
    .into_iter()
    .find(|&e| {
        let units = head.chunks_exact(e.unit());
        let n = units.len();
        n >= 4 && units.filter(|u| ascii_unit(e, u)).count() * 10 >= n * 9
    })
    .map(|e| (e, 0))
}

/// UTF-8 text transcoded from a wide encoding, with its map back to the raw bytes.
#[derive(Debug, Clone)]
pub struct Transcoded {
    pub encoding: Encoding,
    pub text: Vec<u8>,
    pub map: UnitMap,
}

/// Maps offsets in transcoded UTF-8 text back to raw offsets. Runs of characters of the same widths (UTF-8
/// bytes, raw bytes) are one entry each: ASCII text in UTF-16 is a single run however long it is.
#[derive(Debug, Clone, Default)]
pub struct UnitMap {
    runs: Vec<Run>,
}

#[derive(Debug, Clone, Copy)]
struct Run {
    decoded: usize,
    raw: usize,
    /// UTF-8 bytes and raw bytes of each character of the run.
    decoded_width: u8,
    raw_width: u8,
}

impl UnitMap {
    fn push(&mut self, decoded: usize, raw: usize, decoded_width: u8, raw_width: u8) {
        if let Some(last) = self.runs.last() {
            if last.decoded_width == decoded_width && last.raw_width == raw_width {
                return;
            }
        }
        self.runs.push(Run {
            decoded,
            raw,
            decoded_width,
            raw_width,
        });
    }

    /// Raw offset of a UTF-8 offset (at a character boundary; inside a character: that character's start).
    pub fn to_raw(&self, decoded: usize) -> usize {
        match self.runs.partition_point(|r| r.decoded <= decoded) {
            0 => decoded,
            i => {
                let r = self.runs[i - 1];
                let chars = (decoded - r.decoded) / usize::from(r.decoded_width.max(1));
                r.raw + chars * usize::from(r.raw_width)
            }
        }
    }
}

/// Transcode `data` from `encoding` (after a mark of `bom` bytes) to UTF-8. Invalid code units (lone
/// surrogates, values past U+10FFFF) become U+FFFD; a trailing partial code unit is dropped.
pub fn transcode(data: &[u8], encoding: Encoding, bom: usize) -> Transcoded {
    let body = data.get(bom..).unwrap_or_default();
    let unit = encoding.unit();
    let mut text = Vec::with_capacity(body.len() / unit + 16);
    let mut map = UnitMap::default();
    let mut raw = bom;
    let mut put = |c: char, raw_len: usize, raw: &mut usize| {
        let mut buf = [0u8; 4];
        let s = c.encode_utf8(&mut buf);
        map.push(text.len(), *raw, s.len() as u8, raw_len as u8);
        text.extend_from_slice(s.as_bytes());
        *raw += raw_len;
    };
    match encoding {
        Encoding::Utf16Le | Encoding::Utf16Be => {
            let units = body.chunks_exact(2).map(|u| match encoding {
                Encoding::Utf16Le => u16::from_le_bytes([u[0], u[1]]),
                _ => u16::from_be_bytes([u[0], u[1]]),
            });
            for c in char::decode_utf16(units) {
                match c {
                    Ok(c) => put(c, 2 * c.len_utf16(), &mut raw),
                    Err(_) => put(char::REPLACEMENT_CHARACTER, 2, &mut raw),
                }
            }
        }
        Encoding::Utf32Le | Encoding::Utf32Be => {
            for u in body.chunks_exact(4) {
                let v = match encoding {
                    Encoding::Utf32Le => u32::from_le_bytes([u[0], u[1], u[2], u[3]]),
                    _ => u32::from_be_bytes([u[0], u[1], u[2], u[3]]),
                };
                put(
                    char::from_u32(v).unwrap_or(char::REPLACEMENT_CHARACTER),
                    4,
                    &mut raw,
                );
            }
        }
    }
    Transcoded {
        encoding,
        text,
        map,
    }
}

/// Detect a wide encoding and transcode; `None` for anything else.
pub fn decode_wide(data: &[u8]) -> Option<Transcoded> {
    detect(data).map(|(e, bom)| transcode(data, e, bom))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str, be: bool) -> Vec<u8> {
        s.encode_utf16()
            .flat_map(|u| if be { u.to_be_bytes() } else { u.to_le_bytes() })
            .collect()
    }

    #[test]
    fn detects_by_mark_and_by_nul_pattern() {
        let text = "KEY=value\nOTHER=thing\n";
        let mut le = vec![0xFF, 0xFE];
        le.extend(utf16(text, false));
        assert_eq!(detect(&le), Some((Encoding::Utf16Le, 2)));
        assert_eq!(detect(&utf16(text, false)), Some((Encoding::Utf16Le, 0)));
        assert_eq!(detect(&utf16(text, true)), Some((Encoding::Utf16Be, 0)));
        let u32le: Vec<u8> = text
            .chars()
            .flat_map(|c| (c as u32).to_le_bytes())
            .collect();
        assert_eq!(detect(&u32le), Some((Encoding::Utf32Le, 0)));
        let u32be: Vec<u8> = text
            .chars()
            .flat_map(|c| (c as u32).to_be_bytes())
            .collect();
        assert_eq!(detect(&u32be), Some((Encoding::Utf32Be, 0)));
        assert_eq!(detect(text.as_bytes()), None);
        // Latin-1 text starting with "ÿþ" is no UTF-16.
        assert_eq!(detect(b"\xff\xfe token = abcdefgh\n"), None);
        assert_eq!(detect(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0"), None);
    }

    #[test]
    fn transcoded_offsets_map_back_to_raw_bytes() {
        // ASCII, two-byte, three-byte and astral characters, and a lone surrogate.
        let text = "a=é€😀b";
        let mut raw = vec![0xFE, 0xFF];
        raw.extend(utf16(text, true));
        raw.extend([0xD8, 0x00]); // a lone high surrogate at the end
        let t = decode_wide(&raw).expect("utf-16be");
        assert_eq!(t.encoding, Encoding::Utf16Be);
        assert_eq!(
            String::from_utf8(t.text.clone()).unwrap(),
            format!("{text}\u{FFFD}")
        );
        let b = text.find('b').unwrap();
        // raw: mark 2, 'a' '=' 'é' '€' 2 each, '😀' 4.
        assert_eq!(t.map.to_raw(0), 2);
        assert_eq!(t.map.to_raw(text.find('€').unwrap()), 8);
        assert_eq!(t.map.to_raw(b), 14);
        assert_eq!(t.map.to_raw(t.text.len()), raw.len());
    }
}
