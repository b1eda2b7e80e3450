//! What a remote repository advertises now, without fetching anything: its refs, digested as
//! `git::refs_digest` digests a mirror's, so a sweep can tell that a repository is unchanged since its last
//! complete scan from one cheap request and skip its fetch and its scan. `git://` servers are asked in
//! process (one TCP connection, protocol version 0: the server's first answer is the list); every other
//! transport through `git ls-remote` (`clone::ls_remote`, with the sweep's credentials). Owns the pkt-line
//! reading of that answer, bounded (`clone::MAX_ADVERTISEMENT` bytes, `--clone-timeout`) and checked
//! (hostile servers). Knows nothing of the datastore or scanning.
use super::clone::{self, CloneError, CloneOptions, MAX_ADVERTISEMENT};
use super::RepoSpec;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The default port of the git protocol.
const GIT_PORT: u16 = 9418;

/// What a remote advertises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertised {
    /// The digest of its refs (the peeled `^{}` entries and `HEAD` left out, as a mirror's refs hold
    /// them): equal to `git::refs_digest` of a mirror fetched from it now.
    pub digest: String,
    /// Every object id it advertises, peeled tags' targets included (lowercase hex, sorted, unique): what
    /// repositories of one fork network have in common.
    pub ids: Vec<String>,
}

/// What `spec`'s remote advertises now, or the error that stopped the request.
pub fn advertised(spec: &RepoSpec, opts: &CloneOptions) -> Result<Advertised, CloneError> {
    let text = match spec.clone_url.strip_prefix("git://") {
        Some(rest) => git_protocol(&spec.id, rest, opts.timeout)?,
        None => clone::ls_remote(spec, opts)?,
    };
    let (refs, mut ids) =
        parse_listing(&text).map_err(|e| CloneError(format!("{}: {e}", spec.id)))?;
    ids.sort();
    ids.dedup();
    Ok(Advertised {
        digest: crate::git::digest_refs(refs),
        ids,
    })
}

/// `ls-remote`-shaped lines (`<oid>\t<name>`) to (name, oid) pairs, without `HEAD` and peeled entries,
/// and every object id named (the zero id of an empty repository's capabilities line left out).
type Listing = (Vec<(String, String)>, Vec<String>);

fn parse_listing(text: &[u8]) -> Result<Listing, String> {
    let mut refs = Vec::new();
    let mut ids = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        let line =
            std::str::from_utf8(line).map_err(|_| "a ref name that is not UTF-8".to_string())?;
        let (oid, name) = line
            .split_once(['\t', ' '])
            .ok_or_else(|| format!("unexpected line in the ref advertisement: {:.80}", line))?;
        if !(oid.len() == 40 || oid.len() == 64) || !oid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "not an object id in the ref advertisement: {oid:.80}"
            ));
        }
        if name == "capabilities^{}" {
            continue;
        }
        ids.push(oid.to_ascii_lowercase());
        if name == "HEAD" || name.ends_with("^{}") {
            continue;
        }
        refs.push((name.to_string(), oid.to_ascii_lowercase()));
    }
    Ok((refs, ids))
}

/// Ask a `git://` server (`rest`: `host[:port]/path`) for its refs: the request, then the pkt-lines of its
/// advertisement up to the flush, then a flush of our own (we want nothing) and the connection closed.
/// Returns the advertisement as `<oid> <name>` lines.
fn git_protocol(id: &str, rest: &str, timeout: Duration) -> Result<Vec<u8>, CloneError> {
    let err = |why: String| CloneError(format!("{id}: asking for its refs: {why}"));
    let (authority, path) = rest
        .split_once('/')
        .ok_or_else(|| err("no path in the git:// URL".into()))?;
    let (host, port) =
        split_host_port(authority).ok_or_else(|| err("a bad host or port".into()))?;
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| err(format!("{host}: {e}")))?
        .collect();
    let limit = timeout
        .min(Duration::from_secs(300))
        .max(Duration::from_secs(1));
    let mut stream = None;
    let mut last = String::from("no address");
    for a in &addrs {
        match TcpStream::connect_timeout(a, limit) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e.to_string(),
        }
    }
    let mut stream = stream.ok_or_else(|| err(last))?;
    let _ = stream.set_read_timeout(Some(limit));
    let _ = stream.set_write_timeout(Some(limit));
    let _ = stream.set_nodelay(true);
    let request = format!("git-upload-pack /{path}\0host={authority}\0");
    stream
        .write_all(&pkt_line(request.as_bytes()).ok_or_else(|| err("the path is too long".into()))?)
        .map_err(|e| err(e.to_string()))?;
    let mut reader = std::io::BufReader::new(&stream);
    let mut out = Vec::new();
    let mut first = true;
    let started = std::time::Instant::now();
    loop {
        // Each read is bounded by the socket's timeout, the whole answer by this one.
        if started.elapsed() > limit {
            return Err(err(format!("no complete answer in {} s", limit.as_secs())));
        }
        let mut len = [0u8; 4];
        reader
            .read_exact(&mut len)
            .map_err(|e| err(format!("{e} (the answer ended early)")))?;
        let len = std::str::from_utf8(&len)
            .ok()
            .and_then(|t| usize::from_str_radix(t, 16).ok())
            .ok_or_else(|| err("not a git server (a bad pkt-line length)".into()))?;
        if len == 0 {
            break;
        }
        if len < 4 {
            return Err(err(format!("an unexpected pkt-line {len:04x}")));
        }
        let mut data = vec![0u8; len - 4];
        reader
            .read_exact(&mut data)
            .map_err(|e| err(e.to_string()))?;
        if let Some(msg) = data.strip_prefix(b"ERR ") {
            let msg = String::from_utf8_lossy(msg);
            return Err(err(format!("the server said: {}", msg.trim())));
        }
        if first && data.starts_with(b"version ") {
            // A server answering in protocol version 1 says so first.
            first = false;
            continue;
        }
        first = false;
        // The first ref carries the capabilities after a NUL.
        let data = data.split(|&b| b == 0).next().unwrap_or_default();
        let data = data.strip_suffix(b"\n").unwrap_or(data);
        out.extend_from_slice(data);
        out.push(b'\n');
        if out.len() as u64 > MAX_ADVERTISEMENT {
            return Err(err(format!("over {MAX_ADVERTISEMENT} bytes of refs")));
        }
    }
    // Nothing wanted: a flush ends the conversation.
    let _ = stream.write_all(b"0000");
    Ok(out)
}

/// `host[:port]` or `[v6]:port`, with git's default port.
fn split_host_port(authority: &str) -> Option<(&str, u16)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => GIT_PORT,
            None => return None,
        };
        return Some((host, port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => Some((host, port.parse().ok()?)),
        Some(_) => None,
        None if authority.is_empty() => None,
        None => Some((authority, GIT_PORT)),
    }
}

/// One pkt-line: four hex digits of length (its own four included), then the data.
fn pkt_line(data: &[u8]) -> Option<Vec<u8>> {
    let len = data.len() + 4;
    if len > 65516 {
        return None;
    }
    let mut v = format!("{len:04x}").into_bytes();
    v.extend_from_slice(data);
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_drop_head_and_peeled_entries_and_refuse_garbage() {
        let a = "a".repeat(40);
        let b = "B".repeat(40);
        let text =
            format!("{a}\tHEAD\n{a}\trefs/heads/main\n{b}\trefs/tags/v1\n{a}\trefs/tags/v1^{{}}\n");
        let (refs, ids) = parse_listing(text.as_bytes()).unwrap();
        assert_eq!(
            refs,
            vec![
                ("refs/heads/main".to_string(), a.clone()),
                ("refs/tags/v1".to_string(), "b".repeat(40)),
            ]
        );
        assert_eq!(ids.len(), 4);
        assert!(parse_listing(b"zzzz\trefs/heads/x\n").is_err());
        assert!(parse_listing(b"no tab here\n").is_err());
        assert!(parse_listing(&[0xff, 0xfe, b'\n']).is_err());
    }

    #[test]
    fn hosts_and_ports() {
        assert_eq!(split_host_port("h"), Some(("h", 9418)));
        assert_eq!(split_host_port("h:1"), Some(("h", 1)));
        assert_eq!(split_host_port("[::1]:2"), Some(("::1", 2)));
        assert_eq!(split_host_port("[::1]"), Some(("::1", 9418)));
        assert_eq!(split_host_port("h:x"), None);
        assert_eq!(split_host_port(""), None);
        assert_eq!(split_host_port(":1"), None);
        assert_eq!(pkt_line(b"ab"), Some(b"0006ab".to_vec()));
    }

    #[test]
    fn a_server_that_speaks_nonsense_is_an_error_not_a_hang() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 400 Bad\r\n\r\n");
        });
        let e = git_protocol(
            "x",
            &format!("127.0.0.1:{port}/r.git"),
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert!(e.0.contains("not a git server"), "{e}");
        t.join().unwrap();
    }
}
