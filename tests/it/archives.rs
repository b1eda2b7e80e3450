//! Archives among scanned files (issue 20, item 10): zip, tar, tar.gz, tar.zst and plain .gz are opened in
//! memory and their members reported as `archive!member` (nested: `a.zip!inner.tar.gz!x/.env`); hostile
//! archives (bombs, `..` names, links, too many entries, truncation, too deep nesting) get a warning naming
//! the archive and the scan goes on. Git history blobs are opened the same way.
use crate::common::archive::{gz, tar_of, zip_of};
use crate::common::*;
use serde_json::Value;
use std::path::Path;

/// `keysweep scan DIR` with the test rules, JSON out.
fn scan(dir: &Path, rules: &Path, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec![
        "scan",
        dir.to_str().unwrap(),
        "--no-builtin-rules",
        "--rules",
        rules.to_str().unwrap(),
        "--no-config",
        "--format",
        "json",
        "--show-secrets",
    ];
    args.extend_from_slice(extra);
    let o = run(dir, &args);
    (o.status.code().unwrap_or(-1), json(&o), stderr(&o))
}

/// (secret, path) of every location, sorted; paths relative to `dir`.
fn found(v: &Value, dir: &Path) -> Vec<(String, String)> {
    let prefix = format!("{}/", dir.display());
    let mut out = Vec::new();
    for f in v["findings"].as_array().cloned().unwrap_or_default() {
        for l in f["locations"].as_array().cloned().unwrap_or_default() {
            let p = l["path"].as_str().unwrap();
            out.push((
                f["secret"].as_str().unwrap().to_string(),
                p.strip_prefix(&prefix).unwrap_or(p).to_string(),
            ));
        }
    }
    out.sort();
    out
}

fn warned(v: &Value, parts: &[&str]) -> bool {
    report_warnings(v)
        .iter()
        .any(|w| parts.iter().all(|p| w.contains(p)))
}

fn pair(s: &str, p: &str) -> (String, String) {
    (s.to_string(), p.to_string())
}

#[test]
fn members_of_zip_tar_gz_zst_and_gz_are_found_with_bang_paths() {
    let t = tempfile::tempdir().unwrap();
    let rules = rules_dir(t.path());
    let d = t.path().join("tree");
    std::fs::create_dir_all(&d).unwrap();
    let (k1, k2, k3, k4, k5, k6) = (
        tagged_token("Zip1"),
        tagged_token("TarGz2"),
        tagged_token("Nested3"),
        tagged_token("Plain4"),
        tagged_token("Zst5"),
        tagged_token("Ci6"),
    );
    let env = format!("GITHUB_TOKEN={k1}\n");
    std::fs::write(
        d.join("release.zip"),
        zip_of(&[("README.md", b"hello\n"), ("config/.env", env.as_bytes())]),
    )
    .unwrap();
    let py = format!("token = \"{k2}\"\n");
    std::fs::write(
        d.join("backup.tar.gz"),
        gz(&tar_of(&[("x/settings.py", py.as_bytes())])),
    )
    .unwrap();
    let inner = gz(&tar_of(&[("x/.env", format!("T={k3}\n").as_bytes())]));
    let ci = format!("jobs:\n  b:\n    env:\n      GH: {k6}\n");
    std::fs::write(
        d.join("a.zip"),
        zip_of(&[
            ("inner.tar.gz", &inner),
            (".github/workflows/ci.yml", ci.as_bytes()),
        ]),
    )
    .unwrap();
    std::fs::write(d.join("notes.txt.gz"), gz(format!("{k4}\n").as_bytes())).unwrap();
    let zst = zstd::encode_all(&tar_of(&[("k.txt", format!("{k5}\n").as_bytes())])[..], 3).unwrap();
    std::fs::write(d.join("layer.tar.zst"), zst).unwrap();

    let (code, v, err) = scan(&d, &rules, &[]);
    assert_eq!(code, 1, "{err}");
    let mut want = vec![
        pair(&k1, "release.zip!config/.env"),
        pair(&k2, "backup.tar.gz!x/settings.py"),
        pair(&k3, "a.zip!inner.tar.gz!x/.env"),
        pair(&k4, "notes.txt.gz!notes.txt"),
        pair(&k5, "layer.tar.zst!k.txt"),
        pair(&k6, "a.zip!.github/workflows/ci.yml"),
    ];
    want.sort();
    assert_eq!(found(&v, &d), want);
    assert_eq!(v["summary"]["stats"]["skipped_binary"], 0, "{v}");
    // A CI file inside an archive still gets its decoder (the location names the CI system).
    let ci_loc = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["secret"] == k6.as_str())
        .map(|f| f["locations"][0].clone())
        .unwrap();
    assert_eq!(ci_loc["ci"], "github-actions", "{ci_loc}");

    // --max-archive-depth 0 turns archive opening off: back to binary files.
    let (code, v, _) = scan(&d, &rules, &["--max-archive-depth", "0"]);
    assert_eq!(code, 0);
    assert!(found(&v, &d).is_empty());
}

#[test]
fn nesting_beyond_the_depth_limit_warns() {
    let t = tempfile::tempdir().unwrap();
    let rules = rules_dir(t.path());
    let d = t.path().join("tree");
    std::fs::create_dir_all(&d).unwrap();
    let (outer, deep) = (tagged_token("Outer1"), tagged_token("Deep2"));
    let level3 = zip_of(&[("deep.txt", format!("{deep}\n").as_bytes())]);
    let level2 = zip_of(&[("l3.zip", &level3)]);
    std::fs::write(
        d.join("l1.zip"),
        zip_of(&[
            ("l2.zip", &level2),
            ("top.txt", format!("{outer}\n").as_bytes()),
        ]),
    )
    .unwrap();
    let (code, v, err) = scan(&d, &rules, &["--max-archive-depth", "2"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(found(&v, &d), vec![pair(&outer, "l1.zip!top.txt")]);
    assert!(
        warned(&v, &["l1.zip!l2.zip!l3.zip", "depth limit 2"]),
        "{:?}",
        report_warnings(&v)
    );
    // The default depth (3) reaches it.
    let (_, v, _) = scan(&d, &rules, &[]);
    assert!(found(&v, &d).contains(&pair(&deep, "l1.zip!l2.zip!l3.zip!deep.txt")));
}

#[test]
fn hostile_archives_warn_and_the_scan_goes_on() {
    let t = tempfile::tempdir().unwrap();
    let rules = rules_dir(t.path());
    let d = t.path().join("tree");
    std::fs::create_dir_all(&d).unwrap();
    let (before_bomb, traversal, plain, after_cut, many) = (
        tagged_token("Bomb1"),
        tagged_token("Trav2"),
        tagged_token("Plain3"),
        tagged_token("Cut4"),
        tagged_token("Many5"),
    );
    // A bomb: 32 MiB of zeros after a member holding a key. Stopped by the ratio guard.
    let zeros = vec![0u8; 32 << 20];
    std::fs::write(
        d.join("bomb.zip"),
        zip_of(&[
            ("a.txt", format!("{before_bomb}\n").as_bytes()),
            ("zeros.bin", &zeros),
            ("z.txt", b"never read\n"),
        ]),
    )
    .unwrap();
    // Path traversal and absolute names: reported, scanned in memory, never written anywhere.
    std::fs::write(
        d.join("trav.zip"),
        zip_of(&[("../../escape.env", format!("T={traversal}\n").as_bytes())]),
    )
    .unwrap();
    // A link entry.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "passwd", "/etc/passwd").unwrap();
    std::fs::write(d.join("links.tar"), b.into_inner().unwrap()).unwrap();
    // Truncated: the first member survives, the cut is reported.
    let mut cut = tar_of(&[
        ("ok.txt", format!("{after_cut}\n").as_bytes()),
        ("big.bin", &vec![7u8; 200_000]),
    ]);
    cut.truncate(100_000);
    std::fs::write(d.join("cut.tar"), cut).unwrap();
    // Corrupt zip: the magic, then junk.
    std::fs::write(d.join("junk.zip"), b"PK\x03\x04 this is not a zip at all").unwrap();
    // Too many entries for --max-archive-entries 20.
    let names: Vec<String> = (0..30).map(|i| format!("f{i}.txt")).collect();
    let many_body = format!("{many}\n");
    let mut entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x\n"[..])).collect();
    entries[0].1 = many_body.as_bytes();
    std::fs::write(d.join("many.zip"), zip_of(&entries)).unwrap();
    std::fs::write(d.join("plain.txt"), format!("{plain}\n")).unwrap();

    let (code, v, err) = scan(
        &d,
        &rules,
        &["--max-ratio", "100", "--max-archive-entries", "20"],
    );
    assert_eq!(code, 1, "{err}");
    let got = found(&v, &d);
    for want in [
        pair(&before_bomb, "bomb.zip!a.txt"),
        pair(&traversal, "trav.zip!../../escape.env"),
        pair(&after_cut, "cut.tar!ok.txt"),
        pair(&plain, "plain.txt"),
    ] {
        assert!(got.contains(&want), "{want:?} not in {got:?}");
    }
    assert!(
        !got.iter().any(|(s, _)| s == &many),
        "many.zip is refused whole before its directory is parsed: {got:?}"
    );
    let w = report_warnings(&v);
    assert!(
        warned(&v, &["bomb.zip", "decompression bomb guard", "--max-ratio"]),
        "{w:?}"
    );
    assert!(
        warned(&v, &["trav.zip", "`..` path", "../../escape.env"]),
        "{w:?}"
    );
    assert!(
        warned(&v, &["links.tar", "1 link entry not followed"]),
        "{w:?}"
    );
    assert!(warned(&v, &["cut.tar", "truncated or corrupt"]), "{w:?}");
    assert!(
        warned(&v, &["junk.zip", "not a readable zip archive"]),
        "{w:?}"
    );
    assert!(
        warned(
            &v,
            &["many.zip", "more than 20 entries", "--max-archive-entries"]
        ),
        "{w:?}"
    );
    // Nothing was extracted anywhere.
    assert!(!t.path().join("escape.env").exists());
    assert!(!d.join("passwd").exists());

    // --max-archive-size is the absolute cap.
    let (_, v, _) = scan(&d, &rules, &["--max-archive-size", "1000000"]);
    assert!(
        warned(&v, &["bomb.zip", "--max-archive-size"]),
        "{:?}",
        report_warnings(&v)
    );
}

#[test]
fn archives_in_git_history_are_opened() {
    let t = tempfile::tempdir().unwrap();
    let rules = rules_dir(t.path());
    let r = t.path().join("repo");
    init_repo(&r);
    let k = tagged_token("GitZip1");
    std::fs::write(
        r.join("release.zip"),
        zip_of(&[("config/.env", format!("GITHUB_TOKEN={k}\n").as_bytes())]),
    )
    .unwrap();
    git(&r, &["add", "release.zip"]);
    git(&r, &["commit", "-qm", "release"]);
    git(&r, &["rm", "-q", "release.zip"]);
    git(&r, &["commit", "-qm", "gone"]);
    let o = run_with_rules(
        &r,
        &rules,
        &[
            "git",
            ".",
            "--no-config",
            "--format",
            "json",
            "--show-secrets",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(found(&v, &r), vec![pair(&k, "release.zip!config/.env")]);
    assert!(v["findings"][0]["locations"][0]["commit"].is_string());
}
