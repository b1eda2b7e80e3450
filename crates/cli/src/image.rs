//! `keysweep image`: its arguments, converted into `ImageOptions`, then `scan_images` into the scanner and
//! the report pipeline.
use crate::CommonArgs;
use anyhow::Result;
use clap::Args;
use keysweep_sources::archive::ArchiveSink;
use keysweep_sources::image::{layer::LayerLimits, registry, scan_images, ImageOptions};
use std::path::Path;

#[derive(Args, Debug)]
pub struct ImageCmd {
    /// Images: a `docker save` tarball, an OCI layout directory or tar, or `host[:port]/repo[:tag|@sha256:…]`.
    #[arg(required = true, value_name = "REF")]
    pub refs: Vec<String>,
    /// Platform to pick from multi-platform indexes, `os/arch[/variant]` (default: linux/<this machine>).
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Allow plain HTTP and private/loopback addresses for this registry host (`HOST[:PORT]`, repeatable; without
    /// a port, any port of the host). Given without a value: the registry of each image reference.
    #[arg(long, value_name = "HOST[:PORT]", num_args = 0..=1, default_missing_value = "")]
    pub insecure_registry: Vec<String>,
    /// Stop reading a layer after this many decompressed bytes (decompression bomb guard).
    #[arg(long, default_value_t = LayerLimits::default().max_layer_size, value_name = "BYTES")]
    pub max_layer_size: u64,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The `keysweep image` command.
pub fn run(cmd: ImageCmd) -> Result<i32> {
    for h in cmd.insecure_registry.iter().filter(|h| !h.is_empty()) {
        registry::HostPattern::parse(h)?;
    }
    let config = crate::load_config(&cmd.common, Path::new("."))?;
    let scanner = crate::build_scanner(&cmd.common, &config)?;
    let opts = ImageOptions {
        platform: cmd.platform.clone(),
        insecure_registries: cmd.insecure_registry.clone(),
        limits: LayerLimits {
            max_layer_size: cmd.max_layer_size,
            max_ratio: cmd.common.max_ratio,
            max_file_size: cmd.common.max_file_size,
            max_archive_depth: cmd.common.max_archive_depth,
        },
    };
    // Layers open their nested tars themselves; a zip (or a plain .gz) among the layer files is opened here.
    let sink = ArchiveSink::new(&scanner, cmd.common.archive_limits());
    let stats = crate::progress::during(!cmd.common.quiet, "image", &scanner.stats, || {
        scan_images(&sink, &cmd.refs, &opts)
    });
    if cmd.common.verbose {
        eprintln!(
            "keysweep: image: {} image(s), {} layer(s) read, {} reused from cache, {} failed; {} compressed / {} uncompressed bytes",
            stats.images,
            stats.layers_scanned,
            stats.layers_reused,
            stats.failed_layers,
            stats.compressed_bytes,
            stats.uncompressed_bytes
        );
    }
    let failed = stats.failed_refs > 0 || stats.failed_images > 0 || stats.failed_layers > 0;
    crate::pipeline::finish(&scanner, &cmd.common, &config, failed)
}
