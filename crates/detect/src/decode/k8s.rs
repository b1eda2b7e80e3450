//! Kubernetes YAML: in every `kind: Secret` document, each `data:` value is base64-decoded and scanned as
//! `KEY: <decoded>` (so keyword context stays next to the value), mapped back to the value in the raw file
//! and tagged with `k8s_secret` (the Secret's name) and `key`. The whole file is also scanned as raw text
//! (`stringData`, Helm values and every other manifest are plain YAML). Line-oriented: no YAML parser.
use super::{DecodeError, DecodeLimits, Decoder, OffsetMap, Segment};
use base64::Engine;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

pub struct K8sDecoder;

impl Decoder for K8sDecoder {
    fn name(&self) -> &'static str {
        "k8s"
    }
    fn accepts(&self, path: &str, head: &[u8]) -> bool {
        let p = path.to_ascii_lowercase();
        (p.ends_with(".yaml") || p.ends_with(".yml")) && memchr::memchr(0, head).is_none()
    }
    fn decode<'a>(
        &self,
        _path: &str,
        data: &'a [u8],
        limits: &DecodeLimits,
        out: &mut Vec<Segment<'a>>,
    ) -> Result<(), DecodeError> {
        if memchr::memmem::find(data, b"Secret").is_none() {
            out.push(Segment::raw(data));
            return Ok(());
        }
        let first = out.len();
        out.push(Segment::raw(data));
        let mut decoded_spans: Vec<(usize, usize)> = Vec::new();
        let mut budget = limits.max_decoded_bytes;
        let mut doc: Vec<(usize, &[u8])> = Vec::new();
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', data).chain(std::iter::once(data.len())) {
            if start > data.len() {
                break;
            }
            let line = &data[start..nl.min(data.len())];
            if line.starts_with(b"---") {
                secret_doc(&doc, out, &mut budget, &mut decoded_spans)?;
                doc.clear();
            } else {
                doc.push((start, line));
            }
            start = nl + 1;
        }
        secret_doc(&doc, out, &mut budget, &mut decoded_spans)?;
        if !decoded_spans.is_empty() {
            // The raw view without the base64 values that were decoded: keyword rules must not report the
            // encoded form next to the decoded one. Same length, so the identity map still holds.
            let mut masked = data.to_vec();
            for (s, e) in decoded_spans {
                masked[s..e].fill(b' ');
            }
            out[first].text = Cow::Owned(masked);
        }
        Ok(())
    }
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
fn secret_doc<'a>(
    doc: &[(usize, &'a [u8])],
    out: &mut Vec<Segment<'a>>,
    budget: &mut usize,
    decoded_spans: &mut Vec<(usize, usize)>,
) -> Result<(), DecodeError> {
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
        let seg = data_value_segment(name.as_deref().unwrap_or(""), key, vraw, v);
        if let Some(seg) = seg {
            if seg.text.len() > *budget {
                return Err(DecodeError(
                    "decoded text exceeds the max_decoded_bytes limit".into(),
                ));
            }
            *budget -= seg.text.len();
            out.push(seg);
            decoded_spans.push((vraw, vraw + v.len()));
        }
    }
    Ok(())
}

/// One Secret `data` value (base64 at raw offset `vraw`) decoded and read as `KEY: <decoded>`, mapped back
/// to the base64 text. `None` when the value is not base64 (the raw segment covers it).
pub fn data_value_segment<'a>(
    secret: &str,
    key: &[u8],
    vraw: usize,
    v: &[u8],
) -> Option<Segment<'a>> {
    let cleaned: Vec<u8> = v
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
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
        map.push(text.len(), vraw + g * 4);
        text.extend_from_slice(chunk);
    }
    let mut meta = BTreeMap::new();
    meta.insert("k8s_secret".to_string(), Value::from(secret));
    meta.insert(
        "key".to_string(),
        Value::from(String::from_utf8_lossy(key).into_owned()),
    );
    meta.insert("field".to_string(), Value::from("data"));
    Some(Segment {
        text: Cow::Owned(text),
        map,
        meta,
        segment_lines: false,
    })
}
