//! Jupyter notebooks (`.ipynb`, nbformat v4 and v3) decoded the way a person reads them: one segment per cell
//! source, per output field (stream text, error `evalue`/`traceback` with ANSI codes stripped, `text/*`,
//! JSON and JavaScript data), per cell metadata and for the notebook metadata (widget state, papermill
//! parameters). Image and other binary payloads and markdown attachments are skipped. Segment meta: `cell`,
//! `output`, `field`; findings carry `line_in_segment` and the raw-file line through the offset map.
use super::json::{unescape_into, unescaped_segment, Node, TreeReader};
use super::{DecodeError, DecodeLimits, Decoder, OffsetMap, Segment};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

pub struct NotebookDecoder;

/// Containers deeper than this are not recorded (notebook fields live at depth ≤ 8 in nbformat v3).
const RECORD_DEPTH: usize = 9;

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
        let mut nb = Walk {
            data,
            out,
            budget: limits.max_decoded_bytes,
        };
        let cells: Vec<&Node> = match root.get(data, "worksheets") {
            Some(ws) => ws
                .items()
                .iter()
                .flat_map(|w| w.get(data, "cells").map(|c| c.items()).unwrap_or(&[]))
                .collect(),
            None => match root.get(data, "cells") {
                Some(c) => c.items().iter().collect(),
                None => {
                    return Err(DecodeError(
                        "not a valid notebook: no `cells` or `worksheets`".into(),
                    ))
                }
            },
        };
        for (ci, cell) in cells.into_iter().enumerate() {
            nb.cell(ci, cell)?;
        }
        if let Some(md) = root.get(data, "metadata") {
            nb.json(md, meta(None, None, "metadata"))?;
        }
        Ok(())
    }
}

fn meta(cell: Option<usize>, output: Option<usize>, field: &str) -> BTreeMap<String, Value> {
    let mut m = BTreeMap::new();
    if let Some(c) = cell {
        m.insert("cell".into(), Value::from(c));
    }
    if let Some(o) = output {
        m.insert("output".into(), Value::from(o));
    }
    m.insert("field".into(), Value::from(field));
    m
}

/// Whether a MIME bundle entry is text a person reads (not an image, audio, PDF or other binary).
fn readable_mime(mime: &[u8]) -> bool {
    let m = String::from_utf8_lossy(mime).to_ascii_lowercase();
    if m.starts_with("image/") || m.starts_with("audio/") || m.starts_with("video/") {
        return false;
    }
    m.starts_with("text/") || m.ends_with("json") || m.contains("javascript")
}

/// nbformat v3 output keys holding binary payloads.
const V3_BINARY_KEYS: &[&[u8]] = &[b"png", b"jpeg", b"jpg", b"gif", b"svg", b"pdf"];

struct Walk<'a, 'o> {
    data: &'a [u8],
    out: &'o mut Vec<Segment<'a>>,
    budget: usize,
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

    fn cell(&mut self, ci: usize, cell: &Node) -> Result<(), DecodeError> {
        let data = self.data;
        for ((ks, ke), v) in cell.entries() {
            let key = &data[*ks..*ke];
            match key {
                b"source" | b"input" => {
                    self.text(v, false, meta(Some(ci), None, "source"))?;
                }
                b"metadata" => self.json(v, meta(Some(ci), None, "metadata"))?,
                b"outputs" => {
                    for (oi, o) in v.items().iter().enumerate() {
                        self.output(ci, oi, o)?;
                    }
                }
                // Attachments are images; ids, counts and types are not text.
                _ => {}
            }
        }
        Ok(())
    }

    fn output(&mut self, ci: usize, oi: usize, o: &Node) -> Result<(), DecodeError> {
        let data = self.data;
        for ((ks, ke), v) in o.entries() {
            let key = &data[*ks..*ke];
            let field = format!("outputs.{}", String::from_utf8_lossy(key));
            match key {
                b"output_type" | b"execution_count" | b"prompt_number" | b"name" | b"ename"
                | b"stream" => {}
                b"traceback" => self.text(v, true, meta(Some(ci), Some(oi), &field))?,
                b"evalue" | b"text" => self.text(v, false, meta(Some(ci), Some(oi), &field))?,
                b"metadata" => self.json(v, meta(Some(ci), Some(oi), &field))?,
                b"data" => {
                    for ((ms, me), mv) in v.entries() {
                        let mime = &data[*ms..*me];
                        if !readable_mime(mime) {
                            continue;
                        }
                        let field = format!("outputs.data.{}", String::from_utf8_lossy(mime));
                        self.value(mv, meta(Some(ci), Some(oi), &field))?;
                    }
                }
                k if V3_BINARY_KEYS.contains(&k) => {}
                _ => self.value(v, meta(Some(ci), Some(oi), &field))?,
            }
        }
        Ok(())
    }

    /// A string or list of strings as text; an object or other value as JSON text.
    fn value(&mut self, v: &Node, m: BTreeMap<String, Value>) -> Result<(), DecodeError> {
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
    fn json(&mut self, v: &Node, m: BTreeMap<String, Value>) -> Result<(), DecodeError> {
        let (s, e) = v.span();
        if e - s <= 2 {
            return Ok(()); // `{}`, `[]`, short scalars
        }
        let mut seg = unescaped_segment(self.data, s, e, m);
        seg.segment_lines = true;
        self.push(seg)
    }

    /// A string, or a list of strings joined (traceback frames with a newline between them), unescaped.
    fn text(
        &mut self,
        v: &Node,
        join_lines: bool,
        m: BTreeMap<String, Value>,
    ) -> Result<(), DecodeError> {
        let data = self.data;
        let parts: Vec<(usize, usize)> = match v {
            Node::Str(span) => vec![*span],
            Node::Arr { items, .. } => items
                .iter()
                .filter_map(|i| match i {
                    Node::Str(span) => Some(*span),
                    _ => None,
                })
                .collect(),
            _ => return self.json(v, m),
        };
        if parts.is_empty() {
            return Ok(());
        }
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
