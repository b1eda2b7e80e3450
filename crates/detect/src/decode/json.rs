//! JSON as a person reads it: string escapes (`\"`, `\/`, `\n`, `\uXXXX` with surrogate pairs) replaced in
//! place and ANSI colour codes dropped, with an `OffsetMap` back to the raw bytes; a kubeconfig's
//! `client-key-data` values base64-decoded (`k8s::kubeconfig_key_segments`), as Kubernetes Secrets' are. Also owns the tolerant,
//! depth-bounded JSON tree reader the structured decoders (notebooks, MCP configs, docker config) walk.
//! Works on bytes: invalid UTF-8 inside strings is carried through, never an error. Knows nothing of rules.
use super::{DecodeError, DecodeLimits, Decoder, OffsetMap, Segment};
use keysweep_model::Detail;
use std::borrow::Cow;

/// The generic JSON decoder: `.json`, `.jsonl`, `.ndjson`, `.har`, `.ipynb` (when the notebook decoder gave
/// up), and any blob whose first bytes look like a JSON object or array of objects.
pub struct JsonDecoder;

/// Whether a path names a JSON document by its extension.
pub fn json_name(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".json", ".jsonl", ".ndjson", ".har", ".ipynb", ".geojson"]
        .iter()
        .any(|e| lower.ends_with(e))
}

/// Whether the first bytes look like JSON text (an object, or an array of objects/strings), not binary.
pub fn looks_json(head: &[u8]) -> bool {
    if memchr::memchr(0, head).is_some() {
        return false;
    }
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let i = skip_ws(head, 0);
    match head.get(i) {
        Some(b'{') => matches!(
            head.get(skip_ws(head, i + 1)),
            Some(b'"') | Some(b'}') | None
        ),
        Some(b'[') => matches!(
            head.get(skip_ws(head, i + 1)),
            Some(b'{') | Some(b'"') | Some(b']') | None
        ),
        _ => false,
    }
}

impl Decoder for JsonDecoder {
    fn name(&self) -> &'static str {
        "json"
    }
    fn accepts(&self, _path: &str, head: &[u8]) -> bool {
        looks_json(head)
    }
    fn decode<'a>(
        &self,
        path: &str,
        data: &'a [u8],
        limits: &DecodeLimits,
        out: &mut Vec<Segment<'a>>,
    ) -> Result<(), DecodeError> {
        self.decode_with_warnings(path, data, limits, out, &mut Vec::new())
    }
    fn decode_with_warnings<'a>(
        &self,
        _path: &str,
        data: &'a [u8],
        limits: &DecodeLimits,
        out: &mut Vec<Segment<'a>>,
        warnings: &mut Vec<String>,
    ) -> Result<(), DecodeError> {
        let first = out.len();
        out.push(unescaped_segment(data, 0, data.len(), Detail::default()));
        if memchr::memmem::find(data, super::k8s::CLIENT_KEY).is_some() {
            // A kubeconfig in JSON form: its users' client keys, decoded like the YAML form's.
            let mut budget = limits.max_decoded_bytes;
            let mut spans = Vec::new();
            for (seg, span) in super::k8s::kubeconfig_key_segments(data) {
                if seg.text.len() > budget {
                    warnings.push(
                        "kubeconfig client keys beyond the max_decoded_bytes limit not decoded"
                            .into(),
                    );
                    break;
                }
                budget -= seg.text.len();
                out.push(seg);
                spans.push(span);
            }
            if !spans.is_empty() {
                // The text view without the base64 that was decoded (as the YAML form's): no rule reports
                // the encoded key next to the decoded one. Same length, so offsets hold.
                let mut masked = data.to_vec();
                for (s, e) in spans {
                    masked[s..e].fill(b' ');
                }
                let view = unescaped_segment(&masked, 0, masked.len(), Detail::default());
                out[first] = Segment {
                    text: Cow::Owned(view.text.into_owned()),
                    ..view
                };
            }
        }
        if memchr::memmem::find(data, b"\"Secret\"").is_some() {
            let kind = memchr::memmem::find(data, b"\"kind\"").is_some();
            if let (Err(e), true) = (k8s_json_secrets(data, out), kind) {
                warnings.push(format!(
                    "Kubernetes Secret values not base64-decoded ({e}); scanned as JSON text"
                ));
            }
        }
        Ok(())
    }
}

/// Kubernetes Secrets in JSON (`kubectl get secret -o json`, alone or in a `List`): `data` values are
/// base64-decoded like their YAML form. Secret fields sit at depth ≤ 5: deeper containers are skipped by an
/// iterative bracket matcher (linear, no recursion), so no nesting depth stops the decoding. A document that
/// does not parse is left to the unescaped segment and the error returned for a warning.
fn k8s_json_secrets<'a>(data: &'a [u8], out: &mut Vec<Segment<'a>>) -> Result<(), String> {
    let root = TreeReader::new(data, usize::MAX, 5).read()?;
    let docs: Vec<&Node> = match root.get(data, "items") {
        Some(items) => items.items().iter().collect(),
        None => vec![&root],
    };
    for doc in docs {
        if doc.get(data, "kind").and_then(|k| k.raw_str(data)) != Some(b"Secret") {
            continue;
        }
        let name = doc
            .get(data, "metadata")
            .and_then(|m| m.get(data, "name"))
            .and_then(|n| n.raw_str(data))
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        let Some(values) = doc.get(data, "data") else {
            continue;
        };
        for ((ks, ke), v) in values.entries() {
            if let Node::Str((s, e)) = v {
                let raw = &data[*s..*e];
                // Escapes (`\/`, `\u002b`) are decoded before the base64 is.
                let parsed = memchr::memchr(b'\\', raw).map(|_| {
                    let mut buf = Vec::with_capacity(raw.len());
                    unescape_into(data, *s, *e, &mut buf, &mut OffsetMap::default());
                    String::from_utf8_lossy(&buf).into_owned()
                });
                let key = &data[*ks..*ke];
                let seg = super::k8s::data_value_segment(&name, key, *s, raw, parsed.as_deref());
                out.extend(seg);
            }
        }
    }
    Ok(())
}

/// The raw span `data[start..end]` with JSON escapes replaced and ANSI codes dropped, as one segment. Borrows
/// the raw bytes when there is nothing to replace.
pub fn unescaped_segment<'a>(
    data: &'a [u8],
    start: usize,
    end: usize,
    meta: Detail,
) -> Segment<'a> {
    let slice = &data[start..end];
    let (text, map) = if memchr::memchr2(b'\\', 0x1b, slice).is_none() {
        (Cow::Borrowed(slice), OffsetMap::shifted(start))
    } else {
        let mut buf = Vec::with_capacity(slice.len());
        let mut map = OffsetMap::default();
        unescape_into(data, start, end, &mut buf, &mut map);
        (Cow::Owned(buf), map)
    };
    Segment {
        text,
        map,
        meta,
        segment_lines: false,
    }
}

/// Append `data[start..end]` to `out` with JSON escapes decoded and ANSI escape sequences removed, recording
/// in `map` where each copied run starts in the raw bytes. Never fails: a malformed escape is kept as is.
/// The output is never longer than the input.
pub fn unescape_into(
    data: &[u8],
    start: usize,
    end: usize,
    out: &mut Vec<u8>,
    map: &mut OffsetMap,
) {
    let end = end.min(data.len());
    let mut i = start.min(end);
    map.push(out.len(), i);
    while i < end {
        let Some(rel) = memchr::memchr2(b'\\', 0x1b, &data[i..end]) else {
            out.extend_from_slice(&data[i..end]);
            break;
        };
        out.extend_from_slice(&data[i..i + rel]);
        i += rel;
        if data[i] == 0x1b {
            i = skip_ansi(data, i + 1, end);
            map.push(out.len(), i);
            continue;
        }
        // A backslash escape.
        let Some(&c) = data.get(i + 1).filter(|_| i + 1 < end) else {
            out.push(b'\\');
            i += 1;
            continue;
        };
        let simple = match c {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'n' => Some(b'\n'),
            b't' => Some(b'\t'),
            b'r' => Some(b'\r'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            i += 2;
            map.push(out.len(), i);
            continue;
        }
        if c == b'u' {
            if let Some(cp) = hex4(data, i + 2, end) {
                let mut next = i + 6;
                let mut ch = char::from_u32(cp as u32);
                if (0xD800..0xDC00).contains(&cp) {
                    // A high surrogate: combine with a following low surrogate.
                    if data.get(next) == Some(&b'\\') && data.get(next + 1) == Some(&b'u') {
                        if let Some(lo) =
                            hex4(data, next + 2, end).filter(|lo| (0xDC00..0xE000).contains(lo))
                        {
                            let c =
                                0x10000 + (((cp as u32) - 0xD800) << 10) + ((lo as u32) - 0xDC00);
                            ch = char::from_u32(c);
                            next += 6;
                        }
                    }
                }
                if cp == 0x1b {
                    i = skip_ansi(data, next, end);
                    map.push(out.len(), i);
                    continue;
                }
                let ch = ch.unwrap_or('\u{FFFD}');
                let mut tmp = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                i = next;
                map.push(out.len(), i);
                continue;
            }
        }
        // Unknown or malformed escape: keep the backslash, go on.
        out.push(b'\\');
        i += 1;
    }
}

fn hex4(data: &[u8], at: usize, end: usize) -> Option<u16> {
    if at + 4 > end {
        return None;
    }
    let s = std::str::from_utf8(&data[at..at + 4]).ok()?;
    u16::from_str_radix(s, 16).ok()
}

/// Skip the rest of an ANSI escape sequence whose ESC ended just before `i` (CSI `[…final`, OSC `]…BEL`, or
/// a two-byte escape). Returns the index after it.
fn skip_ansi(data: &[u8], i: usize, end: usize) -> usize {
    match data.get(i) {
        Some(b'[') if i < end => {
            let mut j = i + 1;
            // Parameters and intermediates, bounded so a stray `[` cannot swallow a whole document.
            while j < end && j < i + 64 && (0x20..0x40).contains(&data[j]) {
                j += 1;
            }
            if j < end && (0x40..0x7f).contains(&data[j]) {
                j + 1
            } else {
                i
            }
        }
        Some(b']') if i < end => {
            let lim = end.min(i + 256);
            match memchr::memchr(0x07, &data[i..lim]) {
                Some(k) => i + k + 1,
                None => i,
            }
        }
        Some(&b) if i < end && (0x40..0x60).contains(&b) => i + 1,
        _ => i,
    }
}

/// Plain text with ANSI escape sequences removed (for logs such as W&B `output.log`).
pub fn strip_ansi_segment<'a>(data: &'a [u8], meta: Detail) -> Segment<'a> {
    if memchr::memchr(0x1b, data).is_none() {
        return Segment {
            text: Cow::Borrowed(data),
            map: OffsetMap::identity(),
            meta,
            segment_lines: false,
        };
    }
    let mut out = Vec::with_capacity(data.len());
    let mut map = OffsetMap::default();
    let mut i = 0;
    map.push(0, 0);
    while i < data.len() {
        match memchr::memchr(0x1b, &data[i..]) {
            None => {
                out.extend_from_slice(&data[i..]);
                break;
            }
            Some(k) => {
                out.extend_from_slice(&data[i..i + k]);
                i = skip_ansi(data, i + k + 1, data.len());
                map.push(out.len(), i);
            }
        }
    }
    Segment {
        text: Cow::Owned(out),
        map,
        meta,
        segment_lines: false,
    }
}

pub fn skip_ws(data: &[u8], mut i: usize) -> usize {
    while i < data.len() && matches!(data[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// A node of the tolerant JSON tree. Spans are raw byte ranges: for strings the interior between the quotes,
/// for everything else the whole value. Containers deeper than the reader's record depth are `Opaque`.
#[derive(Debug)]
pub enum Node {
    Obj {
        span: (usize, usize),
        entries: Vec<((usize, usize), Node)>,
    },
    Arr {
        span: (usize, usize),
        items: Vec<Node>,
    },
    Str((usize, usize)),
    Scalar((usize, usize)),
    Opaque((usize, usize)),
}

impl Node {
    /// The raw span of the whole value (strings: the interior).
    pub fn span(&self) -> (usize, usize) {
        match self {
            Node::Obj { span, .. } | Node::Arr { span, .. } => *span,
            Node::Str(s) | Node::Scalar(s) | Node::Opaque(s) => *s,
        }
    }
    /// The value of `key` in an object (keys compared on their raw bytes).
    pub fn get<'n>(&'n self, data: &[u8], key: &str) -> Option<&'n Node> {
        match self {
            Node::Obj { entries, .. } => entries
                .iter()
                .find(|((s, e), _)| &data[*s..*e] == key.as_bytes())
                .map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn entries(&self) -> &[((usize, usize), Node)] {
        match self {
            Node::Obj { entries, .. } => entries,
            _ => &[],
        }
    }
    pub fn items(&self) -> &[Node] {
        match self {
            Node::Arr { items, .. } => items,
            _ => &[],
        }
    }
    /// The raw bytes of a string value (escapes not decoded).
    pub fn raw_str<'d>(&self, data: &'d [u8]) -> Option<&'d [u8]> {
        match self {
            Node::Str((s, e)) => Some(&data[*s..*e]),
            _ => None,
        }
    }
}

/// Reads a whole JSON document into a `Node` tree, recording containers down to `record_depth` and skipping
/// (while still validating bracket nesting up to `max_depth`) below that. Errors name the byte offset.
pub struct TreeReader<'d> {
    data: &'d [u8],
    max_depth: usize,
    record_depth: usize,
    max_nodes: usize,
    nodes: usize,
}

impl<'d> TreeReader<'d> {
    pub fn new(data: &'d [u8], max_depth: usize, record_depth: usize) -> Self {
        TreeReader {
            data,
            max_depth,
            record_depth,
            max_nodes: 4_000_000,
            nodes: 0,
        }
    }

    /// Parse the document; trailing non-whitespace is an error.
    pub fn read(mut self) -> Result<Node, String> {
        let start = if self.data.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let i = skip_ws(self.data, start);
        let (node, end) = self.value(i, 1)?;
        let end = skip_ws(self.data, end);
        if end < self.data.len() {
            return Err(format!(
                "unexpected data after the JSON document at byte {end}"
            ));
        }
        Ok(node)
    }

    fn eof(&self) -> String {
        format!(
            "truncated JSON: input ends at byte {} inside a value",
            self.data.len()
        )
    }

    fn value(&mut self, i: usize, depth: usize) -> Result<(Node, usize), String> {
        let data = self.data;
        self.nodes += 1;
        if self.nodes > self.max_nodes {
            return Err(format!("more than {} JSON values", self.max_nodes));
        }
        match data.get(i) {
            None => Err(self.eof()),
            Some(b'"') => {
                let end = self.string_end(i)?;
                Ok((Node::Str((i + 1, end - 1)), end))
            }
            Some(b'{') | Some(b'[') if depth > self.record_depth => {
                let end = self.skip_container(i, depth)?;
                Ok((Node::Opaque((i, end)), end))
            }
            Some(b'{') => {
                if depth > self.max_depth {
                    return Err(format!(
                        "JSON nested deeper than {} levels at byte {i}",
                        self.max_depth
                    ));
                }
                let mut entries = Vec::new();
                let mut j = skip_ws(data, i + 1);
                if data.get(j) == Some(&b'}') {
                    return Ok((
                        Node::Obj {
                            span: (i, j + 1),
                            entries,
                        },
                        j + 1,
                    ));
                }
                loop {
                    if data.get(j) != Some(&b'"') {
                        return Err(self.unexpected(j, "an object key"));
                    }
                    let kend = self.string_end(j)?;
                    let key = (j + 1, kend - 1);
                    j = skip_ws(data, kend);
                    if data.get(j) != Some(&b':') {
                        return Err(self.unexpected(j, "':'"));
                    }
                    j = skip_ws(data, j + 1);
                    let (v, vend) = self.value(j, depth + 1)?;
                    entries.push((key, v));
                    j = skip_ws(data, vend);
                    match data.get(j) {
                        Some(b',') => j = skip_ws(data, j + 1),
                        Some(b'}') => {
                            return Ok((
                                Node::Obj {
                                    span: (i, j + 1),
                                    entries,
                                },
                                j + 1,
                            ))
                        }
                        _ => return Err(self.unexpected(j, "',' or '}'")),
                    }
                }
            }
            Some(b'[') => {
                if depth > self.max_depth {
                    return Err(format!(
                        "JSON nested deeper than {} levels at byte {i}",
                        self.max_depth
                    ));
                }
                let mut items = Vec::new();
                let mut j = skip_ws(data, i + 1);
                if data.get(j) == Some(&b']') {
                    return Ok((
                        Node::Arr {
                            span: (i, j + 1),
                            items,
                        },
                        j + 1,
                    ));
                }
                loop {
                    let (v, vend) = self.value(j, depth + 1)?;
                    items.push(v);
                    j = skip_ws(data, vend);
                    match data.get(j) {
                        Some(b',') => j = skip_ws(data, j + 1),
                        Some(b']') => {
                            return Ok((
                                Node::Arr {
                                    span: (i, j + 1),
                                    items,
                                },
                                j + 1,
                            ))
                        }
                        _ => return Err(self.unexpected(j, "',' or ']'")),
                    }
                }
            }
            Some(_) => {
                let mut j = i;
                while j < data.len()
                    && !matches!(data[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                {
                    j += 1;
                }
                let tok = &data[i..j];
                let ok = matches!(tok, b"true" | b"false" | b"null")
                    || (!tok.is_empty()
                        && tok
                            .iter()
                            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(b)));
                if !ok {
                    return Err(self.unexpected(i, "a JSON value"));
                }
                Ok((Node::Scalar((i, j)), j))
            }
        }
    }

    fn unexpected(&self, at: usize, wanted: &str) -> String {
        match self.data.get(at) {
            None => self.eof(),
            Some(b) if b.is_ascii_graphic() => {
                format!("expected {wanted} at byte {at}, found '{}'", *b as char)
            }
            Some(b) => format!("expected {wanted} at byte {at}, found byte 0x{b:02x}"),
        }
    }

    /// Index just after the closing quote of the string opening at `i`.
    fn string_end(&self, i: usize) -> Result<usize, String> {
        let data = self.data;
        let mut j = i + 1;
        loop {
            match memchr::memchr2(b'"', b'\\', &data[j.min(data.len())..]) {
                None => return Err(self.eof()),
                Some(k) => {
                    j += k;
                    if data[j] == b'"' {
                        return Ok(j + 1);
                    }
                    j += 2; // skip the escaped byte
                    if j > data.len() {
                        return Err(self.eof());
                    }
                }
            }
        }
    }

    /// Index just after the container opening at `i`, checking bracket balance and depth without recording.
    fn skip_container(&mut self, i: usize, depth: usize) -> Result<usize, String> {
        let data = self.data;
        let mut stack: Vec<u8> = Vec::new();
        let mut j = i;
        while j < data.len() {
            match data[j] {
                b'"' => j = self.string_end(j)?,
                b @ (b'{' | b'[') => {
                    if depth + stack.len() > self.max_depth {
                        return Err(format!(
                            "JSON nested deeper than {} levels at byte {j}",
                            self.max_depth
                        ));
                    }
                    stack.push(if b == b'{' { b'}' } else { b']' });
                    j += 1;
                }
                b @ (b'}' | b']') => {
                    if stack.pop() != Some(b) {
                        return Err(format!("mismatched '{}' at byte {j}", b as char));
                    }
                    j += 1;
                    if stack.is_empty() {
                        return Ok(j);
                    }
                }
                _ => j += 1,
            }
        }
        Err(self.eof())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unescape(s: &str) -> (Vec<u8>, OffsetMap) {
        let mut out = Vec::new();
        let mut map = OffsetMap::default();
        unescape_into(s.as_bytes(), 0, s.len(), &mut out, &mut map);
        (out, map)
    }

    #[test]
    fn escapes_are_replaced_and_mapped_back() {
        let raw = r#"{"k": "a\"b\/c\nsk-X", "u": "\u00e9\ud83d\ude00Z"}"#;
        let (out, map) = unescape(raw);
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(text, "{\"k\": \"a\"b/c\nsk-X\", \"u\": \"é😀Z\"}");
        let d = text.find("sk-X").unwrap();
        assert_eq!(map.to_raw(d), raw.find("sk-X").unwrap());
        let z = out.iter().position(|&b| b == b'Z').unwrap();
        assert_eq!(map.to_raw(z), raw.find('Z').unwrap());
    }

    #[test]
    fn ansi_codes_are_dropped_in_both_spellings() {
        let raw = "x\\u001b[0;31msk-AB\x1b[0m end";
        let (out, map) = unescape(raw);
        assert_eq!(out, b"xsk-AB end");
        assert_eq!(map.to_raw(1), raw.find("sk-AB").unwrap());
        assert_eq!(map.to_raw(6), raw.find(" end").unwrap());
    }

    #[test]
    fn malformed_escapes_and_invalid_utf8_pass_through() {
        let raw = b"a\\q\xff\xfe\\u12 \\";
        let mut out = Vec::new();
        let mut map = OffsetMap::default();
        unescape_into(raw, 0, raw.len(), &mut out, &mut map);
        assert_eq!(out, raw.to_vec());
    }

    #[test]
    fn tree_reader_bounds_depth_and_reports_truncation() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        let e = TreeReader::new(deep.as_bytes(), 256, 8).read().unwrap_err();
        assert!(e.contains("deeper than 256"), "{e}");
        let e = TreeReader::new(b"{\"a\": [1, 2", 256, 8)
            .read()
            .unwrap_err();
        assert!(e.contains("truncated"), "{e}");
        let e = TreeReader::new(b"{\"a\": \"x", 256, 8).read().unwrap_err();
        assert!(e.contains("truncated"), "{e}");
        let t = TreeReader::new(b"{\"a\": {\"b\": [\"\xff\", 1e3, null]}}", 256, 8)
            .read()
            .unwrap();
        let b = t
            .get(b"{\"a\": {\"b\": [\"\xff\", 1e3, null]}}", "a")
            .unwrap();
        assert!(matches!(b, Node::Obj { .. }));
    }

    #[test]
    fn looks_json_sniffs_objects_not_toml_sections() {
        assert!(looks_json(b"  {\"a\": 1}"));
        assert!(looks_json(b"[{\"a\": 1}]"));
        assert!(!looks_json(b"[section]\nkey = 1"));
        assert!(!looks_json(b"{\x00\x01"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let mut out = Vec::new();
            let mut map = OffsetMap::default();
            unescape_into(&data, 0, data.len(), &mut out, &mut map);
            proptest::prop_assert!(out.len() <= data.len());
            for d in 0..=out.len() {
                proptest::prop_assert!(map.to_raw(d) <= data.len());
            }
            let _ = TreeReader::new(&data, 16, 4).read();
        }

        #[test]
        fn json_like_bytes_never_panic(data in "[\\[\\]{}\",:a-z0-9 \\\\u]{0,200}") {
            let _ = TreeReader::new(data.as_bytes(), 8, 3).read();
            let mut out = Vec::new();
            let mut map = OffsetMap::default();
            unescape_into(data.as_bytes(), 0, data.len(), &mut out, &mut map);
        }
    }
}
