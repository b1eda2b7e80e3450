//! Defaults of the limits that several sources and commands share, declared once. A command line option
//! takes its default from here; a library options struct's `Default` does too.

/// Largest blob (file, git blob, file inside an image layer) scanned, in bytes; larger ones are skipped
/// with a warning (`--max-file-size`).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 256 << 20;

/// How many archives deep archives found in scanned data are opened (`--max-archive-depth`; 0 = none).
pub const DEFAULT_MAX_ARCHIVE_DEPTH: usize = 3;

/// Largest ratio of decompressed to compressed bytes (an image layer, an archive), the decompression bomb
/// guard (`--max-ratio`).
pub const DEFAULT_MAX_RATIO: u64 = 1000;

/// Most bytes decompressed or read out of one archive, all its nested archives included
/// (`--max-archive-size`).
pub const DEFAULT_MAX_ARCHIVE_SIZE: u64 = 4 << 30;

/// Most entries read from one archive, all its nested archives included (`--max-archive-entries`).
pub const DEFAULT_MAX_ARCHIVE_ENTRIES: u64 = 100_000;

/// At most this many names of the refs reaching a git location are kept (`refs`, sorted branches, then
/// remotes, stash and tags); when more reach it, `refs_total` gives their number. A repository with
/// thousands of refs would otherwise repeat all of them at every location, in memory and in every report.
pub const MAX_REFS: usize = 20;
