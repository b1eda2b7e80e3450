//! Live progress on standard error: one line redrawn in place (`indicatif`) while a long run works, only
//! when standard error is a terminal and `-q` was not given; nothing otherwise. Owns the line's format and
//! human units for sizes, counts and rates (`1.53 GB`, `12.4 MB/s`). Lines printed while a display is up go
//! through `Progress::println`, so the display is redrawn below them instead of tearing.
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// A progress line, or nothing.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A display of `total` steps when `enabled` and standard error is a terminal; otherwise a no-op.
    pub fn new(enabled: bool, total: u64) -> Progress {
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(8));
        let style =
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(125));
        Progress { bar: Some(bar) }
    }

    /// Whether anything is drawn.
    pub fn shown(&self) -> bool {
        self.bar.is_some()
    }

    pub fn inc(&self) {
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }

    pub fn set_message(&self, msg: String) {
        if let Some(b) = &self.bar {
            b.set_message(msg);
        }
    }

    /// Print a line on standard error above the display.
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(b) => b.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Remove the display.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A size for people: `512 B`, `12.4 kB`, `1.53 GB` (decimal units).
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

/// Seconds for people: `850 ms`, `9.8 s`, `2 min 05 s`.
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
    }

    #[test]
    fn nothing_is_drawn_when_disabled() {
        let p = Progress::new(false, 10);
        assert!(!p.shown());
        p.inc();
        p.set_message("x".into());
    }
}
