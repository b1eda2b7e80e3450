//! AI-pipeline and developer credential artefacts, recognised by path and decoded by their structure: MCP
//! server configs (one segment per server, `mcp_server`), docker `config.json` (`auth` base64 `user:token`
//! decoded), Weights & Biases run folders (`wandb_run`; `output.log` with ANSI codes stripped), MLflow
//! `mlruns/` params and tags (read as `name: value`), Hugging Face token files, `.env*`, LangSmith/Langfuse
//! trace exports, `.netrc`, `.pypirc`, `.npmrc`, `.git-credentials`, PostgreSQL `.pgpass` (each line's password
//! field read as `password: …`). Every segment carries `artefact`.
use super::json::{strip_ansi_segment, unescaped_segment, Node, TreeReader};
use super::{DecodeError, DecodeLimits, Decoder, OffsetMap, Segment};
use base64::Engine;
use keysweep_model::{provenance::keys, Detail};
use std::borrow::Cow;

pub struct ArtefactDecoder;

/// The artefact kind of a path, judged by name (and, for `config.json`, by its first bytes).
pub fn artefact_kind(path: &str, head: &[u8]) -> Option<&'static str> {
    // `!` separates an archive from a member's path inside it (`backup.tar.gz!.env`).
    let p = path.replace(['\\', '!'], "/").to_ascii_lowercase();
    let name = p.rsplit('/').next().unwrap_or(&p);
    let json = name.ends_with(".json") || name.ends_with(".jsonl") || name.ends_with(".ndjson");
    Some(match name {
        "mcp.json"
        | "claude_desktop_config.json"
        | "mcp_settings.json"
        | "cline_mcp_settings.json" => "mcp-config",
        "config.json"
            if p.ends_with(".docker/config.json")
                || memchr::memmem::find(head, b"\"auths\"").is_some() =>
        {
            "docker-config"
        }
        ".netrc" | "_netrc" => "netrc",
        ".pypirc" => "pypirc",
        ".npmrc" => "npmrc",
        ".git-credentials" => "git-credentials",
        ".pgpass" | "pgpass" | "pgpass.conf" => "pgpass",
        ".envrc" => "dotenv",
        n if n == ".env" || n.starts_with(".env.") || n.ends_with(".env") => "dotenv",
        "token" | "stored_tokens" if p.contains("huggingface/") => "huggingface-token",
        _ if p.contains("wandb/") && is_wandb_file(name) => "wandb",
        _ if p.contains("mlruns/") && (p.contains("/params/") || p.contains("/tags/")) => "mlflow",
        _ if json && (p.contains("langsmith") || p.contains("langfuse")) => "trace-export",
        _ => return None,
    })
}

fn is_wandb_file(name: &str) -> bool {
    matches!(
        name,
        "config.yaml"
            | "wandb-metadata.json"
            | "wandb-summary.json"
            | "output.log"
            | "debug.log"
            | "debug-internal.log"
            | "requirements.txt"
    )
}

impl Decoder for ArtefactDecoder {
    fn name(&self) -> &'static str {
        "artefact"
    }
    fn accepts(&self, path: &str, head: &[u8]) -> bool {
        memchr::memchr(0, head).is_none() && artefact_kind(path, head).is_some()
    }
    fn decode<'a>(
        &self,
        path: &str,
        data: &'a [u8],
        limits: &DecodeLimits,
        out: &mut Vec<Segment<'a>>,
    ) -> Result<(), DecodeError> {
        let head = &data[..data.len().min(1024)];
        let Some(kind) = artefact_kind(path, head) else {
            out.push(Segment::raw(data));
            return Ok(());
        };
        let norm = path.replace('\\', "/");
        let mut meta = Detail::default();
        meta.set(keys::ARTEFACT, kind);
        let first = out.len();
        match kind {
            "mcp-config" => mcp(data, limits, &meta, out)?,
            "docker-config" => {
                let mut whole = unescaped_segment(data, 0, data.len(), meta.clone());
                let spans = docker_auths(data, limits, &meta, out);
                if let (Cow::Borrowed(_), false) = (&whole.text, spans.is_empty()) {
                    // Without escapes the segment is the raw bytes: blank the decoded base64 values so keyword
                    // rules do not report the encoded form next to the decoded one.
                    let mut masked = data.to_vec();
                    for (s, e) in spans {
                        masked[s..e].fill(b' ');
                    }
                    whole.text = Cow::Owned(masked);
                }
                out.push(whole);
            }
            "wandb" => {
                if let Some(run) = component_after(&norm, "wandb/") {
                    meta.set(keys::WANDB_RUN, run);
                }
                if norm.ends_with(".log") {
                    out.push(strip_ansi_segment(data, meta.clone()));
                } else {
                    out.push(unescaped_segment(data, 0, data.len(), meta.clone()));
                }
            }
            "mlflow" => {
                let parts: Vec<&str> = norm.split('/').collect();
                let n = parts.len();
                let (name, table) = (
                    parts[n - 1],
                    parts.get(n.wrapping_sub(2)).copied().unwrap_or(""),
                );
                if let Some(run) = n.checked_sub(3).and_then(|i| parts.get(i)) {
                    meta.set(keys::MLFLOW_RUN, *run);
                }
                let key = if table == "tags" {
                    keys::MLFLOW_TAG
                } else {
                    keys::MLFLOW_PARAM
                };
                meta.set(key, name);
                // Read as `name: value` so provider keywords in the parameter name count as context.
                let mut text = Vec::with_capacity(name.len() + 2 + data.len());
                text.extend_from_slice(name.as_bytes());
                text.extend_from_slice(b": ");
                let mut map = OffsetMap::default();
                map.push(0, 0);
                map.push(text.len(), 0);
                text.extend_from_slice(data);
                out.push(Segment {
                    text: Cow::Owned(text),
                    map,
                    meta: meta.clone(),
                    segment_lines: false,
                });
            }
            "trace-export" => out.push(unescaped_segment(data, 0, data.len(), meta.clone())),
            "pgpass" => {
                let spans = pgpass_passwords(data, &meta, out);
                let mut masked = data.to_vec();
                for (s, e) in spans {
                    masked[s..e].fill(b' ');
                }
                out.push(Segment {
                    text: Cow::Owned(masked),
                    meta: meta.clone(),
                    map: OffsetMap::identity(),
                    segment_lines: false,
                });
            }
            _ => out.push(Segment {
                meta: meta.clone(),
                ..Segment::raw(data)
            }),
        }
        if out.len() == first {
            out.push(Segment {
                meta,
                ..Segment::raw(data)
            });
        }
        Ok(())
    }
}

/// The path component right after `marker` (e.g. the W&B run folder).
fn component_after(path: &str, marker: &str) -> Option<String> {
    let i = path.find(marker)? + marker.len();
    path[i..]
        .split('/')
        .next()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// MCP configs: one segment per server under `mcpServers` / `servers` (also nested in `mcp`), the rest as
/// gap segments, all with JSON escapes decoded. A file that does not parse is one unescaped segment.
fn mcp<'a>(
    data: &'a [u8],
    limits: &DecodeLimits,
    meta: &Detail,
    out: &mut Vec<Segment<'a>>,
) -> Result<(), DecodeError> {
    let Ok(root) = TreeReader::new(data, limits.max_depth, 4).read() else {
        out.push(unescaped_segment(data, 0, data.len(), meta.clone()));
        return Ok(());
    };
    let servers = ["mcpServers", "servers"]
        .iter()
        .find_map(|k| root.get(data, k))
        .or_else(|| root.get(data, "mcp").and_then(|m| m.get(data, "servers")));
    let mut spans: Vec<(usize, usize, String)> = Vec::new();
    if let Some(Node::Obj { entries, .. }) = servers {
        for ((ks, ke), v) in entries {
            let (s, e) = v.span();
            let name: String = String::from_utf8_lossy(&data[*ks..*ke])
                .chars()
                .take(80)
                .collect();
            spans.push((s, e, name));
        }
    }
    let mut pos = 0;
    for (s, e, name) in spans {
        if s > pos {
            out.push(unescaped_segment(data, pos, s, meta.clone()));
        }
        let mut m = meta.clone();
        m.set(keys::MCP_SERVER, name);
        out.push(unescaped_segment(data, s, e, m));
        pos = e;
    }
    if pos < data.len() {
        out.push(unescaped_segment(data, pos, data.len(), meta.clone()));
    }
    Ok(())
}

/// Docker `config.json`: each `auths.<registry>.auth` is base64 of `user:token`; emit the decoded text mapped
/// to the value, tagged with `registry`. Returns the raw spans of the values decoded.
fn docker_auths<'a>(
    data: &'a [u8],
    limits: &DecodeLimits,
    meta: &Detail,
    out: &mut Vec<Segment<'a>>,
) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let Ok(root) = TreeReader::new(data, limits.max_depth, 4).read() else {
        return spans;
    };
    let Some(auths) = root.get(data, "auths") else {
        return spans;
    };
    for ((ks, ke), v) in auths.entries() {
        let Some(Node::Str((s, e))) = v.get(data, "auth") else {
            continue;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(&data[*s..*e]) else {
            continue;
        };
        // `user:password`, read as `user password: password` so the password is judged under a password key
        // (a vendor token in it is still its own rule's); every decoded byte maps to its base64 group.
        let raw_of = |k: usize| s + k / 3 * 4;
        let mut text = Vec::with_capacity(decoded.len() + 16);
        let mut map = OffsetMap::default();
        let colon = memchr::memchr(b':', &decoded);
        for (k, &b) in decoded.iter().enumerate() {
            if Some(k) == colon {
                map.push(text.len(), raw_of(k + 1));
                text.extend_from_slice(AUTH_PASSWORD);
                continue;
            }
            map.push(text.len(), raw_of(k));
            text.push(b);
        }
        let mut m = meta.clone();
        m.set(
            keys::REGISTRY,
            String::from_utf8_lossy(&data[*ks..*ke]).into_owned(),
        );
        m.field = Some("auth".into());
        out.push(Segment {
            text: Cow::Owned(text),
            map,
            meta: m,
            segment_lines: false,
        });
        spans.push((*s, *e));
    }
    spans
}

/// What the password of a decoded `user:password` pair (a Docker `auth`) or a `.pgpass` line is read under:
/// a password key, so the generic classifier judges it as a password.
const AUTH_PASSWORD: &[u8] = b" password: ";

/// PostgreSQL `.pgpass`: each line is `host:port:database:user:password` (`\:` and `\\` escaped, `#` a comment).
/// Emits each password field as `password: …` mapped to its bytes; returns the raw spans of the fields.
fn pgpass_passwords<'a>(
    data: &'a [u8],
    meta: &Detail,
    out: &mut Vec<Segment<'a>>,
) -> Vec<(usize, usize)> {
    let prefix = AUTH_PASSWORD.trim_ascii_start();
    let mut spans = Vec::new();
    let mut at = 0;
    for line in data.split(|&b| b == b'\n') {
        let start = at;
        at += line.len() + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first().is_none_or(|&b| b == b'#') {
            continue;
        }
        // The fifth field starts after the fourth unescaped `:`.
        let (mut colons, mut escaped, mut field) = (0, false, None);
        for (i, &b) in line.iter().enumerate() {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b':' => {
                    colons += 1;
                    if colons == 4 {
                        field = Some(i + 1);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(f) = field.filter(|&f| f < line.len()) else {
            continue;
        };
        let (s, e) = (start + f, start + line.len());
        let mut text = Vec::with_capacity(prefix.len() + e - s);
        text.extend_from_slice(prefix);
        text.extend_from_slice(&data[s..e]);
        let mut map = OffsetMap::default();
        map.push(0, s);
        map.push(prefix.len(), s);
        out.push(Segment {
            text: Cow::Owned(text),
            map,
            meta: meta.clone(),
            segment_lines: false,
        });
        spans.push((s, e));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_path() {
        for (p, k) in [
            (".cursor/mcp.json", "mcp-config"),
            (".vscode/mcp.json", "mcp-config"),
            ("Library/Claude/claude_desktop_config.json", "mcp-config"),
            ("home/.docker/config.json", "docker-config"),
            ("wandb/run-20240101_000000-abc/files/config.yaml", "wandb"),
            ("wandb/run-1/files/output.log", "wandb"),
            ("mlruns/0/abc123/params/openai_api_key", "mlflow"),
            (".cache/huggingface/token", "huggingface-token"),
            (".cache/huggingface/stored_tokens", "huggingface-token"),
            (".env.local", "dotenv"),
            ("exports/langsmith-runs.jsonl", "trace-export"),
            (".netrc", "netrc"),
            (".pypirc", "pypirc"),
            (".npmrc", "npmrc"),
            (".git-credentials", "git-credentials"),
        ] {
            assert_eq!(artefact_kind(p, b""), Some(k), "{p}");
        }
        assert_eq!(artefact_kind("src/config.json", b"{\"a\":1}"), None);
        assert_eq!(artefact_kind("src/token", b""), None);
        assert_eq!(artefact_kind("home/.pgpass", b""), Some("pgpass"));
        assert_eq!(
            artefact_kind("AppData/postgresql/pgpass.conf", b""),
            Some("pgpass")
        );
    }

    /// Each `.pgpass` line's fifth field (after four unescaped `:`) is read as `password: …`, mapped back to its
    /// bytes; comments, short lines and an empty field give nothing, and an escaped `\:` is no separator.
    #[test]
    fn pgpass_fields() {
        let data = b"# host:port:db:user:password\ndb1:5432:app:a\\:b:pw:with:colons\r\nshort:line\nh:1:d:u:\n";
        let mut out = Vec::new();
        let spans = pgpass_passwords(data, &Detail::default(), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(&out[0].text[..], b"password: pw:with:colons"); // keysweep:allow (synthetic)
        let (s, e) = spans[0];
        assert_eq!(&data[s..e], b"pw:with:colons");
        assert_eq!(out[0].map.to_raw(b"password: ".len()), s);
    }

    /// A Docker `auth` is decoded and read as `user password: …`; the password maps back into the base64.
    #[test]
    fn docker_auth_read_as_password() {
        let data = br#"{"auths": {"r.k3jd8s.net": {"auth": "c3ZjOlJqOEtuRk02MC1ndTd4OUw="}}}"#; // keysweep:allow (synthetic)
        let mut out = Vec::new();
        let spans = docker_auths(data, &DecodeLimits::default(), &Detail::default(), &mut out);
        assert_eq!(spans.len(), 1);
        assert_eq!(&out[0].text[..], b"svc password: Rj8KnFM60-gu7x9L"); // keysweep:allow (synthetic)
        let at = out[0].text.len() - "Rj8KnFM60-gu7x9L".len(); // keysweep:allow (synthetic)
        let (s, e) = spans[0];
        assert!((s..e).contains(&out[0].map.to_raw(at)));
    }
}
