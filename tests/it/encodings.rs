//! Text that is not UTF-8: `.env` and `appsettings.json` files in UTF-16 and UTF-32 (as Windows tools write
//! them), with and without a byte-order mark, are read: the key is found, its line counted in the text and its
//! column and byte span given in the file's own bytes. A text file with one stray NUL is text; a binary file is
//! still skipped, and named on standard error with `-v`.
use crate::common;

use common::*;
use std::fs;

/// A JSON scan on the portable engine.
fn scan(dir: &std::path::Path, extra: &[&str]) -> (i32, serde_json::Value, String) {
    scan_json(dir, &[&["--engine", "portable"], extra].concat())
}

/// Encode `text` in one code unit width and byte order, with an optional mark.
fn encode(text: &str, enc: &str, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let units: Vec<u32> = match enc {
        "utf-16le" | "utf-16be" => text.encode_utf16().map(u32::from).collect(),
        _ => text.chars().map(u32::from).collect(),
    };
    if bom {
        out.extend(match enc {
            "utf-16le" => vec![0xFF, 0xFE],
            "utf-16be" => vec![0xFE, 0xFF],
            "utf-32le" => vec![0xFF, 0xFE, 0, 0],
            _ => vec![0, 0, 0xFE, 0xFF],
        });
    }
    for u in units {
        match enc {
            "utf-16le" => out.extend((u as u16).to_le_bytes()),
            "utf-16be" => out.extend((u as u16).to_be_bytes()),
            "utf-32le" => out.extend(u.to_le_bytes()),
            _ => out.extend(u.to_be_bytes()),
        }
    }
    out
}

#[test]
fn keys_in_utf16_and_utf32_files_are_found_at_their_raw_offsets() {
    let tok = github_token(BODY);
    // Line 3, after a non-ASCII line (é: one UTF-16 unit, two UTF-8 bytes) and before more text.
    let prefix = "# Paramètres générés\r\nAPP_NAME=demo\r\nGITHUB_TOKEN=";
    let text = format!("{prefix}{tok}\r\nDEBUG=false\r\n");
    let col_chars = "GITHUB_TOKEN=".len(); // characters before the key on its line
    let chars_before = prefix.chars().count();
    for (enc, bom, unit) in [
        ("utf-16le", true, 2),
        ("utf-16be", true, 2),
        ("utf-16le", false, 2),
        ("utf-16be", false, 2),
        ("utf-32le", true, 4),
        ("utf-32be", false, 4),
    ] {
        let t = tempfile::tempdir().unwrap();
        let w = t.path().join("w");
        fs::create_dir_all(&w).unwrap();
        let data = encode(&text, enc, bom);
        fs::write(w.join(".env"), &data).unwrap();
        let (code, doc, err) = scan(t.path(), &["w"]);
        let what = format!("{enc}, mark: {bom}");
        assert_eq!(code, 1, "{what}: {err}");
        let findings = doc["findings"].as_array().unwrap();
        assert_eq!(findings.len(), 1, "{what}: {doc}");
        assert_eq!(findings[0]["secret"], tok.as_str(), "{what}");
        let loc = &findings[0]["locations"][0];
        let mark = if bom { unit } else { 0 };
        let start = mark + chars_before * unit;
        assert_eq!(loc["line"], 3, "{what}");
        assert_eq!(loc["column"], (col_chars * unit + 1) as u64, "{what}");
        assert_eq!(loc["byte_start"], start as u64, "{what}");
        assert_eq!(loc["byte_end"], (start + tok.len() * unit) as u64, "{what}");
        // The span holds the key in the file's own encoding.
        assert_eq!(
            data[start..start + tok.len() * unit],
            encode(&tok, enc, false)
        );
        assert_eq!(loc["encoding"], enc.to_ascii_uppercase(), "{what}");
        assert_eq!(doc["summary"]["stats"]["skipped_binary"], 0, "{what}");
    }
}

#[test]
fn utf16_json_is_decoded_as_json() {
    // appsettings.json in UTF-16LE with a mark: the JSON decoder reads the transcoded text.
    let tok = github_token(BODY);
    let text = format!("{{\n  \"GitHub\": {{\n    \"Token\": \"{tok}\"\n  }}\n}}\n");
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    fs::create_dir_all(&w).unwrap();
    let data = encode(&text, "utf-16le", true);
    fs::write(w.join("appsettings.json"), &data).unwrap();
    let (code, doc, err) = scan(t.path(), &["w"]);
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains("decoder"), "no decoder failure: {err}");
    let loc = &doc["findings"][0]["locations"][0];
    assert_eq!(doc["findings"][0]["secret"], tok.as_str());
    assert_eq!(loc["line"], 3);
    let start = 2 + 2 * text.find(&tok).unwrap();
    assert_eq!(loc["byte_start"], start as u64);
}

#[test]
fn one_stray_nul_is_text_and_binary_files_are_named_with_verbose() {
    let tok = github_token(BODY);
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    fs::create_dir_all(&w).unwrap();
    // A text file with one NUL near its start (a stray byte from an editor or a bad copy).
    let mut stray = b"name = demo\0\n".to_vec();
    stray.extend_from_slice(format!("token = {tok}\n").as_bytes());
    fs::write(w.join("settings.conf"), &stray).unwrap();
    // A binary file: an executable-like header, NULs, and a token among them.
    let mut bin = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0\x3e\0\x01\0\0\0".to_vec();
    bin.extend(std::iter::repeat_n(0u8, 200));
    bin.extend_from_slice(tok.as_bytes());
    bin.extend(std::iter::repeat_n(0u8, 200));
    fs::write(w.join("tool.bin"), &bin).unwrap();

    let (code, doc, err) = scan(t.path(), &["w"]);
    assert_eq!(code, 1, "{err}");
    let locs = doc["findings"][0]["locations"].as_array().unwrap();
    assert_eq!(locs.len(), 1, "{doc}");
    assert_eq!(locs[0]["path"], "w/settings.conf");
    assert_eq!(locs[0]["line"], 2);
    assert_eq!(doc["summary"]["stats"]["skipped_binary"], 1);
    assert!(!err.contains("tool.bin"), "not named without -v: {err}");
    assert!(
        doc["summary"]["warnings"]
            .as_array()
            .is_none_or(|w| w.iter().all(|w| !w.to_string().contains("tool.bin"))),
        "not a report warning: {doc}"
    );

    let (_, _, err) = scan(t.path(), &["w", "-v"]);
    assert!(err.contains("skipped binary file: w/tool.bin"), "{err}");
    assert!(!err.contains("settings.conf"), "{err}");
}
