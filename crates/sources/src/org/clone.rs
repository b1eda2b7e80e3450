//! The clone cache of organisation sweeps: one bare mirror per repository under a cache folder, cloned once
//! and fetched on every later run, never cloned again. Owns the cache layout (a readable name plus a hash of
//! the identity, so two identities never share a folder and no listing-supplied name can climb out), the
//! `git` invocations (clone --mirror, with `--reference` to a lender's mirror; fetch --prune; ls-remote),
//! mirrors borrowing objects (a lender is never pruned; a borrower whose lender is gone is cloned again),
//! credentials (a token travels as an `http.extraHeader`
//! for the clone host only, through `GIT_CONFIG_*` environment variables: never on a command line, in the
//! mirror's config or in a message), time and size limits, and turning git's failures into short messages
//! with any token scrubbed. Uses the `git` binary, not gix: it speaks every transport and credential helper
//! a user's git is set up for (ssh agents, proxies, askpass, `insteadOf` rewrites) and its clone/fetch is
//! the reference implementation. Knows nothing of scanning.
use super::{RepoSpec, Token};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How to clone and fetch.
#[derive(Debug, Clone)]
pub struct CloneOptions {
    /// The folder holding the mirrors.
    pub root: PathBuf,
    /// Kill a clone or fetch that runs longer than this.
    pub timeout: Duration,
    /// Refuse a repository whose listed size, or whose mirror on disk, is larger than this (bytes).
    pub max_repo_size: Option<u64>,
    /// Sent as HTTP credentials to `token_host` only.
    pub token: Option<Token>,
    /// `scheme://host[:port]/` the token is for (the clone host of the listing it came from).
    pub token_host: Option<String>,
    /// User name paired with the token in HTTP Basic auth (`x-access-token` for GitHub, `oauth2` for
    /// GitLab, any for Hugging Face).
    pub token_user: String,
}

impl CloneOptions {
    pub fn new(root: impl Into<PathBuf>) -> CloneOptions {
        CloneOptions {
            root: root.into(),
            timeout: Duration::from_secs(3600),
            max_repo_size: None,
            token: None,
            token_host: None,
            token_user: "x-access-token".into(),
        }
    }
}

/// What `sync` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synced {
    Cloned,
    Fetched,
    /// A local repository, read in place.
    Local,
}

/// A failed clone or fetch: a short message naming the repository, never carrying a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneError(pub String);

impl std::fmt::Display for CloneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CloneError {}

/// The mirror folder of a repository identity: `<root>/<readable>-<hash>.git`.
pub fn mirror_path(root: &Path, id: &str) -> PathBuf {
    let readable: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    let hash = Sha256::digest(id.as_bytes());
    let hex: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
    root.join(format!("{readable}-{hex}.git"))
}

/// Make the repository available locally: clone it into the cache, or fetch what is new if it is there.
/// Local repositories are used in place. Returns the repository's local path.
pub fn sync(spec: &RepoSpec, opts: &CloneOptions) -> Result<(PathBuf, Synced), CloneError> {
    sync_with(spec, opts, None)
}

/// `sync`, a new clone borrowing the objects of `reference` (the mirror of a repository of the same fork
/// network, `git clone --reference`): only what the reference lacks is transferred, and the new mirror's
/// `objects/info/alternates` names the reference, which lends its objects from then on. The lender is told
/// never to prune unreachable objects (`gc.pruneExpire=never`: a borrower may still need them). A mirror whose
/// lender is gone is removed and cloned again in full, never left broken.
pub fn sync_with(
    spec: &RepoSpec,
    opts: &CloneOptions,
    reference: Option<&Path>,
) -> Result<(PathBuf, Synced), CloneError> {
    let local = Path::new(&spec.clone_url);
    if !spec.clone_url.contains("://") && local.is_absolute() && local.exists() {
        return Ok((local.to_path_buf(), Synced::Local));
    }
    if let (Some(limit), Some(size)) = (opts.max_repo_size, spec.size) {
        if size > limit {
            return Err(CloneError(format!(
                "{}: {} bytes listed, over the --max-repo-size limit of {limit}",
                spec.id, size
            )));
        }
    }
    std::fs::create_dir_all(&opts.root).map_err(|e| {
        CloneError(format!(
            "{}: creating the clone cache {}: {e}",
            spec.id,
            opts.root.display()
        ))
    })?;
    // git runs in the cache folder: a relative cache (the default datastore is `./keysweep-datastore`)
    // must not be taken relative to itself.
    let root = std::path::absolute(&opts.root).unwrap_or_else(|_| opts.root.clone());
    let path = mirror_path(&root, &spec.id);
    if path.join("keysweep-mirror").is_file() && !alternates_present(&path) {
        std::fs::remove_dir_all(&path).map_err(|e| {
            CloneError(format!(
                "{}: removing a mirror whose lender is gone {}: {e}",
                spec.id,
                path.display()
            ))
        })?;
    }
    let done = if path.join("keysweep-mirror").is_file() {
        run_git(
            opts,
            spec,
            &path,
            &[
                "fetch",
                "--prune",
                "--prune-tags",
                "--force",
                "--quiet",
                "origin",
            ],
            None,
        )?;
        Synced::Fetched
    } else {
        // A half-made mirror (killed mid-clone) is removed and cloned again.
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| {
                CloneError(format!(
                    "{}: removing an unfinished clone {}: {e}",
                    spec.id,
                    path.display()
                ))
            })?;
        }
        // The clone is made under a name of this process's own: a `git clone` child of a run killed with
        // SIGKILL may still be writing into its folder, and must not share one with this clone. Folders of
        // processes that are gone are removed.
        remove_stale_partials(&path);
        let tmp = path.with_extension(format!("partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let tmp_s = tmp.to_string_lossy().into_owned();
        let lender = reference
            .filter(|r| r.join("keysweep-mirror").is_file())
            .and_then(|r| std::path::absolute(r).ok());
        let lender_s = lender
            .filter(|l| keeps_objects(opts, spec, &root, l))
            .map(|l| l.to_string_lossy().into_owned());
        // Any mirror may lend later: none prunes unreachable objects a borrower may need.
        let mut args = vec!["clone", "--mirror", "--quiet", "-c", "gc.pruneExpire=never"];
        if let Some(l) = &lender_s {
            args.extend(["--reference", l]);
        }
        args.extend(["--", &spec.clone_url, &tmp_s]);
        run_git(opts, spec, &root, &args, Some(&tmp))?;
        let _ = std::fs::write(tmp.join("keysweep-mirror"), spec.id.as_bytes());
        std::fs::rename(&tmp, &path)
            .map_err(|e| CloneError(format!("{}: finishing the clone: {e}", spec.id)))?;
        Synced::Cloned
    };
    if let Some(limit) = opts.max_repo_size {
        let size = dir_size(&path);
        if size > limit {
            return Err(CloneError(format!(
                "{}: {size} bytes on disk, over the --max-repo-size limit of {limit}",
                spec.id
            )));
        }
    }
    Ok((path, done))
}

/// Remove the unfinished clones of `mirror` (`<mirror>.partial-<pid>`, and `<mirror>.partial` of older
/// versions) whose process no longer runs. Where processes cannot be looked up (no `/proc`), only the
/// old-style folder is removed. Errors are ignored: an orphaned `git clone` may still be writing.
fn remove_stale_partials(mirror: &Path) {
    let (Some(dir), Some(name)) = (mirror.parent(), mirror.file_name()) else {
        return;
    };
    let prefix = format!(
        "{}.partial",
        Path::new(name).with_extension("").to_string_lossy()
    );
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let procs = Path::new("/proc/self").exists();
    for e in entries.flatten() {
        let file = e.file_name();
        let file = file.to_string_lossy();
        let Some(rest) = file.strip_prefix(&prefix) else {
            continue;
        };
        let stale = match rest.strip_prefix('-').map(str::parse::<u32>) {
            None if rest.is_empty() => true,
            Some(Ok(pid)) => {
                procs && pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
            }
            _ => false,
        };
        if stale {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Most bytes of a ref advertisement read (`git ls-remote`'s output, or a `git://` server's answer).
pub const MAX_ADVERTISEMENT: u64 = 64 << 20;

/// A local repository, read in place (no mirror, no remote).
pub fn is_local(spec: &RepoSpec) -> bool {
    let local = Path::new(&spec.clone_url);
    !spec.clone_url.contains("://") && local.is_absolute() && local.exists()
}

/// The mirror of `spec` in the cache, when a finished one is there (a local repository has none).
pub fn cached_mirror(spec: &RepoSpec, opts: &CloneOptions) -> Option<PathBuf> {
    if is_local(spec) {
        return None;
    }
    let root = std::path::absolute(&opts.root).unwrap_or_else(|_| opts.root.clone());
    let path = mirror_path(&root, &spec.id);
    (path.join("keysweep-mirror").is_file() && alternates_present(&path)).then_some(path)
}

/// `git ls-remote` of the repository, over protocol version 0 (one request, the refs in the server's
/// first answer): its output, with the sweep's credentials and limits.
pub(crate) fn ls_remote(spec: &RepoSpec, opts: &CloneOptions) -> Result<Vec<u8>, CloneError> {
    let cwd = if opts.root.is_dir() {
        opts.root.clone()
    } else {
        std::env::temp_dir()
    };
    run_git_output(
        opts,
        spec,
        &cwd,
        &[
            "-c",
            "protocol.version=0",
            "ls-remote",
            "--quiet",
            "--",
            &spec.clone_url,
        ],
        None,
        true,
    )
}

/// Whether the lender mirror `lender` never prunes unreachable objects, setting it so when a mirror cloned
/// before this setting lacks it (one process at a time: git locks the config file). False (clone without
/// borrowing) when it cannot be set.
fn keeps_objects(opts: &CloneOptions, spec: &RepoSpec, root: &Path, lender: &Path) -> bool {
    static CONFIG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let set = || {
        std::fs::read_to_string(lender.join("config"))
            .is_ok_and(|c| c.to_ascii_lowercase().contains("pruneexpire = never"))
    };
    if set() {
        return true;
    }
    let _one = CONFIG.lock().unwrap_or_else(|p| p.into_inner());
    if set() {
        return true;
    }
    let l = lender.to_string_lossy();
    run_git(
        opts,
        spec,
        root,
        &["-C", &l, "config", "gc.pruneExpire", "never"],
        None,
    )
    .is_ok()
}

/// Whether every repository a mirror borrows objects from (`objects/info/alternates`) is still there.
pub fn alternates_present(mirror: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(mirror.join("objects/info/alternates")) else {
        return true; // borrows nothing
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .all(|l| {
            let p = Path::new(l);
            let p = if p.is_absolute() {
                p.to_path_buf()
            } else {
                mirror.join("objects").join(p)
            };
            p.join("pack").is_dir()
        })
}

/// Whether a mirror borrows objects from another (`--reference`).
pub fn borrows(mirror: &Path) -> bool {
    mirror.join("objects/info/alternates").is_file()
}

fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map_or(0, |m| m.len()),
                _ => {}
            }
        }
    }
    total
}

/// Run git in `cwd` with the sweep's environment; on failure, the last lines of its stderr (tokens
/// scrubbed). `cleanup` is removed when the command fails or times out.
fn run_git(
    opts: &CloneOptions,
    spec: &RepoSpec,
    cwd: &Path,
    args: &[&str],
    cleanup: Option<&Path>,
) -> Result<(), CloneError> {
    run_git_output(opts, spec, cwd, args, cleanup, false).map(drop)
}

/// `run_git`, returning git's standard output (at most `MAX_ADVERTISEMENT` bytes) when `stdout` is set.
fn run_git_output(
    opts: &CloneOptions,
    spec: &RepoSpec,
    cwd: &Path,
    args: &[&str],
    cleanup: Option<&Path>,
    stdout: bool,
) -> Result<Vec<u8>, CloneError> {
    let mut cmd = Command::new("git");
    cmd.current_dir(cwd)
        .args(["-c", "protocol.ext.allow=never", "-c", "core.askPass="])
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "")
        .env("SSH_ASKPASS", "")
        .env("GIT_SSH_COMMAND", ssh_command())
        .stdin(Stdio::null())
        .stdout(if stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped());
    // The token rides in environment-borne config, scoped to its host: not in argv (visible to every
    // process), not in the mirror's config (copied with the cache).
    let mut n = 0;
    if let (Some(t), Some(host)) = (&opts.token, &opts.token_host) {
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            opts.token_user,
            t.expose()
        ));
        cmd.env(
            format!("GIT_CONFIG_KEY_{n}"),
            format!("http.{host}.extraHeader"),
        )
        .env(
            format!("GIT_CONFIG_VALUE_{n}"),
            format!("Authorization: Basic {basic}"),
        );
        n += 1;
    }
    cmd.env("GIT_CONFIG_COUNT", n.to_string());
    let mut child = cmd
        .spawn()
        .map_err(|e| CloneError(format!("{}: running git: {e}", spec.id)))?;
    let mut out = child.stdout.take();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = out.as_mut() {
            let _ = s.take(MAX_ADVERTISEMENT).read_to_end(&mut buf);
            // Drain the rest so git never blocks on a full pipe (what is over the limit is refused below).
            let _ = std::io::copy(s, &mut std::io::sink());
        }
        buf
    });
    let mut stderr = child.stderr.take();
    // Read stderr on a thread so a chatty git never blocks on a full pipe while we wait.
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.take(1 << 20).read_to_end(&mut buf);
        }
        buf
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if started.elapsed() > opts.timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                return Err(CloneError(format!("{}: waiting for git: {e}", spec.id)));
            }
        }
    };
    let err = reader.join().unwrap_or_default();
    let output = out_reader.join().unwrap_or_default();
    // The subcommand: the first word that is neither an option nor the value of `-c`/`-C`.
    let verb = args
        .iter()
        .enumerate()
        .find(|(i, a)| {
            let option_value = *i > 0 && matches!(args[i - 1], "-c" | "-C");
            !a.starts_with('-') && !option_value
        })
        .map_or("git", |(_, a)| *a);
    let fail = |why: String| {
        if let Some(p) = cleanup {
            let _ = std::fs::remove_dir_all(p);
        }
        Err(CloneError(scrub(
            &format!("{}: git {verb} failed: {why}", spec.id),
            opts.token.as_ref(),
        )))
    };
    match status {
        None => fail(format!("timed out after {} s", opts.timeout.as_secs())),
        Some(s) if s.success() && output.len() as u64 >= MAX_ADVERTISEMENT => {
            fail(format!("over {MAX_ADVERTISEMENT} bytes of output"))
        }
        Some(s) if s.success() => Ok(output),
        Some(s) => {
            let text = String::from_utf8_lossy(&err);
            let tail: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let tail = tail[tail.len().saturating_sub(3)..].join("; ");
            fail(if tail.is_empty() {
                format!("exit status {}", s.code().unwrap_or(-1))
            } else {
                tail
            })
        }
    }
}

/// ssh never asks: batch mode, and a host key it has never seen is an error, not a prompt.
fn ssh_command() -> String {
    std::env::var("GIT_SSH_COMMAND")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| "ssh -o BatchMode=yes".to_string())
}

/// `text` with the token (raw or in its Basic form) replaced.
fn scrub(text: &str, token: Option<&Token>) -> String {
    match token {
        Some(t) if !t.expose().is_empty() => text.replace(t.expose(), "<redacted>"),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfinished_clones_of_processes_that_are_gone_are_removed_and_others_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let mirror = mirror_path(tmp.path(), "example.org/o/r");
        let other = mirror_path(tmp.path(), "example.org/o/other");
        let partial = |m: &Path, ext: &str| {
            let p = m.with_extension(ext);
            std::fs::create_dir_all(p.join("objects")).unwrap();
            p
        };
        let old_style = partial(&mirror, "partial");
        let gone = partial(&mirror, &format!("partial-{}", u32::MAX - 1));
        let running = partial(&mirror, "partial-1"); // init: always running
        let someone_elses = partial(&other, &format!("partial-{}", u32::MAX - 1));
        remove_stale_partials(&mirror);
        assert!(!old_style.exists());
        assert!(!gone.exists());
        assert!(running.exists());
        assert!(someone_elses.exists());
    }

    #[test]
    fn mirror_paths_are_distinct_and_stay_in_the_root() {
        let root = Path::new("/cache");
        let a = mirror_path(root, "github.com/o/r");
        let b = mirror_path(root, "github.com/o_r");
        assert_ne!(a, b);
        for id in ["../../etc", "a/../../b", "x\ny", ""] {
            let p = mirror_path(root, id);
            assert_eq!(p.parent(), Some(root), "{id:?} → {}", p.display());
        }
    }

    #[test]
    fn tokens_are_scrubbed_from_messages() {
        let t = Token::new("tok-123456").unwrap();
        assert_eq!(
            scrub("fatal: bad tok-123456 here", Some(&t)),
            "fatal: bad <redacted> here"
        );
    }
}
