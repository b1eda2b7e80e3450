//! JSON unescaping, CI files, Kubernetes Secrets and AI-pipeline artefacts: planted keys are found with the
//! structure named in their location (ci/job/step, k8s_secret/key, artefact/mcp_server/…), references and
//! placeholders are not reported, and the CLI's `--no-decode` switch really turns decoding off.
use crate::common::decode;

use base64::Engine;
use decode::*;
use serde_json::Value;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn meta_str<'a>(r: &'a Row, k: &str) -> Option<&'a str> {
    r.meta(k).and_then(Value::as_str)
}

/// Assert the row's raw offset and line point at the secret's only occurrence in `data`.
fn assert_raw_location(r: &Row, data: &[u8]) {
    let at = only_pos(data, &r.secret);
    assert_eq!(r.loc.byte_start as usize, at, "{}", r.secret);
    assert_eq!(r.loc.line, line_of(data, at), "{}", r.secret);
}

#[test]
fn json_escapes_are_decoded_with_exact_raw_locations() {
    let gh = github_token("JsonEsc");
    // `\u0070` is `p`: the raw file never contains the token literally.
    let escaped = gh.replacen('p', "\\u0070", 1);
    let aws = "AKIAR2S3T4U5V6W7X2Y3";
    let doc = format!(
        "{{\"pem\": \"line1\\nline2\\n{aws}\\n\", \"url\": \"https:\\/\\/x\\/\", \"k\": \"\\\"{escaped}\\\"\"}}\n"
    );
    let (rows, warnings) = scan("settings.json", doc.as_bytes());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(rows.len(), 2, "{rows:?}");
    let a = rows.iter().find(|r| r.secret == aws).unwrap();
    assert_raw_location(a, doc.as_bytes());
    let g = rows.iter().find(|r| r.secret == gh).unwrap();
    assert_eq!(g.loc.byte_start as usize, doc.find(&escaped).unwrap());
    assert_eq!(
        g.loc.byte_end as usize,
        doc.find(&escaped).unwrap() + escaped.len()
    );
    assert_eq!(g.loc.line, 1);
    // Raw text would miss the escaped token.
    let mut raw = scanner();
    raw.decoders = keysweep_detect::decode::Registry::none();
    let (rows, _) = scan_with(&raw, &[("settings.json", doc.as_bytes())]);
    assert!(!rows.iter().any(|r| r.secret == gh));
}

#[test]
fn github_actions_literals_reported_references_not() {
    let openai = openai_key("Gha");
    let aws = "AKIAB2C3D4E5F6G7H2I3";
    let wf = format!(
        r#"name: ci
on: [push]
env:
  GLOBAL_TOKEN: ${{{{ secrets.GLOBAL_TOKEN }}}}
jobs:
  build:
    runs-on: ubuntu-latest
    env:
      password: ${{{{ secrets.DB_PASSWORD }}}}
    steps:
      - uses: actions/checkout@v4
      - name: Call the API
        env:
          OPENAI_API_KEY: {openai}
          token: $API_TOKEN_VALUE
          api_key: ${{API_KEY_VALUE}}
          passwd: $(cat /run/secrets/db_password)
          password: ((vault_db_password))
          token: "{{{{ .Values.apiToken }}}}"
        run: |
          curl -H "Authorization: Bearer $OPENAI_API_KEY" https://api.openai.com/v1/models
  deploy:
    runs-on: ubuntu-latest
    steps:
      - name: Deploy
        uses: aws-actions/configure-aws-credentials@v4
        with:
          aws-access-key-id: {aws}
          password: Xk9#mP2$vL8qRt4w
"#
    );
    let (rows, warnings) = scan(".github/workflows/ci.yml", wf.as_bytes());
    assert!(warnings.is_empty(), "{warnings:?}");
    let got: Vec<(&str, &str, Option<&str>, Option<&str>)> = rows
        .iter()
        .map(|r| {
            (
                r.rule.as_str(),
                r.secret.as_str(),
                meta_str(r, "job"),
                meta_str(r, "step"),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "test.openai",
                openai.as_str(),
                Some("build"),
                Some("Call the API")
            ),
            ("test.aws-key-id", aws, Some("deploy"), Some("Deploy")),
            (
                "test.assignment",
                "Xk9#mP2$vL8qRt4w",
                Some("deploy"),
                Some("Deploy")
            ),
        ]
    );
    for r in &rows {
        assert_eq!(meta_str(r, "ci"), Some("github-actions"));
        assert_raw_location(r, wf.as_bytes());
    }
}

#[test]
fn gitlab_ci_names_jobs() {
    let gh = github_token("Gitlab");
    let aws = "AKIAK2L3M4N5O6P7Q2R3";
    let y = format!(
        "variables:\n  DOCKER_PASSWORD: $CI_REGISTRY_PASSWORD\n  AWS_ACCESS_KEY_ID: {aws}\nstages: [test]\n\nunit-tests:\n  stage: test\n  variables:\n    GITHUB_TOKEN: {gh}\n  script:\n    - echo \"password=$DB_PASSWORD_VALUE\"\n"
    );
    let (rows, _) = scan(".gitlab-ci.yml", y.as_bytes());
    let got: Vec<(&str, Option<&str>)> = rows
        .iter()
        .map(|r| (r.secret.as_str(), meta_str(r, "job")))
        .collect();
    assert_eq!(got, vec![(aws, None), (gh.as_str(), Some("unit-tests"))]);
    assert!(rows.iter().all(|r| meta_str(r, "ci") == Some("gitlab-ci")));
}

#[test]
fn other_ci_systems_are_named() {
    let gh = github_token("OtherCi");
    type Case<'a> = (&'a str, String, &'a str, Option<&'a str>, Option<Value>);
    let cases: Vec<Case> = vec![
        (
            "Jenkinsfile",
            format!("pipeline {{\n  stages {{\n    stage('Publish') {{\n      environment {{ GH = '{gh}' }}\n    }}\n  }}\n}}\n"),
            "jenkins",
            Some("Publish"),
            None,
        ),
        (
            ".circleci/config.yml",
            format!("version: 2.1\njobs:\n  test:\n    steps:\n      - checkout\n      - run:\n          name: Pull\n          command: git clone https://x:{gh}@github.com/o/r\n"),
            "circleci",
            Some("test"),
            Some(Value::from("Pull")),
        ),
        (
            "azure-pipelines.yml",
            format!("jobs:\n- job: Build\n  steps:\n  - script: echo hi\n    displayName: Hello\n    env:\n      GH: {gh}\n"),
            "azure-pipelines",
            Some("Build"),
            Some(Value::from("Hello")),
        ),
        (
            "bitbucket-pipelines.yml",
            format!("pipelines:\n  default:\n    - step:\n        name: Build\n        script:\n          - export GH={gh}\n"),
            "bitbucket-pipelines",
            Some("default"),
            Some(Value::from("Build")),
        ),
        (".travis.yml", format!("env:\n  global:\n    - GH={gh}\n"), "travis", None, None),
        (
            ".buildkite/pipeline.yml",
            format!("steps:\n  - label: ':rocket: ship'\n    env:\n      GH: {gh}\n"),
            "buildkite",
            None,
            Some(Value::from(":rocket: ship")),
        ),
        (
            ".drone.yml",
            format!("kind: pipeline\nsteps:\n- name: push\n  environment:\n    GH: {gh}\n"),
            "drone",
            None,
            Some(Value::from("push")),
        ),
    ];
    for (path, text, ci, job, step) in cases {
        let (rows, _) = scan(path, text.as_bytes());
        assert_eq!(rows.len(), 1, "{path}: {rows:?}");
        let r = &rows[0];
        assert_eq!(meta_str(r, "ci"), Some(ci), "{path}");
        assert_eq!(meta_str(r, "job"), job, "{path}");
        assert_eq!(r.meta("step").cloned(), step, "{path}");
        assert_raw_location(r, text.as_bytes());
    }
}

#[test]
fn kubernetes_secret_data_is_base64_decoded() {
    let gh = github_token("K8sData");
    let openai = openai_key("K8sString");
    let decoy = "AKIAD2E3F4G5H6I7J2K3";
    let y = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  note: {}\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: api-keys\n  namespace: ml\ntype: Opaque\ndata:\n  harmless: {}\n  token: \"{}\"\nstringData:\n  OPENAI_API_KEY: {openai}\n",
        b64(decoy),
        b64("hello world"),
        b64(&gh)
    );
    let (rows, warnings) = scan("deploy/secret.yaml", y.as_bytes());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(rows.len(), 2, "{rows:?}");
    let g = rows.iter().find(|r| r.secret == gh).unwrap();
    assert_eq!(meta_str(g, "k8s_secret"), Some("api-keys"));
    // `token: <base64>` would also match the keyword rule if the encoded form were scanned.
    assert_eq!(meta_str(g, "key"), Some("token"));
    let value_at = y.find(&b64(&gh)).unwrap();
    assert_eq!(g.loc.byte_start as usize, value_at);
    assert_eq!(g.loc.line, line_of(y.as_bytes(), value_at));
    let o = rows.iter().find(|r| r.secret == openai).unwrap();
    assert_raw_location(o, y.as_bytes());
    assert_eq!(meta_str(o, "k8s_secret"), Some("api-keys"));
    assert_eq!(meta_str(o, "field"), Some("stringData"));
}

#[test]
fn ai_pipeline_artefacts_are_recognised() {
    let gh = |s: &str| github_token(s);
    let (mcp_gh, mcp_oa) = (gh("McpGh"), openai_key("McpHeader"));
    let mcp = format!(
        r#"{{
  "mcpServers": {{
    "github": {{
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {{ "GITHUB_PERSONAL_ACCESS_TOKEN": "{mcp_gh}" }}
    }},
    "remote": {{
      "url": "https:\/\/mcp.example.com\/sse",
      "headers": {{ "Authorization": "Bearer {mcp_oa}" }}
    }},
    "env-ref": {{ "env": {{ "OPENAI_API_KEY": "${{env:OPENAI_API_KEY}}" }} }}
  }}
}}
"#
    );
    let docker_gh = gh("DockerAuth");
    let docker = format!(
        "{{\n  \"auths\": {{\n    \"ghcr.io\": {{\n      \"auth\": \"{}\"\n    }}\n  }}\n}}\n",
        b64(&format!("octocat:{docker_gh}"))
    );
    let wandb_oa = openai_key("Wandb");
    let wandb_cfg =
        format!("_wandb:\n  desc: null\nopenai_api_key:\n  desc: null\n  value: {wandb_oa}\n");
    let log_aws = "AKIAL2M3N4O5P6Q7R2S3";
    let wandb_log =
        format!("\x1b[34m\x1b[1mwandb\x1b[0m: env AWS_ACCESS_KEY_ID=\x1b[33m{log_aws}\x1b[0m\n");
    let ml_gh = gh("MlflowParam");
    let hf_gh = gh("HfTokenFile");
    let env_oa = openai_key("DotEnv");
    let dotenv =
        format!("OPENAI_API_KEY={env_oa}\nPLACEHOLDER_KEY=sk-proj-...your-key-goes-here\n");
    let trace_oa = openai_key("Trace");
    let trace = format!(
        "{{\"run_type\": \"llm\", \"inputs\": {{\"headers\": \"{{\\\"Authorization\\\": \\\"Bearer {trace_oa}\\\"}}\"}}}}\n"
    );
    let netrc_gh = gh("Netrc");
    let gitcred_gh = gh("GitCred");
    let blobs: Vec<(&str, String)> = vec![
        (".cursor/mcp.json", mcp.clone()),
        ("home/.docker/config.json", docker.clone()),
        (
            "wandb/run-20250101_000000-abc123/files/config.yaml",
            wandb_cfg,
        ),
        (
            "wandb/run-20250101_000000-abc123/files/output.log",
            wandb_log.clone(),
        ),
        ("mlruns/0/9f1c2d/params/github_token", ml_gh.clone()),
        (".cache/huggingface/token", hf_gh.clone()),
        (".env.local", dotenv),
        ("exports/langsmith/runs.jsonl", trace.clone()),
        (
            ".netrc",
            format!("machine api.github.com login octocat password {netrc_gh}\n"),
        ),
        (
            ".git-credentials",
            format!("https://octocat:{gitcred_gh}@github.com\n"),
        ),
    ];
    let refs: Vec<(&str, &[u8])> = blobs.iter().map(|(p, t)| (*p, t.as_bytes())).collect();
    let (rows, warnings) = scan_with(&scanner(), &refs);
    assert!(warnings.is_empty(), "{warnings:?}");
    let row = |k: &str| {
        rows.iter()
            .find(|r| r.secret == k)
            .unwrap_or_else(|| panic!("{k} not found in {rows:?}"))
    };
    assert_eq!(rows.len(), 11, "{rows:?}");
    assert_eq!(meta_str(row(&mcp_gh), "mcp_server"), Some("github"));
    assert_eq!(meta_str(row(&mcp_oa), "mcp_server"), Some("remote"));
    assert_eq!(meta_str(row(&mcp_oa), "artefact"), Some("mcp-config"));
    assert_raw_location(row(&mcp_oa), mcp.as_bytes());
    let d = row(&docker_gh);
    assert_eq!(meta_str(d, "registry"), Some("ghcr.io"));
    assert_eq!(meta_str(d, "artefact"), Some("docker-config"));
    assert_eq!(d.loc.line, 4);
    assert_eq!(
        meta_str(row(&wandb_oa), "wandb_run"),
        Some("run-20250101_000000-abc123")
    );
    let l = row(log_aws);
    assert_eq!(l.loc.byte_start as usize, wandb_log.find(log_aws).unwrap());
    assert_eq!(meta_str(row(&ml_gh), "mlflow_param"), Some("github_token"));
    assert_eq!(meta_str(row(&ml_gh), "mlflow_run"), Some("9f1c2d"));
    assert_eq!(row(&ml_gh).loc.byte_start, 0);
    assert_eq!(meta_str(row(&hf_gh), "artefact"), Some("huggingface-token"));
    assert_eq!(meta_str(row(&env_oa), "artefact"), Some("dotenv"));
    assert_eq!(meta_str(row(&trace_oa), "artefact"), Some("trace-export"));
    assert_eq!(
        row(&trace_oa).loc.byte_start as usize,
        trace.find(&trace_oa).unwrap()
    );
    assert_eq!(meta_str(row(&netrc_gh), "artefact"), Some("netrc"));
    assert_eq!(
        meta_str(row(&gitcred_gh), "artefact"),
        Some("git-credentials")
    );
}

#[test]
fn cli_no_decode_switches_decoders_off() {
    let dir = tempfile::tempdir().unwrap();
    let rules = crate::common::rules_dir_with(dir.path(), DECODE);
    let gh = github_token("CliEsc");
    let escaped = gh.replacen('p', "\\u0070", 1);
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    let nb = format!(
        "{{\"cells\": [{{\"cell_type\": \"code\", \"metadata\": {{}}, \"outputs\": [], \"source\": [\"a = 1\\n\", \"t = '{escaped}'\"]}}], \"metadata\": {{}}, \"nbformat\": 4, \"nbformat_minor\": 5}}"
    );
    std::fs::write(tree.join("n.ipynb"), &nb).unwrap();
    let run = |extra: &[&str]| {
        let args = [&["scan", "tree", "--format", "json"], extra].concat();
        crate::common::run_isolated(dir.path(), &rules, &args)
    };
    let o = run(&[]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let text = v.to_string();
    assert!(text.contains(&gh), "{text}");
    assert!(
        text.contains("\"cell\":0") && text.contains("\"line_in_segment\":2"),
        "{text}"
    );
    // A depth limit below the notebook's nesting: warned about, still scanned as JSON text.
    let o = run(&["--max-decode-depth", "2"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("n.ipynb: notebook decoder") && err.contains("deeper than 2"),
        "{err}"
    );
    assert!(!err.contains(&gh), "warning leaks the secret");
    // In history the same warning names the commit that introduced the blob.
    crate::common::init_repo(&tree);
    crate::common::git(&tree, &["add", "."]);
    crate::common::git(&tree, &["commit", "-q", "-m", "nb"]);
    let head = crate::common::git(&tree, &["rev-parse", "HEAD"]);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_keysweep"))
        .current_dir(dir.path())
        .args([
            "git",
            "tree",
            "--no-config",
            "--no-builtin-rules",
            "--rules",
            "rules",
        ])
        .args(["--max-decode-depth", "2", "--format", "json"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("n.ipynb: notebook decoder")
            && err.contains(&format!("(in commit {})", &head[..12])),
        "{err}"
    );
    let o = run(&["--no-decode"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn kubernetes_secret_in_json_list_is_decoded() {
    let gh = github_token("K8sJson");
    let decoy = "AKIAE2F3G4H5I6J7K2L3";
    let doc = format!(
        "{{\n \"apiVersion\": \"v1\", \"kind\": \"List\",\n \"items\": [\n  {{\"kind\": \"ConfigMap\", \"metadata\": {{\"name\": \"c\"}}, \"data\": {{\"x\": \"{}\"}}}},\n  {{\"kind\": \"Secret\", \"metadata\": {{\"name\": \"gh\"}},\n   \"data\": {{\"GH_TOKEN\": \"{}\"}}}}\n ]\n}}\n",
        b64(decoy),
        b64(&gh)
    );
    let (rows, warnings) = scan("secrets.json", doc.as_bytes());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].secret, gh);
    assert_eq!(meta_str(&rows[0], "k8s_secret"), Some("gh"));
    assert_eq!(meta_str(&rows[0], "key"), Some("GH_TOKEN"));
    assert_eq!(
        rows[0].loc.byte_start as usize,
        doc.find(&b64(&gh)).unwrap()
    );
    assert_eq!(rows[0].loc.line, 6);
}

/// Raw offset of `needle`'s only occurrence.
fn at(data: &str, needle: &str) -> usize {
    only_pos(data.as_bytes(), needle)
}

#[test]
fn kubectl_list_yaml_secrets_are_decoded() {
    let gh = github_token("K8sList");
    let decoy = "AKIAF2G3H4I5J6K7L2M3";
    // `kubectl get secret,configmap -o yaml`: a List, keys sorted (data before kind).
    let y = format!(
        "apiVersion: v1\nitems:\n- apiVersion: v1\n  data:\n    note: {}\n  kind: ConfigMap\n  metadata:\n    name: cfg\n- apiVersion: v1\n  data:\n    GH_TOKEN: {}\n    harmless: {}\n  kind: Secret\n  metadata:\n    name: gh-creds\n    namespace: ci\n  type: Opaque\nkind: List\nmetadata:\n  resourceVersion: \"\"\n",
        b64(decoy),
        b64(&gh),
        b64("hello world")
    );
    let (rows, warnings) = scan("secrets.yaml", y.as_bytes());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(r.secret, gh);
    assert_eq!(meta_str(r, "k8s_secret"), Some("gh-creds"));
    assert_eq!(meta_str(r, "key"), Some("GH_TOKEN"));
    assert_eq!(meta_str(r, "field"), Some("data"));
    assert_eq!(r.loc.byte_start as usize, at(&y, &b64(&gh)));
    assert_eq!(r.loc.line, 11);
}

#[test]
fn flow_mapping_secret_data_is_decoded() {
    let gh = github_token("K8sFlow");
    let aws = "AKIAG2H3J4K5L6M7N2P3";
    let y = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: flow, namespace: ml}}\ndata: {{password: {}, \"aws\": '{}'}}\n",
        b64(&gh),
        b64(&format!("id={aws}"))
    );
    let (rows, warnings) = scan("flow.yml", y.as_bytes());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(rows.len(), 2, "{rows:?}");
    let g = rows
        .iter()
        .find(|r| r.secret == gh)
        .expect("flow value decoded");
    assert_eq!(meta_str(g, "k8s_secret"), Some("flow"));
    assert_eq!(meta_str(g, "key"), Some("password"));
    assert_eq!(g.loc.byte_start as usize, at(&y, &b64(&gh)));
    let a = rows
        .iter()
        .find(|r| r.secret == aws)
        .expect("quoted flow value decoded");
    assert_eq!(meta_str(a, "key"), Some("aws"));
    // `id=` is 3 bytes, one base64 group: the key starts at the value's 5th character.
    assert_eq!(
        a.loc.byte_start as usize,
        at(&y, &b64(&format!("id={aws}"))) + 4
    );
}

/// `s` base64-encoded and wrapped at `width` characters, each line indented by `indent` spaces.
fn wrapped_b64(s: &str, width: usize, indent: usize) -> String {
    let enc = b64(s);
    enc.as_bytes()
        .chunks(width)
        .map(|c| {
            format!(
                "{}{}\n",
                " ".repeat(indent),
                std::str::from_utf8(c).unwrap()
            )
        })
        .collect()
}

#[test]
fn multi_line_base64_is_decoded_and_mapped_to_its_line() {
    // 60 bytes of prefix (20 base64 groups = 80 characters): the key starts on the second wrapped line.
    let prefix = format!("{} ", "x".repeat(59));
    // (style, text before the wrapped lines, whether the first line is inlined after `token: `, text after)
    let styles = [
        ("literal", "|\n", false, ""),
        ("folded", ">-\n", false, ""),
        ("plain multi-line", "", true, ""),
        ("double-quoted multi-line", "\"", true, "\""),
    ];
    for (style, before, inline, after) in styles {
        let gh = github_token(&format!("Wrap{}", style.len()));
        let value = format!("{prefix}{gh}");
        let lines = wrapped_b64(&value, 76, 4);
        let lines = if inline { lines.trim() } else { lines.as_str() };
        let rendered = format!("{before}{lines}{after}{}", if inline { "\n" } else { "" });
        let y = format!(
            "# café ☕ — non-ASCII before the value\napiVersion: v1\nkind: Secret\nmetadata:\n  name: wrapped\ndata:\n  token: {}  other: {}\n",
            rendered,
            b64("hello")
        );
        let (rows, warnings) = scan("wrapped.yaml", y.as_bytes());
        assert!(warnings.is_empty(), "{style}: {warnings:?}");
        assert_eq!(rows.len(), 1, "{style}: {rows:?}\n{y}");
        let r = &rows[0];
        assert_eq!(r.secret, gh, "{style}");
        assert_eq!(meta_str(r, "key"), Some("token"), "{style}");
        // The second line of the wrapped value, after its indentation, is where the key's base64 begins.
        let second = b64(&value)[76..].to_string();
        let second_at = y.find(&second[..20]).unwrap();
        assert_eq!(r.loc.byte_start as usize, second_at + 4, "{style}");
        assert_eq!(r.loc.line, line_of(y.as_bytes(), second_at), "{style}");
    }
}

#[test]
fn string_data_values_name_their_secret() {
    let openai = openai_key("K8sStringData");
    let gh = github_token("K8sStrBlock");
    let y = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\nstringData: {{OPENAI_API_KEY: \"{openai}\"}}\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: block\nstringData:\n  config.ini: |\n    [auth]\n    token = {gh}\n"
    );
    let (rows, warnings) = scan("string-data.yaml", y.as_bytes());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(rows.len(), 2, "one location per key: {rows:?}");
    let o = rows.iter().find(|r| r.secret == openai).unwrap();
    assert_eq!(meta_str(o, "k8s_secret"), Some("app"));
    assert_eq!(meta_str(o, "key"), Some("OPENAI_API_KEY"));
    assert_eq!(meta_str(o, "field"), Some("stringData"));
    assert_raw_location(o, y.as_bytes());
    let g = rows.iter().find(|r| r.secret == gh).unwrap();
    assert_eq!(meta_str(g, "k8s_secret"), Some("block"));
    assert_eq!(meta_str(g, "key"), Some("config.ini"));
    assert_raw_location(g, y.as_bytes());
}

#[test]
fn helm_template_secret_is_read_line_by_line() {
    // `{{ … }}` is not valid YAML: the line reader decodes this document.
    let gh = github_token("K8sHelm");
    let y = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{{{ .Release.Name }}}}-creds\ndata:\n  password: {{{{ .Values.password | b64enc }}}}\n  token: {}\n",
        b64(&gh)
    );
    let (rows, warnings) = scan("templates/secret.yaml", y.as_bytes());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(meta_str(&rows[0], "key"), Some("token"));
    assert_eq!(rows[0].loc.byte_start as usize, at(&y, &b64(&gh)));
}

#[test]
fn json_secret_behind_deep_nesting_is_decoded_and_broken_json_warns() {
    let gh = github_token("K8sDeepJson");
    let deep = format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000));
    let doc = format!(
        "{{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n{{\"kind\": \"ConfigMap\", \"metadata\": {{\"name\": \"c\", \"annotations\": {{\"x\": {deep}}}}}}},\n{{\"kind\": \"Secret\", \"metadata\": {{\"name\": \"deep\"}}, \"data\": {{\"GH\": \"{}\"}}}}\n]}}\n",
        b64(&gh)
    );
    let (rows, warnings) = scan("deep.json", doc.as_bytes());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(meta_str(&rows[0], "k8s_secret"), Some("deep"));
    assert_eq!(rows[0].loc.byte_start as usize, at(&doc, &b64(&gh)));
    // A Secret that does not parse: the warning names the file, the JSON text is still scanned.
    let broken = format!(
        "{{\"kind\": \"Secret\", \"metadata\": {{\"name\": \"x\"}}, \"data\": {{\"GH\": \"{}\"}}, \"note\": \"{gh}\"",
        b64(&gh)
    );
    let (rows, warnings) = scan("broken.json", broken.as_bytes());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("broken.json: json decoder: Kubernetes Secret"),
        "{}",
        warnings[0]
    );
    assert!(!warnings[0].contains(&gh));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_raw_location(&rows[0], broken.as_bytes());
}

#[test]
fn hostile_yaml_stays_linear_and_bounded() {
    let gh = github_token("K8sHostile");
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: ok\ndata:\n  token: {}\n",
        b64(&gh)
    );
    // Billion laughs: 40 levels of aliases, each list nine aliases of the previous (9^40 nodes if expanded).
    let mut laughs = String::from("a0: &a0 [\"lol\"]\n");
    for i in 1..40 {
        let p = i - 1;
        laughs.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let block_deep = "- ".repeat(200_000) + "x\n";
    let flow_deep = "[".repeat(100_000);
    let map_deep: String = (0..2_000)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    for (what, hostile) in [
        ("aliases", laughs),
        ("block nesting", block_deep),
        ("flow nesting", flow_deep),
        ("mapping nesting", map_deep),
    ] {
        // The hostile document first (also a Secret, so the decoder reads it), then a plain Secret.
        let y = format!("kind: Secret\nnested:\n{hostile}\n---\n{secret}");
        let t = std::time::Instant::now();
        let (rows, _) = scan("hostile.yaml", y.as_bytes());
        assert!(t.elapsed().as_secs() < 10, "{what}: {:?}", t.elapsed());
        assert!(
            rows.iter()
                .any(|r| r.secret == gh && meta_str(r, "k8s_secret") == Some("ok")),
            "{what}: {rows:?}"
        );
    }
}

#[test]
fn a_line_naming_client_key_data_many_times_stays_linear() {
    // The kubeconfig reader looks for `client-key-data` first on its line: each occurrence that is not
    // costs a few bytes, not a walk over its whole line (600,000 of them on one 10 MB line took a minute).
    let gh = github_token("KubeLine");
    let y = format!(
        "users:\n- name: a\n  user:\n    token: {gh}\n    note:{}\n",
        " client-key-data".repeat(600_000)
    );
    let t = std::time::Instant::now();
    let (rows, _) = scan("kubeconfig.yaml", y.as_bytes());
    assert!(t.elapsed().as_secs() < 10, "{:?}", t.elapsed());
    assert!(rows.iter().any(|r| r.secret == gh), "{rows:?}");
}

#[test]
fn secret_yaml_with_invalid_utf8_keeps_exact_offsets() {
    let gh = github_token("K8sBadUtf8");
    let mut y = b"# caf\xe9 \xff\xfe latin-1 comment\napiVersion: v1\nkind: Secret\nmetadata: {name: latin}\ndata:\n  token: "
        .to_vec();
    let value_at = y.len();
    y.extend_from_slice(b64(&gh).as_bytes());
    y.extend_from_slice(b"\n");
    let (rows, warnings) = scan("latin.yaml", &y);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(meta_str(&rows[0], "k8s_secret"), Some("latin"));
    assert_eq!(rows[0].loc.byte_start as usize, value_at);
    assert_eq!(rows[0].loc.line, 6);
}
