//! End-to-end tests of `keysweep git` and `keysweep staged`: repositories are built with the git CLI in
//! temp dirs, the built binary scans them with `--format json` over the kit's `STANDARD` rules, and
//! each test asserts the exact secrets found (decoys never) and their provenance.
use crate::common::repo::{Repo, Scan};
use crate::common::{aws, ghp, ghp_decoy};
use serde_json::Value;
use std::path::Path;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn refs(loc: &Value) -> Vec<String> {
    loc["refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn secret_added_then_removed_is_found_with_provenance_and_decoys_are_not() {
    let mut r = Repo::new();
    let (gone, kept) = (ghp(1), aws(2));
    r.commit("initial", &[("README.md", "hello\n")]);
    let c1 = r.commit(
        "add config",
        &[(
            "app/config.py",
            &format!(
                "# settings\nTOKEN = \"{gone}\"\nDECOY = \"{}\"\nAWS = \"{kept}\"\nX = \"AKIAIOSFODNN7EXAMPLE\"\n",
                ghp_decoy(3)
            ),
        )],
    );
    r.commit(
        "remove the token",
        &[(
            "app/config.py",
            &format!("# settings\nTOKEN = os.environ[\"TOKEN\"]\nAWS = \"{kept}\"\n"),
        )],
    );
    let s = r.scan(&["git"]);
    assert_eq!(s.code, 1, "{}", s.stderr);
    assert_eq!(s.secrets(), sorted(vec![gone.clone(), kept.clone()]));
    let loc = s.location(&gone);
    assert_eq!(loc["source"], "git");
    assert_eq!(loc["path"], "app/config.py");
    assert_eq!(loc["line"], 2);
    assert_eq!(loc["commit"], c1.as_str());
    assert_eq!(loc["summary"], "add config");
    assert_eq!(loc["author"], "Ada Tester <ada@example.test>");
    assert!(loc["date"].as_str().unwrap().starts_with("2023-11-14T"));
    assert_eq!(loc["live_in_head"], false);
    assert_eq!(refs(loc), vec!["refs/heads/main"]);
    // The AWS key is in two blobs (both versions of the file): still present at HEAD.
    let f = s.findings().iter().find(|f| f["secret"] == kept).unwrap();
    let locs = f["locations"].as_array().unwrap();
    assert_eq!(locs.len(), 2);
    assert!(locs.iter().all(|l| l["live_in_head"] == true));
}

#[test]
fn locations_at_one_path_and_position_are_listed_oldest_commit_first() {
    let mut r = Repo::new();
    let key = aws(130);
    // The key stays on line 1 while line 2 changes: twelve blobs, one location each, tied on path,
    // line and column. The report lists them in commit order whatever order the workers found them.
    let shas: Vec<String> = (0..12)
        .map(|i| {
            r.commit(
                &format!("v{i}"),
                &[("env.txt", &format!("AWS={key}\nversion={i}\n"))],
            )
        })
        .collect();
    let s = r.scan(&["git"]);
    assert_eq!(s.secrets(), vec![key.clone()]);
    let f = s.findings().iter().find(|f| f["secret"] == key).unwrap();
    let commits: Vec<String> = f["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["commit"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(commits, shas);
}

#[test]
fn long_lived_secret_is_attributed_to_the_commit_that_added_it() {
    // The history walk meets blobs newest first; the introducing commit is found by following the blob's
    // path back through parents (including across a merge), not the first commit the walk reached.
    let mut r = Repo::new();
    let key = ghp(20);
    r.commit("initial", &[("README.md", "hello\n")]);
    let added = r.commit(
        "add settings",
        &[("conf/settings.py", &format!("TOKEN = \"{key}\"\n"))],
    );
    for i in 0..3 {
        r.commit(
            &format!("work {i}"),
            &[("src/lib.py", &format!("x = {i}\n"))],
        );
    }
    r.git(&["checkout", "-q", "-b", "side"]);
    r.commit("side work", &[("src/side.py", "y = 1\n")]);
    r.git(&["checkout", "-q", "main"]);
    r.commit("main work", &[("src/main.py", "z = 1\n")]);
    r.git(&["merge", "-q", "--no-edit", "side"]);
    r.commit("after merge", &[("src/lib.py", "x = 9\n")]);
    let s = r.scan(&["git"]);
    assert_eq!(s.secrets(), vec![key.clone()]);
    let loc = s.location(&key);
    assert_eq!(loc["commit"], added.as_str());
    assert_eq!(loc["summary"], "add settings");
    assert_eq!(loc["live_in_head"], true);
    assert_eq!(refs(loc), vec!["refs/heads/main", "refs/heads/side"]);
}

#[test]
fn large_directories_diffed_against_the_parent_miss_no_change() {
    // Each commit's tree is walked against its parent's, comparing raw tree bytes: changes at the start,
    // middle and end of a large directory, a file replaced by a directory of the same name, a mode-only
    // change and a revert must each be seen exactly as a full walk sees them.
    let mut r = Repo::new();
    let files: Vec<(String, String)> = (0..60)
        .map(|i| (format!("pkg/f{i:02}.py"), format!("v = {i}\n")))
        .collect();
    let listed: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    r.commit("many files", &listed);
    let (k_mid, k_first, k_last, k_dir, k_end) = (ghp(31), ghp(33), aws(32), aws(34), ghp(35));
    let c_mid = r.commit(
        "middle",
        &[("pkg/f30.py", &format!("TOKEN = \"{k_mid}\"\n"))],
    );
    let c_edges = r.commit(
        "first and last",
        &[
            ("pkg/a00.py", &format!("TOKEN = \"{k_first}\"\n")),
            ("pkg/z99.py", &format!("AWS = \"{k_last}\"\n")),
        ],
    );
    std::fs::remove_file(r.dir.join("pkg/f10.py")).unwrap();
    let c_dir = r.commit(
        "file becomes a directory",
        &[("pkg/f10.py/inner.py", &format!("AWS = \"{k_dir}\"\n"))],
    );
    r.git(&["update-index", "--chmod=+x", "pkg/f01.py"]);
    let c_end = r.commit(
        "end of the original files",
        &[("pkg/f59.py", &format!("TOKEN = \"{k_end}\"\n"))],
    );
    // A revert brings back a blob seen before: no new finding, the middle key keeps its first commit.
    r.commit("revert middle", &[("pkg/f30.py", "v = 30\n")]);
    r.commit(
        "middle again",
        &[("pkg/f30.py", &format!("TOKEN = \"{k_mid}\"\n"))],
    );
    let s = r.scan(&["git"]);
    assert_eq!(
        s.secrets(),
        sorted(vec![
            k_mid.clone(),
            k_first.clone(),
            k_last.clone(),
            k_dir.clone(),
            k_end.clone()
        ]),
        "{}",
        s.stderr
    );
    for (key, path, commit) in [
        (&k_mid, "pkg/f30.py", &c_mid),
        (&k_first, "pkg/a00.py", &c_edges),
        (&k_last, "pkg/z99.py", &c_edges),
        (&k_dir, "pkg/f10.py/inner.py", &c_dir),
        (&k_end, "pkg/f59.py", &c_end),
    ] {
        let loc = s.location(key);
        assert_eq!(loc["path"], path, "{key}");
        assert_eq!(loc["commit"], commit.as_str(), "{key}");
        assert_eq!(loc["live_in_head"], true, "{key}");
    }
}

#[test]
fn secret_only_in_a_deleted_file() {
    let mut r = Repo::new();
    let key = aws(10);
    r.commit("initial", &[("README.md", "hello\n")]);
    let c = r.commit(
        "add env",
        &[("deploy/.env", &format!("AWS_ACCESS_KEY_ID={key}\n"))],
    );
    r.git(&["rm", "-q", "deploy/.env"]);
    r.git(&["commit", "-q", "-m", "oops, remove env"]);
    let s = r.scan(&["git"]);
    assert_eq!(s.secrets(), vec![key.clone()]);
    let loc = s.location(&key);
    assert_eq!(loc["path"], "deploy/.env");
    assert_eq!(loc["commit"], c.as_str());
    assert_eq!(loc["live_in_head"], false);
}

#[test]
fn secret_only_on_an_unmerged_branch() {
    let mut r = Repo::new();
    let key = ghp(20);
    r.commit("initial", &[("README.md", "hello\n")]);
    r.git(&["checkout", "-q", "-b", "feature"]);
    let c = r.commit(
        "wip",
        &[("src/client.rs", &format!("const T: &str = \"{key}\";\n"))],
    );
    r.git(&["checkout", "-q", "main"]);
    r.commit("more", &[("README.md", "hello again\n")]);
    let s = r.scan(&["git"]);
    assert_eq!(s.secrets(), vec![key.clone()]);
    let loc = s.location(&key);
    assert_eq!(loc["commit"], c.as_str());
    assert_eq!(refs(loc), vec!["refs/heads/feature"]);
    assert_eq!(loc["live_in_head"], false);
}

#[test]
fn secret_added_by_an_evil_merge() {
    let mut r = Repo::new();
    let key = aws(30);
    r.commit("initial", &[("a.txt", "a\n"), ("b.txt", "b\n")]);
    r.git(&["checkout", "-q", "-b", "side"]);
    r.commit("side change", &[("b.txt", "b2\n")]);
    r.git(&["checkout", "-q", "main"]);
    r.commit("main change", &[("a.txt", "a2\n")]);
    r.git(&["merge", "-q", "--no-ff", "--no-commit", "side"]);
    r.write("merge-notes.txt", &format!("key {key}\n"));
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "Merge branch side"]);
    let merge = r.git(&["rev-parse", "HEAD"]);
    let s = r.scan(&["git"]);
    assert_eq!(s.secrets(), vec![key.clone()]);
    let loc = s.location(&key);
    assert_eq!(loc["commit"], merge.as_str());
    assert_eq!(loc["summary"], "Merge branch side");
    assert_eq!(loc["path"], "merge-notes.txt");
    assert_eq!(loc["live_in_head"], true);
}

#[test]
fn secrets_in_stashes_staged_and_unstaged_including_older_stash_entries() {
    let mut r = Repo::new();
    let (staged, unstaged) = (ghp(40), aws(41));
    r.commit("initial", &[("a.txt", "a\n"), ("b.txt", "b\n")]);
    // Older stash: a staged change.
    r.write("a.txt", &format!("a\n{staged}\n"));
    r.git(&["add", "a.txt"]);
    r.git(&["stash", "-q"]);
    // Newer stash: an unstaged change.
    r.write("b.txt", &format!("b\n{unstaged}\n"));
    r.git(&["stash", "-q"]);
    let s = r.scan(&["git"]);
    assert_eq!(s.code, 1);
    assert_eq!(s.secrets(), sorted(vec![staged.clone(), unstaged.clone()]));
    assert_eq!(s.location(&staged)["path"], "a.txt");
    assert_eq!(s.location(&staged)["line"], 2);
    assert_eq!(refs(s.location(&staged)), vec!["stash@{1}"]);
    let newer = refs(s.location(&unstaged));
    assert_eq!(newer, vec!["refs/stash", "stash@{0}"]);
    assert_eq!(s.location(&unstaged)["live_in_head"], false);
}

#[test]
fn secret_reachable_only_from_a_tag_and_in_a_tag_message() {
    let mut r = Repo::new();
    let (key, in_msg) = (ghp(50), aws(51));
    r.commit("initial", &[("README.md", "hello\n")]);
    r.git(&["checkout", "-q", "-b", "release-tmp"]);
    let c = r.commit(
        "release build",
        &[("build/creds.json", &format!("{{\"token\": \"{key}\"}}\n"))],
    );
    r.git(&[
        "tag",
        "-a",
        "v1.0",
        "-m",
        &format!("release v1.0 (key {in_msg})"),
    ]);
    r.git(&["checkout", "-q", "main"]);
    r.git(&["branch", "-q", "-D", "release-tmp"]);
    let s = r.scan(&["git"]);
    assert_eq!(s.secrets(), sorted(vec![key.clone(), in_msg.clone()]));
    let loc = s.location(&key);
    assert_eq!(loc["commit"], c.as_str());
    assert_eq!(refs(loc), vec!["refs/tags/v1.0"]);
    let tag = s.location(&in_msg);
    assert_eq!(tag["path"], "<tag message>");
    assert_eq!(tag["tag"], "refs/tags/v1.0");
}

#[test]
fn secret_in_a_commit_message() {
    let mut r = Repo::new();
    let key = aws(60);
    r.commit("initial", &[("README.md", "hello\n")]);
    let c = r.commit(
        &format!("fix deploy\n\nused {key} to test"),
        &[("x.txt", "x\n")],
    );
    r.commit("later", &[("x.txt", "y\n")]);
    let s = r.scan(&["git"]);
    assert_eq!(s.secrets(), vec![key.clone()]);
    let loc = s.location(&key);
    assert_eq!(loc["path"], "<commit message>");
    assert_eq!(loc["line"], 3);
    assert_eq!(loc["commit"], c.as_str());
    assert_eq!(loc["summary"], "fix deploy");
}

#[test]
fn range_since_and_ci_scan_only_what_the_commits_introduced() {
    let mut r = Repo::new();
    let (old, new) = (ghp(70), aws(71));
    r.commit("initial", &[("README.md", "hello\n")]);
    let base = r.commit("old secret", &[("old.txt", &format!("{old}\n"))]);
    let c = r.commit("new secret", &[("new.txt", &format!("{new}\n"))]);
    r.commit("touch", &[("README.md", "hello 2\n")]);
    let s = r.scan(&["git", "--range", &format!("{base}..HEAD")]);
    assert_eq!(s.secrets(), vec![new.clone()]);
    assert_eq!(s.location(&new)["commit"], c.as_str());
    let s = r.scan(&["git", "--since", &base]);
    assert_eq!(s.secrets(), vec![new.clone()]);
    // A range after both secrets introduces none.
    let s = r.scan(&["git", "--range", &format!("{c}..")]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    assert!(s.secrets().is_empty());
    // GitLab merge request pipeline.
    let ci = |env: &[(&str, &str)]| Scan::of(r.keysweep_env(&["git", "--ci"], &r.dir, env));
    let s = ci(&[("CI_MERGE_REQUEST_DIFF_BASE_SHA", &base)]);
    assert_eq!(s.secrets(), vec![new.clone()]);
    // GitHub pull request: base sha from the event payload.
    let ev = r.root.join("event.json");
    std::fs::write(
        &ev,
        format!(r#"{{"pull_request":{{"base":{{"sha":"{c}"}}}}}}"#),
    )
    .unwrap();
    let s = ci(&[
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_BASE_REF", "main"),
        ("GITHUB_EVENT_PATH", ev.to_str().unwrap()),
    ]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    assert!(s.secrets().is_empty());
}

#[test]
fn bare_repository_and_unreachable_objects() {
    let mut r = Repo::new();
    let (key, dropped) = (ghp(80), aws(81));
    r.commit("initial", &[("README.md", "hello\n")]);
    r.commit("add", &[("k.txt", &format!("{key}\n"))]);
    let bare = r.root.join("bare.git");
    let root = r.root.clone();
    r.git_in(&root, &["clone", "-q", "--bare", "repo", "bare.git"]);
    let s = Scan::of(r.keysweep(&["git", bare.to_str().unwrap()], &r.root));
    assert_eq!(s.secrets(), vec![key.clone()]);
    // A commit dropped by a reset is reachable from no ref: found only with --unreachable.
    let lost = r.commit("temp", &[("tmp.txt", &format!("{dropped}\n"))]);
    r.git(&["reset", "-q", "--hard", "HEAD~1"]);
    let s = r.scan(&["git"]);
    assert_eq!(s.secrets(), vec![key.clone()]);
    let s = r.scan(&["git", "--unreachable"]);
    assert_eq!(s.secrets(), sorted(vec![key.clone(), dropped.clone()]));
    assert_eq!(s.location(&dropped)["commit"], lost.as_str());
}

#[test]
fn shallow_clone_scans_what_is_there_and_says_what_is_not() {
    let mut r = Repo::new();
    let (old, recent) = (ghp(90), aws(91));
    r.commit("one", &[("a.txt", &format!("{old}\n"))]);
    r.commit("two", &[("a.txt", "clean\n")]);
    r.commit("three", &[("b.txt", &format!("{recent}\n"))]);
    let root = r.root.clone();
    let url = format!("file://{}", r.dir.display());
    r.git_in(&root, &["clone", "-q", "--depth", "1", &url, "shallow"]);
    let s = Scan::of(r.keysweep(&["git", "shallow"], &r.root));
    assert_eq!(s.code, 1, "{}", s.stderr);
    assert_eq!(s.secrets(), vec![recent.clone()]);
    assert!(s.stderr.contains("shallow clone"), "{}", s.stderr);
    assert!(s.stderr.contains("1 boundary commit"), "{}", s.stderr);
}

#[test]
fn missing_object_gives_a_warning_with_a_count_and_the_scan_goes_on() {
    let mut r = Repo::new();
    let (lost, found) = (ghp(100), aws(101));
    r.commit(
        "one",
        &[
            ("lost.txt", &format!("{lost}\n")),
            ("kept.txt", &format!("{found}\n")),
        ],
    );
    let blob = r.git(&["rev-parse", "HEAD:lost.txt"]);
    let obj = r.dir.join(".git/objects").join(&blob[..2]).join(&blob[2..]);
    std::fs::remove_file(obj).unwrap();
    let s = r.scan(&["git"]);
    assert_eq!(s.code, 1, "{}", s.stderr);
    assert_eq!(s.secrets(), vec![found.clone()]);
    assert!(
        s.stderr.contains("1 object(s) could not be read"),
        "{}",
        s.stderr
    );
}

#[test]
fn blobs_over_the_size_limit_are_skipped_with_their_size_loose_packed_and_deltified() {
    let mut r = Repo::new();
    let (big_secret, small_secret) = (ghp(120), aws(121));
    let line =
        |i: usize| format!("line {i:04} of a large generated file, padded to a fixed width\n");
    let mut big: String = (0..100).map(line).collect();
    big.push_str(&format!("token = {big_secret}\n"));
    let mut big2 = big.clone();
    big2.push_str("one more line\n");
    r.commit("big", &[("data/big.txt", &big), ("small.txt", "nothing\n")]);
    r.commit(
        "bigger",
        &[
            ("data/big.txt", &big2),
            ("small.txt", &format!("{small_secret}\n")),
        ],
    );
    let limit = "1000";
    for packed in [false, true] {
        if packed {
            // One version of the large file becomes a delta against the other: its size must still be
            // read right without decoding it.
            r.git(&["gc", "-q", "--aggressive"]);
        }
        let s = r.scan(&["git", "--max-file-size", limit]);
        assert_eq!(s.code, 1, "{}", s.stderr);
        assert_eq!(s.secrets(), vec![small_secret.clone()], "packed: {packed}");
        for size in [big.len(), big2.len()] {
            let warning =
                format!("skipped, {size} bytes is over the --max-file-size limit of {limit}");
            assert!(
                s.stderr.contains(&warning),
                "packed {packed}, {warning}: {}",
                s.stderr
            );
        }
        let all = r.scan(&["git"]);
        assert_eq!(
            all.secrets(),
            sorted(vec![big_secret.clone(), small_secret.clone()])
        );
    }
    // Skipped blobs are never decoded: with the large blob's compressed data destroyed (its entry
    // header intact), the limited scan reports no corrupt object.
    let idx = r.pack_file("idx");
    let listing = r.git(&["verify-pack", "-v", idx.to_str().unwrap()]);
    let (offset, packed_len) = listing
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() == 5 && f[1] == "blob" && f[2].parse::<usize>().unwrap() >= big.len())
        .map(|f| {
            (
                f[4].parse::<usize>().unwrap(),
                f[3].parse::<usize>().unwrap(),
            )
        })
        .expect("the large blob stored whole");
    let pack = idx.with_extension("pack");
    let mut bytes = std::fs::read(&pack).unwrap();
    for b in &mut bytes[offset + packed_len / 3..offset + 2 * packed_len / 3] {
        *b = !*b;
    }
    std::fs::write(&pack, bytes).unwrap();
    let s = r.scan(&["git", "--max-file-size", limit]);
    assert_eq!(s.code, 1, "{}", s.stderr);
    assert_eq!(s.secrets(), vec![small_secret.clone()]);
    assert!(!s.stderr.contains("corrupt"), "{}", s.stderr);
    let unlimited = r.scan(&["git"]);
    assert!(
        unlimited.stderr.contains("corrupt"),
        "the damage is real: {}",
        unlimited.stderr
    );
}

#[test]
fn corrupt_pack_gives_a_clear_error() {
    let mut r = Repo::new();
    for i in 0..20 {
        r.commit(
            &format!("c{i}"),
            &[(&format!("f{i}.txt"), &"some text\n".repeat(50 + i))],
        );
    }
    r.git(&["gc", "-q"]);
    let pack = r.pack_file("pack");
    let mut bytes = std::fs::read(&pack).unwrap();
    let n = bytes.len();
    for b in &mut bytes[n / 4..n - 21] {
        *b = 0x5a;
    }
    let mut perms = std::fs::metadata(&pack).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&pack, perms).unwrap();
    std::fs::write(&pack, bytes).unwrap();
    let s = r.scan(&["git"]);
    assert_eq!(s.code, 2, "{}", s.stderr);
    assert!(s.stderr.contains("corrupt"), "{}", s.stderr);
    assert!(s.stderr.contains("could not be decoded"), "{}", s.stderr);
    let name = pack.file_name().unwrap().to_str().unwrap();
    assert!(
        s.stderr.contains(&format!("{name}: corrupt pack")),
        "{}",
        s.stderr
    );
}

/// A repository of a few commits, packed, whose last commit adds `secret.txt` holding `secret`.
fn packed_repo_with_secret(secret: &str) -> (Repo, String) {
    let mut r = Repo::new();
    for i in 0..5 {
        r.commit(
            &format!("c{i}"),
            &[(&format!("f{i}.txt"), &"some text\n".repeat(20 + i))],
        );
    }
    r.commit("secret", &[("secret.txt", &format!("token = {secret}\n"))]);
    r.git(&["gc", "-q"]);
    let blob = r.git(&["rev-parse", "HEAD:secret.txt"]);
    (r, blob)
}

fn writable(path: &Path) {
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(path, perms).unwrap();
}

#[test]
fn corrupt_pack_index_is_named_as_corruption_not_as_a_partial_clone() {
    let secret = ghp(140);
    let (r, blob) = packed_repo_with_secret(&secret);
    // The secret blob's id in the index is damaged: the blob cannot be found any more.
    let idx = r.pack_file("idx");
    let mut bytes = std::fs::read(&idx).unwrap();
    let id: Vec<u8> = (0..20)
        .map(|i| u8::from_str_radix(&blob[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let at = bytes
        .windows(20)
        .position(|w| w == id.as_slice())
        .expect("the blob id in the index");
    bytes[at + 19] ^= 0xff;
    writable(&idx);
    std::fs::write(&idx, bytes).unwrap();
    let s = r.scan(&["git"]);
    assert_eq!(s.code, 2, "an error, never a clean exit: {}", s.stderr);
    assert!(s.secrets().is_empty());
    let name = idx.file_name().unwrap().to_str().unwrap();
    assert!(
        s.stderr.contains(&format!("{name}: corrupt pack index")),
        "{}",
        s.stderr
    );
    assert!(s.stderr.contains("keysweep: error:"), "{}", s.stderr);
    assert!(!s.stderr.contains("partial clone"), "{}", s.stderr);
    assert!(!s.stderr.contains("everything else"), "{}", s.stderr);
}

#[test]
fn corrupt_pack_header_says_nothing_was_scanned() {
    let (r, _) = packed_repo_with_secret(&ghp(141));
    let pack = r.pack_file("pack");
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[..4].copy_from_slice(b"KCAP");
    writable(&pack);
    std::fs::write(&pack, bytes).unwrap();
    let s = r.scan(&["git"]);
    assert_eq!(s.code, 2, "{}", s.stderr);
    let name = pack.file_name().unwrap().to_str().unwrap();
    assert!(
        s.stderr.contains("keysweep: error: ")
            && s.stderr.contains(&format!("{name}: corrupt pack")),
        "{}",
        s.stderr
    );
    assert!(s.stderr.contains("nothing was scanned"), "{}", s.stderr);
    assert!(!s.stderr.contains("everything else"), "{}", s.stderr);
    assert!(!s.stderr.contains("keysweep: warning:"), "{}", s.stderr);
}

#[test]
fn staged_scans_index_changes_with_staged_lines() {
    let mut r = Repo::new();
    let (key, unstaged, committed) = (ghp(110), aws(111), aws(112));
    // First commit of a repository: everything staged is new.
    r.write("first.txt", &format!("line1\n{committed}\n"));
    r.git(&["add", "first.txt"]);
    let s = Scan::of(r.keysweep(&["staged", "-v"], &r.dir));
    assert_eq!(s.code, 1, "{}", s.stderr);
    assert_eq!(s.secrets(), vec![committed.clone()]);
    assert_eq!(s.location(&committed)["line"], 2);
    assert!(s.stderr.contains("staged: 1 file(s), "), "{}", s.stderr);
    r.git(&["commit", "-q", "-m", "first"]);
    // Nothing staged: clean.
    let s = r.scan(&["staged"]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    // Staged content is scanned, not the working tree's.
    let content = format!("a = 1\nb = 2\nTOKEN = '{key}'\n");
    r.write("src/new.py", &content);
    r.git(&["add", "src/new.py"]);
    r.write(
        "src/new.py",
        &format!("a = 1\nb = 2\nTOKEN = '{key}'\nX = '{unstaged}'\n"),
    );
    let s = Scan::of(r.keysweep(&["staged", "-v"], &r.dir));
    assert_eq!(s.code, 1, "{}", s.stderr);
    assert_eq!(s.secrets(), vec![key.clone()]);
    let loc = s.location(&key);
    assert_eq!(loc["path"], "src/new.py");
    assert_eq!(loc["line"], 3);
    assert_eq!(loc["staged"], true);
    let expected = format!("staged: 1 file(s), {} bytes", content.len());
    assert!(s.stderr.contains(&expected), "{}", s.stderr);
}

#[test]
fn staged_diff_trusts_only_cached_trees_that_equal_head() {
    // `keysweep staged` skips directories whose cached tree (the index's TREE extension) equals HEAD's;
    // every other shape of index must still yield exactly the staged changes.
    let mut r = Repo::new();
    let (deep, sibling, again) = (ghp(120), aws(121), ghp(122));
    let mut files: Vec<(String, String)> = Vec::new();
    for d in ["a", "a/b", "a/b/c", "d", "e/f"] {
        for i in 0..3 {
            files.push((format!("{d}/m{i}.py"), format!("x = {i}\n")));
        }
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    r.commit("base", &refs);
    // A change deep in one directory, a deletion in another, a new directory.
    r.write("a/b/c/m1.py", &format!("x = 1\nTOKEN = '{deep}'\n"));
    r.write("new/dir/n.py", &format!("KEY = '{sibling}'\n"));
    r.git(&["add", "a/b/c/m1.py", "new/dir/n.py"]);
    r.git(&["rm", "-q", "--cached", "d/m0.py"]);
    let s = Scan::of(r.keysweep(&["staged", "-v"], &r.dir));
    assert_eq!(s.code, 1, "{}", s.stderr);
    assert_eq!(s.secrets(), sorted(vec![deep.clone(), sibling.clone()]));
    assert!(
        s.stderr.contains("(2 added or modified, 1 deleted)"),
        "{}",
        s.stderr
    );
    // Cached trees made valid for the staged content (`git write-tree`) differ from HEAD's: still found.
    r.git(&["write-tree"]);
    let s = r.scan(&["staged"]);
    assert_eq!(s.secrets(), sorted(vec![deep.clone(), sibling.clone()]));
    // After a commit and `reset --soft`, the index's cached trees are the newer commit's: the staged
    // changes are that commit's changes.
    r.git(&["commit", "-q", "-m", "two"]);
    r.write("e/f/m2.py", &format!("T = '{again}'\n"));
    r.git(&["add", "e/f/m2.py"]);
    r.git(&["commit", "-q", "-m", "three"]);
    r.git(&["reset", "-q", "--soft", "HEAD~1"]);
    let s = Scan::of(r.keysweep(&["staged", "-v"], &r.dir));
    assert_eq!(s.secrets(), vec![again.clone()]);
    assert!(
        s.stderr.contains("(1 added or modified, 0 deleted)"),
        "{}",
        s.stderr
    );
    // An index without cached trees at all (rebuilt entry by entry) gives the same answer.
    std::fs::remove_file(r.dir.join(".git/index")).unwrap();
    r.git(&["reset", "-q"]);
    r.git(&["add", "e/f/m2.py"]);
    let s = Scan::of(r.keysweep(&["staged", "-v"], &r.dir));
    assert_eq!(s.secrets(), vec![again]);
    assert!(
        s.stderr.contains("(1 added or modified, 0 deleted)"),
        "{}",
        s.stderr
    );
}

#[test]
fn staged_with_unreadable_index_or_missing_blob_is_an_error() {
    let mut r = Repo::new();
    r.commit("first", &[("a.txt", "a\n")]);
    r.write("b.txt", "new content\n");
    r.git(&["add", "b.txt"]);
    let blob = r.git(&["rev-parse", ":b.txt"]);
    // The staged blob is gone: zero files scanned while a change is staged is an error.
    let obj = r.dir.join(".git/objects").join(&blob[..2]).join(&blob[2..]);
    std::fs::remove_file(obj).unwrap();
    let s = r.scan(&["staged"]);
    assert_eq!(s.code, 2, "{}", s.stderr);
    assert!(
        s.stderr.contains("no staged file could be scanned"),
        "{}",
        s.stderr
    );
    // A garbage index.
    std::fs::write(r.dir.join(".git/index"), b"DIRC garbage").unwrap();
    let out = r.keysweep(&["staged"], &r.dir);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot read the index"), "{err}");
}

#[test]
fn notebook_in_history_is_decoded_like_the_working_tree() {
    let mut r = Repo::new();
    let key = ghp(120);
    let nb = serde_json::json!({
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Demo\n"]},
            {"cell_type": "code", "execution_count": 1, "metadata": {},
             "source": ["import os\n", "client = make()\n"],
             "outputs": [{"output_type": "stream", "name": "stdout",
                          "text": ["connecting\n", format!("token={key}\n")]}]}
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5
    });
    let text = serde_json::to_string_pretty(&nb).unwrap();
    let c = r.commit("notebook", &[("analysis.ipynb", &text)]);
    r.git(&["rm", "-q", "analysis.ipynb"]);
    r.git(&["commit", "-q", "-m", "drop notebook"]);
    let s = r.scan(&["git"]);
    assert_eq!(s.secrets(), vec![key.clone()]);
    let loc = s.location(&key);
    assert_eq!(loc["path"], "analysis.ipynb");
    assert_eq!(loc["commit"], c.as_str());
    assert_eq!(loc["cell"], 1);
    assert_eq!(loc["output"], 0);
    assert_eq!(loc["line_in_segment"], 2);
    // The same notebook in a working tree gives the same notebook location.
    let dir = r.root.join("tree");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("analysis.ipynb"), &text).unwrap();
    let t = Scan::of(r.keysweep(&["scan", "tree"], &r.root));
    let tl = t.location(&key);
    for k in ["cell", "output", "field", "line_in_segment", "line"] {
        assert_eq!(tl[k], loc[k], "{k}");
    }
}

#[test]
fn builtin_catalogue_end_to_end_on_history() {
    let mut r = Repo::new();
    let key = ghp(130);
    r.commit("initial", &[("README.md", "hello\n")]);
    let c = r.commit(
        "ci",
        &[(".github/workflows/x.txt", &format!("GH_TOKEN={key}\n"))],
    );
    r.commit(
        "clean",
        &[(
            ".github/workflows/x.txt",
            "GH_TOKEN=${{ secrets.GH_TOKEN }}\n",
        )],
    );
    let out = crate::common::bin()
        .args(["git", "--no-config", "--format", "json"])
        .current_dir(&r.dir)
        .output()
        .unwrap();
    let s = Scan::of(out);
    assert_eq!(s.code, 1, "{}", s.stderr);
    assert_eq!(s.secrets(), vec![key.clone()]);
    let f = &s.findings()[0];
    assert_eq!(f["rule_id"], "github.pat-classic");
    let loc = s.location(&key);
    assert_eq!(loc["commit"], c.as_str());
    assert_eq!(loc["live_in_head"], false);
}

/// A 1,400-commit history, built with `git fast-import`, in which the same secrets recur far apart: the tree
/// pass then runs on several walkers, each on its own range of the commit order, and walkers on later
/// ranges meet recurring blobs and trees first. Every finding must still be attributed as one walker going
/// through the commits in order would: to the first commit holding the blob, at the path it had there.
#[test]
fn parallel_tree_pass_attributes_recurring_blobs_to_their_first_commit_and_path() {
    let mut r = Repo::new();
    let (early, late, moved) = (ghp(31), ghp(32), ghp(33));
    let mut stream = String::new();
    let mut n = 0u32;
    let mut commit = |stream: &mut String, ops: &[String]| {
        n += 1;
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{n}\ncommitter Ada Tester <ada@example.test> {} +0000\n\
             data 11\nchange {n:04}\n",
            1_700_000_000 + n * 60,
        ));
        for op in ops {
            stream.push_str(op);
        }
        stream.push('\n');
    };
    let put =
        |path: &str, text: &str| format!("M 100644 inline {path}\ndata {}\n{text}\n", text.len());
    let del = |path: &str| format!("D {path}\n");
    let early_file = format!("TOKEN = \"{early}\"\n");
    let moved_file = format!("KEY = \"{moved}\"\n");
    for i in 1..=1400u32 {
        let mut ops = vec![put(
            &format!("src/m{:02}/f{i}.py", i % 37),
            &format!("x = {i}\n"),
        )];
        // With 4 walkers the order is cut into 5 ranges of 280 commits, the first 4 walked at once. Each
        // recurrence is met a few commits into a later range, long before the walker of the first range
        // reaches the commit that introduced it.
        match i {
            // Added, deleted, then the same blob comes back at another path, and again at the first path:
            // one blob, first held by commit 270 at conf/a.py.
            270 => ops.push(put("conf/a.py", &early_file)),
            275 => ops.push(del("conf/a.py")),
            845 => ops.push(put("other/b.py", &early_file)),
            1125 => ops.push(put("conf/a.py", &early_file)),
            // A directory holding a secret is copied under another name: the copy is the same tree.
            260 => ops.push(put("pkg/inner/k.py", &moved_file)),
            566 => ops.push(put("copy/inner/k.py", &moved_file)),
            // Only in a late commit.
            1350 => ops.push(put("late/c.py", &format!("T = \"{late}\"\n"))),
            _ => {}
        }
        commit(&mut stream, &ops);
    }
    let mut child = crate::common::git_cmd(&r.dir)
        .args(["fast-import", "--quiet"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(stream.as_bytes()).unwrap();
    }
    assert!(child.wait().unwrap().success());
    r.git(&["checkout", "-q", "-f", "main"]);
    let sha_of = |r: &mut Repo, i: u32| r.git(&["rev-parse", &format!(":/^change {i:04}$")]);
    let (c270, c260, c1350) = (
        sha_of(&mut r, 270),
        sha_of(&mut r, 260),
        sha_of(&mut r, 1350),
    );

    // One walker (the order itself), then several.
    let one = r.scan(&["git", "--threads", "1"]);
    for threads in ["1", "4"] {
        let s = r.scan(&["git", "--threads", threads]);
        assert_eq!(s.code, 1, "{}", s.stderr);
        assert_eq!(
            s.secrets(),
            sorted(vec![early.clone(), late.clone(), moved.clone()])
        );
        let at = |secret: &str| {
            let l = s.location(secret);
            (
                l["commit"].as_str().unwrap().to_string(),
                l["path"].as_str().unwrap().to_string(),
            )
        };
        assert_eq!(
            at(&early),
            (c270.clone(), "conf/a.py".to_string()),
            "{threads} thread(s)"
        );
        assert_eq!(
            at(&moved),
            (c260.clone(), "pkg/inner/k.py".to_string()),
            "{threads} thread(s)"
        );
        assert_eq!(
            at(&late),
            (c1350.clone(), "late/c.py".to_string()),
            "{threads} thread(s)"
        );
        assert_eq!(
            s.findings(),
            one.findings(),
            "{threads} thread(s) differ from one"
        );
        assert!(s.location(&early)["live_in_head"] == true);
    }
}

/// A file and the same content committed in git are one blob: the working-tree finding and the history
/// finding carry git's blob id of that content (JSON field `blob`), for `scan`, `git` and `staged` alike.
#[test]
fn a_file_and_the_same_content_committed_carry_the_same_blob_id() {
    use crate::common::{self, alnum};
    let t = tempfile::TempDir::new().unwrap();
    let rules = common::rules_dir(t.path());
    let rules = rules.to_str().unwrap();
    let work = t.path().join("repo");
    common::init_repo(&work);
    let token = common::github_token(&alnum(41, 30, false));
    let text = format!("TOKEN = \"{token}\"\n");
    common::commit_files(&work, &[("app/config.py", &text)], "add config");
    let id = common::git(&work, &["rev-parse", "HEAD:app/config.py"]);
    let id = id.trim();
    let blob_of = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend([
            "--no-builtin-rules",
            "--no-config",
            "--rules",
            rules,
            "--format",
            "json",
        ]);
        let o = common::run(&work, &a);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", common::stderr(&o));
        let v = common::json(&o);
        let locs = v["findings"][0]["locations"].as_array().unwrap().clone();
        assert_eq!(locs.len(), 1, "{args:?}: {locs:?}");
        locs[0]["blob"].clone()
    };
    assert_eq!(blob_of(&["scan", "."]), id);
    assert_eq!(blob_of(&["git"]), id);
    // Staged: the same content under another path is the same blob.
    std::fs::write(work.join("copy.py"), &text).unwrap();
    common::git(&work, &["add", "copy.py"]);
    assert_eq!(blob_of(&["staged"]), id);
}
