//! keysweep's scan of its own repository is clean (through `.keysweep.toml` and allow comments): the first
//! README command must exit 0, and a scanner that cries wolf on its own repository teaches users to ignore it.
use std::process::Command;

#[test]
fn own_repository_scan_is_clean() {
    let root = env!("CARGO_MANIFEST_DIR");
    let o = Command::new(env!("CARGO_BIN_EXE_keysweep"))
        .current_dir(root)
        .args(["scan", ".", "-f", "json"])
        .output()
        .expect("run keysweep");
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json report");
    let where_: Vec<String> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .flat_map(|f| f["locations"].as_array().cloned().unwrap_or_default())
        .map(|l| format!("{}:{}", l["path"].as_str().unwrap_or("?"), l["line"]))
        .collect();
    assert!(where_.is_empty(), "self-scan reports: {where_:?}");
    assert_eq!(o.status.code(), Some(0));
    assert!(
        doc["summary"]["stats"]["blobs"].as_u64().unwrap_or(0) > 50,
        "the scan must have read the repository"
    );
}
