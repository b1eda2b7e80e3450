//! The catalogue part of the corpus: every reported rule's examples, re-randomised, planted in the files AI
//! projects keep them (env and config files, scripts, notebook cells and outputs), and every rule's negative
//! examples (placeholders, documented example keys, wrong checksums, wrong lengths, missing context) as
//! decoys, each in a file of its own so that no decoy lends context to another.
//!
//! Re-randomising: the secret a rule reports in an example is found with the rule's own pattern; each of its
//! letters and digits is replaced by a random one of the same kind (digit, hex letter, other letter, same
//! case) unless that would leave the format (the pattern no longer captures the same span, or a structural
//! check such as a JWT header or an Azure marker fails). CRC-checksummed tokens get a fresh body and a
//! recomputed checksum. So the planted values are new on every seed, yet each is a well-formed token.
use super::{Rng, Tree};
use keysweep_detect::check::checksum::{self, crc32_base62, github_fine_grained_checksum};
use keysweep_rules::{Rule, RuleSet};
use std::io;

/// Examples that, besides the rule they illustrate, legitimately hold a second secret another rule reports:
/// `(rule, example index, other rule)`. The other secret is not re-randomised, so it is found verbatim.
const ALSO_REPORTS: &[(&str, usize, &str)] = &[
    // STS credentials JSON: the access key id next to the secret.
    ("aws.secret-access-key", 1, "aws.access-key-id"),
];

/// Negative examples of one rule that another rule rightly reports: `(rule, negative example index, rule
/// that reports it)`. A near-miss of one format can be a valid token of another (a PyPI token of the other
/// index, an OpenAI key under a Stability variable name, a Databricks PAT as MLflow's token), and a
/// high-entropy value assigned to a `*_TOKEN`/`*_KEY` name that misses its provider's format (wrong length,
/// no provider context) is still a secret for the keyword rule. What must not be reported at all, every
/// other negative example (placeholders, documented examples, wrong checksums, references, identifiers),
/// is a decoy.
const DECOY_IS_ANOTHER_RULES_FIND: &[(&str, usize, &str)] = &[
    ("assemblyai.api-key", 1, "generic.secret-assignment"),
    ("azure.ai-services-key", 0, "generic.secret-assignment"),
    ("azure.ai-services-key", 1, "generic.secret-assignment"),
    ("azure.ai-services-key", 2, "generic.secret-assignment"),
    ("azure.apim-key", 0, "generic.secret-assignment"),
    ("azure.apim-key", 1, "generic.secret-assignment"),
    ("azure.batch-key", 0, "generic.secret-assignment"),
    ("azure.batch-key", 1, "generic.secret-assignment"),
    ("azure.cask-key", 0, "generic.secret-assignment"),
    ("azure.cask-key", 1, "generic.secret-assignment"),
    (
        "azure.container-registry-key",
        0,
        "generic.password-assignment",
    ),
    (
        "azure.container-registry-key",
        1,
        "generic.password-assignment",
    ),
    (
        "azure.cosmosdb-connection-string",
        0,
        "generic.secret-assignment",
    ),
    (
        "azure.cosmosdb-connection-string",
        1,
        "generic.secret-assignment",
    ),
    ("azure.cosmosdb-key", 0, "generic.secret-assignment"),
    ("azure.cosmosdb-key-identifiable", 0, "azure.cosmosdb-key"),
    (
        "azure.cosmosdb-key-identifiable",
        1,
        "generic.secret-assignment",
    ),
    ("azure.devops-pat-legacy", 1, "generic.secret-assignment"),
    ("azure.entra-client-secret", 0, "generic.secret-assignment"),
    ("azure.entra-client-secret", 1, "generic.secret-assignment"),
    ("azure.event-grid-cask-key", 0, "generic.secret-assignment"),
    ("azure.event-grid-cask-key", 1, "generic.secret-assignment"),
    ("azure.event-grid-key", 0, "generic.secret-assignment"),
    ("azure.event-grid-key", 1, "generic.secret-assignment"),
    ("azure.event-hubs-key", 0, "generic.secret-assignment"),
    ("azure.event-hubs-key", 1, "generic.secret-assignment"),
    (
        "azure.function-key-identifiable",
        0,
        "generic.secret-assignment",
    ),
    (
        "azure.function-key-identifiable",
        1,
        "generic.secret-assignment",
    ),
    ("azure.iot-key", 0, "generic.secret-assignment"),
    ("azure.iot-key", 1, "generic.secret-assignment"),
    ("azure.openai-key", 0, "generic.secret-assignment"),
    ("azure.openai-key", 2, "generic.secret-assignment"),
    ("azure.redis-key", 0, "generic.secret-assignment"),
    ("azure.redis-key", 1, "generic.secret-assignment"),
    ("azure.relay-key", 0, "generic.secret-assignment"),
    ("azure.relay-key", 1, "generic.secret-assignment"),
    ("azure.search-key", 0, "generic.secret-assignment"),
    ("azure.search-key", 1, "generic.secret-assignment"),
    ("azure.service-bus-key", 0, "generic.secret-assignment"),
    ("azure.service-bus-key", 1, "generic.secret-assignment"),
    ("azure.shared-access-key", 1, "generic.secret-assignment"),
    (
        "azure.storage-account-key",
        0,
        "azure.cosmosdb-connection-string",
    ),
    ("azure.storage-account-key", 1, "generic.secret-assignment"),
    ("azure.storage-key", 0, "generic.secret-assignment"),
    (
        "azure.storage-key-identifiable",
        0,
        "generic.secret-assignment",
    ),
    (
        "azure.storage-key-identifiable",
        1,
        "generic.secret-assignment",
    ),
    ("cloudflare.api-token", 0, "generic.secret-assignment"),
    ("cloudflare.global-api-key", 0, "generic.secret-assignment"),
    ("cohere.api-key", 0, "generic.secret-assignment"),
    ("cohere.api-key", 1, "generic.secret-assignment"),
    ("cratesio.api-token", 0, "generic.secret-assignment"),
    ("datadog.app-key", 1, "generic.secret-assignment"),
    ("deepgram.api-key", 1, "generic.secret-assignment"),
    ("discord.bot-token", 0, "generic.secret-assignment"),
    ("discord.bot-token", 1, "generic.secret-assignment"),
    ("discord.bot-token", 2, "generic.secret-assignment"),
    ("exa.api-key", 0, "generic.secret-assignment"),
    ("exa.api-key", 1, "generic.secret-assignment"),
    ("fal.api-key", 1, "generic.secret-assignment"),
    ("firebase.fcm-server-key", 0, "generic.secret-assignment"),
    ("gcp.service-account-key", 0, "private-key.pkcs8"),
    ("grafana.cloud-token", 1, "generic.secret-assignment"),
    ("jenkins.api-token", 0, "generic.secret-assignment"),
    ("mailchimp.api-key", 0, "generic.secret-assignment"),
    ("mailgun.private-key", 1, "generic.secret-assignment"),
    ("minimax.api-key-jwt", 0, "jwt.token"),
    ("mistral.api-key", 0, "generic.secret-assignment"),
    ("mistral.api-key", 1, "generic.secret-assignment"),
    ("mlflow.tracking-credential", 2, "databricks.pat"),
    ("notion.integration-token", 1, "generic.secret-assignment"),
    ("npm.legacy-token", 1, "generic.secret-assignment"),
    ("nuget.api-key", 0, "generic.secret-assignment"),
    ("nuget.api-key", 1, "generic.secret-assignment"),
    ("okta.api-token", 1, "generic.secret-assignment"),
    ("pypi.api-token", 2, "pypi.test-api-token"),
    ("pypi.test-api-token", 1, "pypi.api-token"),
    ("sentry.org-token", 1, "generic.secret-assignment"),
    ("square.access-token", 1, "generic.secret-assignment"),
    ("stability.api-key", 1, "openai.user-key-legacy"),
    ("telegram.bot-token", 0, "generic.secret-assignment"),
    ("terraform.cloud-api-token", 0, "generic.secret-assignment"),
    ("together.api-key-legacy", 1, "generic.secret-assignment"),
    ("travis.api-token", 0, "generic.secret-assignment"),
    ("twilio.auth-token", 1, "generic.secret-assignment"),
    // The token is a secret under its `auth_token` key; only the SID is too far to name Twilio.
    (
        "twilio.auth-token-before-sid",
        2,
        "generic.secret-assignment",
    ),
    ("vercel.token-legacy", 1, "generic.secret-assignment"),
    ("wandb.netrc", 0, "generic.netrc-password"),
    ("zilliz.api-key", 1, "generic.secret-assignment"),
];

/// Where a rule's examples are planted.
#[derive(Clone, Copy)]
enum Container {
    /// A raw text file with this extension.
    Raw(&'static str),
    /// A notebook, one code cell per example.
    NotebookSource,
    /// A notebook, one stream output per example.
    NotebookOutput,
}

const CONTAINERS: &[Container] = &[
    Container::Raw("env"),
    Container::NotebookSource,
    Container::Raw("py"),
    Container::NotebookOutput,
    Container::Raw("cfg"),
    Container::Raw("sh"),
];

fn is_reported(rule: &Rule) -> bool {
    !rule
        .spec
        .verify
        .as_deref()
        .is_some_and(keysweep_verify::is_companion)
}

/// The span of the secret `rule` captures first in `text`.
fn secret_span(rule: &Rule, text: &str) -> Option<std::ops::Range<usize>> {
    let re = rule.regex();
    let mut caps = re.create_captures();
    re.captures(text, &mut caps);
    caps.get_group(1).map(|s| s.range())
}

/// A random replacement of the same kind as `c`, or `c` itself for punctuation.
fn same_kind(r: &mut Rng, c: u8) -> u8 {
    let pool: &[u8] = match c {
        b'0'..=b'9' => b"0123456789",
        b'a'..=b'f' => b"abcdef",
        b'g'..=b'z' => b"ghijklmnopqrstuvwxyz",
        b'A'..=b'F' => b"ABCDEF",
        b'G'..=b'Z' => b"GHIJKLMNOPQRSTUVWXYZ",
        _ => return c,
    };
    *r.pick(pool)
}

/// Re-randomise the secret `rule` reports in `example`; returns the new text and the new secret.
fn randomise(rule: &Rule, example: &str, r: &mut Rng) -> Option<(String, String)> {
    let span = secret_span(rule, example)?;
    let (head, tail) = (&example[..span.start], &example[span.end..]);
    let mut secret: Vec<u8> = example.as_bytes()[span.clone()].to_vec();
    let crc = matches!(
        rule.spec.checksum.as_deref(),
        Some("github-crc32" | "npm-crc32" | "github-fine-grained" | "nats-nkey")
    );
    let holds = |s: &[u8], with_checksum: bool| -> bool {
        let Ok(s) = std::str::from_utf8(s) else {
            return false;
        };
        let text = format!("{head}{s}{tail}");
        secret_span(rule, &text) == Some(head.len()..head.len() + s.len())
            && (!with_checksum
                || rule
                    .spec
                    .checksum
                    .as_deref()
                    .is_none_or(|c| checksum::verify_after(c, s.as_bytes(), head.as_bytes())))
    };
    for i in 0..secret.len() {
        let old = secret[i];
        // Escape sequences (`\n` in a JSON-escaped PEM) stay as they are.
        if i > 0 && secret[i - 1] == b'\\' {
            continue;
        }
        let new = same_kind(r, old);
        if new == old {
            continue;
        }
        secret[i] = new;
        if !holds(&secret, !crc) {
            secret[i] = old;
        }
    }
    if crc {
        fix_crc(rule.spec.checksum.as_deref().unwrap_or(""), &mut secret);
    }
    if !holds(&secret, true) {
        return None;
    }
    let secret = String::from_utf8(secret).ok()?;
    Some((format!("{head}{secret}{tail}"), secret))
}

/// Recompute the checksum tail of a CRC-checksummed token after its body changed.
fn fix_crc(kind: &str, secret: &mut [u8]) {
    if kind == "github-fine-grained" {
        let body = 11; // after `github_pat_`
        if secret.len() >= body + 74 {
            let sum = github_fine_grained_checksum(&secret[body..body + 66]);
            secret[body + 66..body + 74].copy_from_slice(sum.as_bytes());
        }
    } else if kind == "nats-nkey" {
        // 58 base32 characters carry 290 bits: 288 of data and 2 that must be zero.
        if let Some(last) = secret.last_mut() {
            let v = match *last {
                b'A'..=b'Z' => *last - b'A',
                b'2'..=b'7' => *last - b'2' + 26,
                _ => return,
            } & !3;
            *last = if v < 26 { b'A' + v } else { b'2' + v - 26 };
        }
        if let Some(mut raw) = checksum::base32_decode(secret).filter(|r| r.len() == 36) {
            raw[1] &= !7; // the key type's two bytes end in three zero bits
            let crc = checksum::crc16_xmodem(&raw[..34]).to_le_bytes();
            raw[34..].copy_from_slice(&crc);
            secret.copy_from_slice(checksum::base32(&raw).as_bytes());
        }
    } else if let Some(us) = secret.iter().position(|&b| b == b'_') {
        let body = us + 1;
        if secret.len() == body + 36 {
            let sum = crc32_base62(&secret[body..body + 30]);
            secret[body + 30..].copy_from_slice(sum.as_bytes());
        }
    }
}

fn notebook(texts: &[String], as_output: bool) -> String {
    let cells: Vec<serde_json::Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let lines: Vec<&str> = t.split_inclusive('\n').collect();
            if as_output {
                serde_json::json!({
                    "cell_type": "code", "execution_count": i + 1, "metadata": {},
                    "source": ["import os\n", "print(os.environ)\n"],
                    "outputs": [{"output_type": "stream", "name": "stdout", "text": lines}]
                })
            } else {
                serde_json::json!({
                    "cell_type": "code", "execution_count": i + 1, "metadata": {},
                    "source": lines, "outputs": []
                })
            }
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4, "nbformat_minor": 5
    }))
    .unwrap_or_default()
}

/// Label one planted example: its rule's secret and any second secret `ALSO_REPORTS` lists for it.
fn plant_one(
    t: &mut Tree,
    rules: &RuleSet,
    id: &str,
    i: usize,
    text: &str,
    secret: &str,
    rel: &str,
) -> io::Result<()> {
    t.plant(id, secret, rel);
    plant_cross_findings(t, rules, ALSO_REPORTS, id, i, text, rel)
}

/// Label what the `table` says another rule reports in `text` (example or negative example `i` of `id`).
fn plant_cross_findings(
    t: &mut Tree,
    rules: &RuleSet,
    table: &[(&str, usize, &str)],
    id: &str,
    i: usize,
    text: &str,
    rel: &str,
) -> io::Result<()> {
    for (_, _, other) in table.iter().filter(|(rid, n, _)| *rid == id && *n == i) {
        let o = rules
            .rules
            .iter()
            .find(|x| x.id() == *other)
            .ok_or_else(|| io::Error::other(format!("unknown rule {other}")))?;
        let span = secret_span(o, text)
            .ok_or_else(|| io::Error::other(format!("{other} finds nothing")))?;
        let secret = &text[span];
        // In a raw file holding a JSON document the JSON decoder unescapes strings: the secret is reported as
        // it shows it (as for planted examples).
        let json_doc = rel.ends_with(".txt")
            && serde_json::from_str::<serde_json::Value>(text)
                .is_ok_and(|v| v.is_object() || v.is_array());
        if json_doc && secret.contains('\\') {
            let unescaped = serde_json::from_str::<String>(&format!("\"{secret}\""))
                .map_err(|e| io::Error::other(format!("{id}: {e}")))?;
            t.plant(other, &unescaped, rel);
        } else {
            t.plant(other, secret, rel);
        }
    }
    Ok(())
}

/// A rule's own place in `CONTAINERS` and among the decoy file kinds: FNV-1a of its id, so that adding or
/// moving a rule moves no other rule's examples into another file type (the rule's index did).
fn stable_index(id: &str) -> usize {
    let h = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (h % 0x7fff_ffff) as usize
}

fn slug(id: &str) -> String {
    id.replace('.', "/")
}

/// Rules whose examples are written in one file type's syntax, planted there whatever their hash: the catch-all
/// assignment rules' examples are `.env`/config lines (`client_secret=…` unquoted), which read as expressions,
/// not values, in program source.
const PINNED: &[(&str, Container)] = &[
    ("generic.secret-assignment", Container::Raw("env")),
    ("generic.dsn-credentials", Container::Raw("env")),
];

/// Plant every reported rule's examples (re-randomised) and every rule's negative examples (decoys). Each
/// rule's file type and random values depend on its id alone (`stable_index`, a generator of its own seeded
/// from one draw of `r`), so adding a rule changes no other rule's examples nor the corpus planted after them.
pub(super) fn plant(t: &mut Tree, r: &mut Rng) -> io::Result<()> {
    let rules = RuleSet::embedded();
    let base = r.next();
    for rule in &rules.rules {
        let id = rule.id();
        let n = stable_index(id);
        let r = &mut Rng::new(base ^ (n as u64).rotate_left(32));
        if is_reported(rule) {
            let mut texts = Vec::new();
            for (i, ex) in rule.spec.examples.iter().enumerate() {
                let (text, secret) = randomise(rule, ex, r).ok_or_else(|| {
                    io::Error::other(format!("{id}: example {i} cannot be re-randomised"))
                })?;
                texts.push((i, text, secret));
            }
            let container = PINNED
                .iter()
                .find(|(pinned, _)| *pinned == id)
                .map_or(CONTAINERS[n % CONTAINERS.len()], |(_, c)| *c);
            match container {
                // A raw file per example; a JSON document gets a `.json` name.
                Container::Raw(ext) => {
                    for (i, text, secret) in &texts {
                        let json_doc = serde_json::from_str::<serde_json::Value>(text)
                            .is_ok_and(|v| v.is_object() || v.is_array());
                        let rel = format!(
                            "catalogue/{}-{i}.{}",
                            slug(id),
                            if json_doc { "json" } else { ext }
                        );
                        t.write(&rel, &format!("{text}\n"))?;
                        // The JSON decoder unescapes strings: the secret is reported as it shows it.
                        let secret = if json_doc && secret.contains('\\') {
                            serde_json::from_str::<String>(&format!("\"{secret}\""))
                                .map_err(|e| io::Error::other(format!("{id}: {e}")))?
                        } else {
                            secret.clone()
                        };
                        plant_one(t, &rules, id, *i, text, &secret, &rel)?;
                    }
                }
                Container::NotebookSource | Container::NotebookOutput => {
                    let rel = format!("catalogue/{}.ipynb", slug(id));
                    let bodies: Vec<String> = texts.iter().map(|(_, t, _)| t.clone()).collect();
                    let as_output = matches!(container, Container::NotebookOutput);
                    t.write(&rel, &notebook(&bodies, as_output))?;
                    for (i, text, secret) in &texts {
                        plant_one(t, &rules, id, *i, text, secret, &rel)?;
                    }
                }
            }
        }
        for (i, neg) in rule.spec.negative_examples.iter().enumerate() {
            let rel = if (n + i) % 3 == 2 {
                let rel = format!("decoys/{}-{i}.ipynb", slug(id));
                t.write(&rel, &notebook(std::slice::from_ref(neg), false))?;
                rel
            } else {
                let rel = format!("decoys/{}-{i}.txt", slug(id));
                t.write(&rel, &format!("{neg}\n"))?;
                rel
            };
            plant_cross_findings(t, &rules, DECOY_IS_ANOTHER_RULES_FIND, id, i, neg, &rel)?;
        }
    }
    Ok(())
}
