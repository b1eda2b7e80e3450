//! Defaults of the limits that several sources and commands share, declared once. A command line option
//! takes its default from here; a library options struct's `Default` does too.

/// Largest blob (file, git blob, file inside an image layer) scanned, in bytes; larger ones are skipped
/// with a warning (`--max-file-size`).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 256 << 20;
