//! Stores of findings that outlive a run: `baseline`, the file of accepted findings (format, apply,
//! create/update, import of other scanners' baselines), and `datastore`, what organisation sweeps remember
//! across runs and machines (SQLite embedded, PostgreSQL shared by workers on many machines, one `Datastore`
//! interface and one schema).
pub mod baseline;
pub mod datastore;
