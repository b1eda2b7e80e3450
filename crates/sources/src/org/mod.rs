//! Organisation sweeps, the enumeration corner: what `keysweep org` is asked to scan, turned into a list of
//! repositories. Owns target classification (clone URLs of every scheme, scp-style addresses, a local
//! repository, a folder holding many repositories), credential-free repository identities, and the hosted
//! listings (`listing`: GitHub organisations and users, GitLab groups with subgroups, Hugging Face models,
//! datasets and spaces). Knows nothing of cloning, scanning or the datastore; never prints. A token is only
//! ever held in a `Token`, whose `Debug` and `Display` never show it, and is sent only to the API origin
//! the user named.
use std::fmt;
use std::path::{Path, PathBuf};

pub mod clone;
pub mod listing;
pub mod remote;

/// An API token. Never printed: `Debug`/`Display` show `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A token from a non-empty string.
    pub fn new(value: impl Into<String>) -> Option<Token> {
        let v: String = value.into();
        let v = v.trim().to_string();
        (!v.is_empty()).then_some(Token(v))
    }

    /// The first set, non-empty variable of `names`, read through `env` (tests pass their own).
    pub fn from_env(names: &[&str], env: &dyn Fn(&str) -> Option<String>) -> Option<Token> {
        names.iter().find_map(|n| env(n).and_then(Token::new))
    }

    /// The value, for an `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where a repository is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    GitHub,
    GitLab,
    HuggingFace,
    /// A URL or path given directly.
    Direct,
}

/// One repository to sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSpec {
    /// Stable identity without credentials or scheme: `github.com/org/repo`, `huggingface.co/spaces/org/x`,
    /// or the canonical local path.
    pub id: String,
    /// What git clones or fetches: a URL without credentials, or a local path.
    pub clone_url: String,
    pub platform: Platform,
    /// A fork of another repository (as the listing says; `false` when unknown).
    pub fork: bool,
    pub archived: bool,
    /// Size the listing reports, in bytes (GitHub's and GitLab's figures), when known.
    pub size: Option<u64>,
    /// Hugging Face repository type (`model`, `dataset`, `space`); `None` elsewhere.
    pub kind: Option<&'static str>,
}

impl RepoSpec {
    /// A repository given directly by URL or path.
    pub fn direct(id: String, clone_url: String) -> RepoSpec {
        RepoSpec {
            id,
            clone_url,
            platform: Platform::Direct,
            fork: false,
            archived: false,
            size: None,
            kind: None,
        }
    }
}

/// What a `keysweep org` argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A remote clone URL (`https://`, `http://`, `ssh://`, `git://`, `file://`, or scp-style `user@host:path`),
    /// without credentials.
    Url(String),
    /// A local git repository (work tree or bare).
    LocalRepo(PathBuf),
    /// A local folder holding repositories (searched to a bounded depth).
    Folder(PathBuf),
}

/// Classify a target argument. A URL's embedded credentials are an error (they would end up in the clone
/// cache's configuration and in logs): tokens come from the environment. A path that does not exist is an
/// error naming it.
pub fn classify(arg: &str) -> Result<Target, String> {
    if let Some((scheme, rest)) = arg.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        if !matches!(
            scheme.as_str(),
            "https" | "http" | "ssh" | "git" | "file" | "git+ssh" | "ssh+git"
        ) {
            return Err(format!("{arg}: unsupported URL scheme {scheme:?}"));
        }
        let authority = rest.split('/').next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            if userinfo.contains(':') && scheme != "ssh" {
                return Err(format!(
                    "{}: the URL carries a password or token; pass tokens through the environment \
                     (KEYSWEEP_GITHUB_TOKEN, KEYSWEEP_GITLAB_TOKEN, HF_TOKEN) instead",
                    strip_credentials(arg)
                ));
            }
        }
        if authority.is_empty() && scheme != "file" {
            return Err(format!("{arg}: no host in the URL"));
        }
        return Ok(Target::Url(arg.to_string()));
    }
    let path = Path::new(arg);
    if path.exists() {
        return Ok(if is_repository(path) {
            Target::LocalRepo(path.to_path_buf())
        } else if path.is_dir() {
            Target::Folder(path.to_path_buf())
        } else {
            return Err(format!("{arg}: not a git repository or a folder"));
        });
    }
    // scp-style `user@host:path` or `host:path` (a colon before any slash, and not a Windows drive).
    if let Some((host, repo_path)) = arg.split_once(':') {
        if !host.is_empty() && !host.contains('/') && host.len() > 1 && !repo_path.is_empty() {
            return Ok(Target::Url(arg.to_string()));
        }
    }
    Err(format!(
        "{arg}: no such file or directory, and not a clone URL"
    ))
}

/// `url` with any `user:password@` removed (for messages about a refused URL).
pub fn strip_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_string(),
    }
}

/// The identity of a clone URL: host and path, without scheme, credentials, port-less default, trailing
/// `.git` or slash, lower-cased host: `https://GitHub.com/Org/Repo.git` → `github.com/Org/Repo`.
pub fn url_identity(url: &str) -> String {
    let (host, path) = match url.split_once("://") {
        Some((_, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            (host.to_ascii_lowercase(), path.to_string())
        }
        None => match url.split_once(':') {
            Some((userhost, path)) => {
                let host = userhost.rsplit_once('@').map_or(userhost, |(_, h)| h);
                (host.to_ascii_lowercase(), format!("/{path}"))
            }
            None => (String::new(), url.to_string()),
        },
    };
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let path = path.trim_start_matches('/');
    if host.is_empty() {
        path.to_string()
    } else {
        format!("{host}/{path}")
    }
}

/// Whether `path` is a git repository: a work tree with `.git`, or a bare repository (`HEAD`, `objects/`,
/// `refs/`).
pub fn is_repository(path: &Path) -> bool {
    path.join(".git").exists()
        || (path.join("HEAD").is_file()
            && path.join("objects").is_dir()
            && path.join("refs").is_dir())
}

/// The repositories inside `folder`, at most `max_depth` levels down, sorted. A repository's own
/// subfolders are not searched (submodules are the repository's business), symlinks are not followed.
pub fn discover_repositories(folder: &Path, max_depth: usize) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![(folder.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        if is_repository(&dir) {
            found.push(dir);
            continue;
        }
        if depth >= max_depth {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push((e.path(), depth + 1));
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_classified_and_credentials_refused() {
        assert_eq!(
            classify("https://github.com/o/r.git"),
            Ok(Target::Url("https://github.com/o/r.git".into()))
        );
        assert_eq!(
            classify("git@github.com:o/r.git"),
            Ok(Target::Url("git@github.com:o/r.git".into()))
        );
        assert!(classify("git://127.0.0.1:9418/r").is_ok());
        assert!(classify("ssh://git@host/r").is_ok());
        let e = classify("https://bot:s3cr3t-t0ken@git.corp/r").unwrap_err(); // keysweep:allow
        assert!(!e.contains("s3cr3t"), "{e}");
        assert!(e.contains("git.corp/r"), "{e}");
        assert!(classify("ftp://host/r").is_err());
        assert!(classify("/no/such/path/at/all").is_err());
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(
            classify(tmp.path().to_str().unwrap()),
            Ok(Target::Folder(tmp.path().to_path_buf()))
        );
    }

    #[test]
    fn identities_ignore_scheme_credentials_case_and_dot_git() {
        for u in [
            "https://GitHub.com/Org/Repo.git",
            "http://github.com/Org/Repo/",
            "ssh://git@github.com/Org/Repo.git",
            "git@github.com:Org/Repo.git",
            "https://x:y@github.com/Org/Repo",
        ] {
            assert_eq!(url_identity(u), "github.com/Org/Repo", "{u}");
        }
        assert_eq!(
            strip_credentials("https://a:b@h.io:8443/x"),
            "https://h.io:8443/x"
        );
    }

    #[test]
    fn tokens_never_print() {
        let t = Token::new("ghp_secretvalue").unwrap();
        assert!(!format!("{t:?} {t}").contains("secret"));
        assert!(Token::new("  ").is_none());
        let env = |k: &str| (k == "B").then(|| "tok".to_string());
        assert_eq!(
            Token::from_env(&["A", "B"], &env).map(|t| t.expose().to_string()),
            Some("tok".into())
        );
    }

    #[test]
    fn repositories_are_discovered_in_a_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        std::fs::create_dir_all(a.join(".git")).unwrap();
        let b = tmp.path().join("group/b.git");
        for d in ["objects", "refs"] {
            std::fs::create_dir_all(b.join(d)).unwrap();
        }
        std::fs::write(b.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::create_dir_all(tmp.path().join("a/nested/.git")).unwrap();
        assert_eq!(discover_repositories(tmp.path(), 3), vec![a, b]);
    }
}
