//! Decoders turn one blob into the text a person would read (segments), each with a map back to the raw
//! bytes. This module owns the decoder interface, the offset map and the registry that picks a decoder by
//! name and content. Every source (tree, git, image) goes through `decode_blob`, so a notebook found in
//! history is decoded exactly as one in the working tree. Decoders know nothing of rules or reports.
use keysweep_model::Detail;
use std::borrow::Cow;

pub mod artefacts;
pub mod ci;
pub mod encoding;
pub mod json;
pub mod k8s;
pub mod notebook;

/// Maps offsets in decoded text back to offsets in the raw blob. Anchors are `(decoded, raw)` pairs sorted
/// by `decoded`; between anchors the mapping is linear (one decoded byte = one raw byte).
#[derive(Debug, Clone, Default)]
pub struct OffsetMap {
    anchors: Vec<(usize, usize)>,
}

impl OffsetMap {
    /// The identity map (raw text).
    pub fn identity() -> Self {
        OffsetMap { anchors: vec![] }
    }
    /// A map whose decoded offset 0 is raw offset `raw_start`, linear after that.
    pub fn shifted(raw_start: usize) -> Self {
        OffsetMap {
            anchors: vec![(0, raw_start)],
        }
    }
    /// Record that decoded offset `decoded` corresponds to raw offset `raw`. Calls must be in increasing
    /// `decoded` order; a repeated `decoded` replaces the previous anchor.
    pub fn push(&mut self, decoded: usize, raw: usize) {
        if let Some(last) = self.anchors.last_mut() {
            if last.0 == decoded {
                last.1 = raw;
                return;
            }
        }
        self.anchors.push((decoded, raw));
    }
    /// Raw offset of a decoded offset.
    pub fn to_raw(&self, decoded: usize) -> usize {
        match self.anchors.partition_point(|a| a.0 <= decoded) {
            0 => decoded,
            i => {
                let (d, r) = self.anchors[i - 1];
                r + (decoded - d)
            }
        }
    }
}

/// One piece of decoded text to scan.
#[derive(Debug, Clone)]
pub struct Segment<'a> {
    pub text: Cow<'a, [u8]>,
    pub map: OffsetMap,
    /// Location details added to every finding in this segment (e.g. `cell`, `output`, `field`).
    pub meta: Detail,
    /// When true, findings report `line_in_segment` (line within a notebook cell or output).
    pub segment_lines: bool,
}

impl<'a> Segment<'a> {
    /// The whole blob as raw text.
    pub fn raw(data: &'a [u8]) -> Self {
        Segment {
            text: Cow::Borrowed(data),
            map: OffsetMap::identity(),
            meta: Detail::default(),
            segment_lines: false,
        }
    }
}

/// Limits every decoder honours.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Maximum nesting depth of structured documents (JSON, YAML, archives).
    pub max_depth: usize,
    /// Maximum bytes of decoded output per blob.
    pub max_decoded_bytes: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_depth: 256,
            max_decoded_bytes: 512 << 20,
        }
    }
}

/// A decoder failure: the blob is then scanned as raw text and the message reported as a warning.
#[derive(Debug)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A format-aware decoder.
pub trait Decoder: Send + Sync {
    fn name(&self) -> &'static str;
    /// Whether this decoder handles the blob, judged by path and the first bytes.
    fn accepts(&self, path: &str, head: &[u8]) -> bool;
    /// Emit the segments of `data`. On error, nothing emitted so far is discarded by the caller; the caller
    /// falls back to raw text for the whole blob.
    fn decode<'a>(
        &self,
        path: &str,
        data: &'a [u8],
        limits: &DecodeLimits,
        out: &mut Vec<Segment<'a>>,
    ) -> Result<(), DecodeError>;
    /// `decode`, also reporting what was read but not fully decoded (without failing the blob) in
    /// `warnings`: short reasons, never a secret; the registry prefixes the path.
    fn decode_with_warnings<'a>(
        &self,
        path: &str,
        data: &'a [u8],
        limits: &DecodeLimits,
        out: &mut Vec<Segment<'a>>,
        _warnings: &mut Vec<String>,
    ) -> Result<(), DecodeError> {
        self.decode(path, data, limits, out)
    }
}

/// The ordered list of decoders; the first that accepts a blob decodes it.
#[derive(Default)]
pub struct Registry {
    decoders: Vec<Box<dyn Decoder>>,
    pub limits: DecodeLimits,
}

impl Registry {
    /// The registry with every built-in decoder.
    pub fn builtin() -> Self {
        Registry::default()
            .with(Box::new(notebook::NotebookDecoder))
            .with(Box::new(ci::CiDecoder))
            .with(Box::new(artefacts::ArtefactDecoder))
            .with(Box::new(k8s::K8sDecoder))
            .with(Box::new(json::JsonDecoder))
    }

    /// The registry without decoders: every blob is raw text (diagnostics and benchmarks).
    pub fn none() -> Self {
        Registry::default()
    }

    pub fn with(mut self, d: Box<dyn Decoder>) -> Self {
        self.decoders.push(d);
        self
    }

    /// Whether any decoder claims this blob (used to scan binary-looking blobs a decoder understands).
    pub fn accepts_any(&self, path: &str, data: &[u8]) -> bool {
        let head = &data[..data.len().min(1024)];
        self.decoders.iter().any(|d| d.accepts(path, head))
    }

    /// Decode a blob into segments. The first decoder that accepts the blob decodes it; when it fails, the
    /// next accepting decoder is tried (a broken notebook is still read as JSON text), then raw text. Returns
    /// a warning naming the blob when a decoder accepted it but failed.
    pub fn decode_blob<'a>(
        &self,
        path: &str,
        data: &'a [u8],
    ) -> (Vec<Segment<'a>>, Option<String>) {
        let head = &data[..data.len().min(1024)];
        let mut failed: Vec<String> = Vec::new();
        for d in &self.decoders {
            if d.accepts(path, head) {
                let mut out = Vec::new();
                let mut notes = Vec::new();
                match d.decode_with_warnings(path, data, &self.limits, &mut out, &mut notes) {
                    Ok(()) => {
                        let mut parts: Vec<String> = Vec::new();
                        if !failed.is_empty() {
                            parts.push(format!(
                                "{}; scanned by the {} decoder",
                                failed.join("; "),
                                d.name()
                            ));
                        }
                        parts.extend(notes.iter().map(|n| format!("{} decoder: {n}", d.name())));
                        let warning =
                            (!parts.is_empty()).then(|| format!("{path}: {}", parts.join("; ")));
                        return (out, warning);
                    }
                    Err(e) => failed.push(format!("{} decoder: {e}", d.name())),
                }
            }
        }
        let warning = (!failed.is_empty())
            .then(|| format!("{path}: {}; scanned as raw text", failed.join("; ")));
        (vec![Segment::raw(data)], warning)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_map_is_piecewise_linear() {
        let mut m = OffsetMap::identity();
        assert_eq!(m.to_raw(5), 5);
        m.push(0, 10);
        m.push(4, 16);
        assert_eq!(m.to_raw(0), 10);
        assert_eq!(m.to_raw(3), 13);
        assert_eq!(m.to_raw(4), 16);
        assert_eq!(m.to_raw(9), 21);
    }
}
