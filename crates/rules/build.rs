//! Embeds every `detectors/*.toml` rule file (the repository root's `detectors/`) into the binary (sorted, so builds are reproducible),
//! and a digest of this crate's code and of `Cargo.lock` (`RuleSet::code_digest`).
use std::{env, fs, path::Path};

fn main() {
    println!("cargo:rerun-if-changed=../../detectors");
    let out = Path::new(&env::var("OUT_DIR").expect("OUT_DIR")).join("embedded_rules.rs");
    let mut files: Vec<_> = fs::read_dir("../../detectors")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut code = String::from("pub static EMBEDDED: &[(&str, &str)] = &[\n");
    for f in &files {
        let abs = fs::canonicalize(f).expect("canonicalize rule file");
        println!("cargo:rerun-if-changed={}", f.display());
        code.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            f.file_name().expect("file name").to_string_lossy(),
            abs.display().to_string()
        ));
    }
    code.push_str("];\n");
    // What loading a rule file produces depends on this crate's code and its dependencies' versions as well
    // as on the files: a digest of both, so that caches of loaded rule sets miss when either changes.
    let mut h = std::hash::DefaultHasher::new();
    let mut sources: Vec<_> = fs::read_dir("src")
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    sources.sort();
    sources.push(Path::new("../../Cargo.lock").to_path_buf());
    for f in &sources {
        println!("cargo:rerun-if-changed={}", f.display());
        std::hash::Hash::hash(&fs::read(f).unwrap_or_default(), &mut h);
    }
    code.push_str(&format!(
        "pub static CODE_DIGEST: &str = \"{:016x}\";\n",
        std::hash::Hasher::finish(&h)
    ));
    fs::write(out, code).expect("write embedded_rules.rs");
}
