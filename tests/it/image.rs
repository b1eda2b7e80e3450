//! `keysweep image`: docker-save tarballs, OCI layouts (directory and tar) and registries, all built by the test
//! itself with synthetic keys: layers in every compression, whiteouts, config and history, shared layers,
//! hostile layers, platform choice, a real `docker-registry` fed by `skopeo`, and an in-test registry for
//! bearer/basic auth and HTTP errors.
use crate::common::archive::{gz, tar_of, zip_of, zst};
use crate::common::{self, next_seed, rules_dir, STANDARD};
use keysweep_detect::Scanner;
use keysweep_sources::image::{scan_images, ImageOptions};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

// ---------------------------------------------------------------------------------------------------------
// Synthetic keys and rules: the kit's (`common`), each key from a fresh seed.

fn ghp() -> String {
    common::ghp(next_seed())
}

fn ghp_bad_checksum() -> String {
    common::ghp_decoy(next_seed())
}

fn aws() -> String {
    common::aws(next_seed())
}

fn openai() -> String {
    common::openai(next_seed())
}

fn scanner() -> Scanner {
    common::rules::scanner(STANDARD)
}

// ---------------------------------------------------------------------------------------------------------
// Image building

/// `git hash-object --stdin` of `data`.
fn git_blob_id(data: &[u8]) -> String {
    let mut child = std::process::Command::new("git")
        .args(["hash-object", "--stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run git");
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn sha(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

#[derive(Clone, Copy, PartialEq)]
enum Comp {
    None,
    Gzip,
    Zstd,
}

struct Layer {
    tar: Vec<u8>,
    comp: Comp,
}

impl Layer {
    fn new(entries: &[(&str, &[u8])], comp: Comp) -> Layer {
        Layer {
            tar: tar_of(entries),
            comp,
        }
    }
    fn blob(&self) -> Vec<u8> {
        match self.comp {
            Comp::None => self.tar.clone(),
            Comp::Gzip => gz(&self.tar),
            Comp::Zstd => zst(&self.tar),
        }
    }
    fn media_type(&self) -> &'static str {
        match self.comp {
            Comp::None => "application/vnd.oci.image.layer.v1.tar",
            Comp::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Comp::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

fn config_json(layers: &[Layer], env: &[String], history: &[String]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha(&l.tar)).collect();
    let history: Vec<Value> = history.iter().map(|h| json!({ "created_by": h })).collect();
    serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": { "Env": env, "Cmd": ["python", "app.py"], "Labels": { "org.example.team": "ml" } },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": history,
    }))
    .unwrap()
}

/// Blobs of an OCI image: returns (manifest bytes, blobs by digest).
fn oci_image(layers: &[Layer], config: &[u8]) -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    let mut blobs = vec![(sha(config), config.to_vec())];
    let mut descs = Vec::new();
    for l in layers {
        let b = l.blob();
        descs.push(json!({ "mediaType": l.media_type(), "digest": sha(&b), "size": b.len() }));
        blobs.push((sha(&b), b));
    }
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config), "size": config.len() },
        "layers": descs,
    }))
    .unwrap();
    (manifest, blobs)
}

fn write_blob(dir: &Path, digest: &str, data: &[u8]) {
    let hex = digest.strip_prefix("sha256:").unwrap();
    let d = dir.join("blobs/sha256");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join(hex), data).unwrap();
}

/// Write an OCI layout whose index.json lists `entries` (descriptor JSON) and holds `blobs`.
fn write_layout(dir: &Path, entries: Vec<Value>, blobs: &[(String, Vec<u8>)]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    for (d, b) in blobs {
        write_blob(dir, d, b);
    }
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&json!({ "schemaVersion": 2, "manifests": entries })).unwrap(),
    )
    .unwrap();
}

/// An OCI layout at `dir` holding one untagged image of `layers` and `config`.
fn layout_of(dir: &Path, layers: &[Layer], config: &[u8]) {
    let (manifest, mut blobs) = oci_image(layers, config);
    blobs.push((sha(&manifest), manifest.clone()));
    write_layout(dir, vec![manifest_desc(&manifest, None, None)], &blobs);
}

fn manifest_desc(manifest: &[u8], tag: Option<&str>, platform: Option<(&str, &str)>) -> Value {
    let mut d = json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": sha(manifest),
        "size": manifest.len(),
    });
    if let Some(t) = tag {
        d["annotations"] = json!({ "org.opencontainers.image.ref.name": t });
    }
    if let Some((os, arch)) = platform {
        d["platform"] = json!({ "os": os, "architecture": arch });
    }
    d
}

/// Tar a directory's files (relative paths) into an archive.
fn tar_dir(dir: &Path, out: &Path) {
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    b.append_dir_all(".", dir).unwrap();
    b.finish().unwrap();
}

// ---------------------------------------------------------------------------------------------------------
// Running keysweep

struct Run {
    code: i32,
    json: Value,
    stderr: String,
}

fn keysweep(rules: &Path, args: &[&str]) -> Run {
    keysweep_env(rules, args, &[])
}

fn keysweep_env(rules: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keysweep"));
    cmd.arg("image")
        .args(args)
        .args(["--no-builtin-rules", "--rules"])
        .arg(rules)
        .args(["--no-config", "--format", "json", "--verbose"])
        .env("DOCKER_CONFIG", rules.join("no-docker-config"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    Run {
        code: out.status.code().unwrap_or(-1),
        json,
        stderr,
    }
}

/// (secret, path, layer, deleted_in_layer) of every location, sorted.
fn locations(run: &Run) -> Vec<(String, String, Option<u64>, Option<u64>)> {
    let mut out = Vec::new();
    for f in run.json["findings"].as_array().cloned().unwrap_or_default() {
        for l in f["locations"].as_array().cloned().unwrap_or_default() {
            out.push((
                f["secret"].as_str().unwrap().to_string(),
                l["path"].as_str().unwrap().to_string(),
                l["layer"].as_u64(),
                l["deleted_in_layer"].as_u64(),
            ));
        }
    }
    out.sort();
    out
}

fn loc(
    s: &str,
    path: &str,
    layer: Option<u64>,
    deleted: Option<u64>,
) -> (String, String, Option<u64>, Option<u64>) {
    (s.to_string(), path.to_string(), layer, deleted)
}

fn warnings(run: &Run) -> Vec<String> {
    common::report_warnings(&run.json)
}

// ---------------------------------------------------------------------------------------------------------
// The main fixture: four layers in three compressions, whiteouts, a nested archive, config and history.

struct Fixture {
    layers: Vec<Layer>,
    config: Vec<u8>,
    expected: Vec<(String, String, Option<u64>, Option<u64>)>,
}

fn fixture() -> Fixture {
    let (k_env, k_keep, k_srv, k_nested, k_new, k_cfg, k_arg) =
        (ghp(), aws(), openai(), ghp(), aws(), ghp(), aws());
    let decoys = format!(
        "bad = {}\naws = AKIAIOSFODNN7EXAMPLE\nkey = sk-proj-{{{{ secrets.OPENAI }}}}\n",
        ghp_bad_checksum()
    );
    let nested = gz(&tar_of(&[(
        "inner/config.yml",
        format!("token: {k_nested}\n").as_bytes(),
    )]));
    let layers = vec![
        Layer::new(
            &[
                ("app/.env", format!("GITHUB_TOKEN={k_env}\n").as_bytes()),
                (
                    "app/keep.txt",
                    format!("aws_access_key_id = {k_keep}\n").as_bytes(),
                ),
                (
                    "srv/data/creds",
                    format!("OPENAI_API_KEY={k_srv}\n").as_bytes(),
                ),
                ("app/decoys.txt", decoys.as_bytes()),
            ],
            Comp::Gzip,
        ),
        Layer::new(
            &[("app/.wh..env", b""), ("opt/bundle.tar.gz", &nested)],
            Comp::Zstd,
        ),
        Layer::new(
            &[
                ("srv/.wh..wh..opq", b""),
                ("srv/data/new.txt", format!("key={k_new}\n").as_bytes()),
            ],
            Comp::None,
        ),
        Layer::new(&[("hello.txt", b"hello\n")], Comp::Gzip),
    ];
    let env = vec!["PATH=/usr/bin".to_string(), format!("GITHUB_TOKEN={k_cfg}")];
    let history = vec![
        "/bin/sh -c #(nop) ADD file:abc in /".to_string(),
        format!("|1 AWS_ACCESS_KEY_ID={k_arg} /bin/sh -c make build"),
    ];
    let config = config_json(&layers, &env, &history);
    let expected = vec![
        loc(&k_env, "app/.env", Some(0), Some(1)),
        loc(&k_keep, "app/keep.txt", Some(0), None),
        loc(&k_srv, "srv/data/creds", Some(0), Some(2)),
        loc(
            &k_nested,
            "opt/bundle.tar.gz!inner/config.yml",
            Some(1),
            None,
        ),
        loc(&k_new, "srv/data/new.txt", Some(2), None),
        loc(&k_cfg, "<config>/Env[1]", None, None),
        loc(&k_arg, "<config>/history[1].created_by", None, None),
    ];
    let mut expected = expected;
    expected.sort();
    Fixture {
        layers,
        config,
        expected,
    }
}

#[test]
fn oci_layout_dir_finds_deleted_files_config_and_history() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = rules_dir(tmp.path());
    let fx = fixture();
    let (manifest, mut blobs) = oci_image(&fx.layers, &fx.config);
    blobs.push((sha(&manifest), manifest.clone()));
    let dir = tmp.path().join("layout");
    write_layout(
        &dir,
        vec![manifest_desc(&manifest, Some("v1"), None)],
        &blobs,
    );
    let run = keysweep(&rules, &[dir.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(locations(&run), fx.expected, "{}", run.stderr);
    // Full provenance on a deleted file's finding.
    let f = run.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["locations"][0]["path"] == "app/.env")
        .unwrap();
    let l = &f["locations"][0];
    assert_eq!(l["source"], "image");
    assert_eq!(l["image"], dir.to_str().unwrap());
    assert_eq!(l["manifest_digest"], sha(&manifest));
    assert_eq!(l["layer_digest"], sha(&fx.layers[0].blob()));
    assert_eq!(l["line"], 1);
    // The layer entry's content id: git's blob id of the file, as `git hash-object` computes it.
    let content = format!("GITHUB_TOKEN={}\n", f["secret"].as_str().unwrap());
    assert_eq!(l["blob"], git_blob_id(content.as_bytes()), "{l}");
    assert!(warnings(&run).is_empty(), "{:?}", warnings(&run));
    assert!(run.stderr.contains("4 layer(s) read"), "{}", run.stderr);
}

#[test]
fn oci_layout_tar_and_docker_save_tarball() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = rules_dir(tmp.path());
    let fx = fixture();
    // OCI layout tar.
    let dir = tmp.path().join("layout");
    layout_of(&dir, &fx.layers, &fx.config);
    let oci_tar = tmp.path().join("oci.tar");
    tar_dir(&dir, &oci_tar);
    let run = keysweep(&rules, &[oci_tar.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(locations(&run), fx.expected);

    // Legacy docker save: uncompressed `<id>/layer.tar` files, `<hex>.json` config, manifest.json.
    let save = tmp.path().join("save");
    std::fs::create_dir_all(&save).unwrap();
    let config_name = format!("{}.json", &sha(&fx.config)[7..]);
    std::fs::write(save.join(&config_name), &fx.config).unwrap();
    let mut layer_paths = Vec::new();
    for (i, l) in fx.layers.iter().enumerate() {
        let id = format!("{:064x}", i + 1);
        std::fs::create_dir_all(save.join(&id)).unwrap();
        std::fs::write(save.join(&id).join("layer.tar"), &l.tar).unwrap();
        layer_paths.push(format!("{id}/layer.tar"));
    }
    std::fs::write(
        save.join("manifest.json"),
        serde_json::to_vec(
            &json!([{ "Config": config_name, "RepoTags": ["demo:latest"], "Layers": layer_paths }]),
        )
        .unwrap(),
    )
    .unwrap();
    let save_tar = tmp.path().join("save.tar");
    tar_dir(&save, &save_tar);
    let run = keysweep(&rules, &[save_tar.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(locations(&run), fx.expected);
    let l = &run.json["findings"][0]["locations"][0];
    assert!(l["image"].as_str().unwrap().contains("demo:latest"), "{l}");
    assert!(warnings(&run).is_empty(), "{:?}", warnings(&run));

    // Docker 25+ save: an OCI layout plus a manifest.json naming blobs by path.
    let blob_paths: Vec<String> = fx
        .layers
        .iter()
        .map(|l| format!("blobs/sha256/{}", &sha(&l.blob())[7..]))
        .collect();
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec(&json!([{
            "Config": format!("blobs/sha256/{}", &sha(&fx.config)[7..]),
            "RepoTags": ["new:1"],
            "Layers": blob_paths,
        }]))
        .unwrap(),
    )
    .unwrap();
    let new_tar = tmp.path().join("new-save.tar");
    tar_dir(&dir, &new_tar);
    let run = keysweep(&rules, &[new_tar.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(locations(&run), fx.expected);
    let f = run.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["locations"][0]["path"] == "app/.env")
        .unwrap();
    let l = &f["locations"][0];
    assert!(l["image"].as_str().unwrap().contains("new:1"), "{l}");
    assert_eq!(l["layer_digest"], sha(&fx.layers[0].blob()), "{l}");
    assert!(warnings(&run).is_empty(), "{:?}", warnings(&run));
}

#[test]
fn shared_layer_is_read_once_and_reported_for_both_images() {
    let tmp = tempfile::tempdir().unwrap();
    let shared_key = ghp();
    let (a_key, b_key) = (aws(), aws());
    let shared = Layer::new(
        &[("etc/token", format!("{shared_key}\n").as_bytes())],
        Comp::Gzip,
    );
    let la = Layer::new(&[("a.txt", format!("{a_key}\n").as_bytes())], Comp::Gzip);
    let lb = Layer::new(&[("b.txt", format!("{b_key}\n").as_bytes())], Comp::Zstd);
    let shared2 = Layer {
        tar: shared.tar.clone(),
        comp: Comp::Gzip,
    };
    let img_a = [shared, la];
    let img_b = [shared2, lb];
    let (ma, ba) = oci_image(&img_a, &config_json(&img_a, &[], &[]));
    let (mb, bb) = oci_image(&img_b, &config_json(&img_b, &[], &[]));
    let mut blobs = ba;
    blobs.extend(bb);
    blobs.push((sha(&ma), ma.clone()));
    blobs.push((sha(&mb), mb.clone()));
    let dir = tmp.path().join("two");
    write_layout(
        &dir,
        vec![
            manifest_desc(&ma, Some("a"), None),
            manifest_desc(&mb, Some("b"), None),
        ],
        &blobs,
    );
    let s = scanner();
    let stats = scan_images(
        &s,
        &[dir.to_str().unwrap().to_string()],
        &ImageOptions::default(),
    );
    assert_eq!(stats.images, 2);
    assert_eq!(stats.layers_scanned, 3, "{stats:?}");
    assert_eq!(stats.layers_reused, 1, "{stats:?}");
    let (findings, warnings) = s.take_results();
    assert!(warnings.is_empty(), "{warnings:?}");
    let shared_f = findings.iter().find(|f| f.secret == shared_key).unwrap();
    let mut images: Vec<String> = shared_f
        .locations
        .iter()
        .map(|l| l.meta.image().and_then(|i| i.image.clone()).unwrap())
        .collect();
    images.sort();
    let d = dir.to_str().unwrap();
    assert_eq!(images, vec![format!("{d}:a"), format!("{d}:b")]);
    let mut secrets: Vec<&str> = findings.iter().map(|f| f.secret.as_str()).collect();
    secrets.sort();
    let mut want = vec![shared_key.as_str(), a_key.as_str(), b_key.as_str()];
    want.sort();
    assert_eq!(secrets, want);
}

#[test]
fn hostile_layers_warn_and_the_scan_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = rules_dir(tmp.path());
    let (k_trunc, k_mismatch, k_escape, k_abs, k_bomb, k_good) =
        (ghp(), aws(), openai(), ghp(), aws(), ghp());
    // Truncated: a key in the first file, then incompressible data, cut in the middle.
    let noise = common::chars(next_seed(), 400_000, common::ALNUM);
    let trunc = Layer::new(
        &[
            ("first.txt", format!("{k_trunc}\n").as_bytes()),
            ("noise.txt", noise.as_bytes()),
        ],
        Comp::Gzip,
    );
    let mismatch = Layer::new(
        &[("m.txt", format!("{k_mismatch}\n").as_bytes())],
        Comp::Gzip,
    );
    let escape = Layer::new(
        &[
            ("../../etc/escape.txt", format!("{k_escape}\n").as_bytes()),
            ("/abs/key.txt", format!("{k_abs}\n").as_bytes()),
        ],
        Comp::None,
    );
    let zeros = vec![b'\n'; 30 << 20];
    let bomb = Layer::new(
        &[
            ("before.txt", format!("{k_bomb}\n").as_bytes()),
            ("zeros.txt", &zeros),
            ("after.txt", format!("{}\n", ghp()).as_bytes()),
        ],
        Comp::Gzip,
    );
    let good = Layer::new(
        &[("good.txt", format!("{k_good}\n").as_bytes())],
        Comp::Zstd,
    );
    let layers = [trunc, mismatch, escape, bomb, good];
    let config = config_json(&layers, &[], &[]);
    let (manifest, mut blobs) = oci_image(&layers, &config);
    // Cut the truncated layer's blob; alter the mismatched one's bytes but keep its digest name.
    let t = &mut blobs[1].1;
    t.truncate(t.len() / 2);
    let mismatched = gz(&tar_of(&[(
        "m.txt",
        format!("{k_mismatch}\n\n").as_bytes(),
    )]));
    blobs[2].1 = mismatched;
    blobs[0].1.push(b' ');
    blobs.push((sha(&manifest), manifest.clone()));
    let dir = tmp.path().join("hostile");
    write_layout(&dir, vec![manifest_desc(&manifest, None, None)], &blobs);
    let run = keysweep(&rules, &[dir.to_str().unwrap(), "--max-ratio", "50"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let mut want = vec![
        loc(&k_trunc, "first.txt", Some(0), None),
        loc(&k_mismatch, "m.txt", Some(1), None),
        loc(&k_escape, "../../etc/escape.txt", Some(2), None),
        loc(&k_abs, "/abs/key.txt", Some(2), None),
        loc(&k_bomb, "before.txt", Some(3), None),
        loc(&k_good, "good.txt", Some(4), None),
    ];
    want.sort();
    assert_eq!(locations(&run), want, "{}", run.stderr);
    let w = warnings(&run).join("\n");
    assert!(
        w.contains("layer 0") && w.contains("layer read stopped"),
        "{w}"
    );
    assert!(
        w.contains("layer 1") && w.contains("digest mismatch"),
        "{w}"
    );
    assert!(
        w.contains("\"../../etc/escape.txt\" has an absolute or `..` path"),
        "{w}"
    );
    assert!(
        w.contains("\"/abs/key.txt\" has an absolute or `..` path"),
        "{w}"
    );
    assert!(
        w.contains("layer 3") && w.contains("decompression bomb guard"),
        "{w}"
    );
    assert!(
        !w.contains(&k_mismatch) && !w.contains(&k_trunc),
        "warnings leak a secret"
    );
    assert!(!tmp.path().join("etc").exists() && !Path::new("/abs/key.txt").exists());

    // A size cap applies to uncompressed layers too.
    let run = keysweep(
        &rules,
        &[
            dir.to_str().unwrap(),
            "--max-layer-size",
            "1000000",
            "--max-ratio",
            "100000",
        ],
    );
    assert!(
        warnings(&run).join("\n").contains("--max-layer-size"),
        "{}",
        run.stderr
    );
}

/// An OCI layout whose one entry is a two-platform index (linux/amd64, linux/arm64), each with its own key.
fn multi_arch_layout(dir: &Path) -> (String, String) {
    let (k_amd, k_arm) = (ghp(), aws());
    let amd = [Layer::new(
        &[("amd.txt", format!("{k_amd}\n").as_bytes())],
        Comp::Gzip,
    )];
    let arm = [Layer::new(
        &[("arm.txt", format!("{k_arm}\n").as_bytes())],
        Comp::Gzip,
    )];
    let (m_amd, b_amd) = oci_image(&amd, &config_json(&amd, &[], &[]));
    let (m_arm, b_arm) = oci_image(&arm, &config_json(&arm, &[], &[]));
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            manifest_desc(&m_amd, None, Some(("linux", "amd64"))),
            manifest_desc(&m_arm, None, Some(("linux", "arm64"))),
        ],
    }))
    .unwrap();
    let mut blobs = b_amd;
    blobs.extend(b_arm);
    blobs.push((sha(&m_amd), m_amd.clone()));
    blobs.push((sha(&m_arm), m_arm.clone()));
    blobs.push((sha(&index), index.clone()));
    let entry = json!({ "mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha(&index), "size": index.len() });
    write_layout(dir, vec![entry], &blobs);
    (k_amd, k_arm)
}

#[test]
fn platform_is_chosen_from_an_index_and_a_missing_one_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = rules_dir(tmp.path());
    let dir = tmp.path().join("multi");
    let (k_amd, k_arm) = multi_arch_layout(&dir);
    let d = dir.to_str().unwrap();

    let run = keysweep(&rules, &[d, "--platform", "linux/arm64"]);
    assert_eq!(locations(&run), vec![loc(&k_arm, "arm.txt", Some(0), None)]);
    let run = keysweep(&rules, &[d, "--platform", "linux/amd64"]);
    assert_eq!(locations(&run), vec![loc(&k_amd, "amd.txt", Some(0), None)]);
    let run = keysweep(&rules, &[d, "--platform", "windows/amd64"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(locations(&run).is_empty());
    assert!(
        run.stderr.contains(
            "no manifest for platform windows/amd64 (available: linux/amd64, linux/arm64)"
        ),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------------------------
// Registries

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Debian's `docker-registry` on loopback with temporary storage; stopped on drop.
struct DockerRegistry {
    child: std::process::Child,
    port: u16,
}

impl Drop for DockerRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn need(bin: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/sbin"] {
        let p = Path::new(dir).join(bin);
        if p.exists() {
            return p;
        }
    }
    panic!("{bin} is not installed: run scripts/setup.sh");
}

fn start_registry(tmp: &Path) -> DockerRegistry {
    let bin = need("docker-registry");
    let port = free_port();
    let storage = tmp.join("registry-storage");
    std::fs::create_dir_all(&storage).unwrap();
    let cfg = tmp.join("registry.yml");
    std::fs::write(
        &cfg,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            storage.display()
        ),
    )
    .unwrap();
    let child = Command::new(bin)
        .arg("serve")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let reg = DockerRegistry { child, port };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return reg;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("docker-registry did not start on port {port}");
}

#[test]
fn real_registry_pushed_with_skopeo_is_scanned_by_reference() {
    let skopeo = need("skopeo");
    let tmp = tempfile::tempdir().unwrap();
    let rules = rules_dir(tmp.path());
    let fx = fixture();
    let (manifest, mut blobs) = oci_image(&fx.layers, &fx.config);
    blobs.push((sha(&manifest), manifest.clone()));
    let dir = tmp.path().join("layout");
    write_layout(
        &dir,
        vec![manifest_desc(&manifest, Some("v1"), None)],
        &blobs,
    );
    let reg = start_registry(tmp.path());
    let target = format!("127.0.0.1:{}/team/app:v1", reg.port);
    let out = Command::new(skopeo)
        .args([
            "--insecure-policy",
            "copy",
            "--dest-tls-verify=false",
            "--quiet",
        ])
        .arg(format!("oci:{}:v1", dir.display()))
        .arg(format!("docker://{target}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let run = keysweep(&rules, &[&target, "--insecure-registry"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(locations(&run), fx.expected, "{}", run.stderr);
    let l = &run.json["findings"][0]["locations"][0];
    assert_eq!(l["image"], target.as_str());
    let manifest_digest = l["manifest_digest"].as_str().unwrap().to_string();
    assert!(manifest_digest.starts_with("sha256:"));

    // By digest, and alongside a missing image: the missing one is a clear error, the other is still scanned.
    let by_digest = format!("127.0.0.1:{}/team/app@{manifest_digest}", reg.port);
    let missing = format!("127.0.0.1:{}/team/missing:v1", reg.port);
    let run = keysweep(&rules, &[&missing, &by_digest, "--insecure-registry"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(locations(&run), fx.expected);
    let w = warnings(&run).join("\n");
    assert!(w.contains("team/missing/manifests/v1: HTTP 404"), "{w}");
    // Only the missing image: exit 2.
    let run = keysweep(&rules, &[&missing, "--insecure-registry"]);
    assert_eq!(run.code, 2, "{}", run.stderr);

    // A multi-platform index pushed with --all: the platform's manifest is fetched by digest.
    let multi = tmp.path().join("multi");
    let (k_amd, k_arm) = multi_arch_layout(&multi);
    let target = format!("127.0.0.1:{}/team/multi:v1", reg.port);
    let out = Command::new(need("skopeo"))
        .args([
            "--insecure-policy",
            "copy",
            "--all",
            "--dest-tls-verify=false",
            "--quiet",
        ])
        .arg(format!("oci:{}", multi.display()))
        .arg(format!("docker://{target}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = keysweep(
        &rules,
        &[&target, "--insecure-registry", "--platform", "linux/arm64"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(locations(&run), vec![loc(&k_arm, "arm.txt", Some(0), None)]);
    let run = keysweep(
        &rules,
        &[&target, "--insecure-registry", "--platform", "linux/amd64"],
    );
    assert_eq!(locations(&run), vec![loc(&k_amd, "amd.txt", Some(0), None)]);
    let run = keysweep(
        &rules,
        &[&target, "--insecure-registry", "--platform", "linux/s390x"],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("no manifest for platform linux/s390x"),
        "{}",
        run.stderr
    );
}

/// A minimal registry speaking just enough HTTP: bearer tokens issued against basic credentials, and
/// fixed error answers for chosen repositories.
fn mini_registry(blobs: Vec<(String, Vec<u8>)>, manifest: Vec<u8>, user_pass: &'static str) -> u16 {
    http_server(Box::new(move |port, path, auth| {
        let basic = format!(
            "Basic {}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, user_pass)
        );
        let (status, headers, body): (&str, String, Vec<u8>) = if path.starts_with("/token") {
            if auth == basic {
                ("200 OK", String::new(), br#"{"token":"tok-123"}"#.to_vec())
            } else {
                ("401 Unauthorized", String::new(), b"{}".to_vec())
            }
        } else if path.starts_with("/v2/broken/") {
            (
                "500 Internal Server Error",
                String::new(),
                br#"{"errors":[{"code":"UNKNOWN","message":"boom"}]}"#.to_vec(),
            )
        } else if path.starts_with("/v2/basic/") {
            if auth == basic {
                (
                    "404 Not Found",
                    String::new(),
                    br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#
                        .to_vec(),
                )
            } else {
                (
                    "401 Unauthorized",
                    "WWW-Authenticate: Basic realm=\"mini\"\r\n".to_string(),
                    Vec::new(),
                )
            }
        } else if auth != "Bearer tok-123" {
            (
                "401 Unauthorized",
                format!("WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"mini\"\r\n"),
                br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.to_vec(),
            )
        } else if path.starts_with("/v2/app/manifests/") {
            (
                "200 OK",
                "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n".to_string(),
                manifest.clone(),
            )
        } else if let Some(d) = path.strip_prefix("/v2/app/blobs/") {
            match blobs.iter().find(|(k, _)| k == d) {
                Some((_, b)) => ("200 OK", String::new(), b.clone()),
                None => ("404 Not Found", String::new(), Vec::new()),
            }
        } else {
            ("404 Not Found", String::new(), Vec::new())
        };
        (status.to_string(), headers, body)
    }))
}

#[test]
fn registry_auth_from_docker_config_and_http_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = rules_dir(tmp.path());
    let key = ghp();
    let layers = [Layer::new(
        &[("k.txt", format!("{key}\n").as_bytes())],
        Comp::Gzip,
    )];
    let (manifest, blobs) = oci_image(&layers, &config_json(&layers, &[], &[]));
    let port = mini_registry(blobs, manifest, "alice:s3cret");
    let host = format!("127.0.0.1:{port}");

    // No credentials: the token endpoint refuses; the error says so.
    let run = keysweep(&rules, &[&format!("{host}/app:v1"), "--insecure-registry"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("HTTP 401 (no credentials in the Docker config)"),
        "{}",
        run.stderr
    );

    // Credentials in a Docker config: bearer token obtained with basic auth, image scanned.
    let cfg_dir = tmp.path().join("docker");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    let auth = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "alice:s3cret");
    std::fs::write(
        cfg_dir.join("config.json"),
        serde_json::to_vec(&json!({ "auths": { host.clone(): { "auth": auth } } })).unwrap(),
    )
    .unwrap();
    let env = [("DOCKER_CONFIG", cfg_dir.to_str().unwrap())];
    let run = keysweep_env(
        &rules,
        &[&format!("{host}/app:v1"), "--insecure-registry"],
        &env,
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(locations(&run), vec![loc(&key, "k.txt", Some(0), None)]);

    // Basic challenge answered from the config, then a 404 with the registry's error code.
    let run = keysweep_env(
        &rules,
        &[&format!("{host}/basic:v1"), "--insecure-registry"],
        &env,
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("HTTP 404 (not found): MANIFEST_UNKNOWN manifest unknown"),
        "{}",
        run.stderr
    );
    // Basic challenge without credentials.
    let run = keysweep(
        &rules,
        &[&format!("{host}/basic:v1"), "--insecure-registry"],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no credentials for"), "{}", run.stderr);
    // 500.
    let run = keysweep(
        &rules,
        &[&format!("{host}/broken:v1"), "--insecure-registry"],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("HTTP 500: UNKNOWN boom"),
        "{}",
        run.stderr
    );
    // Nothing listening.
    let closed = free_port();
    let run = keysweep(
        &rules,
        &[&format!("127.0.0.1:{closed}/app:v1"), "--insecure-registry"],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&format!("127.0.0.1:{closed}")),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_references_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = rules_dir(tmp.path());
    let not_image = tmp.path().join("plain");
    std::fs::create_dir_all(&not_image).unwrap();
    let junk = tmp.path().join("junk.tar");
    std::fs::write(&junk, b"this is not a tar archive at all").unwrap();
    let run = keysweep(
        &rules,
        &[not_image.to_str().unwrap(), junk.to_str().unwrap()],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("not an OCI image layout"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("junk.tar"), "{}", run.stderr);
}

#[test]
fn builtin_catalogue_end_to_end_on_an_oci_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let (k_gh, k_aws) = (ghp(), aws());
    let layers = [
        Layer::new(
            &[
                ("app/.env", format!("GITHUB_TOKEN={k_gh}\n").as_bytes()),
                ("app/main.py", b"print('hello')\n"),
            ],
            Comp::Gzip,
        ),
        Layer::new(&[("app/.wh..env", b"")], Comp::Zstd),
    ];
    let dir = tmp.path().join("layout");
    layout_of(
        &dir,
        &layers,
        &config_json(&layers, &[format!("AWS_ACCESS_KEY_ID={k_aws}")], &[]),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_keysweep"))
        .args(["image", dir.to_str().unwrap(), "--no-config", "-f", "json"])
        .env("DOCKER_CONFIG", tmp.path().join("none"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = doc["findings"].as_array().unwrap();
    let mut secrets: Vec<&str> = findings
        .iter()
        .map(|f| f["secret"].as_str().unwrap())
        .collect();
    secrets.sort();
    secrets.dedup();
    let mut want = vec![k_gh.as_str(), k_aws.as_str()];
    want.sort();
    assert_eq!(secrets, want);
    let gh = findings
        .iter()
        .find(|f| f["secret"] == k_gh.as_str())
        .unwrap();
    assert_eq!(gh["provider"], "GitHub");
    assert_eq!(gh["locations"][0]["deleted_in_layer"], 1);
    let aws_f = findings
        .iter()
        .find(|f| f["secret"] == k_aws.as_str())
        .unwrap();
    assert_eq!(aws_f["provider"], "AWS");
    assert_eq!(aws_f["locations"][0]["path"], "<config>/Env[0]");
}

// ---------------------------------------------------------------------------------------------------------
// Hostile archives: header bombs, FIFOs, symlinks, bad index entries (issue 23, items 3 and 10)

/// Run keysweep, killing it (and failing) if it has not finished within `secs`: a hang is a failure, not a
/// stuck test suite.
fn keysweep_within(secs: u64, rules: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keysweep"));
    cmd.arg("image")
        .args(args)
        .args(["--no-builtin-rules", "--rules"])
        .arg(rules)
        .args(["--no-config", "--format", "json", "--verbose"])
        .env("DOCKER_CONFIG", rules.join("no-docker-config"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).unwrap();
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        err.read_to_end(&mut v).unwrap();
        v
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("keysweep {args:?} did not finish within {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap()).into_owned();
    Run {
        code: status.code().unwrap_or(-1),
        json: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stderr,
    }
}

/// A raw tar header block with a valid checksum.
fn raw_header(name: &str, kind: u8, size: u64) -> [u8; 512] {
    let mut h = tar::Header::new_gnu();
    h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_size(size);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::new(kind));
    h.set_cksum();
    *h.as_bytes()
}

fn padded(data: &[u8]) -> Vec<u8> {
    let mut v = data.to_vec();
    v.resize(data.len().div_ceil(512) * 512, 0);
    v
}

/// A layer holding: a file under a 1 MB GNU long name, a file under a 1 MB PAX path (both with `key_long`
/// many times), a PAX header of 2 MiB before an ordinary entry, and `normal.txt` with `key_normal`.
fn header_bomb_layer(key_long: &str, key_normal: &str, copies: usize) -> Vec<u8> {
    let long = format!("{}/x.env", "deep/".repeat(200_000));
    let body = format!("TOKEN={key_long}\n").repeat(copies);
    let mut t = Vec::new();
    // GNU long name.
    t.extend_from_slice(&raw_header("././@LongLink", b'L', long.len() as u64 + 1));
    t.extend_from_slice(&padded(format!("{long}\0").as_bytes()));
    t.extend_from_slice(&raw_header("short-gnu", b'0', body.len() as u64));
    t.extend_from_slice(&padded(body.as_bytes()));
    // PAX path.
    let rec = {
        let kv = format!(" path={long}/pax\n");
        let mut n = kv.len() + 1;
        while format!("{n}{kv}").len() != n {
            n += 1;
        }
        format!("{n}{kv}")
    };
    t.extend_from_slice(&raw_header("PaxHeader", b'x', rec.len() as u64));
    t.extend_from_slice(&padded(rec.as_bytes()));
    t.extend_from_slice(&raw_header("short-pax", b'0', body.len() as u64));
    t.extend_from_slice(&padded(body.as_bytes()));
    // A PAX header over the 1 MiB limit (one huge comment record), then an ordinary file.
    let big = 2 << 20;
    t.extend_from_slice(&raw_header("PaxHeader", b'x', big as u64));
    t.extend_from_slice(&padded(&vec![b'7'; big]));
    t.extend_from_slice(&raw_header("after-big-pax.txt", b'0', 4));
    t.extend_from_slice(&padded(b"hi!\n"));
    let normal = format!("key = {key_normal}\n");
    t.extend_from_slice(&raw_header("normal.txt", b'0', normal.len() as u64));
    t.extend_from_slice(&padded(normal.as_bytes()));
    t.extend_from_slice(&[0u8; 1024]);
    t
}

#[test]
fn long_names_and_pax_headers_are_capped_and_the_layer_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = rules_dir(tmp.path());
    let (k_long, k_normal) = (ghp(), aws());
    let copies = 2_000;
    let layer = Layer {
        tar: header_bomb_layer(&k_long, &k_normal, copies),
        // Uncompressed: the headers are highly compressible, and the ratio guard is not what is tested here.
        comp: Comp::None,
    };
    let layers = [layer];
    let dir = tmp.path().join("bomb");
    layout_of(&dir, &layers, &config_json(&layers, &[], &[]));

    let run = keysweep_within(300, &rules, &[dir.to_str().unwrap()], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let locs = locations(&run);
    // The ordinary key in the same layer, after the oversized headers, is found.
    assert!(
        locs.contains(&loc(&k_normal, "normal.txt", Some(0), None)),
        "{locs:?}"
    );
    // Every copy of the key under the long names is reported, each under a path cut to 4 KiB.
    let long: Vec<_> = locs.iter().filter(|l| l.0 == k_long).collect();
    assert_eq!(long.len(), 2 * copies);
    for l in &long {
        assert!(l.1.len() <= 4096 + 16, "path of {} bytes", l.1.len());
        assert!(l.1.starts_with("deep/deep/") && l.1.contains("…#"));
    }
    let w = warnings(&run).join("\n");
    assert!(
        w.contains("layer 0") && w.contains("2 tar entries with a path longer than 4096 bytes"),
        "{w}"
    );
    assert!(
        w.contains("PAX header of 2097152 bytes is over the 1048576 byte limit"),
        "{w}"
    );
    // The report holds no path longer than the cap: bounded by the locations, not by the header sizes.
    let report = serde_json::to_string(&run.json).unwrap();
    assert!(
        report.len() < 2 * copies * 6000,
        "report of {} bytes",
        report.len()
    );

    // In the library: one shared path for all the locations of one file, never a copy per location.
    let s = scanner();
    let stats = scan_images(
        &s,
        &[dir.to_str().unwrap().to_string()],
        &ImageOptions::default(),
    );
    assert_eq!(stats.failed_layers, 0, "{stats:?}");
    let (findings, _) = s.take_results();
    let f = findings.iter().find(|f| f.secret == k_long).unwrap();
    let first = f.locations.first().unwrap();
    let shared = f
        .locations
        .iter()
        .filter(|l| std::sync::Arc::ptr_eq(&l.path, &first.path))
        .count();
    assert_eq!(shared, copies, "locations of one file share one path");
}

/// An OCI layout of one image with two layers, `a.txt` holding `k_a` and `b.txt` holding `k_b`; returns the
/// layout directory and the layers' blob digests.
fn two_layer_layout(root: &Path, k_a: &str, k_b: &str) -> (PathBuf, Vec<String>) {
    let layers = [
        Layer::new(&[("a.txt", format!("{k_a}\n").as_bytes())], Comp::Gzip),
        Layer::new(&[("b.txt", format!("{k_b}\n").as_bytes())], Comp::Gzip),
    ];
    let (manifest, mut blobs) = oci_image(&layers, &config_json(&layers, &[], &[]));
    let digests = layers.iter().map(|l| sha(&l.blob())).collect();
    blobs.push((sha(&manifest), manifest.clone()));
    let dir = root.join("layout");
    write_layout(&dir, vec![manifest_desc(&manifest, None, None)], &blobs);
    (dir, digests)
}

fn blob_file(dir: &Path, digest: &str) -> PathBuf {
    dir.join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

#[test]
fn fifo_blob_is_refused_without_hanging() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = rules_dir(tmp.path());
    let (k_a, k_b) = (ghp(), aws());
    let (dir, digests) = two_layer_layout(tmp.path(), &k_a, &k_b);
    let fifo = blob_file(&dir, &digests[0]);
    std::fs::remove_file(&fifo).unwrap();
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    // Before the fix the open of the FIFO blocked forever (no writer).
    let run = keysweep_within(60, &rules, &[dir.to_str().unwrap()], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(locations(&run), vec![loc(&k_b, "b.txt", Some(1), None)]);
    let w = warnings(&run).join("\n");
    assert!(
        w.contains("layer 0")
            && w.contains(&digests[0][7..])
            && w.contains("not a regular file (a FIFO)"),
        "{w}"
    );
    // A FIFO given as the image tarball itself is refused the same way.
    let fifo_ref = tmp.path().join("image.tar");
    assert!(Command::new("mkfifo")
        .arg(&fifo_ref)
        .status()
        .unwrap()
        .success());
    let run = keysweep_within(60, &rules, &[fifo_ref.to_str().unwrap()], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
}

#[test]
fn blob_symlinks_may_not_leave_the_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = rules_dir(tmp.path());
    let (k_a, k_b, k_outside) = (ghp(), aws(), openai());
    let (dir, digests) = two_layer_layout(tmp.path(), &k_a, &k_b);
    // Layer 0's blob becomes a symlink to a layer outside the layout (same digest name, other content).
    let outside = tmp.path().join("outside-layer.tar.gz");
    std::fs::write(
        &outside,
        gz(&tar_of(&[(
            "stolen.txt",
            format!("{k_outside}\n").as_bytes(),
        )])),
    )
    .unwrap();
    let l0 = blob_file(&dir, &digests[0]);
    std::fs::remove_file(&l0).unwrap();
    std::os::unix::fs::symlink(&outside, &l0).unwrap();
    // Layer 1's blob is a symlink to a copy inside the layout: allowed.
    let l1 = blob_file(&dir, &digests[1]);
    let inside = dir.join("blobs/copy-of-layer-1");
    std::fs::rename(&l1, &inside).unwrap();
    std::os::unix::fs::symlink("../copy-of-layer-1", &l1).unwrap();
    let run = keysweep(&rules, &[dir.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(locations(&run), vec![loc(&k_b, "b.txt", Some(1), None)]);
    let w = warnings(&run).join("\n");
    assert!(
        w.contains("layer 0") && w.contains("resolves outside the image layout"),
        "{w}"
    );
    assert!(!w.contains(&k_outside));
    // The whole blobs directory as a symlink out of the layout is refused too.
    let moved = tmp.path().join("elsewhere");
    std::fs::rename(dir.join("blobs"), &moved).unwrap();
    std::os::unix::fs::symlink(&moved, dir.join("blobs")).unwrap();
    let run = keysweep(&rules, &[dir.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(locations(&run).is_empty());
    assert!(
        run.stderr.contains("resolves outside the image layout"),
        "{}",
        run.stderr
    );
}

#[test]
fn one_bad_index_or_manifest_entry_does_not_abandon_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = rules_dir(tmp.path());
    let key = ghp();
    let good = [Layer::new(
        &[("k.txt", format!("{key}\n").as_bytes())],
        Comp::Gzip,
    )];
    let (m_good, mut blobs) = oci_image(&good, &config_json(&good, &[], &[]));
    blobs.push((sha(&m_good), m_good.clone()));
    let clean = [Layer::new(&[("c.txt", b"nothing here\n")], Comp::Gzip)];
    let (m_clean, b_clean) = oci_image(&clean, &config_json(&clean, &[], &[]));
    blobs.extend(b_clean);
    blobs.push((sha(&m_clean), m_clean.clone()));
    let missing = format!("sha256:{}", "e".repeat(64));
    let bad_entries = vec![
        json!({ "mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 10 }),
        json!({ "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": missing, "size": 10 }),
    ];

    // A descriptor without digest and one naming a missing blob, then a good image: it is scanned.
    let dir = tmp.path().join("layout");
    let mut entries = bad_entries.clone();
    entries.push(manifest_desc(&m_good, Some("good"), None));
    write_layout(&dir, entries, &blobs);
    let run = keysweep(&rules, &[dir.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(locations(&run), vec![loc(&key, "k.txt", Some(0), None)]);
    let w = warnings(&run).join("\n");
    assert!(w.contains("index.json manifests[0]"), "{w}");
    assert!(w.contains(&missing), "{w}");
    // With no findings elsewhere the failure shows in the exit code.
    let dir2 = tmp.path().join("layout2");
    let mut entries = bad_entries.clone();
    entries.push(manifest_desc(&m_clean, Some("clean"), None));
    write_layout(&dir2, entries, &blobs);
    let run = keysweep(&rules, &[dir2.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("1 image(s)"), "{}", run.stderr);

    // docker save: a malformed entry of manifest.json, then a good one.
    let save = tmp.path().join("save");
    std::fs::create_dir_all(&save).unwrap();
    let cfg = config_json(&good, &[], &[]);
    let cfg_name = format!("{}.json", &sha(&cfg)[7..]);
    std::fs::write(save.join(&cfg_name), &cfg).unwrap();
    std::fs::create_dir_all(save.join("l0")).unwrap();
    std::fs::write(save.join("l0/layer.tar"), &good[0].tar).unwrap();
    std::fs::write(
        save.join("manifest.json"),
        serde_json::to_vec(&json!([
            { "Config": cfg_name, "RepoTags": ["bad:1"], "Layers": "not-a-list" },
            { "Config": cfg_name, "RepoTags": ["good:1"], "Layers": ["l0/layer.tar"] },
        ]))
        .unwrap(),
    )
    .unwrap();
    let save_tar = tmp.path().join("save.tar");
    tar_dir(&save, &save_tar);
    let run = keysweep(&rules, &[save_tar.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(locations(&run), vec![loc(&key, "k.txt", Some(0), None)]);
    let w = warnings(&run).join("\n");
    assert!(w.contains("manifest.json entry[0]"), "{w}");
}

// ---------------------------------------------------------------------------------------------------------
// Registry client guards (issue 23, item 9)

type Handler = dyn Fn(u16, &str, &str) -> (String, String, Vec<u8>) + Send + Sync;

/// A loopback HTTP server: `handler(own port, path, authorization)` → (status line, extra headers, body).
fn http_server(handler: Box<Handler>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&req).into_owned();
            let path = text.split_whitespace().nth(1).unwrap_or("").to_string();
            let auth = text
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("authorization")
                        .then(|| v.trim().to_string())
                })
                .unwrap_or_default();
            let (status, headers, body) = handler(port, &path, &auth);
            let head = format!(
                "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    port
}

/// A listener that only records what reaches it (connections and their first bytes).
fn observer() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    });
    (port, seen)
}

fn docker_config_for(tmp: &Path, host: &str, user_pass: &str) -> PathBuf {
    let cfg_dir = tmp.join("docker");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    let auth = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, user_pass);
    std::fs::write(
        cfg_dir.join("config.json"),
        serde_json::to_vec(&json!({ "auths": { host: { "auth": auth } } })).unwrap(),
    )
    .unwrap();
    cfg_dir
}

#[test]
fn token_realm_elsewhere_never_gets_the_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = rules_dir(tmp.path());
    let (obs, seen) = observer();
    for realm in [
        format!("http://127.0.0.1:{obs}/token"),
        format!("https://127.0.0.1:{obs}/token"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
    ] {
        let r = realm.clone();
        let reg = http_server(Box::new(move |_, _, _| {
            (
                "401 Unauthorized".into(),
                format!("WWW-Authenticate: Bearer realm=\"{r}\",service=\"x\"\r\n"),
                Vec::new(),
            )
        }));
        let host = format!("127.0.0.1:{reg}");
        let cfg = docker_config_for(tmp.path(), &host, "alice:s3cret");
        let env = [("DOCKER_CONFIG", cfg.to_str().unwrap())];
        let insecure = format!("--insecure-registry={host}");
        let image = format!("{host}/app:v1");
        let run = keysweep_within(60, &rules, &[&image, &insecure], &env);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!("{image}: manifest")),
            "{}",
            run.stderr
        );
        if realm.starts_with("https://127.") {
            // HTTPS, but a loopback address on a port nobody named: refused when dialling.
            assert!(
                run.stderr.contains(&format!("token endpoint {realm}"))
                    && run.stderr.contains("loopback address"),
                "{}",
                run.stderr
            );
        } else {
            assert!(
                run.stderr.contains("token realm refused")
                    && run.stderr.contains("refusing plain HTTP"),
                "{}",
                run.stderr
            );
        }
        assert!(!run.stderr.contains("s3cret"));
    }
    // Nothing ever reached the other port: not the credentials, not even a connection.
    assert!(
        seen.lock().unwrap().is_empty(),
        "{:?}",
        seen.lock().unwrap()
    );
}

#[test]
fn redirects_to_forbidden_hosts_are_refused_naming_the_image() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = rules_dir(tmp.path());
    let (k_ok, k_cfg) = (ghp(), aws());
    let layers = [Layer::new(
        &[("k.txt", format!("{k_ok}\n").as_bytes())],
        Comp::Gzip,
    )];
    let config = config_json(&layers, &[format!("AWS={k_cfg}")], &[]);
    let (manifest, blobs) = oci_image(&layers, &config);
    let (obs, seen) = observer();
    let layer_digest = sha(&layers[0].blob());
    let config_digest = sha(&config);
    let blob_digest = layer_digest.clone();
    // The config is redirected over plain HTTP to a metadata address, the layer over HTTPS to another loopback
    // port; the manifest comes from a same-origin redirect, which is followed.
    let handler = move |_port: u16, path: &str, auth: &str| -> (String, String, Vec<u8>) {
        assert!(auth.is_empty(), "no credentials configured");
        if path == "/v2/app/manifests/v1" {
            return (
                "307 Temporary Redirect".into(),
                "Location: /v2/app/manifests/real\r\n".into(),
                Vec::new(),
            );
        }
        if path == "/v2/app/manifests/real" {
            return ("200 OK".into(), String::new(), manifest.clone());
        }
        if path == format!("/v2/app/blobs/{config_digest}") {
            return (
                "302 Found".into(),
                "Location: http://169.254.169.254/latest/meta-data/\r\n".into(),
                Vec::new(),
            );
        }
        if path == format!("/v2/app/blobs/{blob_digest}") {
            return (
                "307 Temporary Redirect".into(),
                format!("Location: https://127.0.0.1:{obs}/blob\r\n"),
                Vec::new(),
            );
        }
        let _ = &blobs;
        ("404 Not Found".into(), String::new(), Vec::new())
    };
    let reg = http_server(Box::new(handler));
    let host = format!("127.0.0.1:{reg}");
    let image = format!("{host}/app:v1");
    // Also the repeatable HOST:PORT spelling: naming an unrelated host does not make the observer's port allowed.
    let run = keysweep_within(
        60,
        &rules,
        &[
            &image,
            "--insecure-registry",
            &host,
            "--insecure-registry=192.0.2.1:5000",
        ],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(locations(&run).is_empty());
    let w = warnings(&run).join("\n");
    assert!(
        w.contains(&format!("{image}: config"))
            && w.contains("redirect refused")
            && w.contains("refusing plain HTTP to 169.254.169.254:80"),
        "{w}"
    );
    assert!(
        w.contains(&format!("{image} layer 0 ({layer_digest})"))
            && w.contains(&format!("redirected to https://127.0.0.1:{obs}/blob"))
            && w.contains("loopback address"),
        "{w}"
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "{:?}",
        seen.lock().unwrap()
    );

    // Naming the observer's port as insecure is what allows it (the hop is then dialled).
    let obs_host = format!("127.0.0.1:{obs}");
    let run = keysweep_within(
        60,
        &rules,
        &[
            &image,
            "--insecure-registry",
            &host,
            "--insecure-registry",
            &obs_host,
        ],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!seen.lock().unwrap().is_empty());
    // A value that is not HOST[:PORT] is refused up front.
    let run = keysweep_within(60, &rules, &[&image, "--insecure-registry=http://x/y"], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("expected HOST or HOST:PORT"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------------------------
// Paths that do not exist, and Docker credential helpers (issue 20, item 11)

#[test]
fn a_missing_path_is_an_error_naming_it_and_no_registry_is_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = rules_dir(tmp.path());
    let (port, seen) = observer();
    let missing = tmp.path().join("nonexistent.tar");
    let via_registry = format!("127.0.0.1:{port}/scans/image.tar");
    for reference in [
        missing.to_str().unwrap(),
        "./no-such-layout",
        "../no/such/dir",
        "~/images/app.tar.gz",
        via_registry.as_str(),
    ] {
        let run = keysweep(&rules, &[reference, "--insecure-registry"]);
        assert_eq!(run.code, 2, "{reference}: {}", run.stderr);
        assert!(
            run.stderr
                .contains(&format!("{reference}: no such file or directory")),
            "{reference}: {}",
            run.stderr
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        seen.lock().unwrap().is_empty(),
        "a path-looking argument reached the registry"
    );
    // A reference that does not look like a path still goes to the registry.
    let run = keysweep(
        &rules,
        &[
            &format!("127.0.0.1:{port}/scans/app:v1"),
            "--insecure-registry",
        ],
    );
    assert_eq!(run.code, 2);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(seen.lock().unwrap().len(), 1);
}

/// A fake `docker-credential-<name>` in `bin`: logs its arguments and input to `<name>.log`, answers with
/// `answer` and exits with `code`.
#[cfg(unix)]
fn fake_helper(bin: &Path, name: &str, answer: &str, code: i32) {
    use std::os::unix::fs::PermissionsExt;
    let log = bin.join(format!("{name}.log"));
    let script = format!(
        "#!/bin/sh\ninput=$(cat)\necho \"$* $input\" >> '{}'\nprintf '%s' '{answer}'\nexit {code}\n",
        log.display()
    );
    let p = bin.join(format!("docker-credential-{name}"));
    std::fs::write(&p, script).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[cfg(unix)]
#[test]
fn credential_helpers_answer_the_registry_login_and_the_secret_is_never_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = rules_dir(tmp.path());
    let key = ghp();
    let layers = [Layer::new(
        &[("k.txt", format!("{key}\n").as_bytes())],
        Comp::Gzip,
    )];
    let (manifest, blobs) = oci_image(&layers, &config_json(&layers, &[], &[]));
    let port = mini_registry(blobs, manifest, "alice:s3cret");
    let host = format!("127.0.0.1:{port}");
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let good = format!(r#"{{"ServerURL":"{host}","Username":"alice","Secret":"s3cret"}}"#);
    fake_helper(&bin, "good", &good, 0);
    fake_helper(
        &bin,
        "wrong",
        &format!(r#"{{"ServerURL":"{host}","Username":"alice","Secret":"hunter2-not-it"}}"#),
        0,
    );
    fake_helper(&bin, "broken", "leaky-helper-output-xyz", 3);
    fake_helper(&bin, "empty", "credentials not found in native keychain", 1);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let with_config = |name: &str, cfg: Value| {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
        keysweep_env(
            &rules,
            &[&format!("{host}/app:v1"), "--insecure-registry"],
            &[
                ("DOCKER_CONFIG", dir.to_str().unwrap()),
                ("PATH", path.as_str()),
            ],
        )
    };

    // credHelpers names the helper for this registry; it is asked with `get` and the host on stdin.
    let run = with_config(
        "helpers",
        json!({ "credHelpers": { host.clone(): "good", "other.example": "broken" } }),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(locations(&run), vec![loc(&key, "k.txt", Some(0), None)]);
    let log = std::fs::read_to_string(bin.join("good.log")).unwrap();
    assert_eq!(log.trim(), format!("get {host}"));
    // credsStore: the default helper.
    let run = with_config("store", json!({ "credsStore": "good" }));
    assert_eq!(run.code, 1, "{}", run.stderr);
    // A helper holding nothing for the registry: the config's `auths` are used.
    let auth = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "alice:s3cret");
    let run = with_config(
        "fallback",
        json!({ "credsStore": "empty", "auths": { host.clone(): { "auth": auth } } }),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    // Refused credentials and a failing helper: errors that never show the secret or the helper's output.
    let run = with_config("wrong", json!({ "credHelpers": { host.clone(): "wrong" } }));
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("credentials refused"), "{}", run.stderr);
    assert!(!run.stderr.contains("hunter2-not-it"), "{}", run.stderr);
    let run = with_config("broken", json!({ "credsStore": "broken" }));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("docker-credential-broken get") && run.stderr.contains("failed"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("leaky-helper-output-xyz"),
        "{}",
        run.stderr
    );
    // A helper that is not installed is named.
    let run = with_config("absent", json!({ "credsStore": "not-installed" }));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("docker-credential-not-installed"),
        "{}",
        run.stderr
    );
}

/// A zip among a layer's files is opened like one in a tree (`sources::archive`), and when a later layer's
/// whiteout deletes it, its members' findings say so.
#[test]
fn a_zip_in_a_layer_is_opened_and_its_deletion_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = rules_dir(tmp.path());
    let (kept, gone) = (ghp(), aws());
    let zip_with = |name: &str, body: &str| zip_of(&[(name, body.as_bytes())]);
    let keep_zip = zip_with("config/.env", &format!("GITHUB_TOKEN={kept}\n"));
    let gone_zip = zip_with("creds.txt", &format!("aws_access_key_id = {gone}\n"));
    let layers = [
        Layer::new(
            &[("opt/keep.zip", &keep_zip), ("opt/old.zip", &gone_zip)],
            Comp::Gzip,
        ),
        Layer::new(&[("opt/.wh.old.zip", b"")], Comp::Gzip),
    ];
    let dir = tmp.path().join("layout");
    layout_of(&dir, &layers, &config_json(&layers, &[], &[]));
    let run = keysweep(&rules, &[dir.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let mut want = vec![
        loc(&kept, "opt/keep.zip!config/.env", Some(0), None),
        loc(&gone, "opt/old.zip!creds.txt", Some(0), Some(1)),
    ];
    want.sort();
    assert_eq!(locations(&run), want, "{}", run.stderr);
}

/// The layer's nesting limit holds: an archive one past `--max-archive-depth` is reported and not opened by
/// anyone (the archive opener that handles zips must not undo the limit).
#[test]
fn nested_archives_in_a_layer_stop_at_the_depth_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = rules_dir(tmp.path());
    let key = ghp();
    let deepest = gz(&tar_of(&[("k.txt", format!("{key}\n").as_bytes())]));
    let middle = tar_of(&[("c.tar.gz", &deepest)]);
    let outer = tar_of(&[("b.tar", &middle)]);
    let layers = [Layer::new(&[("opt/a.tar", &outer)], Comp::Gzip)];
    let dir = tmp.path().join("layout");
    layout_of(&dir, &layers, &config_json(&layers, &[], &[]));
    let run = keysweep(&rules, &[dir.to_str().unwrap(), "--max-archive-depth", "2"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(locations(&run).is_empty());
    assert!(
        warnings(&run)
            .iter()
            .any(|w| w.contains("opt/a.tar!b.tar!c.tar.gz") && w.contains("depth limit 2")),
        "{:?}",
        warnings(&run)
    );
    let run = keysweep(&rules, &[dir.to_str().unwrap()]);
    assert_eq!(
        locations(&run),
        vec![loc(&key, "opt/a.tar!b.tar!c.tar.gz!k.txt", Some(0), None)]
    );
}
