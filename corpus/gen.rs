//! Labelled corpus generator: writes a realistic AI-project tree with planted secrets (valid formats and
//! checksums, generated fresh from a seed) and many decoys (documented example keys, placeholders, wrong
//! checksums, hashes, UUIDs, base64 images, lockfile integrity hashes, references to secret stores), and returns
//! the exact labels. Used by the accuracy test, the benchmarks and `cargo run --example gen_corpus`.
//! Nothing here is a real credential: every value is random.
#![allow(dead_code)]

use keysweep_detect::check::checksum::{crc32_base62, github_fine_grained_checksum};
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

#[path = "catalogue.rs"]
mod catalogue;
#[path = "generic.rs"]
pub mod generic;

/// A planted secret: the rule that must report it, the exact secret, and the file it is in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Planted {
    pub rule: String,
    pub secret: String,
    pub path: String,
}

/// Deterministic SplitMix64 generator.
pub struct Rng(u64);

pub const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
pub const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
pub const HEX: &[u8] = b"0123456789abcdef";
pub const UPPER32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
pub const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    /// A random string over `alphabet` with no run of 3 equal characters and no placeholder words, so that
    /// planted values look like what providers issue.
    pub fn string(&mut self, alphabet: &[u8], len: usize) -> String {
        loop {
            let mut s = String::with_capacity(len);
            let mut prev = [0u8; 2];
            while s.len() < len {
                let c = alphabet[self.below(alphabet.len())];
                if prev[0] == c && prev[1] == c {
                    continue;
                }
                prev = [prev[1], c];
                s.push(c as char);
            }
            let l = s.to_ascii_lowercase();
            let bad = [
                "example", "test", "your", "key", "fake", "dummy", "xxx", "here", "token",
                "secret", "sample",
            ]
            .iter()
            .any(|w| l.contains(w));
            if !bad {
                return s;
            }
        }
    }
    pub fn digits(&mut self, len: usize) -> String {
        let mut s = self.string(b"0123456789", len);
        if s.starts_with('0') {
            s.replace_range(0..1, "7");
        }
        s
    }
}

/// Generators of provider-format secrets, each returning `(rule id, secret)`.
pub mod keys {
    use super::*;

    pub fn github(r: &mut Rng, prefix: &str) -> String {
        let body = r.string(ALNUM, 30);
        format!("{prefix}{body}{}", crc32_base62(body.as_bytes()))
    }
    pub fn github_wrong_checksum(r: &mut Rng) -> String {
        let body = r.string(ALNUM, 30);
        let good = crc32_base62(body.as_bytes());
        let mut bad = r.string(ALNUM, 6);
        while bad == good {
            bad = r.string(ALNUM, 6);
        }
        format!("ghp_{body}{bad}")
    }
    pub fn github_fine_grained(r: &mut Rng) -> String {
        let head = format!("11{}_{}", r.string(ALNUM, 20), r.string(ALNUM, 43));
        let body66 = &head[..66];
        format!(
            "github_pat_{body66}{}{}",
            github_fine_grained_checksum(body66.as_bytes()),
            r.string(ALNUM, 8)
        )
    }
    pub fn openai_project(r: &mut Rng) -> String {
        format!(
            "sk-proj-{}T3BlbkFJ{}",
            r.string(B64URL, 74),
            r.string(B64URL, 74)
        )
    }
    pub fn openai_svcacct(r: &mut Rng) -> String {
        format!(
            "sk-svcacct-{}T3BlbkFJ{}",
            r.string(B64URL, 74),
            r.string(B64URL, 74)
        )
    }
    pub fn openai_admin(r: &mut Rng) -> String {
        format!(
            "sk-admin-{}T3BlbkFJ{}",
            r.string(B64URL, 58),
            r.string(B64URL, 58)
        )
    }
    pub fn openai_legacy(r: &mut Rng) -> String {
        format!("sk-{}T3BlbkFJ{}", r.string(ALNUM, 20), r.string(ALNUM, 20))
    }
    pub fn anthropic(r: &mut Rng) -> String {
        format!("sk-ant-api03-{}AA", r.string(B64URL, 93))
    }
    pub fn anthropic_admin(r: &mut Rng) -> String {
        format!("sk-ant-admin01-{}AA", r.string(B64URL, 93))
    }
    pub fn huggingface(r: &mut Rng) -> String {
        format!("hf_{}", r.string(ALNUM, 34))
    }
    pub fn google_api(r: &mut Rng) -> String {
        format!("AIzaSy{}", r.string(B64URL, 33))
    }
    pub fn aws_key_id(r: &mut Rng) -> String {
        format!("AKIA{}", r.string(UPPER32, 16))
    }
    pub fn aws_secret(r: &mut Rng) -> String {
        r.string(B64, 40)
    }
    pub fn gitlab(r: &mut Rng) -> String {
        format!("glpat-{}", r.string(ALNUM, 20))
    }
    pub fn slack_bot(r: &mut Rng) -> String {
        format!(
            "xoxb-{}-{}-{}",
            r.digits(12),
            r.digits(13),
            r.string(ALNUM, 24)
        )
    }
    pub fn slack_webhook(r: &mut Rng) -> String {
        format!(
            "https://hooks.slack.com/services/T{}/B{}/{}",
            r.string(UPPER32, 10),
            r.string(UPPER32, 10),
            r.string(ALNUM, 24)
        )
    }
    pub fn stripe_live(r: &mut Rng) -> String {
        format!("sk_live_{}", r.string(ALNUM, 99))
    }
    pub fn npm(r: &mut Rng) -> String {
        github(r, "npm_")
    }
    pub fn pypi(r: &mut Rng) -> String {
        use base64::Engine;
        let mut raw = b"\x02\x01\x08pypi.org\x02\x01\x00\x02\x06".to_vec();
        for _ in 0..140 {
            raw.push(r.below(256) as u8);
        }
        format!(
            "pypi-{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
        )
    }
    pub fn groq(r: &mut Rng) -> String {
        format!("gsk_{}", r.string(ALNUM, 52))
    }
    pub fn replicate(r: &mut Rng) -> String {
        format!("r8_{}", r.string(ALNUM, 37))
    }
    pub fn perplexity(r: &mut Rng) -> String {
        format!("pplx-{}", r.string(ALNUM, 48))
    }
    pub fn openrouter(r: &mut Rng) -> String {
        format!("sk-or-v1-{}", r.string(HEX, 64))
    }
    pub fn xai(r: &mut Rng) -> String {
        format!("xai-{}", r.string(ALNUM, 80))
    }
    pub fn mistral(r: &mut Rng) -> String {
        r.string(ALNUM, 32)
    }
    pub fn cohere(r: &mut Rng) -> String {
        r.string(ALNUM, 40)
    }
    pub fn deepseek(r: &mut Rng) -> String {
        format!("sk-{}", r.string(HEX, 32))
    }
    pub fn databricks(r: &mut Rng) -> String {
        format!("dapi{}", r.string(HEX, 32))
    }
    pub fn sendgrid(r: &mut Rng) -> String {
        format!("SG.{}.{}", r.string(B64URL, 22), r.string(B64URL, 43))
    }
    pub fn docker_hub(r: &mut Rng) -> String {
        format!("dckr_pat_{}", r.string(B64URL, 27))
    }
    pub fn langsmith(r: &mut Rng) -> String {
        format!("lsv2_pt_{}_{}", r.string(HEX, 32), r.string(HEX, 10))
    }
    pub fn jwt(r: &mut Rng) -> String {
        use base64::Engine;
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let h = e.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let p = e.encode(format!(
            r#"{{"sub":"{}","iat":{}}}"#,
            r.string(LOWER_ALNUM, 12),
            1_700_000_000 + r.below(9_000_000)
        ));
        format!("{h}.{p}.{}", r.string(B64URL, 43))
    }
    pub fn pem_rsa(r: &mut Rng) -> String {
        let mut s = String::from("-----BEGIN RSA PRIVATE KEY-----\n");
        s.push_str("MIIEow");
        let body = r.string(B64, 64 * 12);
        for (i, chunk) in body.as_bytes().chunks(64).enumerate() {
            if i > 0 {
                s.push('\n');
            }
            s.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        }
        s.push_str("\n-----END RSA PRIVATE KEY-----");
        s
    }
    pub fn password(r: &mut Rng) -> String {
        let mut s = r.string(ALNUM, 14);
        s.insert(r.below(14), *r.pick(&['#', '%', '!', '@', '^']));
        s
    }
}

struct Tree {
    root: PathBuf,
    planted: Vec<Planted>,
    bytes: u64,
}

impl Tree {
    /// An empty tree at `root` (created).
    fn create(root: &Path) -> io::Result<Tree> {
        fs::create_dir_all(root)?;
        Ok(Tree {
            root: root.to_path_buf(),
            planted: Vec::new(),
            bytes: 0,
        })
    }

    fn write(&mut self, rel: &str, content: &str) -> io::Result<()> {
        let p = self.root.join(rel);
        if let Some(d) = p.parent() {
            fs::create_dir_all(d)?;
        }
        self.bytes += content.len() as u64;
        fs::write(p, content)
    }
    fn plant(&mut self, rule: &str, secret: &str, rel: &str) {
        self.planted.push(Planted {
            rule: rule.into(),
            secret: secret.into(),
            path: rel.into(),
        });
    }
}

const WORDS: &[&str] = &[
    "model",
    "train",
    "batch",
    "token",
    "embedding",
    "dataset",
    "loss",
    "epoch",
    "layer",
    "attention",
    "vector",
    "index",
    "query",
    "prompt",
    "response",
    "client",
    "config",
    "pipeline",
    "weights",
    "checkpoint",
    "eval",
    "metric",
    "score",
    "sample",
    "logits",
    "tensor",
    "device",
    "cache",
    "request",
    "retry",
    "timeout",
    "chunk",
];

fn ident(r: &mut Rng) -> String {
    format!("{}_{}", r.pick(WORDS), r.pick(WORDS))
}

/// Ordinary Python source of roughly `lines` lines, no secrets.
pub fn filler_python(r: &mut Rng, lines: usize) -> String {
    let mut s = String::from("import os\nimport json\nfrom typing import Any\n\n");
    while s.lines().count() < lines {
        let f = ident(r);
        let _ = writeln!(
            s,
            "def {f}(x: Any, {}: int = {}) -> dict:",
            ident(r),
            r.below(512)
        );
        let _ = writeln!(
            s,
            "    \"\"\"Compute the {} of the {} for each {}.\"\"\"",
            r.pick(WORDS),
            r.pick(WORDS),
            r.pick(WORDS)
        );
        let _ = writeln!(
            s,
            "    {} = json.loads(x) if isinstance(x, str) else x",
            ident(r)
        );
        let _ = writeln!(
            s,
            "    return {{\"{}\": {}, \"{}\": {:.4}}}",
            r.pick(WORDS),
            r.below(10_000),
            r.pick(WORDS),
            r.below(1000) as f64 / 7.0
        );
        s.push('\n');
    }
    s
}

fn uuid(r: &mut Rng) -> String {
    format!(
        "{}-{}-4{}-a{}-{}",
        r.string(HEX, 8),
        r.string(HEX, 4),
        r.string(HEX, 3),
        r.string(HEX, 3),
        r.string(HEX, 12)
    )
}

fn notebook(cells: &[(&str, &str)]) -> String {
    // cells: (cell source, stream output)
    let cells: Vec<serde_json::Value> = cells
        .iter()
        .map(|(src, out)| {
            serde_json::json!({
                "cell_type": "code", "execution_count": 1, "metadata": {},
                "source": src.split_inclusive('\n').collect::<Vec<_>>(),
                "outputs": if out.is_empty() { vec![] } else { vec![serde_json::json!({
                    "output_type": "stream", "name": "stdout", "text": out.split_inclusive('\n').collect::<Vec<_>>()
                })] }
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4, "nbformat_minor": 5
    }))
    .unwrap_or_default()
}

/// Write the labelled accuracy corpus under `root`; returns every planted secret.
pub fn generate(root: &Path, seed: u64) -> io::Result<Vec<Planted>> {
    let mut r = Rng::new(seed);
    let mut t = Tree::create(root)?;

    // --- planted: one file per family, in the places AI projects leak them ---
    let openai = keys::openai_project(&mut r);
    let anthropic = keys::anthropic(&mut r);
    let hf = keys::huggingface(&mut r);
    let groq = keys::groq(&mut r);
    t.write(
        ".env",
        &format!("# local settings\nOPENAI_API_KEY={openai}\nANTHROPIC_API_KEY=\"{anthropic}\"\nHF_TOKEN={hf}\nGROQ_API_KEY={groq}\nDEBUG=1\n"),
    )?;
    t.plant("openai.project-key", &openai, ".env");
    t.plant("anthropic.api-key", &anthropic, ".env");
    t.plant("huggingface.user-token", &hf, ".env");
    t.plant("groq.api-key", &groq, ".env");

    let (kid, ksec) = (keys::aws_key_id(&mut r), keys::aws_secret(&mut r));
    t.write(
        "deploy/aws/credentials",
        &format!("[default]\naws_access_key_id = {kid}\naws_secret_access_key = {ksec}\nregion = us-east-1\n"),
    )?;
    t.plant("aws.access-key-id", &kid, "deploy/aws/credentials");
    t.plant("aws.secret-access-key", &ksec, "deploy/aws/credentials");

    let gh = keys::github(&mut r, "ghp_");
    let ghfg = keys::github_fine_grained(&mut r);
    let gl = keys::gitlab(&mut r);
    t.write(
        "scripts/release.sh",
        &format!("#!/bin/sh\nset -e\nexport GITHUB_TOKEN={gh}\ncurl -H \"Authorization: token {ghfg}\" https://api.github.com/user\ngit push https://oauth2:{gl}@gitlab.com/org/repo.git\n"),
    )?;
    t.plant("github.pat-classic", &gh, "scripts/release.sh");
    t.plant("github.fine-grained-pat", &ghfg, "scripts/release.sh");
    t.plant("gitlab.pat", &gl, "scripts/release.sh");

    let slack = keys::slack_bot(&mut r);
    let stripe = keys::stripe_live(&mut r);
    let sg = keys::sendgrid(&mut r);
    t.write(
        "app/settings.py",
        &format!("{}\nSLACK_BOT_TOKEN = \"{slack}\"\nSTRIPE_SECRET_KEY = '{stripe}'\nSENDGRID_API_KEY = \"{sg}\"\n", filler_python(&mut r, 30)),
    )?;
    t.plant("slack.bot-token", &slack, "app/settings.py");
    t.plant("stripe.secret-key-live", &stripe, "app/settings.py");
    t.plant("sendgrid.api-key", &sg, "app/settings.py");

    let npm = keys::npm(&mut r);
    let pypi = keys::pypi(&mut r);
    t.write(
        ".npmrc",
        &format!("registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken={npm}\n"),
    )?;
    t.write(".pypirc", &format!("[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = __token__\npassword = {pypi}\n"))?;
    t.plant("npm.access-token", &npm, ".npmrc");
    t.plant("pypi.api-token", &pypi, ".pypirc");

    let google = keys::google_api(&mut r);
    let mistral = keys::mistral(&mut r);
    let cohere = keys::cohere(&mut r);
    t.write(
        "configs/providers.yaml",
        &format!("providers:\n  gemini:\n    api_key: {google}\n  mistral:\n    api_key: {mistral}\n  cohere:\n    api_key: {cohere}\n  local:\n    url: http://localhost:8080\n"),
    )?;
    t.plant("google.api-key", &google, "configs/providers.yaml");
    t.plant("mistral.api-key", &mistral, "configs/providers.yaml");
    t.plant("cohere.api-key", &cohere, "configs/providers.yaml");

    let pem = keys::pem_rsa(&mut r);
    t.write("deploy/keys/id_rsa", &format!("{pem}\n"))?;
    // The private-key rules report the key body: what lies between the header line and the footer.
    let body = pem.split_once('\n').map(|(_, b)| b).unwrap_or("");
    let body = body.rsplit_once("-----END").map(|(b, _)| b).unwrap_or("");
    t.plant("private-key.rsa", body, "deploy/keys/id_rsa");

    let pw = keys::password(&mut r);
    let dbpw = r.string(ALNUM, 18);
    let dburl = format!("postgresql://ml_user:{dbpw}@db.internal.corp:5432/features");
    t.write(
        "configs/database.yaml",
        &format!("database:\n  url: {dburl}\n  pool: 10\nadmin:\n  password: \"{pw}\"\n"),
    )?;
    // Database URL rules report the password.
    t.plant("database.postgres-url", &dbpw, "configs/database.yaml");
    t.plant("generic.password-assignment", &pw, "configs/database.yaml");

    let rep = keys::replicate(&mut r);
    let pplx = keys::perplexity(&mut r);
    let orr = keys::openrouter(&mut r);
    let xai = keys::xai(&mut r);
    let ds = keys::deepseek(&mut r);
    let nb = notebook(&[
        ("import replicate\n", ""),
        (&format!("client = replicate.Client(api_token=\"{rep}\")\nprint('ok')\n"), "ok\n"),
        (&format!("PPLX = \"{pplx}\"\nOPENROUTER_API_KEY = \"{orr}\"\n"), ""),
        ("import os\nprint(os.environ['XAI_API_KEY'])\n", &format!("{xai}\n")),
        (&format!("deepseek_client = OpenAI(api_key=\"{ds}\", base_url=\"https://api.deepseek.com\")\n"), ""),
    ]);
    t.write("notebooks/explore.ipynb", &nb)?;
    for (rule, s) in [
        ("replicate.api-token", &rep),
        ("perplexity.api-key", &pplx),
        ("openrouter.api-key", &orr),
        ("xai.api-key", &xai),
        ("deepseek.api-key", &ds),
    ] {
        t.plant(rule, s, "notebooks/explore.ipynb");
    }

    let dbx = keys::databricks(&mut r);
    let dh = keys::docker_hub(&mut r);
    let ls = keys::langsmith(&mut r);
    let jwt = keys::jwt(&mut r);
    t.write(
        ".github/workflows/train.yml",
        &format!(
            "name: train\non: [push]\njobs:\n  train:\n    runs-on: ubuntu-latest\n    env:\n      DATABRICKS_HOST: https://adb-123.azuredatabricks.net\n      DATABRICKS_TOKEN: {dbx}\n      OPENAI_API_KEY: ${{{{ secrets.OPENAI_API_KEY }}}}\n      LANGCHAIN_API_KEY: {ls}\n    steps:\n      - uses: actions/checkout@v4\n      - run: echo {dh} | docker login -u ci --password-stdin\n      - run: curl -H 'Authorization: Bearer {jwt}' https://internal/api\n"
        ),
    )?;
    t.plant("databricks.pat", &dbx, ".github/workflows/train.yml");
    t.plant(
        "langsmith.personal-token",
        &ls,
        ".github/workflows/train.yml",
    );
    t.plant(
        "docker.personal-access-token",
        &dh,
        ".github/workflows/train.yml",
    );
    t.plant("jwt.token", &jwt, ".github/workflows/train.yml");

    // --- decoys: none of these may be reported ---
    let wrong_gh = keys::github_wrong_checksum(&mut r);
    let mut wrong_npm = keys::npm(&mut r);
    wrong_npm.replace_range(wrong_npm.len() - 2.., "zz");
    let fake_openai = format!("sk-proj-{}", r.string(B64URL, 120)); // no T3BlbkFJ marker
    t.write(
        "docs/quickstart.md",
        &format!(
            "# Quickstart\n\nSet your key: `export OPENAI_API_KEY=sk-proj-your-key-here`\n\nOr `sk-...your-key-here`, \
             or `sk-or-v1-VOTRE_CLE`.\n\nAWS example: `AKIAIOSFODNN7EXAMPLE` / `wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY`\n\
             Stripe test key from the docs: sk_test_4eC39HqLyjWDarjtT1zdp7dc\n\
             Octokit placeholder: ghp_PersonalAccessToken01245678900000000\n\
             Token with a wrong checksum: {wrong_gh}\nnpm with a wrong checksum: {wrong_npm}\n\
             Not an OpenAI key (no marker): {fake_openai}\n\
             Masked: sk-ant-api03-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX and hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n\
             Publishable key (public by design): pk_live_{}\n\
             AWS unique id (not a secret): AIDA{}\n",
            r.string(ALNUM, 24),
            r.string(UPPER32, 16)
        ),
    )?;
    t.write(
        "app/client.py",
        "import os\n\nOPENAI_API_KEY = os.environ[\"OPENAI_API_KEY\"]\nANTHROPIC_API_KEY = os.getenv('ANTHROPIC_API_KEY')\n\
         password = get_password_from_vault()\napi_key = \"<your-api-key>\"\nsecret_key = \"${SECRET_KEY}\"\n\
         token = settings.api_token\npassword = \"password\"\npassword: changeme\n",
    )?;
    let sha = r.string(HEX, 40);
    let sha256 = r.string(HEX, 64);
    t.write(
        "data/manifest.json",
        &format!(
            "{{\"commit\": \"{sha}\", \"secret_commit_sha\": \"{sha}\", \"sha256\": \"{sha256}\", \"run_id\": \"{}\", \"experiment\": \"{}\"}}\n",
            uuid(&mut r),
            uuid(&mut r)
        ),
    )?;
    let mut lock =
        String::from("{\n  \"name\": \"web\",\n  \"lockfileVersion\": 3,\n  \"packages\": {\n");
    for i in 0..40 {
        let _ = writeln!(
            lock,
            "    \"node_modules/pkg{i}\": {{\"version\": \"1.{i}.0\", \"resolved\": \"https://registry.npmjs.org/pkg{i}/-/pkg{i}-1.{i}.0.tgz\", \"integrity\": \"sha512-{}==\"}},",
            r.string(B64, 86)
        );
    }
    lock.push_str("    \"\": {}\n  }\n}\n");
    t.write("web/package-lock.json", &lock)?;
    let png: String = format!("iVBORw0KGgoAAAANSUhEUgAA{}", r.string(B64, 6000));
    let img_nb = serde_json::to_string_pretty(&serde_json::json!({
        "cells": [{"cell_type": "code", "execution_count": 2, "metadata": {}, "source": ["plt.plot(losses)\n"],
                   "outputs": [{"output_type": "display_data", "metadata": {},
                                "data": {"image/png": png, "text/plain": ["<Figure size 640x480 with 1 Axes>"]}}]}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5
    }))
    .unwrap_or_default();
    t.write("notebooks/plots.ipynb", &img_nb)?;
    t.write(
        ".github/workflows/ci.yml",
        "name: ci\non: [pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    env:\n      OPENAI_API_KEY: ${{ secrets.OPENAI_API_KEY }}\n      HF_TOKEN: ${{ secrets.HF_TOKEN }}\n      DB_PASSWORD: $DB_PASSWORD\n    steps:\n      - run: pytest -q\n",
    )?;
    let mistral_like = r.string(ALNUM, 32);
    t.write(
        "data/ids.txt",
        &format!(
            "request ids\n{mistral_like}\n{}\n{}\n",
            r.string(ALNUM, 40),
            r.string(HEX, 32)
        ),
    )?;
    let bad_jwt = format!(
        "eyJhbGciOiJIUzI1NiJ9.{}.{}",
        r.string(B64URL, 40),
        r.string(B64URL, 43)
    );
    t.write(
        "docs/auth.md",
        &format!("A truncated token: `{bad_jwt}` does not decode.\n"),
    )?;

    // --- decoder cases: keys a raw-text scan misreads or misses (see src/decode/) ---
    // Notebook: a traceback with ANSI codes glued to the key, a key in widget state, a key in text/html, and
    // an image output whose base64 holds an AWS-key-shaped run after a `+` (decoy: images are never read).
    let tb_gh = keys::github(&mut r, "ghp_");
    let widget_hf = keys::huggingface(&mut r);
    let html_ant = keys::anthropic(&mut r);
    let fake_kid = format!("AKIA{}", r.string(UPPER32, 16));
    let nb = serde_json::to_string_pretty(&serde_json::json!({
        "cells": [
            {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": ["client.login()\n"],
             "outputs": [{"output_type": "error", "ename": "HTTPError", "evalue": "401",
                          "traceback": ["\u{1b}[0;31m----\u{1b}[0m",
                                        format!("\u{1b}[0;32mgh\u{1b}[0m = \u{1b}[0;31m{tb_gh}\u{1b}[0m")]}]},
            {"cell_type": "code", "execution_count": 2, "metadata": {}, "source": ["show(cfg)\n"],
             "outputs": [{"output_type": "display_data", "metadata": {},
                          "data": {"image/png": format!("iVBORw0KGgoAAAANSUhEUgAA{}+{fake_kid}+{}", r.string(B64, 800), r.string(B64, 800)),
                                   "text/html": [format!("<td>{html_ant}</td>\n")]}}]}
        ],
        "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {"m1": {"state": {"value": widget_hf}}}}}},
        "nbformat": 4, "nbformat_minor": 5
    }))
    .unwrap_or_default();
    t.write("notebooks/debug.ipynb", &nb)?;
    t.plant("github.pat-classic", &tb_gh, "notebooks/debug.ipynb");
    t.plant(
        "huggingface.user-token",
        &widget_hf,
        "notebooks/debug.ipynb",
    );
    t.plant("anthropic.api-key", &html_ant, "notebooks/debug.ipynb");
    // Kubernetes Secret: the key exists only base64-encoded; the ConfigMap's look-alike is not a Secret.
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let k8s_gh = keys::github(&mut r, "ghp_");
    let cm_gh = keys::github(&mut r, "ghp_");
    t.write(
        "deploy/k8s/secrets.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  note: {}\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: ci\ntype: Opaque\ndata:\n  GITHUB_TOKEN: {}\n",
            b64(&cm_gh),
            b64(&k8s_gh)
        ),
    )?;
    t.plant("github.pat-classic", &k8s_gh, "deploy/k8s/secrets.yaml");
    // MCP config: a literal key in a server's env, and a reference that must not be reported.
    let mcp_ant = keys::anthropic(&mut r);
    t.write(
        ".cursor/mcp.json",
        &format!(
            "{{\n  \"mcpServers\": {{\n    \"claude\": {{\"command\": \"npx\", \"env\": {{\"ANTHROPIC_API_KEY\": \"{mcp_ant}\"}}}},\n    \"openai\": {{\"command\": \"uvx\", \"env\": {{\"OPENAI_API_KEY\": \"${{env:OPENAI_API_KEY}}\"}}}}\n  }}\n}}\n"
        ),
    )?;
    t.plant("anthropic.api-key", &mcp_ant, ".cursor/mcp.json");
    // Docker config: `auth` is base64 of `user:token`.
    let docker_gh = keys::github(&mut r, "ghp_");
    t.write(
        "home/.docker/config.json",
        &format!(
            "{{\n  \"auths\": {{\n    \"ghcr.io\": {{\"auth\": \"{}\"}}\n  }}\n}}\n",
            b64(&format!("ci-bot:{docker_gh}"))
        ),
    )?;
    t.plant("github.pat-classic", &docker_gh, "home/.docker/config.json");

    // --- every rule's provider, and every rule's near-misses as decoys ---
    catalogue::plant(&mut t, &mut r)?;

    // --- generic secrets: every assignment syntax, and the hard negatives of the classifier ---
    generic::plant(&mut t, &mut r)?;

    // --- filler ---
    for i in 0..20 {
        let src = filler_python(&mut r, 60);
        t.write(&format!("src/module_{i}.py"), &src)?;
    }
    t.write(".gitignore", "__pycache__/\n")?;
    let mut planted = t.planted;
    planted.sort();
    Ok(planted)
}

/// Write one list of generic-secret cases (`generic::DEV`, `GAPS` or `HOLDOUT`) under `root`; returns its
/// labels. The precision/recall report of `tests/it/corpus.rs` scans each list on its own.
pub fn generate_generic(
    root: &Path,
    seed: u64,
    cases: &[generic::Case],
) -> io::Result<Vec<Planted>> {
    let mut r = Rng::new(seed);
    let mut t = Tree::create(root)?;
    generic::write_cases(&mut t, &mut r, "generic", cases)?;
    Ok(t.planted)
}

/// Write a large tree of ordinary source text (for throughput benchmarks), about `bytes` bytes in files of
/// ~64 KiB, plus the labelled corpus in `labelled/`. Returns the labels.
pub fn generate_bulk(root: &Path, bytes: u64, seed: u64) -> io::Result<Vec<Planted>> {
    let planted = generate(&root.join("labelled"), seed)?;
    let mut r = Rng::new(seed ^ 0xB0_1C);
    let mut written = 0u64;
    let mut i = 0u64;
    let block = filler_python(&mut r, 1200);
    while written < bytes {
        let dir = root.join(format!("bulk/d{:03}", i / 200));
        fs::create_dir_all(&dir)?;
        let mut content = block.clone();
        let _ = writeln!(content, "# file {i} {}", r.string(ALNUM, 16));
        written += content.len() as u64;
        fs::write(dir.join(format!("f{i}.py")), content)?;
        i += 1;
    }
    Ok(planted)
}
