//! Files keysweep writes and the tree walk against a hostile checkout (issue 23, items 2, 5, 6, 14): a symlink
//! a scanned repository plants where keysweep writes (baseline temporary/target, report) is never written
//! through; symlinks inside the tree are not followed by default and, with `--follow-symlinks`, never lead
//! outside the root and reach each target once (a fan-out of links stays linear); FIFOs never block a scan;
//! a tampered compiled-rules cache is a miss (the scan still finds the key, no text from the file is
//! printed) and the cache is private (0700/0600); standard input honours `--max-file-size`.
#![cfg(unix)]
use crate::common;

use common::*;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Test-rules arguments for a folder holding `rules/`.
fn rule_args(t: &Path) -> Vec<String> {
    let rules = rules_dir(t);
    vec![
        "--no-builtin-rules".into(),
        "--no-config".into(),
        "--no-cache".into(),
        "--rules".into(),
        rules.to_string_lossy().into_owned(),
    ]
}

/// Run keysweep in `cwd`, killing it after 20 s: panics if it did not exit by itself.
fn run_bounded(cwd: &Path, args: &[String], stdin: Option<&[u8]>, env: &[(&str, &Path)]) -> Output {
    let out = tempfile::tempdir().expect("tempdir");
    let (o, e) = (out.path().join("out"), out.path().join("err"));
    let mut cmd = bin();
    cmd.current_dir(cwd)
        .args(args)
        .stdout(Stdio::from(fs::File::create(&o).expect("out")))
        .stderr(Stdio::from(fs::File::create(&e).expect("err")))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn keysweep");
    if let Some(data) = stdin {
        use std::io::Write;
        let mut w = child.stdin.take().expect("stdin");
        // keysweep may stop reading early (over the limit): a broken pipe is fine.
        let _ = w.write_all(data);
    }
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("keysweep {args:?} did not finish within 20 s (blocked or exponential)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: fs::read(&o).expect("read out"),
        stderr: fs::read(&e).expect("read err"),
    }
}

fn scan(cwd: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<String> = vec!["scan".into(), "-f".into(), "json".into()];
    args.extend(rule_args(cwd));
    args.extend(extra.iter().map(|s| s.to_string()));
    run_bounded(cwd, &args, None, &[])
}

/// Every location path of every finding.
fn locations(o: &Output) -> Vec<String> {
    let doc = json(o);
    let mut v: Vec<String> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .flat_map(|f| f["locations"].as_array().expect("locations").clone())
        .map(|l| l["path"].as_str().expect("path").to_string())
        .collect();
    v.sort();
    v
}

/// Write a file holding the test key (`TOKEN=…`), creating its folder.
fn plant_key(path: &Path) {
    fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    fs::write(path, format!("TOKEN={}\n", github_token(BODY))).expect("w");
}

#[test]
fn baseline_never_writes_through_symlinks_the_repository_plants() {
    let t = tempfile::tempdir().expect("tempdir");
    let repo = t.path().join("repo");
    fs::create_dir_all(repo.join(".git")).expect("mkdir");
    plant_key(&repo.join("leak.sh"));
    let outside = t.path().join("bashrc");
    fs::write(&outside, "# precious\n").expect("w");
    let outside2 = t.path().join("profile");
    fs::write(&outside2, "# also precious\n").expect("w");
    symlink(&outside, repo.join(".keysweep-baseline.json.tmp")).expect("symlink");
    // The baseline itself may be a planted link too (create --force, update): replaced, not written through.
    symlink(&outside2, repo.join(".keysweep-baseline.json")).expect("symlink");

    for sub in ["create", "update"] {
        let mut args: Vec<String> = vec!["baseline".into(), sub.into()];
        if sub == "create" {
            args.push("--force".into());
        }
        args.extend(rule_args(t.path()));
        args.push("repo".into());
        let o = run_bounded(t.path(), &args, None, &[]);
        assert_eq!(o.status.code(), Some(0), "{sub}: {}", stderr(&o));
        assert_eq!(fs::read_to_string(&outside).expect("r"), "# precious\n");
        assert_eq!(
            fs::read_to_string(&outside2).expect("r"),
            "# also precious\n"
        );
        let b = repo.join(".keysweep-baseline.json");
        assert!(fs::symlink_metadata(&b).expect("m").file_type().is_file());
        assert!(fs::read_to_string(&b).expect("r").contains("leak.sh"));
    }
    // No temporary files left, and none with a predictable name.
    let mut names: Vec<String> = fs::read_dir(&repo)
        .expect("ls")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".git",
            ".keysweep-baseline.json",
            ".keysweep-baseline.json.tmp",
            "leak.sh"
        ]
    );
}

#[test]
fn report_output_is_private_and_never_follows_a_link_to_a_file() {
    let t = tempfile::tempdir().expect("tempdir");
    let repo = t.path().join("repo");
    fs::create_dir_all(&repo).expect("mkdir");
    plant_key(&repo.join("leak.sh"));
    let outside = t.path().join("bashrc");
    fs::write(&outside, "# precious\n").expect("w");
    symlink(&outside, repo.join("report.json")).expect("symlink");
    let o = scan(t.path(), &["-o", "repo/report.json", "repo"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("symbolic link"),
        "names the refusal: {}",
        stderr(&o)
    );
    assert_eq!(fs::read_to_string(&outside).expect("r"), "# precious\n");
    // A new report file is written 0600 (it may hold secrets); /dev/null (a device) is written in place.
    let o = scan(t.path(), &["-o", "new.json", "repo"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let m = fs::symlink_metadata(t.path().join("new.json")).expect("m");
    assert_eq!(m.permissions().mode() & 0o777, 0o600);
    assert!(fs::read_to_string(t.path().join("new.json"))
        .expect("r")
        .contains("leak.sh"));
    let o = scan(t.path(), &["-o", "/dev/null", "repo"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

#[test]
fn symlinks_to_outside_the_root_are_never_followed() {
    let t = tempfile::tempdir().expect("tempdir");
    let outside = t.path().join("outside");
    fs::create_dir_all(&outside).expect("mkdir");
    plant_key(&outside.join("secret.txt"));
    let repo = t.path().join("repo");
    fs::create_dir_all(&repo).expect("mkdir");
    fs::write(repo.join("clean.txt"), "nothing\n").expect("w");
    symlink(outside.join("secret.txt"), repo.join("file-link.txt")).expect("symlink");
    symlink(&outside, repo.join("dir-link")).expect("symlink");

    let o = scan(t.path(), &["repo"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(locations(&o).is_empty());

    let o = scan(t.path(), &["--follow-symlinks", "repo"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(locations(&o).is_empty(), "{:?}", locations(&o));
    let err = stderr(&o);
    assert!(
        err.contains("repo/file-link.txt: skipped, symbolic link to outside the scanned root")
            && err.contains("repo/dir-link: skipped, symbolic link to outside the scanned root"),
        "{err}"
    );
}

#[test]
fn follow_symlinks_visits_each_target_once() {
    let t = tempfile::tempdir().expect("tempdir");
    let repo = t.path().join("repo");
    fs::create_dir_all(repo.join("a")).expect("mkdir");
    plant_key(&repo.join("a/key.txt"));
    symlink("a", repo.join("b")).expect("symlink");
    symlink("a/key.txt", repo.join("key-link.txt")).expect("symlink");
    // Not followed by default: the file is reported at its own path only.
    let o = scan(t.path(), &["repo"]);
    assert_eq!(locations(&o), ["repo/a/key.txt"]);
    // Followed: still one location (whichever path the walk met first), never three.
    let o = scan(t.path(), &["--follow-symlinks", "repo"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let locs = locations(&o);
    assert_eq!(locs.len(), 1, "{locs:?}");
    assert!(
        ["repo/a/key.txt", "repo/b/key.txt", "repo/key-link.txt"].contains(&locs[0].as_str()),
        "{locs:?}"
    );
    // With --no-ignore too: once, and not marked ignored whichever path the parallel walk took.
    let o = scan(t.path(), &["--follow-symlinks", "--no-ignore", "repo"]);
    assert_eq!(locations(&o).len(), 1, "{:?}", locations(&o));
    // (`ignored` is only written when true.)
    assert_ne!(
        json(&o)["findings"][0]["locations"][0]["ignored"],
        true,
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_fan_out_of_symlinked_folders_is_walked_in_linear_time() {
    // d/0/{x,y} -> ../1, d/1/{x,y} -> ../2, …: 2^24 paths lead to d/24, which holds the key.
    const LEVELS: usize = 24;
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path().join("repo/d");
    for i in 0..=LEVELS {
        fs::create_dir_all(d.join(i.to_string())).expect("mkdir");
    }
    for i in 0..LEVELS {
        for name in ["x", "y"] {
            symlink(format!("../{}", i + 1), d.join(i.to_string()).join(name)).expect("symlink");
        }
    }
    plant_key(&d.join(format!("{LEVELS}/key.txt")));
    let start = Instant::now();
    let o = scan(t.path(), &["--follow-symlinks", "repo"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(locations(&o).len(), 1, "{:?}", locations(&o));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().expect("mkfifo");
    assert!(st.success());
}

#[test]
fn fifos_never_block_a_scan() {
    let t = tempfile::tempdir().expect("tempdir");
    let repo = t.path().join("repo");
    fs::create_dir_all(repo.join("sub")).expect("mkdir");
    plant_key(&repo.join("leak.sh"));
    mkfifo(&repo.join("pipe"));
    // A FIFO the walker would have to read as an ignore file: that folder is skipped, with a warning.
    mkfifo(&repo.join("sub/.gitignore"));
    fs::write(repo.join("sub/other.txt"), "x\n").expect("w");
    symlink("pipe", repo.join("pipe-link")).expect("symlink");

    for extra in [&[][..], &["--follow-symlinks"][..], &["--no-ignore"][..]] {
        let mut args = extra.to_vec();
        args.push("repo");
        let o = scan(t.path(), &args);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {}", stderr(&o));
        assert_eq!(locations(&o), ["repo/leak.sh"]);
        let err = stderr(&o);
        assert!(
            err.contains("repo/pipe: skipped, not a regular file (a FIFO)"),
            "{extra:?}: {err}"
        );
        if extra.is_empty() {
            assert!(
                err.contains("repo/sub: skipped, its .gitignore is not a regular file (a FIFO)"),
                "{err}"
            );
        }
    }
    // A FIFO planted as the configuration or the baseline is not discovered (only regular files are), never
    // read. (Named explicitly, `--config <(…)` is a legitimate pipe and is read.)
    let repo2 = t.path().join("repo2");
    fs::create_dir_all(repo2.join(".git")).expect("mkdir");
    mkfifo(&repo2.join(".keysweep-baseline.json"));
    mkfifo(&repo2.join(".keysweep.toml"));
    let rules = rules_dir(t.path());
    let args: Vec<String> = vec![
        "scan".into(),
        "--no-builtin-rules".into(),
        "--no-cache".into(),
        "--rules".into(),
        rules.to_string_lossy().into_owned(),
        "repo2".into(),
    ];
    let o = run_bounded(t.path(), &args, None, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A FIFO named as the path argument is refused, not opened.
    let o = scan(t.path(), &["repo/pipe"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("repo/pipe: skipped, not a regular file (a FIFO)"),
        "{}",
        stderr(&o)
    );
}

/// Rewrite the JSON header line of a cache file as `edit` says, leaving every other byte as it is.
fn edit_cache_header(file: &Path, edit: impl Fn(&mut serde_json::Value)) {
    let bytes = fs::read(file).expect("read cache");
    let mut out = Vec::new();
    let mut rest = &bytes[..];
    let mut done = false;
    while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
        let line = &rest[..nl];
        rest = &rest[nl + 1..];
        match serde_json::from_slice::<serde_json::Value>(line) {
            Ok(mut v) if !done && v.get("meta").is_some() => {
                edit(&mut v["meta"]);
                out.extend(serde_json::to_vec(&v).expect("json"));
                done = true;
            }
            _ => out.extend(line),
        }
        out.push(b'\n');
        if done {
            break;
        }
    }
    assert!(done, "no header line in {}", file.display());
    out.extend(rest);
    fs::write(file, out).expect("write cache");
}

#[cfg(feature = "hyperscan")]
#[test]
fn a_tampered_cache_is_a_miss_and_the_cache_is_private() {
    let t = tempfile::tempdir().expect("tempdir");
    let repo = t.path().join("repo");
    fs::create_dir_all(&repo).expect("mkdir");
    plant_key(&repo.join("leak.sh"));
    let cache = t.path().join("cache/keysweep");
    let rules = rules_dir(t.path());
    let args: Vec<String> = [
        "scan",
        "-f",
        "json",
        "--engine",
        "hyperscan",
        "--no-builtin-rules",
        "--no-config",
        "--rules",
        rules.to_str().expect("utf8"),
        "repo",
    ]
    .map(String::from)
    .to_vec();
    let run = || run_bounded(t.path(), &args, None, &[("KEYSWEEP_CACHE_DIR", &cache)]);
    let o = run();
    assert_eq!(locations(&o), ["repo/leak.sh"], "{}", stderr(&o));
    assert_eq!(
        fs::metadata(&cache).expect("dir").permissions().mode() & 0o777,
        0o700
    );
    let files: Vec<_> = fs::read_dir(&cache)
        .expect("ls")
        .map(|e| e.expect("e").path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    assert_eq!(
        fs::metadata(file).expect("m").permissions().mode() & 0o777,
        0o600
    );
    // The attack of the review: keep no database entry (nothing ever matches) and inject a warning.
    edit_cache_header(file, |meta| {
        meta["kept"] = serde_json::json!([]);
        meta["warnings"] = serde_json::json!(["INJECTED\u{1b}[2J text"]);
    });
    let o = run();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(locations(&o), ["repo/leak.sh"]);
    assert!(!stderr(&o).contains("INJECTED"), "{}", stderr(&o));
    assert!(!stdout(&o).contains("INJECTED"), "{}", stdout(&o));
    // The entry was rewritten; a later run finds the key too.
    let o = run();
    assert_eq!(locations(&o), ["repo/leak.sh"]);
    // Our own cache folder left open to others is tightened back to 0700.
    fs::set_permissions(&cache, fs::Permissions::from_mode(0o777)).expect("chmod");
    let o = run();
    assert_eq!(locations(&o), ["repo/leak.sh"]);
    assert_eq!(
        fs::metadata(&cache).expect("dir").permissions().mode() & 0o777,
        0o700
    );
    // A cache folder that is a symlink (someone else's folder in /tmp, say) is neither read nor written.
    let elsewhere = t.path().join("elsewhere");
    fs::create_dir(&elsewhere).expect("mkdir");
    fs::set_permissions(&elsewhere, fs::Permissions::from_mode(0o700)).expect("chmod");
    let linked = t.path().join("linked-cache");
    symlink(&elsewhere, &linked).expect("symlink");
    let o = run_bounded(t.path(), &args, None, &[("KEYSWEEP_CACHE_DIR", &linked)]);
    assert_eq!(locations(&o), ["repo/leak.sh"]);
    assert_eq!(fs::read_dir(&elsewhere).expect("ls").count(), 0);
}

#[test]
fn stdin_honours_max_file_size() {
    let t = tempfile::tempdir().expect("tempdir");
    let data = format!("TOKEN={}\n{}\n", github_token(BODY), "x".repeat(200));
    let mut args: Vec<String> = vec!["scan".into(), "-f".into(), "json".into()];
    args.extend(rule_args(t.path()));
    args.extend(["--max-file-size".into(), "100".into(), "-".into()]);
    let o = run_bounded(t.path(), &args, Some(data.as_bytes()), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(locations(&o).is_empty());
    assert!(
        stderr(&o)
            .contains("-: skipped, more than 100 bytes is over the --max-file-size limit of 100"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        json(&o)["summary"]["stats"]["skipped_large"],
        1,
        "{}",
        stdout(&o)
    );
    // Within the limit, it is scanned.
    let n = data.len().to_string();
    let last = args.len() - 2;
    args[last] = n;
    let o = run_bounded(t.path(), &args, Some(data.as_bytes()), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(locations(&o), ["-"]);
}
