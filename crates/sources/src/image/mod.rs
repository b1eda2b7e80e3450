//! Container images without a daemon: `docker save` tarballs, OCI layout directories and tars, and registry
//! references pulled over the distribution API. This module owns resolving a reference to images
//! (manifest → config + layers, platform choice in indexes), scanning the config (`Env`, `Labels`,
//! `Entrypoint`, `Cmd`, `history[].created_by` with build `ARG`s), scanning every layer once per digest per run
//! (in parallel), and image provenance on findings (`keysweep_model::ImageEntry`): `image`, `manifest_digest`, `layer` (0-based index),
//! `layer_digest`, and `deleted_in_layer` when a later layer's whiteout removes the file from the final
//! filesystem (it is still recoverable from `layer`). Layer reading lives in `layer`, local stores in
//! `layout`, the HTTP client in `registry`, bounded tar iteration in `tarstream`. One bad entry of an
//! `index.json` or `manifest.json` is an error of its own; the reference's other images are still scanned.
pub mod layer;
pub mod layout;
pub mod registry;
pub mod tarstream;

use anyhow::{anyhow, bail, Context, Result};
use keysweep_model::{BlobSink, ImageEntry, Meta, Origin, Provenance};
use layer::{LayerLimits, LayerResult};
use layout::{BlobSource, OciDir, TarStore};
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

/// Options of an image scan.
#[derive(Debug, Clone, Default)]
pub struct ImageOptions {
    /// `os/arch[/variant]` to pick from multi-platform indexes (default: linux and this machine's arch).
    pub platform: Option<String>,
    /// `--insecure-registry` values: `HOST[:PORT]` reached over plain HTTP and at any address (loopback test
    /// registries); an empty value names the registry of each reference.
    pub insecure_registries: Vec<String>,
    pub limits: LayerLimits,
}

/// Counters of an image scan run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImageRunStats {
    pub images: u64,
    pub failed_refs: u64,
    /// Images of a reference that could not be resolved (a bad `index.json` / `manifest.json` entry, a missing
    /// manifest); the reference's other images were scanned.
    pub failed_images: u64,
    /// Layers read (once per distinct digest).
    pub layers_scanned: u64,
    /// Layer occurrences served from the per-run cache instead of being read again.
    pub layers_reused: u64,
    pub failed_layers: u64,
    pub compressed_bytes: u64,
    pub uncompressed_bytes: u64,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    variant: Option<String>,
}

impl Platform {
    fn display(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    platform: Option<Platform>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct DockerSaveEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// One layer to read.
#[derive(Debug, Clone)]
struct LayerRef {
    /// Key to open it with in the blob source.
    key: String,
    /// Expected digest of the raw blob, when known.
    digest: Option<String>,
}

impl LayerRef {
    fn cache_key(&self) -> String {
        self.digest.clone().unwrap_or_else(|| self.key.clone())
    }
}

/// An image resolved to its config and layers.
#[derive(Debug, Clone)]
struct Resolved {
    display: String,
    manifest_digest: Option<String>,
    config_key: String,
    config_digest: Option<String>,
    layers: Vec<LayerRef>,
}

/// The platform wanted from indexes.
fn wanted_platform(opts: &ImageOptions) -> (String, String, Option<String>) {
    if let Some(p) = &opts.platform {
        let mut it = p.split('/');
        let os = it.next().unwrap_or("linux").to_string();
        let arch = it.next().unwrap_or("").to_string();
        let variant = it.next().map(str::to_string);
        return (os, arch, variant);
    }
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        a => a,
    };
    ("linux".into(), arch.into(), None)
}

/// Pick the manifest for the wanted platform from an index's entries.
fn choose_platform<'a>(
    entries: &'a [Descriptor],
    opts: &ImageOptions,
    what: &str,
) -> Result<&'a Descriptor> {
    let (os, arch, variant) = wanted_platform(opts);
    let candidates: Vec<&Descriptor> = entries
        .iter()
        .filter(|d| {
            d.platform.as_ref().is_some_and(|p| {
                p.os == os
                    && (arch.is_empty() || p.architecture == arch)
                    && (variant.is_none() || p.variant == variant)
            })
        })
        .collect();
    if let Some(d) = candidates.first() {
        return Ok(d);
    }
    if entries.len() == 1 && entries[0].platform.is_none() && opts.platform.is_none() {
        return Ok(&entries[0]);
    }
    let available: Vec<String> = entries
        .iter()
        .filter_map(|d| d.platform.as_ref().map(|p| p.display()))
        .collect();
    let wanted = match &variant {
        Some(v) => format!("{os}/{arch}/{v}"),
        None => format!("{os}/{arch}"),
    };
    bail!(
        "{what}: no manifest for platform {wanted} (available: {}); choose one with --platform",
        if available.is_empty() {
            "none declared".to_string()
        } else {
            available.join(", ")
        }
    )
}

fn is_index(v: &Value) -> bool {
    v.get("manifests").is_some_and(|m| m.is_array())
}

/// Turn manifest bytes into a resolved image.
fn from_manifest(display: String, digest: Option<String>, bytes: &[u8]) -> Result<Resolved> {
    let v: Value = serde_json::from_slice(bytes).context("manifest is not JSON")?;
    if v.get("schemaVersion").and_then(|s| s.as_i64()) == Some(1) {
        bail!("Docker schema 1 manifests are not supported");
    }
    let config: Descriptor = serde_json::from_value(
        v.get("config")
            .cloned()
            .ok_or_else(|| anyhow!("manifest has no config"))?,
    )
    .context("manifest config descriptor")?;
    let layers: Vec<Descriptor> =
        serde_json::from_value(v.get("layers").cloned().unwrap_or(Value::Array(vec![])))
            .context("manifest layers")?;
    Ok(Resolved {
        display,
        manifest_digest: digest,
        config_key: config.digest.clone(),
        config_digest: Some(config.digest),
        layers: layers
            .into_iter()
            .map(|l| LayerRef {
                key: l.digest.clone(),
                digest: Some(l.digest),
            })
            .collect(),
    })
}

/// Warn when a document's content does not match the digest it was named by.
fn check_digest(
    scanner: &dyn BlobSink,
    display: &str,
    what: &str,
    digest: Option<&str>,
    bytes: &[u8],
) {
    let Some(want) = digest.filter(|d| d.starts_with("sha256:")) else {
        return;
    };
    let got = format!("sha256:{:x}", Sha256::digest(bytes));
    if got != want {
        scanner.warn(format!(
            "{display}: {what} digest mismatch: expected {want}, content is {got} (used anyway)"
        ));
    }
}

/// Resolve a descriptor from a local layout (manifest, or index → platform → manifest).
fn resolve_local_desc(
    scanner: &dyn BlobSink,
    src: &dyn BlobSource,
    display: &str,
    desc: &Descriptor,
    opts: &ImageOptions,
    depth: usize,
) -> Result<Resolved> {
    if depth > 4 {
        bail!("{display}: indexes nested too deeply");
    }
    let bytes = src
        .read_small(&desc.digest, registry::MAX_DOCUMENT)
        .with_context(|| format!("{display}: manifest {}", desc.digest))?;
    check_digest(scanner, display, "manifest", Some(&desc.digest), &bytes);
    let v: Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{display}: manifest {} is not JSON", desc.digest))?;
    if is_index(&v) || desc.media_type.contains("index") || desc.media_type.contains("list") {
        let entries: Vec<Descriptor> = serde_json::from_value(v["manifests"].clone())
            .with_context(|| format!("{display}: index {}", desc.digest))?;
        let chosen = choose_platform(&entries, opts, display)?;
        return resolve_local_desc(scanner, src, display, chosen, opts, depth + 1);
    }
    from_manifest(display.to_string(), Some(desc.digest.clone()), &bytes)
        .with_context(|| format!("{display}: manifest {}", desc.digest))
}

/// The images a reference names: each resolved, or an error naming the entry that could not be (the others
/// are still scanned).
type Images = Vec<Result<Resolved>>;

/// A short name for entry `i` of a list: its index, and its digest when it has one.
fn entry_name(list: &str, i: usize, v: &Value, digest_key: &str) -> String {
    match v.get(digest_key).and_then(|d| d.as_str()) {
        Some(d) => {
            let d: String = d.chars().take(80).collect();
            format!("{list}[{i}] ({d})")
        }
        None => format!("{list}[{i}]"),
    }
}

/// Images of an OCI layout (directory or tar): every entry of `index.json`, or the platform's manifest when the
/// top-level index is a multi-platform list. A bad entry is an error of its own; the other entries go on.
fn resolve_oci(
    scanner: &dyn BlobSink,
    src: &dyn BlobSource,
    reference: &str,
    opts: &ImageOptions,
) -> Result<Images> {
    let bytes = src
        .read_small("index.json", registry::MAX_DOCUMENT)
        .with_context(|| format!("{reference}: index.json"))?;
    let v: Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{reference}: index.json is not JSON"))?;
    let Some(list) = v.get("manifests").and_then(|m| m.as_array()) else {
        bail!("{reference}: index.json has no valid manifests list");
    };
    if list.is_empty() {
        bail!("{reference}: index.json lists no manifests");
    }
    let mut out: Images = Vec::new();
    let mut entries: Vec<Descriptor> = Vec::new();
    for (i, e) in list.iter().enumerate() {
        match serde_json::from_value::<Descriptor>(e.clone()) {
            Ok(d) => entries.push(d),
            Err(err) => out.push(Err(anyhow!(
                "{reference}: index.json {}: invalid descriptor: {err}",
                entry_name("manifests", i, e, "digest")
            ))),
        }
    }
    if entries.iter().any(|d| d.platform.is_some()) {
        out.push(
            choose_platform(&entries, opts, reference)
                .and_then(|chosen| resolve_local_desc(scanner, src, reference, chosen, opts, 0)),
        );
        return Ok(out);
    }
    for d in &entries {
        let display = match d.annotations.get("org.opencontainers.image.ref.name") {
            Some(tag) if list.len() > 1 => format!("{reference}:{tag}"),
            _ => reference.to_string(),
        };
        out.push(resolve_local_desc(scanner, src, &display, d, opts, 0));
    }
    Ok(out)
}

/// Images of a `docker save` tarball (`manifest.json`). A bad entry is an error of its own; the other entries
/// go on.
fn resolve_docker_save(src: &TarStore, reference: &str) -> Result<Images> {
    let bytes = src
        .read_small("manifest.json", registry::MAX_DOCUMENT)
        .with_context(|| format!("{reference}: manifest.json"))?;
    let list: Vec<Value> = serde_json::from_slice(&bytes)
        .with_context(|| format!("{reference}: manifest.json is not a docker save manifest"))?;
    let mut out: Images = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let e = match serde_json::from_value::<DockerSaveEntry>(v.clone()) {
            Ok(e) => e,
            Err(err) => {
                out.push(Err(anyhow!(
                    "{reference}: manifest.json {}: invalid entry: {err}",
                    entry_name("entry", i, v, "Config")
                )));
                continue;
            }
        };
        let config_digest = digest_of_path(&e.config);
        let diff_ids: Vec<String> = src
            .read_small(&e.config, registry::MAX_DOCUMENT)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| serde_json::from_value(v["rootfs"]["diff_ids"].clone()).ok())
            .unwrap_or_default();
        let layers = e
            .layers
            .iter()
            .enumerate()
            .map(|(i, p)| LayerRef {
                key: p.clone(),
                // docker save stores layers uncompressed, so the diff id is the blob's digest.
                digest: digest_of_path(p).or_else(|| diff_ids.get(i).cloned()),
            })
            .collect();
        let display = match e.repo_tags.as_ref().and_then(|t| t.first()) {
            Some(tag) => format!("{reference} ({tag})"),
            None => reference.to_string(),
        };
        out.push(Ok(Resolved {
            display,
            manifest_digest: None,
            config_key: e.config,
            config_digest,
            layers,
        }));
    }
    Ok(out)
}

/// `blobs/sha256/HEX` or `HEX.json` → `sha256:HEX`.
fn digest_of_path(p: &str) -> Option<String> {
    let name = p.rsplit('/').next()?;
    let hex = name.strip_suffix(".json").unwrap_or(name);
    let is_hex = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    let ok = is_hex && (p.starts_with("blobs/sha256/") || name.ends_with(".json"));
    ok.then(|| format!("sha256:{hex}"))
}

/// Resolve a reference: a local path (directory or tar) or a registry reference.
fn open_reference(
    scanner: &dyn BlobSink,
    reference: &str,
    opts: &ImageOptions,
) -> Result<(Box<dyn BlobSource>, Images)> {
    let path = Path::new(reference);
    if path.is_dir() {
        if !OciDir::is_layout(path) {
            bail!("{reference}: directory is not an OCI image layout (no index.json)");
        }
        let src = OciDir::new(path)?;
        let images = resolve_oci(scanner, &src, reference, opts)?;
        return Ok((Box::new(src), images));
    }
    if path.exists() {
        let src = TarStore::open(path)?;
        let images = if src.has("manifest.json") {
            resolve_docker_save(&src, reference)?
        } else if src.has("index.json") {
            resolve_oci(scanner, &src, reference, opts)?
        } else {
            bail!("{reference}: tar archive holds neither manifest.json (docker save) nor index.json (OCI layout)");
        };
        return Ok((Box::new(src), images));
    }
    if looks_like_path(reference) {
        bail!("{reference}: no such file or directory (it names a path, so no registry is asked for it)");
    }
    let parsed = registry::Reference::parse(reference)
        .with_context(|| format!("{reference}: not a file, directory or image reference"))?;
    let reg = registry::Registry::new(parsed, &opts.insecure_registries)
        .with_context(|| format!("{reference}: registry"))?;
    let asked = reg.reference.reference().to_string();
    let (bytes, digest) = reg
        .manifest(&asked)
        .with_context(|| format!("{reference}: manifest"))?;
    let v: Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{reference}: manifest is not JSON"))?;
    let resolved = if is_index(&v) {
        let entries: Vec<Descriptor> = serde_json::from_value(v["manifests"].clone())
            .with_context(|| format!("{reference}: index"))?;
        let chosen = choose_platform(&entries, opts, reference)?;
        let (bytes, digest) = reg
            .manifest(&chosen.digest)
            .with_context(|| format!("{reference}: manifest {}", chosen.digest))?;
        from_manifest(reference.to_string(), Some(digest), &bytes)
    } else {
        from_manifest(reference.to_string(), Some(digest), &bytes)
    }
    .with_context(|| format!("{reference}: manifest"))?;
    Ok((Box::new(reg), vec![Ok(resolved)]))
}

/// Whether an image argument names a path rather than a registry reference: it starts with `/`, `./`, `../`
/// or `~` (or is `.`/`..`), holds a backslash or a drive letter (Windows paths; never in a reference), or ends
/// with `.tar`, `.tar.gz`, `.tgz` or `.tar.zst` (a `docker save` or OCI tarball). `user/repo` stays a Docker
/// Hub reference: a relative path without one of these marks cannot be told from it.
pub fn looks_like_path(reference: &str) -> bool {
    let lower = reference.to_ascii_lowercase();
    let b = reference.as_bytes();
    matches!(reference, "." | "..")
        || ["/", "./", "../", "~", ".\\", "..\\"]
            .iter()
            .any(|p| reference.starts_with(p))
        || reference.contains('\\')
        || (b.len() >= 3
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && matches!(b[2], b'/' | b'\\'))
        || [".tar", ".tar.gz", ".tgz", ".tar.zst"]
            .iter()
            .any(|s| lower.ends_with(s))
}

/// Provenance of an image, copied into each of its findings.
fn image_meta(img: &Resolved) -> ImageEntry {
    ImageEntry {
        image: Some(img.display.clone()),
        manifest_digest: img.manifest_digest.clone(),
        ..ImageEntry::default()
    }
}

/// Scan the config's environment, labels, entrypoint, command and build history.
fn scan_config(scanner: &dyn BlobSink, img: &Resolved, bytes: &[u8]) {
    let v: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            scanner.error(format!("{}: image config is not JSON: {e}", img.display));
            return;
        }
    };
    let meta = Meta {
        provenance: Provenance::Image(Box::new(ImageEntry {
            config_digest: img.config_digest.clone(),
            ..image_meta(img)
        })),
        ..Meta::default()
    };
    let scan = |path: String, text: &str| {
        let origin = Origin {
            source: "image",
            path: path.into(),
            ignored: false,
            meta: meta.clone(),
            context: None,
        };
        scanner.scan_blob(text.as_bytes(), &origin);
    };
    for section in ["config", "container_config"] {
        let Some(c) = v.get(section).filter(|c| c.is_object()) else {
            continue;
        };
        let prefix = if section == "config" {
            "<config>".to_string()
        } else {
            "<config>/container_config".to_string()
        };
        if let Some(env) = c.get("Env").and_then(|e| e.as_array()) {
            for (i, e) in env.iter().enumerate() {
                if let Some(s) = e.as_str() {
                    scan(format!("{prefix}/Env[{i}]"), s);
                }
            }
        }
        if let Some(labels) = c.get("Labels").and_then(|l| l.as_object()) {
            for (k, val) in labels {
                if let Some(s) = val.as_str() {
                    scan(format!("{prefix}/Labels[{k}]"), &format!("{k}={s}"));
                }
            }
        }
        for field in ["Entrypoint", "Cmd"] {
            if let Some(parts) = c.get(field).and_then(|e| e.as_array()) {
                let words: Vec<&str> = parts.iter().filter_map(|p| p.as_str()).collect();
                if !words.is_empty() {
                    scan(format!("{prefix}/{field}"), &words.join(" "));
                }
            }
        }
    }
    if let Some(history) = v.get("history").and_then(|h| h.as_array()) {
        for (i, h) in history.iter().enumerate() {
            for field in ["created_by", "comment"] {
                if let Some(s) = h.get(field).and_then(|c| c.as_str()) {
                    scan(format!("<config>/history[{i}].{field}"), s);
                }
            }
        }
    }
}

/// Scans images, reading each layer digest once per run.
#[derive(Default)]
pub struct ImageScan {
    cache: HashMap<String, Arc<LayerResult>>,
    pub stats: ImageRunStats,
}

impl ImageScan {
    pub fn new() -> Self {
        Self::default()
    }

    /// Scan every image a reference names. Errors name the reference; the caller goes on with the next one.
    pub fn scan_reference(
        &mut self,
        scanner: &dyn BlobSink,
        reference: &str,
        opts: &ImageOptions,
    ) -> Result<()> {
        let (src, images) = open_reference(scanner, reference, opts)?;
        for img in &images {
            match img {
                Ok(img) => self.scan_image(scanner, src.as_ref(), img, opts),
                Err(e) => {
                    self.stats.failed_images += 1;
                    scanner.error(format!("{e:#}"));
                }
            }
        }
        Ok(())
    }

    fn scan_image(
        &mut self,
        scanner: &dyn BlobSink,
        src: &dyn BlobSource,
        img: &Resolved,
        opts: &ImageOptions,
    ) {
        self.stats.images += 1;
        match src.read_small(&img.config_key, registry::MAX_DOCUMENT) {
            Ok(bytes) => {
                check_digest(
                    scanner,
                    &img.display,
                    "config",
                    img.config_digest.as_deref(),
                    &bytes,
                );
                scan_config(scanner, img, &bytes)
            }
            Err(e) => scanner.error(format!("{}: config: {e:#}", img.display)),
        }
        // Read the layers not seen yet in this run, in parallel.
        let mut todo: Vec<(usize, &LayerRef)> = Vec::new();
        for (i, l) in img.layers.iter().enumerate() {
            let key = l.cache_key();
            if self.cache.contains_key(&key) || todo.iter().any(|(_, t)| t.cache_key() == key) {
                self.stats.layers_reused += 1;
            } else {
                todo.push((i, l));
            }
        }
        let limits = opts.limits;
        let results: Vec<(String, LayerResult)> = todo
            .par_iter()
            .map(|&(i, l)| {
                let label = format!(
                    "{} layer {i} ({})",
                    img.display,
                    l.digest.as_deref().unwrap_or(&l.key)
                );
                let res = match src.open(&l.key) {
                    Ok(r) => layer::scan_layer(scanner, r, l.digest.as_deref(), &label, &limits),
                    Err(e) => {
                        scanner.error(format!("{label}: {e:#}"));
                        LayerResult {
                            failed: true,
                            ..Default::default()
                        }
                    }
                };
                (l.cache_key(), res)
            })
            .collect();
        for (key, res) in results {
            self.stats.layers_scanned += 1;
            self.stats.failed_layers += res.failed as u64;
            self.stats.compressed_bytes += res.compressed_bytes;
            self.stats.uncompressed_bytes += res.uncompressed_bytes;
            self.cache.insert(key, Arc::new(res));
        }
        // Attach image provenance and whiteout information.
        let layers: Vec<Option<Arc<LayerResult>>> = img
            .layers
            .iter()
            .map(|l| self.cache.get(&l.cache_key()).cloned())
            .collect();
        let base = image_meta(img);
        let hiders: Vec<Hider> = layers
            .iter()
            .map(|r| Hider::new(r.as_ref().map_or(&[][..], |r| r.whiteouts.as_slice())))
            .collect();
        for (i, (l, res)) in img.layers.iter().zip(&layers).enumerate() {
            let Some(res) = res else { continue };
            let mut found = Vec::with_capacity(res.findings.len());
            // Whether a path is deleted by a later layer, worked out once per path (a file can hold many findings).
            let mut deleted_in: HashMap<Arc<str>, Option<usize>> = HashMap::new();
            for f in &res.findings {
                let mut f = f.clone();
                let deleted = *deleted_in
                    .entry(f.location.path.clone())
                    .or_insert_with(|| {
                        // A member of an archive (`dir/a.tar.gz!x/y`, nested `a.zip!b.tar!c`) is deleted with
                        // the archive: the layer path is the part before a `!` (or the whole path, for a file
                        // whose own name holds one).
                        let p = &f.location.path;
                        let paths: Vec<String> = std::iter::once(&p[..])
                            .chain(p.match_indices('!').map(|(k, _)| &p[..k]))
                            .map(layer::normalize)
                            .collect();
                        (i + 1..hiders.len()).find(|&j| paths.iter().any(|q| hiders[j].hides(q)))
                    });
                let entry = f.location.meta.image_mut();
                entry.image.clone_from(&base.image);
                entry.manifest_digest.clone_from(&base.manifest_digest);
                entry.layer = Some(i as u64);
                if let Some(d) = &l.digest {
                    entry.layer_digest = Some(d.clone());
                }
                if let Some(j) = deleted {
                    entry.deleted_in_layer = Some(j as u64);
                }
                found.push(f);
            }
            scanner.collect(found);
        }
    }
}

/// The whiteouts of one layer, as sets: a path is hidden when it or one of its parents was deleted, or one of
/// its parents was made opaque (hash look-ups per path component, not a pass over every whiteout).
struct Hider<'a> {
    deleted: HashSet<&'a str>,
    opaque: HashSet<&'a str>,
    opaque_root: bool,
}

impl<'a> Hider<'a> {
    fn new(whiteouts: &'a [layer::Whiteout]) -> Self {
        let mut h = Hider {
            deleted: HashSet::new(),
            opaque: HashSet::new(),
            opaque_root: false,
        };
        for w in whiteouts {
            match (w.opaque, w.path.is_empty()) {
                (true, true) => h.opaque_root = true,
                (true, false) => {
                    h.opaque.insert(&w.path);
                }
                (false, _) => {
                    h.deleted.insert(&w.path);
                }
            }
        }
        h
    }

    /// Whether this layer's whiteouts hide `path` (normalised) of a lower layer; same rules as
    /// `Whiteout::hides`.
    fn hides(&self, path: &str) -> bool {
        if self.opaque_root || self.deleted.contains(path) {
            return true;
        }
        if self.deleted.is_empty() && self.opaque.is_empty() {
            return false;
        }
        path.match_indices('/').any(|(i, _)| {
            let parent = &path[..i];
            self.deleted.contains(parent) || self.opaque.contains(parent)
        })
    }
}

/// Scan every reference; returns the run's counters. Failures are recorded on the scanner as errors.
pub fn scan_images(scanner: &dyn BlobSink, refs: &[String], opts: &ImageOptions) -> ImageRunStats {
    let mut run = ImageScan::new();
    for r in refs {
        if let Err(e) = run.scan_reference(scanner, r, opts) {
            run.stats.failed_refs += 1;
            scanner.error(format!("{e:#}"));
        }
    }
    run.stats
}

#[cfg(test)]
mod tests {
    use super::looks_like_path;

    #[test]
    fn path_looking_image_arguments() {
        for p in [
            "/x",
            "./x",
            "../x",
            "~/x.tar",
            ".",
            "..",
            "img.tar",
            "dir/img.TAR.GZ",
            "x.tgz",
            "x.tar.zst",
            "C:\\images\\x",
            "d:/x",
            "dir\\x",
        ] {
            assert!(looks_like_path(p), "{p}");
        }
        for r in [
            "alpine",
            "org/app",
            "ghcr.io/org/app:1.2",
            "localhost:5000/app@sha256:00",
            "a:5000/x",
        ] {
            assert!(!looks_like_path(r), "{r}");
        }
    }

    use super::*;

    #[test]
    fn hider_agrees_with_whiteout_hides() {
        let whiteouts: Vec<layer::Whiteout> = [
            ("app/.env", false),
            ("etc/secrets", false),
            ("srv", true),
            ("a//b", false),
        ]
        .iter()
        .map(|(p, o)| layer::Whiteout {
            path: p.to_string(),
            opaque: *o,
        })
        .collect();
        let h = Hider::new(&whiteouts);
        for p in [
            "app/.env",
            "app/.envrc",
            "etc/secrets/key.txt",
            "etc/secrets",
            "etc/secretsx",
            "srv",
            "srv/a/b",
            "srvx/a",
            "a//b/c",
            "a/b/c",
            "other",
        ] {
            let want = whiteouts.iter().any(|w| w.hides(p));
            assert_eq!(h.hides(p), want, "{p}");
        }
        let root = [layer::Whiteout {
            path: String::new(),
            opaque: true,
        }];
        assert!(Hider::new(&root).hides("anything/at/all"));
        assert!(!Hider::new(&[]).hides("x"));
    }
}
