//! Live progress on standard error: one line redrawn in place (`indicatif`) while a long run works (a sweep's
//! repositories; a scan's blobs, bytes and rate), only when standard error is a terminal and `-q` was not
//! given; nothing otherwise. Owns the lines' format; the units are `keysweep_report::units`. Lines printed while a display is up go
//! through `Progress::println`, so the display is redrawn below them instead of tearing.
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use keysweep_model::Stats;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

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

    /// A spinner with elapsed time and a message (no known total), or nothing.
    pub fn spinner(enabled: bool) -> Progress {
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
        let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(125));
        Progress { bar: Some(bar) }
    }

    /// Run `work`, redrawing the message from `message` a few times a second meanwhile (nothing when the
    /// display is off).
    pub fn while_running<T>(
        &self,
        message: impl Fn() -> String + Sync,
        work: impl FnOnce() -> T,
    ) -> T {
        if !self.shown() {
            return work();
        }
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                while !stop.load(Relaxed) {
                    self.set_message(message());
                    std::thread::sleep(Duration::from_millis(200));
                }
            });
            let out = work();
            stop.store(true, Relaxed);
            out
        })
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

pub use keysweep_report::units::{bytes, count, duration};

/// Run `work` with a progress line over `stats` (blobs, bytes, rate, elapsed) when `enabled` and standard
/// error is a terminal; just run it otherwise. `what` names the command (`scan`, `git`, `image`).
pub fn during<T>(enabled: bool, what: &str, stats: &Stats, work: impl FnOnce() -> T) -> T {
    let p = Progress::spinner(enabled);
    let started = Instant::now();
    p.while_running(
        || {
            let snap = stats.snapshot();
            format!(
                "{what}: {} blobs · {} · {}",
                count(snap.blobs),
                bytes(snap.bytes),
                keysweep_report::units::rate(snap.bytes, started.elapsed()),
            )
        },
        work,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_drawn_when_disabled() {
        let p = Progress::new(false, 10);
        assert!(!p.shown());
        p.inc();
        p.set_message("x".into());
    }
}
