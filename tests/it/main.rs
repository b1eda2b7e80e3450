//! The integration tests, as one test binary: the workspace is linked once, not once per file. The shared kit
//! is `common` (the rule catalogue, checksum-valid generated tokens, running the built binary, git, temporary
//! repositories, the decoders' library-level scan, a loopback `git daemon`, HTTP and PostgreSQL servers).
//! Each module is one area; `cargo test --test it <module>::` runs one.
mod common;

mod archives;
mod baseline;
mod cli;
mod config;
mod corpus;
mod datastore_backends;
mod datastore_cli;
mod decoders;
mod encodings;
mod engines;
mod fs_safety;
mod fuzz_entry_points;
mod git_history;
mod hook;
mod html_report;
mod image;
mod notebooks;
mod org;
mod org_clone;
mod org_listing;
mod org_workers;
mod readme;
mod redaction;
mod self_scan;
mod ux;
mod verify_cli;
