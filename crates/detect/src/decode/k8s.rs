//! Kubernetes YAML: in every `kind: Secret` document (alone, after `---`, or an item of a `kind: List` such as
//! `kubectl get secret -o yaml` prints), each `data` value is base64-decoded (single-line, quoted, plain
//! multi-line, literal and folded block scalars, flow mappings) and scanned as `KEY: <decoded>` (so keyword
//! context stays next to the value), mapped back to the base64 text in the raw file; each `stringData` value is
//! scanned as `KEY: <value>` over its raw text. Both are tagged with `k8s_secret` (the Secret's name), `key`
//! and `field`. The whole file is also scanned as raw text, with the values decoded above blanked. Documents
//! are read with the `saphyr-parser` event parser (aliases are never expanded, containers below the depth
//! where Secret fields live are skipped, so work stays linear); a document it rejects (Helm templates) or
//! that nests deeper than `max_depth` is read by a line-oriented reader instead.
//!
//! Kubeconfig files (`~/.kube/config`, `kubeconfig*`, `*.kubeconfig`, or any YAML file holding the key; in JSON
//! form, `kubectl config view -o json`, through the JSON decoder, which calls `kubeconfig_key_segments`): each
//! `client-key-data` value (base64 of a PEM private key) is decoded and scanned as `client-key-data: <PEM>`,
//! tagged with `key` and `field: kubeconfig`, and blanked in the raw view; `client-certificate-data` and
//! `certificate-authority-data` (certificates, not secrets) are left alone, and `token:` values are read in
//! the raw view like any YAML value.
use super::{DecodeError, DecodeLimits, Decoder, OffsetMap, Segment};
use base64::Engine;
use keysweep_model::{provenance::keys, Detail};
use saphyr_parser::{Event, Parser, ScalarStyle};
use std::borrow::Cow;

pub struct K8sDecoder;

impl Decoder for K8sDecoder {
    fn name(&self) -> &'static str {
        "k8s"
    }
    fn accepts(&self, path: &str, head: &[u8]) -> bool {
        let p = path.to_ascii_lowercase().replace('\\', "/");
        let name = p.rsplit('/').next().unwrap_or(&p);
        let kubeconfig = name.contains("kubeconfig") || p.ends_with(".kube/config");
        (p.ends_with(".yaml") || p.ends_with(".yml") || kubeconfig)
            && memchr::memchr(0, head).is_none()
    }
    fn decode<'a>(
        &self,
        _path: &str,
        data: &'a [u8],
        limits: &DecodeLimits,
        out: &mut Vec<Segment<'a>>,
    ) -> Result<(), DecodeError> {
        let has_secret = memchr::memmem::find(data, b"Secret").is_some();
        let has_client_key = memchr::memmem::find(data, CLIENT_KEY).is_some();
        if !has_secret && !has_client_key {
            out.push(Segment::raw(data));
            return Ok(());
        }
        let first = out.len();
        out.push(Segment::raw(data));
        let mut sink = Sink {
            out,
            budget: limits.max_decoded_bytes,
            max_depth: limits.max_depth,
            decoded_spans: Vec::new(),
        };
        if has_client_key {
            kubeconfig_client_keys(data, &mut sink)?;
        }
        // Documents split at `---` lines (a document marker at column 0 ends any scalar); only those naming
        // `Secret` are parsed.
        let mut doc = 0;
        let mut line = 0;
        while line < data.len() {
            if line > doc && data[line..].starts_with(b"---") {
                document(data, (doc, line), &mut sink)?;
                doc = line;
            }
            line = memchr::memchr(b'\n', &data[line..]).map_or(data.len(), |i| line + i + 1);
        }
        document(data, (doc, data.len()), &mut sink)?;
        let decoded_spans = sink.decoded_spans;
        if !decoded_spans.is_empty() {
            // The raw view without the values that were decoded: keyword rules must not report the encoded
            // form next to the decoded one. Same length, so the identity map still holds.
            let mut masked = data.to_vec();
            for (s, e) in decoded_spans {
                masked[s..e].fill(b' ');
            }
            out[first].text = Cow::Owned(masked);
        }
        Ok(())
    }
}

pub(super) const CLIENT_KEY: &[u8] = b"client-key-data";

/// Every `client-key-data: <base64>` line of a kubeconfig (a user's TLS private key, kubectl writes it as one
/// plain or quoted scalar), decoded and read as `client-key-data: <PEM>`.
fn kubeconfig_client_keys(data: &[u8], sink: &mut Sink<'_, '_>) -> Result<(), DecodeError> {
    for (seg, span) in kubeconfig_key_segments(data) {
        sink.push(seg, span)?;
    }
    Ok(())
}

/// The decoded `client-key-data` values of a kubeconfig, YAML (`client-key-data: <base64>`, the key at the
/// start of its line) or JSON (`"client-key-data": "<base64>"`, anywhere: `kubectl config view -o json`
/// indents it, a minified file does not), each as a segment `client-key-data: <PEM>` tagged with `key` and
/// `field: kubeconfig`, with the raw span of the base64 it reads.
pub(super) fn kubeconfig_key_segments<'s>(data: &[u8]) -> Vec<(Segment<'s>, (usize, usize))> {
    let mut out = Vec::new();
    for at in memchr::memmem::find_iter(data, CLIENT_KEY) {
        let Some((vraw, v)) = json_value(data, at).or_else(|| yaml_value(data, at)) else {
            continue;
        };
        if v.is_empty() {
            continue;
        }
        if let Some(mut seg) = data_value_segment("", CLIENT_KEY, vraw, v, None) {
            seg.meta = Detail {
                field: Some("kubeconfig".to_string()),
                ..Detail::default()
            };
            seg.meta.set(keys::KEY, "client-key-data");
            out.push((seg, (vraw, vraw + v.len())));
        }
    }
    out
}

/// The value of a YAML `client-key-data:` key at `at` (the key first on its line, quoted or not).
fn yaml_value(data: &[u8], at: usize) -> Option<(usize, &[u8])> {
    // Back from the key over an opening quote and blanks only, to the start of its line: a line holding the
    // key many times (not first on the line) costs a few bytes per occurrence, not the line's length.
    let mut line_start = at;
    if line_start > 0 && b"\"'".contains(&data[line_start - 1]) {
        line_start -= 1;
    }
    while line_start > 0 && matches!(data[line_start - 1], b' ' | b'\t') {
        line_start -= 1;
    }
    if line_start > 0 && data[line_start - 1] != b'\n' {
        return None;
    }
    let line_end = memchr::memchr(b'\n', &data[at..]).map_or(data.len(), |i| at + i);
    let line = &data[line_start..line_end];
    let ind = line
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    // The key itself (quoted or not), at the start of its line after the indentation.
    let key_at = at - line_start;
    let quoted_key = key_at > 0 && b"\"'".contains(&line[key_at - 1]);
    if key_at != ind + usize::from(quoted_key) {
        return None;
    }
    let (_, voff, v) = key_value(line, ind)?;
    Some((line_start + voff, v))
}

/// The string value of a JSON member `"client-key-data": "<base64>"` whose name starts at `at`; `None` when
/// the name is not a quoted member name or its value is not a plain string (base64 needs no escapes).
fn json_value(data: &[u8], at: usize) -> Option<(usize, &[u8])> {
    let blank = |b: &u8| b" \t\r\n".contains(b);
    let end = at + CLIENT_KEY.len();
    if at == 0 || data[at - 1] != b'"' || data.get(end) != Some(&b'"') {
        return None;
    }
    let mut i = end + 1;
    while data.get(i).is_some_and(blank) {
        i += 1;
    }
    if data.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    while data.get(i).is_some_and(blank) {
        i += 1;
    }
    if data.get(i) != Some(&b'"') {
        return None;
    }
    let vstart = i + 1;
    let len = memchr::memchr2(b'"', b'\\', data.get(vstart..)?)?;
    (data.get(vstart + len) == Some(&b'"')).then(|| (vstart, &data[vstart..vstart + len]))
}

/// Where decoded Secret values go, within the decoded-bytes budget.
struct Sink<'a, 'o> {
    out: &'o mut Vec<Segment<'a>>,
    budget: usize,
    /// Nesting deeper than this sends a document to the line reader.
    max_depth: usize,
    /// Raw spans whose content a segment reads (blanked in the raw view).
    decoded_spans: Vec<(usize, usize)>,
}

impl<'a> Sink<'a, '_> {
    fn push(&mut self, seg: Segment<'a>, span: (usize, usize)) -> Result<(), DecodeError> {
        if seg.text.len() > self.budget {
            return Err(DecodeError(
                "decoded text exceeds the max_decoded_bytes limit".into(),
            ));
        }
        self.budget -= seg.text.len();
        self.out.push(seg);
        self.decoded_spans.push(span);
        Ok(())
    }
}

/// Containers deeper than this are skipped (a Secret's values sit at depth 5 in a `List`).
const RECORD_DEPTH: usize = 5;

/// A YAML node as far as Secrets need it; scalar spans are raw byte ranges (quotes included).
enum Y<'i> {
    Map(Vec<(Y<'i>, Y<'i>)>),
    Seq(Vec<Y<'i>>),
    Scalar {
        value: Cow<'i, str>,
        style: ScalarStyle,
        span: (usize, usize),
    },
    /// An alias, or a container below `RECORD_DEPTH`.
    Other,
}

impl<'i> Y<'i> {
    fn get(&self, key: &str) -> Option<&Y<'i>> {
        match self {
            Y::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
    fn str(&self) -> Option<&str> {
        match self {
            Y::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }
}

enum Frame<'i> {
    Map(Vec<(Y<'i>, Y<'i>)>, Option<Y<'i>>),
    Seq(Vec<Y<'i>>),
    /// Nesting level inside a skipped container.
    Skip(usize),
}

/// Character index → byte offset, for a parser that counts characters. Forward-moving cursor (scalar spans
/// arrive in increasing order), restarted from 0 when asked for an earlier index.
struct Bytes<'s> {
    s: &'s str,
    ascii: bool,
    chars: usize,
    bytes: usize,
}

impl Bytes<'_> {
    fn at(&mut self, c: usize) -> usize {
        if self.ascii {
            return c.min(self.s.len());
        }
        if c < self.chars {
            (self.chars, self.bytes) = (0, 0);
        }
        for ch in self.s[self.bytes..].chars() {
            if self.chars >= c {
                break;
            }
            self.chars += 1;
            self.bytes += ch.len_utf8();
        }
        self.bytes
    }
}

/// The Secrets of the document `data[span]`: read with the YAML parser, or line by line when the parser
/// rejects it (templates).
fn document(data: &[u8], span: (usize, usize), sink: &mut Sink<'_, '_>) -> Result<(), DecodeError> {
    let bytes = &data[span.0..span.1];
    if memchr::memmem::find(bytes, b"Secret").is_none() {
        return Ok(());
    }
    if let Some(done) = parse_document(data, span, sink) {
        return done;
    }
    let mut lines: Vec<(usize, &[u8])> = Vec::new();
    let mut start = span.0;
    for nl in memchr::memchr_iter(b'\n', bytes)
        .map(|i| i + span.0)
        .chain(std::iter::once(span.1))
    {
        if start >= span.1 {
            break;
        }
        let line = &data[start..nl];
        if !line.starts_with(b"---") {
            lines.push((start, line));
        }
        start = nl + 1;
    }
    secret_doc(&lines, sink)
}

/// Parse `data[span]` (recorded to `RECORD_DEPTH`, aliases not expanded) and decode the Secrets in it.
/// `None` when the YAML parser rejects the text or it nests deeper than `max_depth` (nothing was emitted
/// then).
fn parse_document(
    data: &[u8],
    span: (usize, usize),
    sink: &mut Sink<'_, '_>,
) -> Option<Result<(), DecodeError>> {
    let raw = &data[span.0..span.1];
    // The parser reads `str`: invalid UTF-8 bytes become `?` one for one, so byte offsets do not move.
    let text: Cow<str> = match std::str::from_utf8(raw) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            let mut s = String::with_capacity(raw.len());
            for chunk in raw.utf8_chunks() {
                s.push_str(chunk.valid());
                s.extend(std::iter::repeat_n('?', chunk.invalid().len()));
            }
            Cow::Owned(s)
        }
    };
    let mut bytes = Bytes {
        s: &text,
        ascii: text.is_ascii(),
        chars: 0,
        bytes: 0,
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut depth = 0usize;
    let mut roots: Vec<Y> = Vec::new();
    let mut parser = Parser::new_from_str(&text);
    while let Some(ev) = parser.next_event() {
        let (ev, ev_span) = ev.ok()?;
        let node = match ev {
            Event::DocumentStart(_) => {
                stack.clear();
                depth = 0;
                continue;
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                depth += 1;
                if depth > sink.max_depth {
                    return None;
                }
                let recorded = stack.len();
                match stack.last_mut() {
                    Some(Frame::Skip(n)) => *n += 1,
                    _ if recorded >= RECORD_DEPTH => stack.push(Frame::Skip(1)),
                    _ if matches!(ev, Event::MappingStart(..)) => {
                        stack.push(Frame::Map(Vec::new(), None))
                    }
                    _ => stack.push(Frame::Seq(Vec::new())),
                }
                continue;
            }
            Event::MappingEnd | Event::SequenceEnd => {
                depth = depth.saturating_sub(1);
                match stack.pop() {
                    Some(Frame::Skip(n)) if n > 1 => {
                        stack.push(Frame::Skip(n - 1));
                        continue;
                    }
                    Some(Frame::Skip(_)) => Y::Other,
                    Some(Frame::Map(entries, _)) => Y::Map(entries),
                    Some(Frame::Seq(items)) => Y::Seq(items),
                    None => continue,
                }
            }
            Event::Scalar(value, style, ..) => {
                if matches!(stack.last(), Some(Frame::Skip(_))) {
                    continue;
                }
                let s = span.0 + bytes.at(ev_span.start.index());
                let e = span.0 + bytes.at(ev_span.end.index());
                Y::Scalar {
                    value,
                    style,
                    span: (s, e),
                }
            }
            Event::Alias(_) => Y::Other,
            _ => continue,
        };
        match stack.last_mut() {
            Some(Frame::Map(entries, pending)) => match pending.take() {
                None => *pending = Some(node),
                Some(k) => entries.push((k, node)),
            },
            Some(Frame::Seq(items)) => items.push(node),
            Some(Frame::Skip(_)) => {}
            None => roots.push(node),
        }
    }
    Some(
        roots
            .iter()
            .try_for_each(|root| document_secrets(data, root, sink)),
    )
}

/// The Secrets of one parsed document: the document itself, or the items of a `List`.
fn document_secrets(data: &[u8], root: &Y, sink: &mut Sink<'_, '_>) -> Result<(), DecodeError> {
    if let Some(Y::Seq(items)) = root.get("items") {
        for item in items {
            secret(data, item, sink)?;
        }
    }
    secret(data, root, sink)
}

fn secret(data: &[u8], doc: &Y, sink: &mut Sink<'_, '_>) -> Result<(), DecodeError> {
    if doc.get("kind").and_then(Y::str) != Some("Secret") {
        return Ok(());
    }
    let name: String = doc
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Y::str)
        .map(|n| n.chars().take(253).collect())
        .unwrap_or_default();
    for field in ["data", "stringData"] {
        let Some(Y::Map(entries)) = doc.get(field) else {
            continue;
        };
        for (k, v) in entries {
            let (Some(key), Y::Scalar { value, style, span }) = (k.str(), v) else {
                continue;
            };
            // The value's raw text without quotes.
            let (s, e) = match style {
                ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted if span.1 - span.0 >= 2 => {
                    (span.0 + 1, span.1 - 1)
                }
                _ => *span,
            };
            let seg = if field == "data" {
                data_value_segment(&name, key.as_bytes(), s, &data[s..e], Some(value))
            } else {
                string_value_segment(&name, key.as_bytes(), s, &data[s..e])
            };
            if let Some(seg) = seg {
                sink.push(seg, (s, e))?;
            }
        }
    }
    Ok(())
}

fn indent(line: &[u8]) -> usize {
    line.iter().take_while(|&&b| b == b' ').count()
}

/// `key: value` at the start of `line[ind..]` → (key, value start offset in line, value).
fn key_value(line: &[u8], ind: usize) -> Option<(&[u8], usize, &[u8])> {
    let rest = &line[ind..];
    let colon = memchr::memchr(b':', rest)?;
    let key = &rest[..colon];
    if key.is_empty() || key.contains(&b' ') || key.starts_with(b"#") {
        return None;
    }
    let after = &rest[colon + 1..];
    let sp = after
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let mut v = &after[sp..];
    let mut vstart = ind + colon + 1 + sp;
    while v.last().is_some_and(|b| b" \t\r".contains(b)) {
        v = &v[..v.len() - 1];
    }
    if v.len() >= 2 && (v[0] == b'"' || v[0] == b'\'') && v[v.len() - 1] == v[0] {
        v = &v[1..v.len() - 1];
        vstart += 1;
    }
    let key = key
        .strip_prefix(b"\"")
        .and_then(|k| k.strip_suffix(b"\""))
        .unwrap_or(key);
    Some((key, vstart, v))
}

/// Decode the `data:` values of one YAML document if it is a Secret.
fn secret_doc(doc: &[(usize, &[u8])], sink: &mut Sink<'_, '_>) -> Result<(), DecodeError> {
    let is_secret = doc
        .iter()
        .any(|(_, l)| key_value(l, 0).is_some_and(|(k, _, v)| k == b"kind" && v == b"Secret"));
    if !is_secret {
        return Ok(());
    }
    let mut name: Option<String> = None;
    let mut section: &[u8] = b"";
    let mut child_indent: Option<usize> = None;
    let mut entries: Vec<(usize, &[u8], usize, &[u8])> = Vec::new(); // (line start, key, value offset, value)
    for &(ls, line) in doc {
        let ind = indent(line);
        if ind >= line.len() || line[ind] == b'#' {
            continue;
        }
        if ind == 0 {
            section = key_value(line, 0).map(|(k, _, _)| k).unwrap_or(b"");
            child_indent = None;
            continue;
        }
        let ci = *child_indent.get_or_insert(ind);
        if ind != ci {
            continue;
        }
        let Some((k, voff, v)) = key_value(line, ind) else {
            continue;
        };
        match section {
            b"metadata" if k == b"name" => {
                name = Some(String::from_utf8_lossy(v).chars().take(253).collect())
            }
            b"data" if !v.is_empty() => entries.push((ls, k, ls + voff, v)),
            _ => {}
        }
    }
    for (_, key, vraw, v) in entries {
        let seg = data_value_segment(name.as_deref().unwrap_or(""), key, vraw, v, None);
        if let Some(seg) = seg {
            sink.push(seg, (vraw, vraw + v.len()))?;
        }
    }
    Ok(())
}

/// One Secret `data` value decoded and read as `KEY: <decoded>`, mapped back to the base64 text `raw` at raw
/// offset `vraw`. When `raw` holds only base64 characters and whitespace (one line, a block scalar, plain
/// multi-line), each decoded group maps to its own 4 characters; otherwise (escapes in a quoted scalar) the
/// `parsed` scalar value is decoded and mapped to the value's start. `None` when the value is not base64 (the
/// raw segment covers it).
pub fn data_value_segment<'a>(
    secret: &str,
    key: &[u8],
    vraw: usize,
    raw: &[u8],
    parsed: Option<&str>,
) -> Option<Segment<'a>> {
    let b64 = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    let exact = raw.iter().all(|b| b64(b) || b.is_ascii_whitespace());
    let (cleaned, positions): (Vec<u8>, Vec<usize>) = if exact {
        raw.iter()
            .enumerate()
            .filter(|(_, b)| b64(b))
            .map(|(i, b)| (*b, vraw + i))
            .unzip()
    } else {
        let p = parsed?.as_bytes();
        (
            p.iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect(),
            Vec::new(),
        )
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&cleaned)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&cleaned))
        .ok()?;
    let mut text = Vec::with_capacity(key.len() + 2 + decoded.len());
    let mut map = OffsetMap::default();
    map.push(0, vraw - (key.len() + 2).min(vraw));
    text.extend_from_slice(key);
    text.extend_from_slice(b": ");
    // Every 3 decoded bytes come from 4 base64 characters.
    for (g, chunk) in decoded.chunks(3).enumerate() {
        map.push(text.len(), positions.get(g * 4).copied().unwrap_or(vraw));
        text.extend_from_slice(chunk);
    }
    Some(Segment {
        text: Cow::Owned(text),
        map,
        meta: secret_meta(secret, key, "data"),
        segment_lines: false,
    })
}

/// One Secret `stringData` value (plain text, `raw` at raw offset `vraw`) read as `KEY: <value>`.
fn string_value_segment<'a>(
    secret: &str,
    key: &[u8],
    vraw: usize,
    raw: &[u8],
) -> Option<Segment<'a>> {
    if raw.is_empty() {
        return None;
    }
    let mut text = Vec::with_capacity(key.len() + 2 + raw.len());
    let mut map = OffsetMap::default();
    map.push(0, vraw - (key.len() + 2).min(vraw));
    text.extend_from_slice(key);
    text.extend_from_slice(b": ");
    map.push(text.len(), vraw);
    text.extend_from_slice(raw);
    Some(Segment {
        text: Cow::Owned(text),
        map,
        meta: secret_meta(secret, key, "stringData"),
        segment_lines: false,
    })
}

fn secret_meta(secret: &str, key: &[u8], field: &str) -> Detail {
    let mut meta = Detail {
        field: Some(field.to_string()),
        ..Detail::default()
    };
    meta.set(keys::K8S_SECRET, secret);
    meta.set(keys::KEY, String::from_utf8_lossy(key).into_owned());
    meta
}
