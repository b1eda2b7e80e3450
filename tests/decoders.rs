//! JSON unescaping, CI files, Kubernetes Secrets and AI-pipeline artefacts: planted keys are found with the
//! structure named in their location (ci/job/step, k8s_secret/key, artefact/mcp_server/…), references and
//! placeholders are not reported, and the CLI's `--no-decode` switch really turns decoding off.
mod decode_util;

use base64::Engine;
use decode_util::*;
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
                "t.openai",
                openai.as_str(),
                Some("build"),
                Some("Call the API")
            ),
            ("t.aws", aws, Some("deploy"), Some("Deploy")),
            (
                "t.password",
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
    assert_eq!(meta_str(o, "k8s_secret"), None);
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
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("t.toml"), RULES).unwrap();
    let gh = github_token("CliEsc");
    let escaped = gh.replacen('p', "\\u0070", 1);
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    let nb = format!(
        "{{\"cells\": [{{\"cell_type\": \"code\", \"metadata\": {{}}, \"outputs\": [], \"source\": [\"a = 1\\n\", \"t = '{escaped}'\"]}}], \"metadata\": {{}}, \"nbformat\": 4, \"nbformat_minor\": 5}}"
    );
    std::fs::write(tree.join("n.ipynb"), &nb).unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "scan",
            "tree",
            "--no-config",
            "--no-builtin-rules",
            "--rules",
            "rules",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        std::process::Command::new(env!("CARGO_BIN_EXE_keysweep"))
            .current_dir(dir.path())
            .args(&args)
            .output()
            .unwrap()
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
