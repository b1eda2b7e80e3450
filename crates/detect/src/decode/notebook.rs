//! Jupyter notebooks (`.ipynb`, nbformat v4 and v3) decoded the way a person reads them: one segment per cell
//! source, per output field (stream text, error `evalue`/`traceback` with ANSI codes stripped, `text/*`, SVG,
//! JSON and JavaScript data), per cell metadata and for the notebook metadata (widget state, papermill
//! parameters); every other entry (ids, counts, `ename`, unknown keys, attachments' text) is one segment of its
//! own, `"key": value` unescaped. Base64 payloads of binary MIME types (images but SVG, audio, video, PDF) are
//! skipped. Every other byte no segment covered (key names, syntax, values of an unexpected shape) is scanned
//! in gap segments, so nothing in a notebook goes unread and nothing is read twice. Segment meta: `cell`,
//! `output`, `field`, `attachment`; findings carry `line_in_segment` and the raw-file line through the offset map.
//! A code cell whose source names a credential variable (`WANDB_API_KEY`, `hf_token`) and whose text output is
//! one bare value (`print(os.environ["WANDB_API_KEY"])`) has that output read as `NAME: value`, so the value is
//! judged under the name a person sees in the cell above it.
use super::json::{unescape_into, unescaped_segment, Node, TreeReader};
use super::{DecodeError, DecodeLimits, Decoder, OffsetMap, Segment};
use keysweep_model::{provenance::keys, Detail};
use std::borrow::Cow;

pub struct NotebookDecoder;

/// Containers deeper than this are not recorded (notebook fields live at depth ≤ 8 in nbformat v3).
const RECORD_DEPTH: usize = 9;

/// Joins gap pieces: more whitespace than any rule lets stand between a keyword and its value.
const GAP_SEPARATOR: &[u8] = b"\n     ";

/// Entries whose raw `"key": value` text is shorter than this are left to the gap segments (they cannot hold
/// a key; one segment each would only cost time).
const MIN_ENTRY: usize = 24;

impl Decoder for NotebookDecoder {
    fn name(&self) -> &'static str {
        "notebook"
    }
    fn accepts(&self, path: &str, _head: &[u8]) -> bool {
        path.to_ascii_lowercase().ends_with(".ipynb")
    }
    fn decode<'a>(
        &self,
        _path: &str,
        data: &'a [u8],
        limits: &DecodeLimits,
        out: &mut Vec<Segment<'a>>,
    ) -> Result<(), DecodeError> {
        if keysweep_model::looks_binary(data) {
            return Err(DecodeError("binary content, not a notebook".into()));
        }
        let root = TreeReader::new(data, limits.max_depth, RECORD_DEPTH)
            .read()
            .map_err(|e| DecodeError(format!("not a valid notebook: {e}")))?;
        if !matches!(root, Node::Obj { .. }) {
            return Err(DecodeError(
                "not a valid notebook: top level is not an object".into(),
            ));
        }
        if root.get(data, "worksheets").is_none() && root.get(data, "cells").is_none() {
            return Err(DecodeError(
                "not a valid notebook: no `cells` or `worksheets`".into(),
            ));
        }
        let mut nb = Walk {
            data,
            out,
            budget: limits.max_decoded_bytes,
            covered: Vec::new(),
            cells: Vec::new(),
        };
        for ((ks, ke), v) in root.entries() {
            match &data[*ks..*ke] {
                b"cells" => nb.cells(v)?,
                b"worksheets" => {
                    for w in v.items() {
                        for ((wks, wke), wv) in w.entries() {
                            if &data[*wks..*wke] == b"cells" {
                                nb.cells(wv)?;
                            } else {
                                nb.entry(*wks, wv, meta(None, None, "worksheets"))?;
                            }
                        }
                    }
                }
                b"metadata" => nb.json(v, meta(None, None, "metadata"))?,
                key => nb.entry(*ks, v, meta(None, None, &lossy(key)))?,
            }
        }
        nb.gaps()
    }
}

fn meta(cell: Option<usize>, output: Option<usize>, field: &str) -> Detail {
    Detail {
        cell: cell.map(|c| c as u64),
        output: output.map(|o| o as u64),
        field: Some(field.to_string()),
        ..Detail::default()
    }
}

/// Whether a MIME bundle entry is a binary payload (base64 in the notebook): images other than SVG, audio,
/// video, fonts, PDF and archives. Everything else (text, SVG, JSON, JavaScript, unknown types) is read.
fn binary_mime(mime: &[u8]) -> bool {
    let m = String::from_utf8_lossy(mime).to_ascii_lowercase();
    (m.starts_with("image/") && !m.contains("svg"))
        || ["audio/", "video/", "font/"]
            .iter()
            .any(|p| m.starts_with(p))
        || matches!(
            m.as_str(),
            "application/pdf" | "application/octet-stream" | "application/zip" | "application/gzip"
        )
}

/// nbformat v3 output keys holding binary payloads.
const V3_BINARY_KEYS: &[&[u8]] = &[b"png", b"jpeg", b"jpg", b"gif", b"pdf"];

/// A string, or a list of strings: a payload that can be skipped as a whole.
fn is_payload(v: &Node) -> bool {
    match v {
        Node::Str(_) => true,
        Node::Arr { items, .. } => items.iter().all(|i| matches!(i, Node::Str(_))),
        _ => false,
    }
}

/// The raw extent of a value: strings with their quotes.
fn extent(v: &Node) -> (usize, usize) {
    match v {
        Node::Str((s, e)) => (s - 1, e + 1),
        _ => v.span(),
    }
}

/// A key, MIME type or attachment name for a location field. One that could be a credential itself (long,
/// or 16+ characters mixing digits and capitals) is shown as `?`: locations must not leak secrets.
fn lossy(b: &[u8]) -> String {
    let digit = b.iter().any(u8::is_ascii_digit);
    let upper = b.iter().any(u8::is_ascii_uppercase);
    if b.len() > 80 || (b.len() >= 16 && digit && upper) {
        return "?".into();
    }
    String::from_utf8_lossy(b).into_owned()
}

/// The first credential variable a cell's source names: an identifier of two or more words whose last word is
/// `key`, `token`, `secret`, `password`, `passwd` or `pwd` (`WANDB_API_KEY`, `hf_token`, `db_password`).
fn credential_name(src: &[u8]) -> Option<&[u8]> {
    const LAST: &[&[u8]] = &[b"key", b"token", b"secret", b"password", b"passwd", b"pwd"];
    src.split(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .filter(|w| w.len() <= 64 && w.first().is_some_and(|b| !b.is_ascii_digit()))
        .find(|w| {
            let mut parts = w.split(|&b| b == b'_').filter(|p| !p.is_empty());
            let last = parts.next_back();
            parts.next().is_some()
                && last.is_some_and(|l| LAST.iter().any(|k| l.eq_ignore_ascii_case(k)))
        })
}

/// Read an output that is one bare value (12 to 256 printable characters, quotes around it dropped, no blank
/// inside) as `NAME: value`, `name` being the credential variable its cell's source names. The value must map
/// to the raw file one byte for one (no escapes), so a finding is located on it.
fn name_bare_value(seg: &mut Segment<'_>, name: &[u8]) {
    let t = &seg.text;
    let mut s = t
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(t.len());
    let mut e = t
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(s, |i| i + 1);
    if e > s + 1 && b"\"'".contains(&t[s]) && t[e - 1] == t[s] {
        (s, e) = (s + 1, e - 1);
    }
    let v = &t[s..e];
    if !(12..=256).contains(&v.len()) || !v.iter().all(|b| b.is_ascii_graphic()) {
        return;
    }
    let raw = seg.map.to_raw(s);
    if seg.map.to_raw(e) != raw + v.len() {
        return;
    }
    let mut text = Vec::with_capacity(name.len() + 2 + v.len());
    text.extend_from_slice(name);
    text.extend_from_slice(b": ");
    let mut map = OffsetMap::default();
    map.push(0, raw.saturating_sub(text.len()));
    map.push(text.len(), raw);
    text.extend_from_slice(v);
    seg.text = Cow::Owned(text);
    seg.map = map;
}

struct Walk<'a, 'o> {
    data: &'a [u8],
    out: &'o mut Vec<Segment<'a>>,
    budget: usize,
    /// Raw spans a segment was emitted for or that were skipped as binary payloads.
    covered: Vec<(usize, usize)>,
    /// (cell index, raw span) of every cell, in document order.
    cells: Vec<(usize, (usize, usize))>,
}

impl<'a> Walk<'a, '_> {
    fn push(&mut self, seg: Segment<'a>) -> Result<(), DecodeError> {
        let n = seg.text.len();
        if n > self.budget {
            return Err(DecodeError(
                "decoded text exceeds the max_decoded_bytes limit".into(),
            ));
        }
        self.budget -= n;
        if !seg.text.is_empty() {
            self.out.push(seg);
        }
        Ok(())
    }

    fn cover(&mut self, span: (usize, usize)) {
        self.covered.push(span);
    }

    /// The cells of a `cells` list (or, in a malformed notebook, the values of a `cells` object); any other
    /// value is left to the gap segments.
    fn cells(&mut self, v: &Node) -> Result<(), DecodeError> {
        let cells: Vec<&Node> = match v {
            Node::Arr { items, .. } => items.iter().collect(),
            Node::Obj { entries, .. } => entries.iter().map(|(_, c)| c).collect(),
            _ => return Ok(()),
        };
        for cell in cells {
            let ci = self.cells.len();
            self.cells.push((ci, cell.span()));
            self.cell(ci, cell)?;
        }
        Ok(())
    }

    fn cell(&mut self, ci: usize, cell: &Node) -> Result<(), DecodeError> {
        let data = self.data;
        let source = cell.get(data, "source").or_else(|| cell.get(data, "input"));
        let name = source.and_then(|v| {
            let (s, e) = v.span();
            credential_name(&data[s..e.min(data.len())])
        });
        for ((ks, ke), v) in cell.entries() {
            let key = &data[*ks..*ke];
            match key {
                b"source" | b"input" => {
                    self.text(v, false, meta(Some(ci), None, "source"))?;
                }
                b"metadata" => self.json(v, meta(Some(ci), None, "metadata"))?,
                b"outputs" => {
                    for (oi, o) in v.items().iter().enumerate() {
                        self.output(ci, oi, o, name)?;
                    }
                }
                b"attachments" => {
                    for ((ns, ne), bundle) in v.entries() {
                        let name = lossy(&data[*ns..*ne]);
                        for ((ms, me), mv) in bundle.entries() {
                            let mime = &data[*ms..*me];
                            if binary_mime(mime) && is_payload(mv) {
                                self.cover(mv.span());
                                continue;
                            }
                            let field = format!("attachments.{}", lossy(mime));
                            let mut m = meta(Some(ci), None, &field);
                            m.set(keys::ATTACHMENT, name.as_str());
                            self.value(mv, m)?;
                        }
                    }
                }
                _ => self.entry(*ks, v, meta(Some(ci), None, &lossy(key)))?,
            }
        }
        Ok(())
    }

    fn output(
        &mut self,
        ci: usize,
        oi: usize,
        o: &Node,
        name: Option<&'a [u8]>,
    ) -> Result<(), DecodeError> {
        let data = self.data;
        for ((ks, ke), v) in o.entries() {
            let key = &data[*ks..*ke];
            let field = format!("outputs.{}", lossy(key));
            match key {
                b"traceback" => self.text(v, true, meta(Some(ci), Some(oi), &field))?,
                b"evalue" => self.text(v, false, meta(Some(ci), Some(oi), &field))?,
                b"text" => {
                    let before = self.out.len();
                    self.text(v, false, meta(Some(ci), Some(oi), &field))?;
                    if let (Some(n), true) = (name, self.out.len() > before) {
                        if let Some(seg) = self.out.last_mut() {
                            name_bare_value(seg, n);
                        }
                    }
                }
                b"metadata" => self.json(v, meta(Some(ci), Some(oi), &field))?,
                b"data" => {
                    for ((ms, me), mv) in v.entries() {
                        let mime = &data[*ms..*me];
                        if binary_mime(mime) && is_payload(mv) {
                            self.cover(mv.span());
                            continue;
                        }
                        let field = format!("outputs.data.{}", lossy(mime));
                        self.value(mv, meta(Some(ci), Some(oi), &field))?;
                    }
                }
                k if V3_BINARY_KEYS.contains(&k) && is_payload(v) => self.cover(v.span()),
                b"html" | b"svg" | b"latex" | b"javascript" | b"json" => {
                    self.value(v, meta(Some(ci), Some(oi), &field))?
                }
                _ => self.entry(*ks, v, meta(Some(ci), Some(oi), &field))?,
            }
        }
        Ok(())
    }

    /// An entry the walker does not model (`"key": value`, key quotes included) as unescaped JSON text, so a
    /// keyword in the key stays next to the value. Short entries are left to the gap segments.
    fn entry(&mut self, key_start: usize, v: &Node, m: Detail) -> Result<(), DecodeError> {
        let s = key_start.saturating_sub(1);
        let e = extent(v).1.min(self.data.len());
        if e.saturating_sub(s) < MIN_ENTRY {
            return Ok(());
        }
        self.cover((s, e));
        let mut seg = unescaped_segment(self.data, s, e, m);
        seg.segment_lines = true;
        self.push(seg)
    }

    /// Every byte no segment covered and no payload skip claimed, scanned as unescaped JSON text. The gap
    /// pieces are cut at cell boundaries and each run of pieces in one cell (or outside all cells) is one
    /// segment, the pieces joined by `GAP_SEPARATOR` (wider than any rule's `\s{0,5}`, so no match bridges
    /// two pieces) mapped to the end of the piece before. Pieces without a letter or digit (pure JSON
    /// syntax) cannot hold a key and are left out.
    fn gaps(&mut self) -> Result<(), DecodeError> {
        let data = self.data;
        let mut covered = std::mem::take(&mut self.covered);
        covered.sort_unstable();
        // Cut points: cell starts and ends, so each gap piece lies inside one cell or outside all.
        let mut cuts: Vec<(usize, Option<usize>)> = Vec::with_capacity(self.cells.len() * 2);
        for &(ci, (s, e)) in &self.cells {
            cuts.push((s, Some(ci)));
            cuts.push((e, None));
        }
        cuts.sort_unstable_by_key(|c| c.0);
        let mut gaps: Vec<(usize, usize)> = Vec::new();
        let mut pos = 0;
        for (s, e) in covered
            .into_iter()
            .chain(std::iter::once((data.len(), data.len())))
        {
            if s > pos {
                gaps.push((pos, s));
            }
            pos = pos.max(e);
        }
        let mut pieces: Vec<(Option<usize>, usize, usize)> = Vec::new();
        let mut cut = 0;
        let mut cell: Option<usize> = None;
        for (mut s, e) in gaps {
            while s < e {
                while cut < cuts.len() && cuts[cut].0 <= s {
                    cell = cuts[cut].1;
                    cut += 1;
                }
                let end = cuts.get(cut).map_or(e, |c| c.0.min(e));
                if data[s..end].iter().any(u8::is_ascii_alphanumeric) {
                    pieces.push((cell, s, end));
                }
                s = end;
            }
        }
        for run in pieces.chunk_by(|a, b| a.0 == b.0) {
            let seg = match run {
                [(cell, s, e)] => unescaped_segment(data, *s, *e, meta(*cell, None, "json")),
                _ => {
                    let mut buf = Vec::new();
                    let mut map = OffsetMap::default();
                    for (k, &(_, s, e)) in run.iter().enumerate() {
                        if k > 0 {
                            map.push(buf.len(), run[k - 1].2);
                            buf.extend_from_slice(GAP_SEPARATOR);
                        }
                        unescape_into(data, s, e, &mut buf, &mut map);
                    }
                    Segment {
                        text: Cow::Owned(buf),
                        map,
                        meta: meta(run[0].0, None, "json"),
                        segment_lines: false,
                    }
                }
            };
            self.push(seg)?;
        }
        Ok(())
    }

    /// A string or list of strings as text; an object or other value as JSON text.
    fn value(&mut self, v: &Node, m: Detail) -> Result<(), DecodeError> {
        let is_text = match v {
            Node::Str(_) => true,
            Node::Arr { items, .. } => {
                !items.is_empty() && items.iter().all(|i| matches!(i, Node::Str(_)))
            }
            _ => false,
        };
        if is_text {
            self.text(v, false, m)
        } else {
            self.json(v, m)
        }
    }

    /// A JSON value's raw text, escapes decoded (metadata, application/json).
    fn json(&mut self, v: &Node, m: Detail) -> Result<(), DecodeError> {
        let (s, e) = v.span();
        if e - s <= 2 {
            return Ok(()); // `{}`, `[]`, short scalars: left to the gap segments
        }
        self.cover(extent(v));
        let mut seg = unescaped_segment(self.data, s, e, m);
        seg.segment_lines = true;
        self.push(seg)
    }

    /// A string, or a list of strings joined (traceback frames with a newline between them), unescaped.
    fn text(&mut self, v: &Node, join_lines: bool, m: Detail) -> Result<(), DecodeError> {
        let data = self.data;
        let parts: Vec<(usize, usize)> = match v {
            Node::Str(span) => vec![*span],
            Node::Arr { items, .. } if is_payload(v) => items.iter().map(Node::span).collect(),
            // Nested lists, numbers, objects: the whole value as JSON text.
            _ => return self.json(v, m),
        };
        if parts.is_empty() {
            return Ok(());
        }
        self.cover(extent(v));
        if let &[(s, e)] = parts.as_slice() {
            if memchr::memchr2(b'\\', 0x1b, &data[s..e]).is_none() {
                return self.push(Segment {
                    text: Cow::Borrowed(&data[s..e]),
                    map: OffsetMap::shifted(s),
                    meta: m,
                    segment_lines: true,
                });
            }
        }
        let mut buf = Vec::new();
        let mut map = OffsetMap::default();
        for (k, &(s, e)) in parts.iter().enumerate() {
            if k > 0 && join_lines && buf.last() != Some(&b'\n') {
                // The synthetic newline maps to the closing quote of the previous frame.
                map.push(buf.len(), parts[k - 1].1);
                buf.push(b'\n');
            }
            unescape_into(data, s, e, &mut buf, &mut map);
        }
        self.push(Segment {
            text: Cow::Owned(buf),
            map,
            meta: m,
            segment_lines: true,
        })
    }
}
