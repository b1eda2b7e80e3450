//! Typed provenance of a blob and of every location found in it: the blob's content id (`BlobId`: git's blob
//! object id of the content), where the blob came from (`Provenance`: a plain file or stream, a git blob with
//! its commit and refs, an image layer entry with its digests), and what a decoder adds about the spot inside
//! the blob (`Detail`: typed fields for the common details, and one escape hatch, `Detail::extra`, keyed by the
//! constants of `keys`). Also the one flat JSON shape every report has written since locations carried an
//! untyped map (`MetaView`, keys sorted), and reading that shape back (`Meta::from_map`: old reports,
//! baselines and datastores). Knows nothing of how blobs are read or scanned.
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use sha1::{Digest, Sha1};
use std::collections::BTreeMap;
use std::fmt;

/// A blob's content id: git's object id of the content as a blob (SHA-1 of `blob <len>\0<content>`), so a
/// file and the same content committed in git carry the same id (Nosey Parker's blob id). A repository in
/// git's SHA-256 object format gives 32-byte ids. Written as lowercase hex (JSON field `blob`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId {
    len: u8,
    bytes: [u8; 32],
}

impl BlobId {
    /// The id git gives `data` as a blob (SHA-1 object format).
    pub fn of_content(data: &[u8]) -> Self {
        let mut h = Sha1::new();
        h.update(format!("blob {}\0", data.len()).as_bytes());
        h.update(data);
        let d = h.finalize();
        let mut bytes = [0u8; 32];
        bytes[..20].copy_from_slice(&d);
        BlobId { len: 20, bytes }
    }

    /// An id from its raw bytes: 20 (SHA-1) or 32 (SHA-256).
    pub fn from_bytes(raw: &[u8]) -> Option<Self> {
        if raw.len() != 20 && raw.len() != 32 {
            return None;
        }
        let mut bytes = [0u8; 32];
        bytes[..raw.len()].copy_from_slice(raw);
        Some(BlobId {
            len: raw.len() as u8,
            bytes,
        })
    }

    /// An id from 40 or 64 hex digits.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let h = hex.as_bytes();
        if h.len() != 40 && h.len() != 64 {
            return None;
        }
        let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        let mut raw = [0u8; 32];
        for (i, pair) in h.chunks(2).enumerate() {
            raw[i] = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Self::from_bytes(&raw[..h.len() / 2])
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_bytes()
            .iter()
            .try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({self})")
    }
}

impl Serialize for BlobId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for BlobId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        BlobId::from_hex(&s).ok_or_else(|| serde::de::Error::custom("not a blob id"))
    }
}

/// Where a blob came from, beyond its source name and path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Provenance {
    /// A file of a working tree, standard input, a member of an archive read from one: the path says it all.
    #[default]
    Plain,
    /// A blob of a git repository: history, staged changes, commit and tag messages.
    Git(Box<GitBlob>),
    /// An entry of a container image: a layer's file or the image config.
    Image(Box<ImageEntry>),
}

/// Provenance of a git blob (or commit or tag message). Every field is optional: a staged blob has no commit,
/// a tag message has no commit either, a blob reached only by a ref has no introducing commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct GitBlob {
    /// The commit that introduced the blob (or whose message this is), full hex id.
    pub commit: Option<String>,
    /// `Name <email>` of the commit's author.
    pub author: Option<String>,
    /// The author date, ISO 8601.
    pub date: Option<String>,
    /// The commit message's first line.
    pub summary: Option<String>,
    /// Names of the refs reaching the commit (at most `limits::MAX_REFS`).
    pub refs: Option<Vec<String>>,
    /// How many refs reach it, when more than `refs` names.
    pub refs_total: Option<u64>,
    /// The tag whose message this is (a tag message), or the tag a commit message was reached through.
    pub tag: Option<String>,
    /// The annotated tag object's id (a tag message).
    pub tag_object: Option<String>,
    /// The blob is in the index (`keysweep staged`), not committed yet.
    pub staged: bool,
    /// Whether the same secret is still in a blob of HEAD's tree.
    pub live_in_head: Option<bool>,
}

/// Provenance of an entry of a container image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ImageEntry {
    /// The image as the user named it (reference, archive or layout path).
    pub image: Option<String>,
    pub manifest_digest: Option<String>,
    /// The config blob's digest (findings in the image config).
    pub config_digest: Option<String>,
    /// Index of the layer holding the entry (0 = base).
    pub layer: Option<u64>,
    pub layer_digest: Option<String>,
    /// Index of a later layer whose whiteout deletes the entry (still in the image's history).
    pub deleted_in_layer: Option<u64>,
}

/// What a decoder (or the scanner) adds about where in a blob a secret is: typed fields for what several
/// decoders share, and `extra` for the rest (keys from `keys`; values as the decoder found them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Detail {
    /// Notebook cell index.
    pub cell: Option<u64>,
    /// Output index within a notebook cell.
    pub output: Option<u64>,
    /// The field of a structured document holding the secret (`source`, `data`, `auth`, …).
    pub field: Option<String>,
    /// 1-based line within the decoded segment (a notebook cell or output).
    pub line_in_segment: Option<u64>,
    /// The text encoding the blob was transcoded from (`utf-16le`, …).
    pub encoding: Option<String>,
    /// An encrypted private key (reported at low confidence).
    pub encrypted: bool,
    /// The escape hatch: decoder-specific details (CI job and step, artefact kind and run ids, Kubernetes
    /// secret, …), keyed by the constants of `keys`.
    pub extra: BTreeMap<String, Value>,
}

impl Detail {
    /// Set an escape-hatch detail.
    pub fn set(&mut self, key: &str, v: impl Into<Value>) {
        self.extra.insert(key.to_string(), v.into());
    }
}

/// Keys of the JSON shape: the typed fields' names, and the escape-hatch keys decoders write.
pub mod keys {
    pub const BLOB: &str = "blob";
    pub const REPOSITORY: &str = "repository";
    // Git.
    pub const COMMIT: &str = "commit";
    pub const AUTHOR: &str = "author";
    pub const DATE: &str = "date";
    pub const SUMMARY: &str = "summary";
    pub const REFS: &str = "refs";
    pub const REFS_TOTAL: &str = "refs_total";
    pub const TAG: &str = "tag";
    pub const TAG_OBJECT: &str = "tag_object";
    pub const STAGED: &str = "staged";
    pub const LIVE_IN_HEAD: &str = "live_in_head";
    // Images.
    pub const IMAGE: &str = "image";
    pub const MANIFEST_DIGEST: &str = "manifest_digest";
    pub const CONFIG_DIGEST: &str = "config_digest";
    pub const LAYER: &str = "layer";
    pub const LAYER_DIGEST: &str = "layer_digest";
    pub const DELETED_IN_LAYER: &str = "deleted_in_layer";
    // Typed details.
    pub const CELL: &str = "cell";
    pub const OUTPUT: &str = "output";
    pub const FIELD: &str = "field";
    pub const LINE_IN_SEGMENT: &str = "line_in_segment";
    pub const ENCODING: &str = "encoding";
    pub const ENCRYPTED: &str = "encrypted";
    // Escape-hatch details (`Detail::extra`).
    pub const ATTACHMENT: &str = "attachment";
    pub const CI: &str = "ci";
    pub const JOB: &str = "job";
    pub const STEP: &str = "step";
    pub const ARTEFACT: &str = "artefact";
    pub const WANDB_RUN: &str = "wandb_run";
    pub const MLFLOW_RUN: &str = "mlflow_run";
    pub const MLFLOW_TAG: &str = "mlflow_tag";
    pub const MLFLOW_PARAM: &str = "mlflow_param";
    pub const MCP_SERVER: &str = "mcp_server";
    pub const REGISTRY: &str = "registry";
    pub const K8S_SECRET: &str = "k8s_secret";
    pub const KEY: &str = "key";
}

/// One value of the flat shape, borrowed from the typed fields.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetaValue<'a> {
    Str(&'a str),
    U64(u64),
    Bool(bool),
    Strs(&'a [String]),
    Blob(BlobId),
    Json(&'a Value),
}

impl MetaValue<'_> {
    /// A string as it is, anything else as JSON (what human output and the HTML report show).
    pub fn text(&self) -> String {
        match self {
            MetaValue::Str(s) => s.to_string(),
            MetaValue::Json(Value::String(s)) => s.clone(),
            other => serde_json::to_string(other).unwrap_or_default(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::Str(s) => Some(s),
            MetaValue::Json(v) => v.as_str(),
            _ => None,
        }
    }
}

impl Serialize for MetaValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MetaValue::Str(v) => s.serialize_str(v),
            MetaValue::U64(v) => s.serialize_u64(*v),
            MetaValue::Bool(v) => s.serialize_bool(*v),
            MetaValue::Strs(v) => v.serialize(s),
            MetaValue::Blob(v) => v.serialize(s),
            MetaValue::Json(v) => v.serialize(s),
        }
    }
}

/// A location's provenance as one record: the blob's id, the repository a datastore report joins in, where
/// the blob came from, and the decoder's details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Meta {
    pub blob: Option<BlobId>,
    /// The repository of a location read back from a datastore (joined by `keysweep report --datastore`).
    pub repository: Option<String>,
    pub provenance: Provenance,
    pub detail: Detail,
}

impl Meta {
    /// Every field that is set, as (key, value), sorted by key: the flat shape of reports.
    pub fn entries(&self) -> Vec<(&str, MetaValue<'_>)> {
        use MetaValue::*;
        fn s<'a>(out: &mut Vec<(&'a str, MetaValue<'a>)>, k: &'static str, v: &'a Option<String>) {
            if let Some(v) = v {
                out.push((k, Str(v)));
            }
        }
        fn n<'a>(out: &mut Vec<(&'a str, MetaValue<'a>)>, k: &'static str, v: Option<u64>) {
            if let Some(v) = v {
                out.push((k, U64(v)));
            }
        }
        let mut out: Vec<(&str, MetaValue<'_>)> = Vec::new();
        let o = &mut out;
        if let Some(b) = self.blob {
            o.push((keys::BLOB, Blob(b)));
        }
        s(o, keys::REPOSITORY, &self.repository);
        match &self.provenance {
            Provenance::Plain => {}
            Provenance::Git(g) => {
                s(o, keys::COMMIT, &g.commit);
                s(o, keys::AUTHOR, &g.author);
                s(o, keys::DATE, &g.date);
                s(o, keys::SUMMARY, &g.summary);
                if let Some(r) = &g.refs {
                    o.push((keys::REFS, Strs(r)));
                }
                n(o, keys::REFS_TOTAL, g.refs_total);
                s(o, keys::TAG, &g.tag);
                s(o, keys::TAG_OBJECT, &g.tag_object);
                if g.staged {
                    o.push((keys::STAGED, Bool(true)));
                }
                if let Some(l) = g.live_in_head {
                    o.push((keys::LIVE_IN_HEAD, Bool(l)));
                }
            }
            Provenance::Image(i) => {
                s(o, keys::IMAGE, &i.image);
                s(o, keys::MANIFEST_DIGEST, &i.manifest_digest);
                s(o, keys::CONFIG_DIGEST, &i.config_digest);
                n(o, keys::LAYER, i.layer);
                s(o, keys::LAYER_DIGEST, &i.layer_digest);
                n(o, keys::DELETED_IN_LAYER, i.deleted_in_layer);
            }
        }
        let d = &self.detail;
        n(o, keys::CELL, d.cell);
        n(o, keys::OUTPUT, d.output);
        s(o, keys::FIELD, &d.field);
        n(o, keys::LINE_IN_SEGMENT, d.line_in_segment);
        s(o, keys::ENCODING, &d.encoding);
        if d.encrypted {
            o.push((keys::ENCRYPTED, Bool(true)));
        }
        // A typed field wins over an escape-hatch entry of the same name (the stable sort keeps it first).
        o.extend(d.extra.iter().map(|(k, v)| (k.as_str(), Json(v))));
        out.sort_by(|a, b| a.0.cmp(b.0));
        out.dedup_by(|later, first| later.0 == first.0);
        out
    }

    /// The value of one key of the flat shape (for presentation: readers of one field read the typed field).
    pub fn get(&self, key: &str) -> Option<MetaValue<'_>> {
        self.entries()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// Read the flat shape (an old report's, baseline's or datastore's location keys). A key whose value has
    /// the type of its typed field fills that field; any other key, or a value of another type, is kept in
    /// `detail.extra`, so nothing read is lost and writing it again gives the same JSON.
    pub fn from_map(mut map: BTreeMap<String, Value>) -> Self {
        fn take<T>(
            map: &mut BTreeMap<String, Value>,
            key: &str,
            f: impl Fn(&Value) -> Option<T>,
        ) -> Option<T> {
            let v = f(map.get(key)?)?;
            map.remove(key);
            Some(v)
        }
        let string = |v: &Value| v.as_str().map(str::to_string);
        let flag = |v: &Value| v.as_bool();
        let strings = |v: &Value| {
            v.as_array()?
                .iter()
                .map(|s| s.as_str().map(str::to_string))
                .collect::<Option<Vec<String>>>()
        };
        let m = &mut map;
        let blob = take(m, keys::BLOB, |v| v.as_str().and_then(BlobId::from_hex));
        let repository = take(m, keys::REPOSITORY, string);
        let image_keys = [
            keys::IMAGE,
            keys::MANIFEST_DIGEST,
            keys::CONFIG_DIGEST,
            keys::LAYER,
            keys::LAYER_DIGEST,
            keys::DELETED_IN_LAYER,
        ];
        let git_keys = [
            keys::COMMIT,
            keys::AUTHOR,
            keys::DATE,
            keys::SUMMARY,
            keys::REFS,
            keys::REFS_TOTAL,
            keys::TAG,
            keys::TAG_OBJECT,
            keys::STAGED,
            keys::LIVE_IN_HEAD,
        ];
        let provenance = if image_keys.iter().any(|k| m.contains_key(*k)) {
            Provenance::Image(Box::new(ImageEntry {
                image: take(m, keys::IMAGE, string),
                manifest_digest: take(m, keys::MANIFEST_DIGEST, string),
                config_digest: take(m, keys::CONFIG_DIGEST, string),
                layer: take(m, keys::LAYER, Value::as_u64),
                layer_digest: take(m, keys::LAYER_DIGEST, string),
                deleted_in_layer: take(m, keys::DELETED_IN_LAYER, Value::as_u64),
            }))
        } else if git_keys.iter().any(|k| m.contains_key(*k)) {
            Provenance::Git(Box::new(GitBlob {
                commit: take(m, keys::COMMIT, string),
                author: take(m, keys::AUTHOR, string),
                date: take(m, keys::DATE, string),
                summary: take(m, keys::SUMMARY, string),
                refs: take(m, keys::REFS, strings),
                refs_total: take(m, keys::REFS_TOTAL, Value::as_u64),
                tag: take(m, keys::TAG, string),
                tag_object: take(m, keys::TAG_OBJECT, string),
                staged: take(m, keys::STAGED, |v| v.as_bool().filter(|&b| b)).unwrap_or(false),
                live_in_head: take(m, keys::LIVE_IN_HEAD, flag),
            }))
        } else {
            Provenance::Plain
        };
        let detail = Detail {
            cell: take(m, keys::CELL, Value::as_u64),
            output: take(m, keys::OUTPUT, Value::as_u64),
            field: take(m, keys::FIELD, string),
            line_in_segment: take(m, keys::LINE_IN_SEGMENT, Value::as_u64),
            encoding: take(m, keys::ENCODING, string),
            encrypted: take(m, keys::ENCRYPTED, |v| v.as_bool().filter(|&b| b)).unwrap_or(false),
            extra: map,
        };
        Meta {
            blob,
            repository,
            provenance,
            detail,
        }
    }

    /// The git provenance, when the blob came from git.
    pub fn git(&self) -> Option<&GitBlob> {
        match &self.provenance {
            Provenance::Git(g) => Some(g),
            _ => None,
        }
    }

    /// The git provenance, made git when it was plain (a source completing a git blob's provenance).
    pub fn git_mut(&mut self) -> &mut GitBlob {
        if !matches!(self.provenance, Provenance::Git(_)) {
            self.provenance = Provenance::Git(Box::default());
        }
        match &mut self.provenance {
            Provenance::Git(g) => g,
            _ => unreachable!("set to git above"),
        }
    }

    /// The image provenance, when the blob came from an image.
    pub fn image(&self) -> Option<&ImageEntry> {
        match &self.provenance {
            Provenance::Image(i) => Some(i),
            _ => None,
        }
    }

    /// The image provenance, made an image entry when it was plain.
    pub fn image_mut(&mut self) -> &mut ImageEntry {
        if !matches!(self.provenance, Provenance::Image(_)) {
            self.provenance = Provenance::Image(Box::default());
        }
        match &mut self.provenance {
            Provenance::Image(i) => i,
            _ => unreachable!("set to image above"),
        }
    }

    /// The commit id of a git location.
    pub fn commit(&self) -> Option<&str> {
        self.git()?.commit.as_deref()
    }

    /// The commit date of a git location.
    pub fn date(&self) -> Option<&str> {
        self.git()?.date.as_deref()
    }

    /// Every string that may come from scanned content (commit text, ref and image names, decoder details,
    /// the escape hatch's object keys too), for the content redactor.
    pub fn for_each_string<'a>(&'a self, mut f: impl FnMut(&'a str)) {
        for (_, v) in self.entries() {
            match v {
                MetaValue::Str(s) => f(s),
                MetaValue::Strs(l) => l.iter().for_each(|s| f(s)),
                MetaValue::Json(v) => json_strings(v, &mut f),
                MetaValue::U64(_) | MetaValue::Bool(_) | MetaValue::Blob(_) => {}
            }
        }
    }

    /// Rewrite every string of the typed fields that may come from scanned content (the escape hatch,
    /// `detail.extra`, holds JSON values: its owner rewrites those).
    pub fn map_strings(&mut self, mut f: impl FnMut(&mut String)) {
        let opt = |s: &mut Option<String>, f: &mut dyn FnMut(&mut String)| {
            if let Some(s) = s {
                f(s)
            }
        };
        opt(&mut self.repository, &mut f);
        match &mut self.provenance {
            Provenance::Plain => {}
            Provenance::Git(g) => {
                for s in [
                    &mut g.commit,
                    &mut g.author,
                    &mut g.date,
                    &mut g.summary,
                    &mut g.tag,
                    &mut g.tag_object,
                ] {
                    opt(s, &mut f);
                }
                g.refs.iter_mut().flatten().for_each(&mut f);
            }
            Provenance::Image(i) => {
                for s in [
                    &mut i.image,
                    &mut i.manifest_digest,
                    &mut i.config_digest,
                    &mut i.layer_digest,
                ] {
                    opt(s, &mut f);
                }
            }
        }
        opt(&mut self.detail.field, &mut f);
        opt(&mut self.detail.encoding, &mut f);
    }
}

fn json_strings<'a>(v: &'a Value, f: &mut impl FnMut(&'a str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter().for_each(|v| json_strings(v, f)),
        Value::Object(o) => o.iter().for_each(|(k, v)| {
            f(k);
            json_strings(v, f)
        }),
        _ => {}
    }
}

/// A `Meta` from the keys of the flat shape (`Meta::from_map`).
impl FromIterator<(String, Value)> for Meta {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        Meta::from_map(iter.into_iter().collect())
    }
}

/// The flat shape of a `Meta` as a JSON object (keys sorted), borrowed: what a datastore stores for a location.
pub struct MetaView<'a>(pub &'a Meta);

impl Serialize for MetaView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let entries = self.0.entries();
        let mut m = s.serialize_map(Some(entries.len()))?;
        for (k, v) in entries {
            m.serialize_entry(k, &v)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn blob_id_is_gits() {
        // `printf 'hello\n' | git hash-object --stdin`, and git's empty blob.
        assert_eq!(
            BlobId::of_content(b"hello\n").to_string(),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert_eq!(
            BlobId::of_content(b"").to_string(),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
        let id = BlobId::of_content(b"x");
        assert_eq!(BlobId::from_hex(&id.to_string()), Some(id));
        assert_eq!(
            BlobId::from_hex(&"ab".repeat(32)).map(|b| b.as_bytes().len()),
            Some(32)
        );
        for bad in [
            "",
            "abc",
            &"g".repeat(40),
            &"a".repeat(41),
            "é".repeat(20).as_str(),
        ] {
            assert_eq!(BlobId::from_hex(bad), None, "{bad:?}");
        }
    }

    /// Every key of the old flat map lands in its typed field, and the map written back is the one read.
    #[test]
    fn flat_map_round_trips_through_typed_fields() {
        let git = json!({
            "author": "A <a@x>", "blob": "ce013625030ba8dba906f756967f9e9ca394464a",
            "commit": "c".repeat(40), "date": "2024-01-02T03:04:05+00:00", "summary": "s",
            "refs": ["refs/heads/main"], "refs_total": 7, "tag": "v1", "tag_object": "t",
            "staged": true, "live_in_head": false, "repository": "r",
            "cell": 1, "output": 2, "field": "source", "line_in_segment": 3, "encoding": "utf-16le",
            "encrypted": true, "ci": "github", "job": "build", "step": {"name": "x"}, "weird": [1]
        });
        let map: BTreeMap<String, Value> = serde_json::from_value(git.clone()).expect("map");
        let meta = Meta::from_map(map);
        let g = meta.git().expect("git");
        assert_eq!(g.commit.as_deref(), Some(&*"c".repeat(40)));
        assert_eq!(
            g.refs.as_deref(),
            Some(&["refs/heads/main".to_string()][..])
        );
        assert_eq!(
            (g.refs_total, g.staged, g.live_in_head),
            (Some(7), true, Some(false))
        );
        assert_eq!(g.tag_object.as_deref(), Some("t"));
        assert_eq!(
            meta.blob,
            BlobId::from_hex("ce013625030ba8dba906f756967f9e9ca394464a")
        );
        assert_eq!(meta.repository.as_deref(), Some("r"));
        let d = &meta.detail;
        assert_eq!(
            (d.cell, d.output, d.line_in_segment),
            (Some(1), Some(2), Some(3))
        );
        assert_eq!(
            (d.field.as_deref(), d.encoding.as_deref()),
            (Some("source"), Some("utf-16le"))
        );
        assert!(d.encrypted);
        assert_eq!(
            d.extra.keys().map(String::as_str).collect::<Vec<_>>(),
            ["ci", "job", "step", "weird"]
        );
        assert_eq!(serde_json::to_value(MetaView(&meta)).expect("json"), git);

        let image = json!({
            "image": "alpine:3", "manifest_digest": "sha256:m", "config_digest": "sha256:c",
            "layer": 2, "layer_digest": "sha256:l", "deleted_in_layer": 3
        });
        let meta = Meta::from_map(serde_json::from_value(image.clone()).expect("map"));
        let i = meta.image().expect("image");
        assert_eq!((i.layer, i.deleted_in_layer), (Some(2), Some(3)));
        assert_eq!(i.config_digest.as_deref(), Some("sha256:c"));
        assert!(meta.detail.extra.is_empty());
        assert_eq!(serde_json::to_value(MetaView(&meta)).expect("json"), image);
    }

    /// A value of the wrong type (a hand-edited baseline, a blob id that is not hex) is kept, not dropped.
    #[test]
    fn mistyped_values_are_kept_in_extra() {
        let odd = json!({"blob": "b-1", "cell": "three", "staged": "yes", "commit": 5});
        let meta = Meta::from_map(serde_json::from_value(odd.clone()).expect("map"));
        assert_eq!(meta.blob, None);
        assert_eq!(meta.detail.cell, None);
        assert_eq!(meta.detail.extra.len(), 4);
        assert_eq!(serde_json::to_value(MetaView(&meta)).expect("json"), odd);
    }
}
