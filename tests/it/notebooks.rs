//! Notebooks decoded the way a person reads them: keys in every place a notebook hides them are found with
//! exact cell/output/field/line locations; image payloads, hashes and placeholder keys are not reported;
//! broken notebooks warn and still get scanned.
use crate::common::decode;

use decode::*;
use keysweep_detect::decode::Registry;
use serde_json::{json, Value};

/// A base64 "PNG" whose payload contains an AWS-key-shaped run after a `+`: a raw-text scan reports it.
fn png_decoy() -> String {
    format!(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+AKIA7QZ3XW5RT2VN6MPL+{}",
        "A".repeat(64)
    )
}

struct Planted {
    nb: Vec<u8>,
    keys: Vec<(String, String)>, // (name, key)
}

fn v4_notebook() -> Planted {
    let src_key = openai_key("SrcA");
    let stream_key = "AKIAQ2R3S4T5U6V7W2X3".to_string();
    let tb_key = github_token("Trace");
    let html_key = openai_key("HtmlB");
    let appjson_key = github_token("AppJson");
    let widget_key = github_token("Widget");
    let papermill_key = openai_key("PaperC");
    let cellmeta_key = "AKIAZ7Y6X5W4V3U2T7S6".to_string();
    let sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let nb = json!({
        "cells": [
            {
                "cell_type": "code", "execution_count": 1, "id": "a1",
                "metadata": {},
                "outputs": [],
                "source": [
                    "import openai\n",
                    &format!("client = openai.OpenAI(key=\"{src_key}\")\n"),
                    "# set OPENAI_API_KEY=\"sk-...your-key\" in your shell\n"
                ]
            },
            {
                "cell_type": "code", "execution_count": 2, "id": "b2",
                "metadata": {"tags": ["debug"], "aws": cellmeta_key},
                "outputs": [
                    {"name": "stdout", "output_type": "stream",
                     "text": ["environ({'HOME': '/root',\n", &format!(" 'AWS_ACCESS_KEY_ID': '{stream_key}',\n"), &format!(" 'SHA': '{sha256}'}})\n")]},
                    {"output_type": "error", "ename": "AuthenticationError",
                     "evalue": "Incorrect API key provided: sk-proj-...your-key-goes-here",
                     "traceback": [
                        "\u{1b}[0;31m---------------------------------------------------------------------------\u{1b}[0m",
                        &format!("\u{1b}[0;32mauth\u{1b}[0m = \u{1b}[0;31m{tb_key}\u{1b}[0m\n\u{1b}[0;31mAuthenticationError\u{1b}[0m: 401"),
                     ]}
                ],
                "source": "print(os.environ)\nclient.models.list()"
            },
            {
                "cell_type": "code", "execution_count": 3, "id": "c3",
                "metadata": {},
                "outputs": [
                    {"output_type": "display_data", "metadata": {},
                     "data": {"image/png": png_decoy(), "text/plain": ["<Figure size 640x480 with 1 Axes>"]}},
                    {"output_type": "execute_result", "execution_count": 3, "metadata": {},
                     "data": {
                        "text/html": ["<table>\n", &format!("<tr><td>key</td><td>{html_key}</td></tr>\n"), "</table>"],
                        "application/json": {"config": {"token_id": 7, "github": appjson_key}},
                        "text/plain": ["<IPython.core.display.HTML object>"]
                     }}
                ],
                "source": ["display(HTML(t))"]
            },
            {
                "cell_type": "markdown", "id": "d4", "metadata": {},
                "attachments": {"img.png": {"image/png": png_decoy()}},
                "source": ["Use `sk-...your-key` here."]
            }
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3"},
            "papermill": {"parameters": {"openai_key": papermill_key}, "version": "2.5.0"},
            "widgets": {"application/vnd.jupyter.widget-state+json": {
                "state": {"w1": {"model_name": "TextModel", "state": {"value": widget_key}}},
                "version_major": 2, "version_minor": 0
            }}
        },
        "nbformat": 4, "nbformat_minor": 5
    });
    let nb = serde_json::to_vec_pretty(&nb).unwrap();
    Planted {
        nb,
        keys: vec![
            ("src".into(), src_key),
            ("stream".into(), stream_key),
            ("tb".into(), tb_key),
            ("html".into(), html_key),
            ("appjson".into(), appjson_key),
            ("widget".into(), widget_key),
            ("papermill".into(), papermill_key),
            ("cellmeta".into(), cellmeta_key),
        ],
    }
}

fn key<'a>(p: &'a Planted, name: &str) -> &'a str {
    &p.keys.iter().find(|(n, _)| n == name).unwrap().1
}

/// (cell, output, field, line_in_segment) of a row.
type Place<F> = (Option<u64>, Option<u64>, F, Option<u64>);

fn place(r: &Row) -> Place<String> {
    (
        r.meta("cell").and_then(Value::as_u64),
        r.meta("output").and_then(Value::as_u64),
        r.meta("field")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        r.meta("line_in_segment").and_then(Value::as_u64),
    )
}

#[test]
fn v4_notebook_keys_found_in_every_place_with_exact_locations() {
    let p = v4_notebook();
    let (rows, warnings) = scan("analysis.ipynb", &p.nb);
    assert!(warnings.is_empty(), "{warnings:?}");
    let expected: Vec<(&str, Place<&str>)> = vec![
        ("src", (Some(0), None, "source", Some(2))),
        ("stream", (Some(1), Some(0), "outputs.text", Some(2))),
        ("tb", (Some(1), Some(1), "outputs.traceback", Some(2))),
        (
            "html",
            (Some(2), Some(1), "outputs.data.text/html", Some(2)),
        ),
        (
            "appjson",
            (Some(2), Some(1), "outputs.data.application/json", None),
        ),
        ("cellmeta", (Some(1), None, "metadata", None)),
        ("papermill", (None, None, "metadata", None)),
        ("widget", (None, None, "metadata", None)),
    ];
    let found: Vec<&str> = rows.iter().map(|r| r.secret.as_str()).collect();
    assert_eq!(rows.len(), expected.len(), "found {found:?}");
    for (name, (cell, output, field, line)) in expected {
        let k = key(&p, name);
        let r = rows
            .iter()
            .find(|r| r.secret == k)
            .unwrap_or_else(|| panic!("{name} not found; found {found:?}"));
        let got = place(r);
        assert_eq!(
            (got.0, got.1, got.2.as_str()),
            (cell, output, field),
            "{name}"
        );
        if line.is_some() {
            assert_eq!(got.3, line, "{name} line_in_segment");
        }
        let raw = only_pos(&p.nb, k);
        assert_eq!(r.loc.byte_start as usize, raw, "{name} raw offset");
        assert_eq!(r.loc.line, line_of(&p.nb, raw), "{name} raw line");
    }
}

#[test]
fn image_payloads_are_skipped_but_raw_text_would_report_them() {
    let p = v4_notebook();
    // Sanity: without decoders the decoy in the PNG is reported, so the decoded scan's silence means something.
    let mut raw = scanner();
    raw.decoders = Registry::none();
    let (rows, _) = scan_with(&raw, &[("analysis.ipynb", &p.nb)]);
    assert!(
        rows.iter().any(|r| r.secret == "AKIA7QZ3XW5RT2VN6MPL"),
        "{rows:?}"
    );
    let (rows, _) = scan("analysis.ipynb", &p.nb);
    assert!(
        !rows.iter().any(|r| r.secret.contains("AKIA7QZ3")),
        "{rows:?}"
    );
    assert!(!rows.iter().any(|r| r.secret.contains("your-key")));
}

#[test]
fn v3_notebook_cells_inputs_and_outputs() {
    let input_key = github_token("Vthree");
    let pyout_key = openai_key("PyOut");
    let err_key = "AKIAJ2K3L4M5N6O7P2Q3";
    let nb = json!({
        "metadata": {"name": "old"},
        "nbformat": 3, "nbformat_minor": 0,
        "worksheets": [{"cells": [
            {"cell_type": "heading", "level": 1, "metadata": {}, "source": ["Title"]},
            {"cell_type": "code", "collapsed": false, "input": ["x = 1\n", &format!("tok = '{input_key}'")],
             "language": "python", "metadata": {}, "prompt_number": 1,
             "outputs": [
                {"output_type": "pyout", "prompt_number": 1, "metadata": {},
                 "png": png_decoy(), "text": ["line one\n", &format!("key={pyout_key}")]},
                {"output_type": "pyerr", "ename": "E", "evalue": format!("bad \u{1b}[1m{err_key}\u{1b}[0m"),
                 "traceback": ["\u{1b}[0;31mE\u{1b}[0m"]}
             ]}
        ]}]
    });
    let nb = serde_json::to_vec(&nb).unwrap();
    let (rows, warnings) = scan("old.ipynb", &nb);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(rows.len(), 3, "{rows:?}");
    let by = |k: &str| rows.iter().find(|r| r.secret == k).map(place).unwrap();
    assert_eq!(by(&input_key), (Some(1), None, "source".into(), Some(2)));
    assert_eq!(
        by(&pyout_key),
        (Some(1), Some(0), "outputs.text".into(), Some(2))
    );
    assert_eq!(
        by(err_key),
        (Some(1), Some(1), "outputs.evalue".into(), Some(1))
    );
    for r in &rows {
        assert_eq!(r.loc.byte_start as usize, only_pos(&nb, &r.secret));
    }
}

#[test]
fn truncated_notebook_warns_and_is_scanned_as_json_text() {
    let p = v4_notebook();
    let cut = only_pos(&p.nb, key(&p, "html")) + 200;
    let nb = &p.nb[..cut];
    let (rows, warnings) = scan("broken.ipynb", nb);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("broken.ipynb: notebook decoder:"),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].contains("truncated"), "{}", warnings[0]);
    for name in ["src", "stream", "tb", "html", "cellmeta"] {
        assert!(
            rows.iter().any(|r| r.secret == key(&p, name)),
            "{name}: {rows:?}"
        );
    }
    // The escaped quote before the source key was decoded: raw offset still exact.
    let r = rows.iter().find(|r| r.secret == key(&p, "src")).unwrap();
    assert_eq!(r.loc.byte_start as usize, only_pos(nb, key(&p, "src")));
    for w in &warnings {
        for (_, k) in &p.keys {
            assert!(!w.contains(k.as_str()), "warning leaks a secret");
        }
    }
}

#[test]
fn hostile_notebooks_warn_without_panicking() {
    let tok = github_token("Hostile");
    // 10,000 levels of nesting in cell metadata.
    let deep = format!(
        "{{\"cells\": [{{\"cell_type\": \"code\", \"metadata\": {}{}, \"source\": \"t = '{tok}'\"}}], \"nbformat\": 4}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    // Invalid UTF-8 inside a string, next to a key.
    let mut bad_utf8 =
        br#"{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": ["x = '"#
            .to_vec();
    bad_utf8.extend_from_slice(b"\xff\xfe\xc3");
    bad_utf8.extend_from_slice(
        format!("'\\n\", \"y = \\\"{tok}\\\"\"]}}], \"metadata\": {{}}, \"nbformat\": 4}}")
            .as_bytes(),
    );
    // Binary content named .ipynb, with a key in it.
    let mut binary = vec![0u8, 1, 2, 3, 0xff];
    binary.extend_from_slice(format!(" {tok} ").as_bytes());
    // Not JSON at all.
    let not_json = format!("this is not json: {tok}\n");
    let s = scanner();
    let (rows, warnings) = scan_with(
        &s,
        &[
            ("deep.ipynb", deep.as_bytes()),
            ("utf8.ipynb", &bad_utf8),
            ("bin.ipynb", &binary),
            ("text.ipynb", not_json.as_bytes()),
        ],
    );
    assert_eq!(rows.len(), 4, "{rows:?}");
    for p in ["deep.ipynb", "utf8.ipynb", "bin.ipynb", "text.ipynb"] {
        assert!(
            rows.iter().any(|r| &*r.loc.path == p && r.secret == tok),
            "{p}: {rows:?}"
        );
    }
    let utf8 = rows.iter().find(|r| &*r.loc.path == "utf8.ipynb").unwrap();
    assert_eq!(utf8.meta("cell").and_then(Value::as_u64), Some(0));
    assert_eq!(
        utf8.meta("line_in_segment").and_then(Value::as_u64),
        Some(2)
    );
    let w = |p: &str| {
        warnings
            .iter()
            .find(|w| w.starts_with(p))
            .cloned()
            .unwrap_or_default()
    };
    assert!(w("deep.ipynb").contains("deeper than"), "{warnings:?}");
    assert!(w("bin.ipynb").contains("binary"), "{warnings:?}");
    assert!(
        w("text.ipynb").contains("not a valid notebook"),
        "{warnings:?}"
    );
    assert!(w("utf8.ipynb").is_empty(), "{warnings:?}");
}

#[test]
fn fifty_megabyte_output_is_scanned_in_bounded_time() {
    let tok = github_token("Big");
    let filler = "0123456789abcdef ".repeat(50 * 1024 * 1024 / 17);
    let nb = json!({
        "cells": [{"cell_type": "code", "metadata": {}, "source": "x",
                   "outputs": [{"output_type": "stream", "name": "stdout",
                                "text": format!("{filler}\ngh: {tok}\n")}]}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5
    });
    let nb = serde_json::to_vec(&nb).unwrap();
    assert!(nb.len() > 50 << 20);
    let t = std::time::Instant::now();
    let (rows, warnings) = scan("big.ipynb", &nb);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].meta("line_in_segment").and_then(Value::as_u64),
        Some(2)
    );
    assert!(t.elapsed().as_secs() < 20, "{:?}", t.elapsed());
}

#[test]
fn checkpoints_are_ignored_unless_no_ignore() {
    let dir = tempfile::tempdir().unwrap();
    let tok = github_token("Ckpt");
    let ck = dir.path().join(".ipynb_checkpoints");
    std::fs::create_dir_all(&ck).unwrap();
    let nb = serde_json::to_vec(
        &json!({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
        "source": format!("t = '{tok}'")}], "metadata": {}, "nbformat": 4}),
    )
    .unwrap();
    std::fs::write(ck.join("a-checkpoint.ipynb"), &nb).unwrap();
    let s = scanner();
    keysweep_sources::fs::scan_path(&s, dir.path(), &Default::default());
    assert!(s.take_results().0.is_empty());
    let opts = keysweep_sources::fs::WalkOptions {
        no_ignore: true,
        ..Default::default()
    };
    keysweep_sources::fs::scan_path(&s, dir.path(), &opts);
    let (f, _) = s.take_results();
    assert_eq!(f.len(), 1);
    assert!(f[0].locations[0].ignored);
    assert_eq!(f[0].locations[0].meta.detail.cell, Some(0));
}

#[test]
fn notebook_in_git_history_is_decoded_like_one_in_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str]| crate::common::git(&repo, args);
    git(&["init", "-q"]);
    let p = v4_notebook();
    std::fs::write(repo.join("analysis.ipynb"), &p.nb).unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "add notebook"]);
    git(&["rm", "-q", "analysis.ipynb"]);
    git(&["commit", "-q", "-m", "remove notebook"]);
    let rules = crate::common::rules_dir_with(dir.path(), DECODE);
    let o = crate::common::run_isolated(dir.path(), &rules, &["git", "repo", "--format", "json"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), p.keys.len(), "{v:#}");
    let tb = findings
        .iter()
        .find(|f| f["secret"] == key(&p, "tb"))
        .expect("traceback key found in history");
    let loc = &tb["locations"][0];
    assert_eq!(loc["cell"], 1);
    assert_eq!(loc["output"], 1);
    assert_eq!(loc["field"], "outputs.traceback");
    assert_eq!(loc["line_in_segment"], 2);
    assert_eq!(loc["byte_start"], only_pos(&p.nb, key(&p, "tb")));
    assert!(loc["commit"].is_string(), "{loc}");
}

/// A v4 notebook with one code cell (`source`), its `extra` entries merged into the cell.
fn one_cell(extra: Value) -> Value {
    let mut cell = json!({"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [],
                          "source": ["x = 1\n"]});
    if let (Some(c), Some(x)) = (cell.as_object_mut(), extra.as_object()) {
        for (k, v) in x {
            c.insert(k.clone(), v.clone());
        }
    }
    json!({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
}

#[test]
fn keys_outside_the_modelled_fields_are_found_once_with_their_place() {
    // (placement, notebook, expected (cell, output, field)) — each placement in a notebook of its own.
    type Case = (&'static str, Value, Place<&'static str>);
    let k = |s: &str| github_token(s);
    let cases: Vec<(Case, String)> = vec![
        {
            let key = k("TopLevel");
            let mut nb = one_cell(json!({}));
            nb["custom_export"] = json!({"token": key});
            (
                (
                    "unknown top-level key",
                    nb,
                    (None, None, "custom_export", None),
                ),
                key,
            )
        },
        {
            let key = k("CellKey");
            let nb = one_cell(json!({"my_notes": format!("remember {key}")}));
            (
                ("unknown cell key", nb, (Some(0), None, "my_notes", None)),
                key,
            )
        },
        {
            let key = k("CellId");
            let nb = one_cell(json!({"id": key}));
            (("id", nb, (Some(0), None, "id", None)), key)
        },
        {
            let key = k("ExecCount");
            let nb = one_cell(json!({"execution_count": key}));
            (
                (
                    "execution_count",
                    nb,
                    (Some(0), None, "execution_count", None),
                ),
                key,
            )
        },
        {
            let key = k("Ename");
            let nb = one_cell(json!({"outputs": [{"output_type": "error", "ename": key,
                                                  "evalue": "", "traceback": []}]}));
            (
                ("ename", nb, (Some(0), Some(0), "outputs.ename", None)),
                key,
            )
        },
        {
            let key = k("Attach");
            let nb = one_cell(json!({"cell_type": "markdown", "attachments": {
                "plot.png": {"image/png": png_decoy()},
                "notes.txt": {"text/plain": format!("gh: {key}")}}}));
            (
                (
                    "attachment",
                    nb,
                    (Some(0), None, "attachments.text/plain", Some(1)),
                ),
                key,
            )
        },
        {
            let key = k("SvgOut");
            let nb = one_cell(
                json!({"outputs": [{"output_type": "display_data", "metadata": {},
                "data": {"image/svg+xml": ["<svg xmlns=\"http://www.w3.org/2000/svg\">\n",
                                           &format!("<!-- {key} -->\n"), "</svg>"]}}]}),
            );
            (
                (
                    "svg output",
                    nb,
                    (Some(0), Some(0), "outputs.data.image/svg+xml", Some(2)),
                ),
                key,
            )
        },
        {
            let key = k("NestedSrc");
            let nb = one_cell(json!({"source": [["import os\n"], [format!("t = '{key}'\n")]]}));
            (
                (
                    "nested lists in source",
                    nb,
                    (Some(0), None, "source", None),
                ),
                key,
            )
        },
        {
            let key = k("CellsObj");
            let nb = json!({"cells": {"first": {"cell_type": "code", "metadata": {}, "source": "x = 1"},
                                      "second": {"cell_type": "code", "metadata": {},
                                                 "source": format!("t = '{key}'")}},
                            "metadata": {}, "nbformat": 4});
            (
                ("cells is an object", nb, (Some(1), None, "source", Some(1))),
                key,
            )
        },
        {
            // A key used as an object key: only the gap scan reads key names.
            let key = k("KeyName");
            let nb = one_cell(
                json!({"outputs": [{"output_type": "display_data", "metadata": {},
                "data": {key.clone(): "x", "text/plain": "ok"}}]}),
            );
            (("key name", nb, (Some(0), None, "json", None)), key)
        },
    ];
    // Every placement is checked; the failures are listed together.
    let mut failures: Vec<String> = Vec::new();
    for ((what, nb, (cell, output, field, line)), key) in cases {
        let nb = serde_json::to_vec_pretty(&nb).unwrap();
        let (rows, warnings) = scan("placed.ipynb", &nb);
        let raw = only_pos(&nb, &key);
        let want = (cell, output, field.to_string());
        let ok = match rows.as_slice() {
            [r] => {
                let got = place(r);
                warnings.is_empty()
                    && r.secret == key
                    && (got.0, got.1, got.2.clone()) == want
                    && (line.is_none() || got.3 == line)
                    && r.loc.byte_start as usize == raw
                    && r.loc.line == line_of(&nb, raw)
            }
            _ => false,
        };
        if !ok {
            let got: Vec<_> = rows.iter().map(|r| (place(r), r.loc.byte_start)).collect();
            failures.push(format!(
                "{what}: want {want:?} line_in_segment {line:?} at byte {raw}, got {got:?} {warnings:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn gap_scan_skips_image_payloads_and_reports_a_cell_key_once() {
    let key = github_token("OnceOnly");
    let aws = "AKIAB2C3D4E5F6G7H2J3";
    let nb = json!({
        "cells": [
            {"cell_type": "code", "execution_count": 1, "id": "c1", "metadata": {},
             "source": [format!("token = '{key}'\n"), "print(token)\n"],
             "outputs": [
                {"output_type": "display_data", "metadata": {},
                 "data": {"image/png": png_decoy(), "image/jpeg": [png_decoy(), "\n"],
                          "application/pdf": png_decoy(), "text/plain": "<Figure>"}},
                {"output_type": "stream", "name": "stdout", "text": format!("aws {aws}\n")}
             ]},
            {"cell_type": "markdown", "id": "m1", "metadata": {}, "source": "see plot",
             "attachments": {"a.png": {"image/png": png_decoy()}}}
        ],
        "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5
    });
    let nb = serde_json::to_vec_pretty(&nb).unwrap();
    // Sanity: the decoy in the PNG payloads is reported when the notebook is read as raw text.
    let mut raw = scanner();
    raw.decoders = Registry::none();
    let (rows, _) = scan_with(&raw, &[("plots.ipynb", &nb)]);
    assert!(
        rows.iter().any(|r| r.secret == "AKIA7QZ3XW5RT2VN6MPL"),
        "{rows:?}"
    );
    let (rows, warnings) = scan("plots.ipynb", &nb);
    assert!(warnings.is_empty(), "{warnings:?}");
    let secrets: Vec<&str> = rows.iter().map(|r| r.secret.as_str()).collect();
    assert_eq!(secrets.len(), 2, "one location per key: {rows:?}");
    assert!(
        secrets.contains(&key.as_str()) && secrets.contains(&aws),
        "{secrets:?}"
    );
    let r = rows.iter().find(|r| r.secret == key).unwrap();
    assert_eq!(place(r), (Some(0), None, "source".into(), Some(1)));
}

#[test]
fn v3_svg_output_and_unknown_output_keys_are_read() {
    let svg_key = github_token("VthreeSvg");
    let nb = json!({
        "metadata": {"name": "old"}, "nbformat": 3, "nbformat_minor": 0,
        "worksheets": [{"cells": [
            {"cell_type": "code", "input": "plot()", "language": "python", "metadata": {},
             "outputs": [{"output_type": "display_data", "png": png_decoy(),
                          "svg": ["<svg>\n", &format!("<!-- {svg_key} -->\n"), "</svg>"]}]}
        ], "metadata": {}}]
    });
    let nb = serde_json::to_vec(&nb).unwrap();
    let (rows, warnings) = scan("old.ipynb", &nb);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        place(&rows[0]),
        (Some(0), Some(0), "outputs.svg".into(), Some(2))
    );
}
