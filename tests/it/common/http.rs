//! A scripted HTTP/1.1 server on loopback for the tests of hosted APIs (GitHub, GitLab, Hugging Face
//! listings): canned answers by path and query, every request recorded with its headers. It can also serve
//! git repositories over smart HTTP through the real `git http-backend` (CGI), so a listing and the clones
//! it names come from one origin, as on a real forge.
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// One canned answer: status, extra headers, body.
#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

pub fn ok(body: String, headers: &[(&str, String)]) -> Answer {
    Answer {
        status: 200,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        body,
    }
}

/// A request the server saw: path+query and headers (lower-cased names).
#[derive(Debug, Clone)]
pub struct Seen {
    pub target: String,
    pub headers: HashMap<String, String>,
}

/// A tiny HTTP/1.1 server on loopback.
pub struct Server {
    pub base: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

/// A server for `script`, with every `BASE` in bodies and headers replaced by the server's own address.
pub fn serve(script: HashMap<String, Vec<Answer>>) -> Server {
    serve_with_git(script, None)
}

/// `serve`, plus the repositories under `git_root` over smart HTTP (paths the script does not know).
pub fn serve_with_git(script: HashMap<String, Vec<Answer>>, git_root: Option<PathBuf>) -> Server {
    let shared: Arc<Mutex<HashMap<String, Vec<Answer>>>> = Arc::new(Mutex::new(HashMap::new()));
    let server = serve_dynamic(shared.clone(), git_root);
    let fix = |s: &str| s.replace("BASE", &server.base);
    let mut fixed = HashMap::new();
    for (k, answers) in script {
        fixed.insert(
            k,
            answers
                .into_iter()
                .map(|a| Answer {
                    status: a.status,
                    headers: a.headers.iter().map(|(k, v)| (k.clone(), fix(v))).collect(),
                    body: fix(&a.body),
                })
                .collect(),
        );
    }
    *shared.lock().unwrap() = fixed;
    server
}

/// Answers by path+query from a script (each path's answers served in order, the last one repeating; 404
/// for unknown paths), records every request, serves until the test ends. The script is a shared map, so it
/// can be written after the server's address is known.
pub fn serve_dynamic(
    script: Arc<Mutex<HashMap<String, Vec<Answer>>>>,
    git_root: Option<PathBuf>,
) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut headers = HashMap::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            log.lock().unwrap().push(Seen {
                target: target.clone(),
                headers: headers.clone(),
            });
            let known = script.lock().unwrap().contains_key(&target);
            if let (false, Some(root)) = (known, &git_root) {
                let method = line.split_whitespace().next().unwrap_or("GET").to_string();
                let body = read_body(&mut reader, &headers);
                let out = git_cgi(root, &method, &target, &headers, &body);
                let _ = stream.write_all(&out);
                continue;
            }
            let answer = {
                let mut s = script.lock().unwrap();
                match s.get_mut(&target) {
                    Some(list) if list.len() > 1 => list.remove(0),
                    Some(list) => list[0].clone(),
                    None => Answer {
                        status: 404,
                        headers: vec![],
                        body: "{\"message\":\"Not Found\"}".into(),
                    },
                }
            };
            let mut resp = format!(
                "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                answer.status,
                answer.body.len()
            );
            for (k, v) in &answer.headers {
                resp.push_str(&format!("{k}: {v}\r\n"));
            }
            resp.push_str("\r\n");
            resp.push_str(&answer.body);
            let _ = stream.write_all(resp.as_bytes());
        }
    });
    Server { base, seen }
}

pub fn answer(status: u16, headers: &[(&str, String)], body: &str) -> Answer {
    Answer {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        body: body.into(),
    }
}

/// A request body: `Content-Length` bytes, or a chunked body decoded.
fn read_body(reader: &mut impl BufRead, headers: &HashMap<String, String>) -> Vec<u8> {
    let mut body = Vec::new();
    if let Some(n) = headers
        .get("content-length")
        .and_then(|v| v.parse::<u64>().ok())
    {
        let _ = reader.take(n).read_to_end(&mut body);
    } else if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            if reader.read_line(&mut size).unwrap_or(0) == 0 {
                break;
            }
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if n == 0 {
                let mut end = String::new();
                let _ = reader.read_line(&mut end);
                break;
            }
            let mut chunk = vec![0; n];
            if reader.read_exact(&mut chunk).is_err() {
                break;
            }
            body.extend_from_slice(&chunk);
            let mut crlf = String::new();
            let _ = reader.read_line(&mut crlf);
        }
    }
    body
}

/// Run `git http-backend` for one request and turn its CGI answer into an HTTP response.
fn git_cgi(
    root: &std::path::Path,
    method: &str,
    target: &str,
    headers: &HashMap<String, String>,
    body: &[u8],
) -> Vec<u8> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut cmd = std::process::Command::new("git");
    cmd.arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", body.len().to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    if let Some(t) = headers.get("content-type") {
        cmd.env("CONTENT_TYPE", t);
    }
    if let Some(e) = headers.get("content-encoding") {
        cmd.env("HTTP_CONTENT_ENCODING", e);
    }
    if let Some(p) = headers.get("git-protocol") {
        cmd.env("GIT_PROTOCOL", p);
    }
    let Ok(mut child) = cmd.spawn() else {
        return b"HTTP/1.1 500 X\r\nConnection: close\r\n\r\n".to_vec();
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(body);
    }
    let out = child
        .wait_with_output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((at, sep)) = split else {
        return b"HTTP/1.1 500 X\r\nConnection: close\r\n\r\n".to_vec();
    };
    let head = String::from_utf8_lossy(&out[..at]).into_owned();
    let mut status = "200 OK".to_string();
    let mut resp_headers = String::new();
    for l in head.lines() {
        match l.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_string(),
            Some(_) => resp_headers.push_str(&format!("{}\r\n", l.trim_end())),
            None => {}
        }
    }
    let mut resp =
        format!("HTTP/1.1 {status}\r\n{resp_headers}Connection: close\r\n\r\n").into_bytes();
    resp.extend_from_slice(&out[at + sep..]);
    resp
}
