//! The fuzz targets' entry points (`keysweep_cli::fuzzing`, also driven by `fuzz/` under cargo-fuzz) on the
//! stable toolchain: for each parser, a valid seed holding a planted key is found (so the harness reaches the
//! checks), then a bounded number of random inputs and random mutations of the seed (flips, cuts, inserts,
//! repeats) must neither panic nor produce more findings than bytes.
use crate::common;

use keysweep_cli::fuzzing;
use proptest::prelude::*;
use std::io::Write;

fn token() -> String {
    common::github_token("Fz7qLm2Xw9Rt4Vb8Nc1Kd6Hs3Jp5Ya")
}

/// A small xorshift, so a mutation is reproducible from its seed.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// `seed` with `n` random edits.
fn mutate(seed: &[u8], rng: u64, n: usize) -> Vec<u8> {
    let mut s = rng | 1;
    let mut v = seed.to_vec();
    for _ in 0..n {
        let len = v.len().max(1);
        let at = (next(&mut s) as usize) % len;
        match next(&mut s) % 5 {
            0 if !v.is_empty() => v[at] ^= 1 << (next(&mut s) % 8),
            1 => v.truncate(at),
            2 => {
                let b = next(&mut s) as u8;
                v.insert(at.min(v.len()), b);
            }
            3 if !v.is_empty() => {
                let end = (at + 1 + (next(&mut s) as usize) % 64).min(v.len());
                let piece = v[at..end].to_vec();
                v.splice(at..at, piece);
            }
            _ => {
                let interesting = [0u8, 0xff, b'"', b'{', b'[', b'\\', b'\n', 0x80];
                if !v.is_empty() {
                    v[at] = interesting[(next(&mut s) % 8) as usize];
                }
            }
        }
    }
    v
}

fn notebook_seed() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3"}},
        "cells": [
            {"cell_type": "code", "id": "a", "execution_count": 1, "metadata": {},
             "source": ["import os\n", "print(os.environ['GITHUB_TOKEN'])\n"],
             "outputs": [{"output_type": "stream", "name": "stdout", "text": [format!("{}\n", token())]},
                         {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo=", "text/plain": ["x"]}, "metadata": {}}]},
            {"cell_type": "markdown", "id": "b", "metadata": {}, "source": "# notes"}
        ]
    }))
    .unwrap()
}

fn layer_seed() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, body) in [
        ("app/.env", format!("GITHUB_TOKEN={}\n", token())),
        ("app/main.py", "print('hi')\n".to_string()),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, body.as_bytes()).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

/// A zip holding the layer seed (a tar.gz) and a dotenv file: three levels of archive.
fn archive_seed() -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file("layer.tar.gz", opts).unwrap();
    w.write_all(&layer_seed()).unwrap();
    w.start_file("config/.env", opts).unwrap();
    w.write_all(format!("GITHUB_TOKEN={}\n", token()).as_bytes())
        .unwrap();
    w.finish().unwrap().into_inner()
}

fn k8s_seed() -> Vec<u8> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(token());
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: gh\ntype: Opaque\ndata:\n  token: {b64}\n---\n\
         jobs:\n  build:\n    steps:\n      - run: echo {t}\n",
        t = token()
    )
    .into_bytes()
}

const RULES_SEED: &str = r#"
[[rule]]
id = "fuzz.rule"
name = "Fuzz"
provider = "Fuzz"
category = "ai"
confidence = "high"
pattern = '''\b(?P<secret>fz_[0-9a-z]{20})\b'''
examples = ["k = fz_0123456789abcdefghij"]
negative_examples = ["fz_short"]
"#;

/// A delta that copies the first 4 bytes of a 8-byte base and inserts 3: cut byte, base, delta.
fn delta_seed() -> Vec<u8> {
    let base = b"abcdefgh";
    let delta = [8u8, 7, 0x90, 4, 3, b'x', b'y', b'z'];
    let mut v = vec![(base.len() * 256 / (base.len() + delta.len())) as u8 + 1];
    v.extend_from_slice(base);
    v.extend_from_slice(&delta);
    v
}

#[test]
fn seeds_reach_the_checks() {
    assert!(fuzzing::notebook(&notebook_seed()) >= 1);
    assert!(fuzzing::tar_layer(&layer_seed()) >= 1);
    assert_eq!(fuzzing::archive(&archive_seed()), 2);
    assert!(fuzzing::text(&k8s_seed()) >= 1);
    assert_eq!(fuzzing::rules(RULES_SEED.as_bytes()), 1);
    assert_eq!(fuzzing::pack_delta(&delta_seed()), 7);
}

fn bounded(found: usize, input: &[u8]) {
    assert!(
        found <= input.len() + 1,
        "{found} findings from {} bytes",
        input.len()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..1024)) {
        bounded(fuzzing::notebook(&data), &data);
        bounded(fuzzing::json(&data), &data);
        bounded(fuzzing::text(&data), &data);
        bounded(fuzzing::tar_layer(&data), &data);
        bounded(fuzzing::archive(&data), &data);
        fuzzing::rules(&data);
        fuzzing::pack_delta(&data);
        fuzzing::image_archive(&data);
    }

    #[test]
    fn mutated_seeds_never_panic(rng in any::<u64>(), n in 1usize..12) {
        let nb = mutate(&notebook_seed(), rng, n);
        bounded(fuzzing::notebook(&nb), &nb);
        bounded(fuzzing::json(&nb), &nb);
        let layer = mutate(&layer_seed(), rng, n);
        bounded(fuzzing::tar_layer(&layer), &layer);
        fuzzing::image_archive(&layer);
        bounded(fuzzing::archive(&layer), &layer);
        let zip = mutate(&archive_seed(), rng, n);
        bounded(fuzzing::archive(&zip), &zip);
        let text = mutate(&k8s_seed(), rng, n);
        bounded(fuzzing::text(&text), &text);
        fuzzing::rules(&mutate(RULES_SEED.as_bytes(), rng, n));
        fuzzing::pack_delta(&mutate(&delta_seed(), rng, n));
    }
}
