//! Clock and date helpers the providers share (request signing, assertions, date headers).

/// `YYYYMMDDTHHMMSSZ` for a Unix time.
pub fn iso8601_basic(unix: u64) -> String {
    let (y, m, d, hh, mm, ss) = keysweep_model::time::civil_from_unix(unix as i64);
    format!("{y:04}{m:02}{d:02}T{hh:02}{mm:02}{ss:02}Z")
}

/// Seconds since the Unix epoch (0 when the clock is before it).
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
