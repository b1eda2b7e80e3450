//! Safe file access, shared by everything that writes a file or opens one a scanned tree supplies. Owns these
//! helpers and nothing else:
//! - `write_atomic`: write a whole file through a fresh, unpredictably named `O_EXCL` temporary file in the
//!   target's folder (`tempfile`), fsync it, give it its mode, then rename it over the target. A symlink at the
//!   target is replaced, never followed, so a link planted in a scanned tree cannot redirect the write.
//! - `open_regular`: open a file for reading only if it is a regular file: the type is checked before opening
//!   (no FIFO, device or socket is ever opened), the open itself cannot block (`O_NONBLOCK`, `O_NOCTTY`),
//!   optionally refuses a symlink at the last component (`O_NOFOLLOW`), then the opened handle is checked
//!   again (`fstat`: still a regular file, the same inode, not on procfs/sysfs-like pseudo file systems).
//!   `open_listed_regular` is the same for a path a directory listing just typed as a regular file (tree
//!   walkers), without the `stat` before opening. Other sources that open files a tree or an image layout names
//!   (OCI blobs, say) should use these.
//!
//! Knows nothing of what is written or read; callers decide what a refusal means (usually a warning).
use anyhow::{Context, Result};
use std::fs::{File, Metadata};
use std::io::{BufWriter, Write};
use std::path::Path;

/// Write `path` atomically with permissions `mode` (Unix): `write` fills a buffered writer on a new temporary
/// file in `path`'s folder, which then replaces `path` (whatever it was: missing, a file, a symlink). Errors
/// name the path; on error the temporary file is removed and `path` is left as it was.
pub fn write_atomic(
    path: &Path,
    mode: u32,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".keysweep-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("writing {}: creating a temporary file", path.display()))?;
    {
        let mut w = BufWriter::new(tmp.as_file_mut());
        write(&mut w).with_context(|| format!("writing {}", path.display()))?;
        w.flush()
            .with_context(|| format!("writing {}", path.display()))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("writing {}: setting its mode", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("writing {}", path.display()))?;
    // rename(2) replaces the directory entry: a symlink named `path` is replaced, not followed.
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("writing {}", path.display()))?;
    // Make the rename durable too; a folder that cannot be opened or synced is not an error.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Why `open_regular` did not return a file.
#[derive(Debug)]
pub enum OpenError {
    /// The path is not a regular file (the description says what it is: "a FIFO", "a directory", …).
    NotRegular(&'static str),
    /// The file was replaced between the type check and the open.
    Changed,
    /// The operating system refused (missing file, permission, a symlink with `follow = false`, …).
    Io(std::io::Error),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::NotRegular(what) => write!(f, "not a regular file ({what})"),
            OpenError::Changed => write!(f, "changed while being opened"),
            OpenError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for OpenError {}

impl From<std::io::Error> for OpenError {
    fn from(e: std::io::Error) -> Self {
        OpenError::Io(e)
    }
}

/// An I/O error as the end of a sentence: `permission denied`, `no such file or directory`, … — the
/// operating system's text without its `(os error N)` suffix, never Rust's `Debug` names (`NotFound`).
pub fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    let known = match e.kind() {
        K::NotFound => Some("no such file or directory"),
        K::PermissionDenied => Some("permission denied"),
        K::IsADirectory => Some("is a directory"),
        K::NotADirectory => Some("a component of the path is not a directory"),
        K::UnexpectedEof => Some("it ended unexpectedly"),
        K::InvalidData => Some("invalid data"),
        _ => None,
    };
    if let Some(k) = known {
        return k.to_string();
    }
    let text = e.to_string();
    let text = match text.find(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => format!("{:?}", e.kind()).to_lowercase(),
    }
}

/// What a non-regular file is, for messages.
fn kind_of(m: &Metadata) -> &'static str {
    let t = m.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "a special file"
    }
}

/// Open `path` for reading if it is a regular file (see the module comment). With `follow = false` a symlink at
/// the last component is refused (folders on the way are the caller's to vouch for). Returns the open file and
/// its metadata from the handle.
pub fn open_regular(path: &Path, follow: bool) -> Result<(File, Metadata), OpenError> {
    let before = if follow {
        std::fs::metadata(path)?
    } else {
        std::fs::symlink_metadata(path)?
    };
    if !before.file_type().is_file() {
        return Err(OpenError::NotRegular(kind_of(&before)));
    }
    open_checked(path, follow, Some(&before))
}

/// `open_regular` for a path a directory listing just reported as a regular file (a tree walker's entry): the
/// type check before opening is the listing's, saving a `stat` per file. Between the listing and the open only
/// someone able to create device nodes could swap in a device; a FIFO still cannot block (`O_NONBLOCK`), and the
/// handle is checked as always.
pub fn open_listed_regular(path: &Path, follow: bool) -> Result<(File, Metadata), OpenError> {
    open_checked(path, follow, None)
}

fn open_checked(
    path: &Path,
    follow: bool,
    before: Option<&Metadata>,
) -> Result<(File, Metadata), OpenError> {
    let mut oo = std::fs::OpenOptions::new();
    oo.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
        oo.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | nofollow);
    }
    let file = oo.open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(OpenError::NotRegular(kind_of(&meta)));
    }
    #[cfg(not(unix))]
    let _ = before;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if before.is_some_and(|b| (meta.dev(), meta.ino()) != (b.dev(), b.ino())) {
            return Err(OpenError::Changed);
        }
    }
    if let Some(fs) = pseudo_fs(&file) {
        return Err(OpenError::NotRegular(fs));
    }
    Ok((file, meta))
}

/// The kernel's pseudo file systems (procfs, sysfs, …) whose "regular" files are interfaces, not data: some
/// block on read (`/proc/kmsg`), some never end. Returns the file system's name when `file` lives on one.
#[cfg(target_os = "linux")]
fn pseudo_fs(file: &File) -> Option<&'static str> {
    use std::os::fd::AsRawFd;
    const PSEUDO: &[(i64, &str)] = &[
        (0x9fa0, "on procfs"),
        (0x6265_6572, "on sysfs"),
        (0x6462_6720, "on debugfs"),
        (0x7472_6163, "on tracefs"),
        (0x7363_6673, "on securityfs"),
        (0x0027_e0eb, "on cgroupfs"),
        (0x6367_7270, "on cgroup2fs"),
    ];
    let mut st = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: `st` is a valid, writable statfs buffer and the descriptor is open for the call's duration.
    let rc = unsafe { libc::fstatfs(file.as_raw_fd(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: fstatfs returned 0, so it filled the buffer (and it was zeroed before).
    let st = unsafe { st.assume_init() };
    #[allow(clippy::unnecessary_cast)] // f_type's integer type differs between targets
    let t = st.f_type as i64;
    PSEUDO.iter().find(|(m, _)| *m == t).map(|(_, n)| *n)
}

#[cfg(not(target_os = "linux"))]
fn pseudo_fs(_file: &File) -> Option<&'static str> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_reasons_read_as_sentences() {
        use std::io::{Error, ErrorKind};
        assert_eq!(
            io_reason(&Error::from(ErrorKind::NotFound)),
            "no such file or directory"
        );
        assert_eq!(
            io_reason(&Error::from_raw_os_error(13)),
            "permission denied"
        );
        let other = io_reason(&Error::other("Stale handle (os error 116)"));
        assert_eq!(other, "stale handle");
    }

    #[cfg(unix)]
    #[test]
    fn atomic_write_replaces_a_symlink_and_never_follows_it() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().expect("tempdir");
        let outside = t.path().join("outside.txt");
        std::fs::write(&outside, "precious\n").expect("w");
        let dir = t.path().join("repo");
        std::fs::create_dir(&dir).expect("mkdir");
        let target = dir.join("out.json");
        std::os::unix::fs::symlink(&outside, &target).expect("symlink");
        write_atomic(&target, 0o640, |w| Ok(w.write_all(b"new\n")?)).expect("write");
        assert_eq!(std::fs::read_to_string(&outside).expect("r"), "precious\n");
        let m = std::fs::symlink_metadata(&target).expect("m");
        assert!(m.file_type().is_file());
        assert_eq!(m.permissions().mode() & 0o777, 0o640);
        assert_eq!(std::fs::read_to_string(&target).expect("r"), "new\n");
        // A failed write leaves the target and no temporary file behind.
        let e = write_atomic(&target, 0o600, |_| anyhow::bail!("boom")).expect_err("fails");
        assert!(format!("{e:#}").contains("out.json"), "{e:#}");
        assert_eq!(std::fs::read_to_string(&target).expect("r"), "new\n");
        let names: Vec<_> = std::fs::read_dir(&dir).expect("ls").collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[cfg(unix)]
    #[test]
    fn open_regular_refuses_fifos_symlinks_and_procfs() {
        let t = tempfile::tempdir().expect("tempdir");
        let f = t.path().join("f.txt");
        std::fs::write(&f, "data").expect("w");
        let (_, m) = open_regular(&f, false).expect("regular");
        assert_eq!(m.len(), 4);
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&f, &link).expect("symlink");
        assert!(matches!(
            open_regular(&link, false),
            Err(OpenError::NotRegular(_))
        ));
        assert!(open_regular(&link, true).is_ok());
        let fifo = t.path().join("fifo");
        let st = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(st.success());
        let e = open_regular(&fifo, true).expect_err("fifo");
        assert_eq!(e.to_string(), "not a regular file (a FIFO)");
        assert!(matches!(
            open_regular(t.path(), true),
            Err(OpenError::NotRegular("a directory"))
        ));
        #[cfg(target_os = "linux")]
        assert!(matches!(
            open_regular(Path::new("/proc/self/status"), true),
            Err(OpenError::NotRegular("on procfs"))
        ));
    }
}
