//! CI configuration files: GitHub Actions, GitLab CI, Jenkins, CircleCI, Azure Pipelines, Bitbucket
//! Pipelines, Travis, Buildkite and Drone, recognised by path. The file is split (without changing its bytes)
//! into segments by job and step, found with a small line-oriented YAML reader (Groovy `stage('…')` blocks for
//! Jenkins), so findings name `ci`, `job` and `step`. References (`${{ secrets.X }}`, `$VAR`, …) are left to
//! the placeholder check; this module only gives structure.
use super::{DecodeError, DecodeLimits, Decoder, OffsetMap, Segment};
use keysweep_model::{provenance::keys, Detail};
use serde_json::Value;
use std::borrow::Cow;

pub struct CiDecoder;

/// The CI system a path belongs to, if any.
pub fn ci_system(path: &str) -> Option<&'static str> {
    // `!` separates an archive from a member's path inside it (`release.zip!.github/workflows/ci.yml`).
    let p = path.replace(['\\', '!'], "/").to_ascii_lowercase();
    let name = p.rsplit('/').next().unwrap_or(&p);
    let yaml = name.ends_with(".yml") || name.ends_with(".yaml");
    let under = |dir: &str| p.starts_with(dir) || p.contains(&format!("/{dir}"));
    if yaml && under(".github/workflows/") || name == "action.yml" || name == "action.yaml" {
        Some("github-actions")
    } else if name.ends_with(".gitlab-ci.yml")
        || name.ends_with(".gitlab-ci.yaml")
        || yaml && under(".gitlab/ci/")
    {
        Some("gitlab-ci")
    } else if name == "jenkinsfile"
        || name.starts_with("jenkinsfile.")
        || name.ends_with(".jenkinsfile")
    {
        Some("jenkins")
    } else if yaml && under(".circleci/") {
        Some("circleci")
    } else if yaml
        && (name.starts_with("azure-pipelines")
            || under(".azure-pipelines/")
            || under(".azuredevops/"))
    {
        Some("azure-pipelines")
    } else if name == "bitbucket-pipelines.yml" || name == "bitbucket-pipelines.yaml" {
        Some("bitbucket-pipelines")
    } else if name == ".travis.yml" || name == ".travis.yaml" {
        Some("travis")
    } else if yaml && under(".buildkite/") || name == "buildkite.yml" || name == "buildkite.yaml" {
        Some("buildkite")
    } else if name == ".drone.yml" || name == ".drone.yaml" {
        Some("drone")
    } else {
        None
    }
}

impl Decoder for CiDecoder {
    fn name(&self) -> &'static str {
        "ci"
    }
    fn accepts(&self, path: &str, head: &[u8]) -> bool {
        memchr::memchr(0, head).is_none() && ci_system(path).is_some()
    }
    fn decode<'a>(
        &self,
        path: &str,
        data: &'a [u8],
        _limits: &DecodeLimits,
        out: &mut Vec<Segment<'a>>,
    ) -> Result<(), DecodeError> {
        let Some(system) = ci_system(path) else {
            out.push(Segment::raw(data));
            return Ok(());
        };
        let lines = split_lines(data);
        let ctx = if system == "jenkins" {
            jenkins_context(data, &lines)
        } else {
            yaml_context(system, data, &lines)
        };
        // Group consecutive lines with the same job and step into one segment.
        let mut i = 0;
        while i < lines.len() {
            let mut j = i + 1;
            while j < lines.len() && ctx[j] == ctx[i] {
                j += 1;
            }
            let (start, end) = (lines[i].0, lines[j - 1].1);
            let mut meta = Detail::default();
            meta.set(keys::CI, system);
            let (job, step) = &ctx[i];
            if let Some(job) = job {
                meta.set(keys::JOB, job.clone());
            }
            if let Some(step) = step {
                meta.set(keys::STEP, step.clone());
            }
            out.push(Segment {
                text: Cow::Borrowed(&data[start..end]),
                map: OffsetMap::shifted(start),
                meta,
                segment_lines: false,
            });
            i = j;
        }
        if lines.is_empty() {
            out.push(Segment::raw(data));
        }
        Ok(())
    }
}

/// Line spans `(start, end)`, each including its newline.
fn split_lines(data: &[u8]) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    let mut s = 0;
    for nl in memchr::memchr_iter(b'\n', data) {
        v.push((s, nl + 1));
        s = nl + 1;
    }
    if s < data.len() {
        v.push((s, data.len()));
    }
    v
}

type Ctx = (Option<String>, Option<Value>);

/// Jenkins: the job of a line is the enclosing `stage('name')`.
fn jenkins_context(data: &[u8], lines: &[(usize, usize)]) -> Vec<Ctx> {
    let mut cur: Option<String> = None;
    lines
        .iter()
        .map(|&(s, e)| {
            let line = String::from_utf8_lossy(&data[s..e]);
            if let Some(p) = line.find("stage(") {
                let rest = &line[p + 6..];
                let rest = rest.trim_start();
                if let Some(q) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') {
                    if let Some(endq) = rest[1..].find(q) {
                        cur = Some(short(&rest[1..1 + endq]));
                    }
                }
            }
            (cur.clone(), None)
        })
        .collect()
}

fn short(s: &str) -> String {
    s.chars().take(80).collect()
}

#[derive(Debug, Clone)]
enum Kind {
    Key(String),
    /// A list item: its id in `Items`.
    Item(usize),
}

#[derive(Debug, Clone)]
struct Frame {
    indent: usize,
    kind: Kind,
    next_item: usize,
}

#[derive(Debug, Default)]
struct ItemInfo {
    index: usize,
    name: Option<(u8, String)>,
}

/// Keys that name a list item, best first.
fn name_rank(key: &str) -> Option<u8> {
    match key {
        "name" | "label" | "displayName" => Some(0),
        "job" | "stage" | "id" | "deployment" => Some(1),
        "uses" | "task" => Some(2),
        _ => None,
    }
}

const GITLAB_RESERVED: &[&str] = &[
    "stages",
    "variables",
    "include",
    "default",
    "workflow",
    "image",
    "services",
    "before_script",
    "after_script",
    "cache",
    "spec",
];

/// Job and step of every line of a YAML CI file.
fn yaml_context(system: &str, data: &[u8], lines: &[(usize, usize)]) -> Vec<Ctx> {
    #[derive(Clone, PartialEq)]
    enum Ref {
        Key(String),
        Item(usize),
    }
    fn r(f: &Frame) -> Ref {
        match &f.kind {
            Kind::Key(k) => Ref::Key(k.clone()),
            Kind::Item(id) => Ref::Item(*id),
        }
    }
    fn key_of(f: &Frame) -> Option<&str> {
        match &f.kind {
            Kind::Key(k) => Some(k.as_str()),
            Kind::Item(_) => None,
        }
    }
    let mut items: Vec<ItemInfo> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut block: Option<usize> = None; // indent of a key whose block scalar we are inside
    let mut refs: Vec<(Option<Ref>, Option<Ref>)> = Vec::with_capacity(lines.len());
    let mut last: (Option<Ref>, Option<Ref>) = (None, None);
    for &(s, e) in lines {
        let line = String::from_utf8_lossy(&data[s..e]);
        let line = line.trim_end_matches(['\n', '\r']);
        let indent = line.len() - line.trim_start_matches(' ').len();
        let content = &line[indent..];
        if content.is_empty() || content.starts_with('#') {
            refs.push(last.clone());
            continue;
        }
        if let Some(b) = block {
            if indent > b {
                refs.push(last.clone());
                continue;
            }
            block = None;
        }
        if content.starts_with("---") || content.starts_with("...") {
            stack.clear();
            refs.push((None, None));
            last = (None, None);
            continue;
        }
        let mut ind = indent;
        let mut rest = content;
        while rest == "-" || rest.starts_with("- ") {
            while stack.last().is_some_and(|f| {
                f.indent > ind || (f.indent == ind && matches!(f.kind, Kind::Item(_)))
            }) {
                stack.pop();
            }
            let index = match stack.last_mut() {
                Some(p) => {
                    p.next_item += 1;
                    p.next_item - 1
                }
                None => 0,
            };
            items.push(ItemInfo { index, name: None });
            stack.push(Frame {
                indent: ind,
                kind: Kind::Item(items.len() - 1),
                next_item: 0,
            });
            let after = rest.get(1..).unwrap_or("");
            let sp = after.len() - after.trim_start_matches(' ').len();
            ind += 1 + sp;
            rest = &after[sp..];
        }
        if let Some((key, value)) = split_key(rest) {
            while stack.last().is_some_and(|f| f.indent >= ind) {
                stack.pop();
            }
            let v = value.trim();
            if let Some(rank) = name_rank(&key) {
                if !v.is_empty() && !v.starts_with(['|', '>']) {
                    // The item itself, or a one-key wrapper in it (`- run:` / `- step:` then `name:`).
                    let item = stack.iter().rev().take(2).find_map(|f| match f.kind {
                        Kind::Item(id) => Some(id),
                        Kind::Key(_) => None,
                    });
                    if let Some(id) = item {
                        let it = &mut items[id];
                        if it.name.as_ref().is_none_or(|(r, _)| rank < *r) {
                            it.name = Some((rank, short(v.trim_matches(['"', '\'']))));
                        }
                    }
                }
            }
            if v.starts_with(['|', '>']) {
                block = Some(ind);
            }
            stack.push(Frame {
                indent: ind,
                kind: Kind::Key(key),
                next_item: 0,
            });
        }
        // Find job and step in the stack.
        let mut job = None;
        let mut step = None;
        for (k, f) in stack.iter().enumerate() {
            let next = stack.get(k + 1);
            match key_of(f) {
                Some("jobs") | Some("matrix") if job.is_none() => {
                    let mut n = next;
                    if n.and_then(key_of) == Some("include") {
                        n = stack.get(k + 2);
                    }
                    job = n.map(r);
                }
                Some("steps") if step.is_none() => {
                    step = next.filter(|n| matches!(n.kind, Kind::Item(_))).map(r);
                }
                Some("pipelines") if system == "bitbucket-pipelines" => {
                    job = next.map(r);
                    // The list item holding `step:` (directly or inside `parallel:`).
                    step = stack[k + 1..]
                        .windows(2)
                        .rev()
                        .find(|w| {
                            matches!(w[0].kind, Kind::Item(_)) && key_of(&w[1]) == Some("step")
                        })
                        .map(|w| r(&w[0]));
                }
                _ => {}
            }
        }
        if system == "gitlab-ci" {
            if let Some(f) = stack.first() {
                if key_of(f).is_some_and(|k| !GITLAB_RESERVED.contains(&k)) {
                    job = Some(r(f));
                }
            }
        }
        last = (job, step);
        refs.push(last.clone());
    }
    let resolve = |r: &Option<Ref>| -> Option<Value> {
        match r {
            None => None,
            Some(Ref::Key(k)) => Some(Value::from(k.clone())),
            Some(Ref::Item(id)) => Some(match &items[*id].name {
                Some((_, n)) => Value::from(n.clone()),
                None => Value::from(items[*id].index),
            }),
        }
    };
    refs.iter()
        .map(|(j, s)| {
            let job = resolve(j).map(|v| match v {
                Value::String(s) => s,
                other => other.to_string(),
            });
            (job, resolve(s))
        })
        .collect()
}

/// `key: value` (key possibly quoted) → (key, value). `None` for scalars and flow collections.
fn split_key(s: &str) -> Option<(String, &str)> {
    let (key, rest) = if let Some(q) = s.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let end = s[1..].find(q)? + 1;
        (&s[1..end], &s[end + 1..])
    } else {
        let p = s.find(':')?;
        (&s[..p], &s[p..])
    };
    let rest = rest.strip_prefix(':')?;
    if !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t')) {
        return None;
    }
    if key.is_empty() || key.contains(' ') && !s.starts_with(['"', '\'']) {
        return None;
    }
    Some((key.to_string(), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systems_are_recognised_by_path() {
        for (p, s) in [
            (".github/workflows/ci.yml", "github-actions"),
            ("repo/.github/workflows/x.yaml", "github-actions"),
            (".gitlab-ci.yml", "gitlab-ci"),
            ("Jenkinsfile", "jenkins"),
            (".circleci/config.yml", "circleci"),
            ("azure-pipelines.yml", "azure-pipelines"),
            ("bitbucket-pipelines.yml", "bitbucket-pipelines"),
            (".travis.yml", "travis"),
            (".buildkite/pipeline.yml", "buildkite"),
            (".drone.yml", "drone"),
        ] {
            assert_eq!(ci_system(p), Some(s), "{p}");
        }
        assert_eq!(ci_system("config.yml"), None);
        assert_eq!(ci_system("docs/workflows/ci.yml"), None);
    }

    fn ctx_of(system: &str, text: &str, needle: &str) -> Ctx {
        let lines = split_lines(text.as_bytes());
        let ctx = yaml_context(system, text.as_bytes(), &lines);
        let at = text.find(needle).unwrap();
        let i = lines.iter().position(|&(s, e)| s <= at && at < e).unwrap();
        ctx[i].clone()
    }

    #[test]
    fn github_jobs_and_steps() {
        let y = "on: push\nenv:\n  TOP: a1\njobs:\n  build:\n    runs-on: x\n    steps:\n      - uses: actions/checkout@v4\n      - name: Call API\n        env:\n          KEY: k1\n        run: |\n          echo: k2\n  deploy:\n    steps:\n    - run: echo\n      env:\n        K: k3\n";
        assert_eq!(ctx_of("github-actions", y, "a1"), (None, None));
        assert_eq!(
            ctx_of("github-actions", y, "k1"),
            (Some("build".into()), Some(Value::from("Call API")))
        );
        assert_eq!(
            ctx_of("github-actions", y, "k2"),
            (Some("build".into()), Some(Value::from("Call API")))
        );
        assert_eq!(
            ctx_of("github-actions", y, "k3"),
            (Some("deploy".into()), Some(Value::from(0)))
        );
        assert_eq!(
            ctx_of("github-actions", y, "checkout"),
            (
                Some("build".into()),
                Some(Value::from("actions/checkout@v4"))
            )
        );
    }

    #[test]
    fn gitlab_top_level_keys_are_jobs() {
        let y = "variables:\n  A: v1\ntest:\n  script:\n    - echo v2\n";
        assert_eq!(ctx_of("gitlab-ci", y, "v1"), (None, None));
        assert_eq!(ctx_of("gitlab-ci", y, "v2"), (Some("test".into()), None));
    }
}
