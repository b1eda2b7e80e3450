//! Numbers for people, one wording everywhere (human summary, HTML report, the cli's progress line): sizes in
//! decimal units (`512 B`, `12.4 kB`, `1.53 GB`), counts with thousands separators (`45,210`), durations
//! (`850 ms`, `9.8 s`, `2 min 05 s`) and rates (`12.4 MB/s`).
use std::time::Duration;

/// A size: `512 B`, `12.4 kB`, `1.53 GB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else if v >= 100.0 {
        format!("{v:.0} {}", UNITS[u])
    } else if v >= 10.0 {
        format!("{v:.1} {}", UNITS[u])
    } else {
        format!("{v:.2} {}", UNITS[u])
    }
}

/// A count with thousands separators: `45,210`.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration: `850 ms`, `9.8 s`, `2 min 05 s`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{} ms", d.as_millis())
    } else if s < 60.0 {
        format!("{s:.1} s")
    } else {
        let whole = d.as_secs();
        format!("{} min {:02} s", whole / 60, whole % 60)
    }
}

/// A byte rate over `d`: `12.4 MB/s`.
pub fn rate(bytes_done: u64, d: Duration) -> String {
    let secs = d.as_secs_f64().max(0.001);
    format!("{}/s", bytes((bytes_done as f64 / secs) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_read_as_people_write_them() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1_528_528_661), "1.53 GB");
        assert_eq!(bytes(12_400), "12.4 kB");
        assert_eq!(bytes(250_000_000), "250 MB");
        assert_eq!(count(45_210), "45,210");
        assert_eq!(count(7), "7");
        assert_eq!(count(1_000_000), "1,000,000");
        assert_eq!(duration(Duration::from_millis(850)), "850 ms");
        assert_eq!(duration(Duration::from_millis(9_800)), "9.8 s");
        assert_eq!(duration(Duration::from_secs(125)), "2 min 05 s");
        assert_eq!(rate(25_000_000, Duration::from_secs(2)), "12.5 MB/s");
    }
}
