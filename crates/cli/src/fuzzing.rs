//! Entry points for fuzzing: each takes arbitrary bytes and drives one parser exactly as a scan does (the
//! built-in rules, the real decoders and sources), with small limits so one input stays cheap. The cargo-fuzz
//! targets in `fuzz/` call them, and so does the property test `tests/it/fuzz_entry_points.rs` that `cargo test`
//! runs on the stable toolchain for a bounded number of generated and mutated inputs. None may panic or hang;
//! each returns how many findings (or bytes) it produced, so callers can check bounds. Owns nothing else; not
//! part of the command line.
use keysweep_detect::engine::EngineKind;
use keysweep_detect::Scanner;
use keysweep_model::{BlobFinding, BlobSink, Diagnostics, Origin, Stats};
use keysweep_rules::RuleSet;
use keysweep_sources::image::layer::{scan_layer, LayerLimits};
use std::sync::OnceLock;

/// Paths under which text is decoded: each picks a different decoder (CI systems, Kubernetes, MCP configs,
/// run folders, dotenv, notebooks, JSON).
pub const TEXT_PATHS: &[&str] = &[
    ".github/workflows/ci.yml",
    ".gitlab-ci.yml",
    "Jenkinsfile",
    "k8s/secret.yaml",
    "k8s/secret.json",
    ".cursor/mcp.json",
    "wandb/run-20240101_000000-abc123/files/config.yaml",
    "mlruns/0/abc/params/api_key",
    ".env",
    ".netrc",
    ".docker/config.json",
];

/// The scanner every entry point shares (built once: the built-in catalogue, the default engine).
fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(|| {
        let mut s = match Scanner::new(RuleSet::embedded(), EngineKind::Auto) {
            Ok(s) => s,
            // The embedded catalogue always compiles (a test checks it); without it there is nothing to fuzz.
            Err(e) => panic!("the built-in rules do not compile: {e:#}"),
        };
        s.decoders.limits.max_depth = 64;
        s
    })
}

/// A sink that scans with the shared scanner and keeps nothing, so memory does not grow across inputs.
struct Discard {
    stats: Stats,
}

impl Diagnostics for Discard {
    fn warn(&self, _msg: String) {}
    fn error(&self, _msg: String) {}
    fn stats(&self) -> &Stats {
        &self.stats
    }
}

impl BlobSink for Discard {
    fn find_in_blob(&self, data: &[u8], origin: &Origin) -> Vec<BlobFinding> {
        scanner().find_in_blob(data, origin)
    }
    fn collect(&self, found: Vec<BlobFinding>) {
        self.stats
            .blobs
            .fetch_add(found.len() as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Decode and scan `data` as a file at `path`.
pub fn file(path: &str, data: &[u8]) -> usize {
    scanner()
        .find_in_blob(data, &Origin::new("file", path))
        .len()
}

/// A notebook.
pub fn notebook(data: &[u8]) -> usize {
    file("fuzz.ipynb", data)
}

/// A JSON document.
pub fn json(data: &[u8]) -> usize {
    file("fuzz.json", data)
}

/// CI, Kubernetes and AI-pipeline artefact text: the same bytes under every path of `TEXT_PATHS`.
pub fn text(data: &[u8]) -> usize {
    TEXT_PATHS.iter().map(|p| file(p, data)).sum()
}

/// An image layer (plain, gzip or zstd tar), with small limits.
pub fn tar_layer(data: &[u8]) -> usize {
    let limits = LayerLimits {
        max_layer_size: 64 << 20,
        max_ratio: 1000,
        max_file_size: 16 << 20,
        max_archive_depth: 2,
    };
    let sink = Discard {
        stats: Stats::default(),
    };
    scan_layer(
        &sink,
        Box::new(std::io::Cursor::new(data)),
        None,
        "fuzz",
        &limits,
    )
    .findings
    .len()
}

/// An archive among scanned files (zip, tar, gzip, zstd, nested), opened by `sources::archive` with small
/// limits. Returns the findings in its members.
pub fn archive(data: &[u8]) -> usize {
    use keysweep_sources::archive::{ArchiveLimits, ArchiveSink};
    let inner = Discard {
        stats: Stats::default(),
    };
    let limits = ArchiveLimits {
        max_depth: 3,
        max_size: 64 << 20,
        max_ratio: 1000,
        max_entries: 10_000,
        max_file_size: 16 << 20,
    };
    ArchiveSink::new(&inner, limits)
        .find_in_blob(data, &Origin::new("file", "fuzz.zip"))
        .len()
}

/// A rules file: parsed, validated and compiled (never scanned with).
pub fn rules(data: &[u8]) -> usize {
    let mut set = RuleSet::default();
    set.add_text("fuzz.toml", &String::from_utf8_lossy(data));
    set.rules.len()
}

/// A git delta against a base: the first byte says where `data` splits into base and delta. Returns the
/// result's size (0 when the delta is refused).
pub fn pack_delta(data: &[u8]) -> usize {
    let Some((&cut, rest)) = data.split_first() else {
        return 0;
    };
    let cut = (cut as usize * rest.len()) / 256;
    let (base, delta) = rest.split_at(cut);
    let mut out = Vec::new();
    match keysweep_sources::git::delta::apply(base, delta, &mut out) {
        Some(()) => out.len(),
        None => 0,
    }
}

/// A `docker save` tarball or an OCI layout tar: written to a private temporary file, scanned as an image
/// argument, removed.
pub fn image_archive(data: &[u8]) -> usize {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    static N: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "keysweep-fuzz-{}-{}.tar",
        std::process::id(),
        N.fetch_add(1, Relaxed)
    ));
    if std::fs::write(&path, data).is_err() {
        return 0;
    }
    let sink = Discard {
        stats: Stats::default(),
    };
    let opts = keysweep_sources::image::ImageOptions {
        platform: None,
        insecure_registries: Vec::new(),
        limits: LayerLimits {
            max_layer_size: 64 << 20,
            max_ratio: 1000,
            max_file_size: 16 << 20,
            max_archive_depth: 2,
        },
    };
    let _ =
        keysweep_sources::image::scan_images(&sink, &[path.to_string_lossy().into_owned()], &opts);
    let _ = std::fs::remove_file(&path);
    sink.stats.blobs.load(Relaxed) as usize
}
