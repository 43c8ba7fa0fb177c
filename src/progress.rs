//! Progress bars on a terminal, plain log lines otherwise, nothing with --quiet.
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A bar of `len` steps. Hidden when `quiet` or when stderr is not a terminal.
pub fn bar(len: u64, what: &str, quiet: bool) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if quiet || !std::io::stderr().is_terminal() {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} ({per_sec}, eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb.set_prefix(what.to_string());
    pb
}

/// A log line for non-terminal output (stderr); silent when quiet or when a bar is visible.
pub fn log(pb: &ProgressBar, quiet: bool, line: &str) {
    if quiet {
        return;
    }
    if pb.is_hidden() {
        eprintln!("{line}");
    } else {
        pb.println(line);
    }
}

/// A duration for people: `45 s`, `3 min 20 s`, `2 h 05 min`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, s / 60 % 60),
    }
}

/// A progress bar over a count that is known only when the first report arrives (images
/// scored: `at(done, n)`), with log lines between.
pub struct CountBar {
    pb: indicatif::ProgressBar,
    quiet: bool,
}

impl CountBar {
    pub fn new(label: &str, quiet: bool) -> CountBar {
        CountBar {
            pb: bar(0, label, quiet),
            quiet,
        }
    }
    pub fn line(&self, text: &str) {
        log(&self.pb, self.quiet, text);
    }
    pub fn at(&mut self, done: usize, n: usize) {
        self.pb.set_length(n as u64);
        self.pb.set_position(done as u64);
    }
    pub fn done(&self) {
        self.pb.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(super::duration(0.4), "0 s");
        assert_eq!(super::duration(59.4), "59 s");
        assert_eq!(super::duration(200.0), "3 min 20 s");
        assert_eq!(super::duration(7500.0), "2 h 05 min");
    }
}
