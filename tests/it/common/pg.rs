//! A real PostgreSQL server for the tests, started by the test itself: `initdb` into a temporary folder
//! (trust authentication, superuser `keysweep`), `pg_ctl start` on a free loopback port with its unix socket
//! in the same folder, stopped (`pg_ctl stop -m immediate`) when the handle drops. The server binaries come
//! from Debian's `postgresql` package (`scripts/setup.sh` installs it): `/usr/lib/postgresql/<version>/bin`,
//! else `PATH`. PostgreSQL refuses to run as root, so under root the server runs as the `postgres` user the
//! package creates, in a folder handed to that user.
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    as_postgres: bool,
}

/// The folder holding `initdb` and `pg_ctl`.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|p| p.join("initdb").is_file());
    versions.sort();
    if let Some(p) = versions.pop() {
        return p;
    }
    let out = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        .expect("sh");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        !path.is_empty(),
        "PostgreSQL's initdb was not found: run scripts/setup.sh (it installs the `postgresql` package)"
    );
    Path::new(&path).parent().unwrap().to_path_buf()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PgServer {
    pub fn start() -> PgServer {
        PgServer::start_with(None)
    }

    /// A server that accepts TCP clients over TLS only, with this certificate and key (PEM).
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> PgServer {
        PgServer::start_with(Some((cert_pem, key_pem)))
    }

    fn start_with(tls: Option<(&str, &str)>) -> PgServer {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("keysweep-pg-")
            .tempdir()
            .unwrap();
        let as_postgres = is_root();
        if as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:", &dir.path().display().to_string()])
                .status()
                .expect("chown")
                .success();
            assert!(
                ok,
                "chown of the PostgreSQL test folder to `postgres` failed"
            );
        }
        let server = PgServer {
            dir,
            bin,
            port: 0,
            as_postgres,
        };
        let data = server.data_dir();
        let out = server.run_pg(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-A",
                "trust",
                "-U",
                "keysweep",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
        );
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut server = server;
        let mut tls_opts = String::new();
        if let Some((cert, key)) = tls {
            let (c, k) = (data.join("server.crt"), data.join("server.key"));
            std::fs::write(&c, cert).unwrap();
            std::fs::write(&k, key).unwrap();
            // The server refuses a key others can read, and reads it as its own user.
            let chmod = Command::new("chmod")
                .args(["600", &k.display().to_string()])
                .status()
                .unwrap();
            assert!(chmod.success());
            if server.as_postgres {
                for f in [&c, &k] {
                    let ok = Command::new("chown")
                        .args(["postgres:", &f.display().to_string()])
                        .status()
                        .unwrap();
                    assert!(ok.success());
                }
            }
            // TCP clients must use TLS: a connection that is accepted was encrypted.
            let hba = data.join("pg_hba.conf");
            let text = std::fs::read_to_string(&hba).unwrap();
            let text: String = text
                .lines()
                .map(|l| match l.strip_prefix("host ") {
                    Some(rest) => format!("hostssl {rest}\n"),
                    None => format!("{l}\n"),
                })
                .collect();
            std::fs::write(&hba, text).unwrap();
            tls_opts = format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                c.display(),
                k.display()
            );
        }
        // A free port: bound, released, then handed to the server (a race with another process is possible
        // but rare; a failed start says so).
        server.port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=200{tls_opts}",
            server.port,
            server.dir.path().display()
        );
        let log = server.dir.path().join("server.log");
        let out = server.run_pg(
            "pg_ctl",
            &[
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                &data.display().to_string(),
                "-l",
                &log.display().to_string(),
                "-o",
                &opts,
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        server
    }

    /// The cluster's data folder (its files are what the server wrote to disk).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run_pg(&self, program: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"))
    }

    /// A URL for database `db` on this server.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://keysweep@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// A new, empty database; returns its URL.
    pub fn fresh_database(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// Run `sql` in database `db` with `psql`; its unaligned, tuples-only output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "keysweep",
                "-d",
                db,
                "-c",
                sql,
            ])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.data_dir().display().to_string();
        let _ = self.run_pg("pg_ctl", &["stop", "-m", "immediate", "-w", "-D", &data]);
    }
}
