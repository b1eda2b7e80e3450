//! Stores of findings that outlive a run. Today: `baseline`, the file of accepted findings (format, apply,
//! create/update, import of other scanners' baselines). The SQLite/PostgreSQL datastore for bulk
//! (organisation-wide) runs will live here too, written through `keysweep_model::BlobSink`.
pub mod baseline;
