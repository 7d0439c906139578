//! Progress bars on a terminal: one per source while it is read (bytes,
//! records, rate, ETA), whether it is counted in memory or loaded into
//! PostgreSQL. Shown only when stderr is a terminal and messages are plain
//! text without `-q`; under cron, systemd or CI nothing extra is printed.
//!
//! Every bar belongs to one [`MultiProgress`]: a file loaded over several
//! COPY streams draws one bar per stream at once, each on its own line,
//! and a finished bar is cleared.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// The bars drawn at once.
fn bars() -> &'static MultiProgress {
    static BARS: OnceLock<MultiProgress> = OnceLock::new();
    BARS.get_or_init(MultiProgress::new)
}

/// Turns bars on when stderr is a terminal (and `quiet`/`json` are off).
pub fn enable_if_terminal(quiet: bool, json: bool) {
    use std::io::IsTerminal;
    let on = !quiet && !json && std::io::stderr().is_terminal();
    ENABLED.store(on, Ordering::Relaxed);
}

/// A bar for reading `path`, or a hidden one. The total is the file's size
/// when it is not compressed (a compressed file counts the bytes it expands
/// to, with no total).
pub fn source(path: &str) -> ProgressBar {
    if !ENABLED.load(Ordering::Relaxed) {
        return ProgressBar::hidden();
    }
    let total = (path != "-").then(|| plain_size(path)).flatten();
    let (bar, template) = match total {
        Some(n) => (
            ProgressBar::new(n),
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}",
        ),
        None => (ProgressBar::new_spinner(), "{prefix} {spinner} {bytes} {bytes_per_sec} {msg}"),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(path.to_string());
    bars().add(bar)
}

/// Ends `bar` (its line is cleared; the others stay).
pub fn finish(bar: &ProgressBar) {
    if !bar.is_hidden() {
        bar.finish_and_clear();
        bars().remove(bar);
    }
}

/// The size of `path` when it is not compressed.
fn plain_size(path: &str) -> Option<u64> {
    use std::io::Read;
    let mut head = [0u8; 4];
    let mut f = std::fs::File::open(path).ok()?;
    let n = f.read(&mut head).ok()?;
    let plain = crate::source::Compression::sniff(&head[..n]) == crate::source::Compression::None;
    plain.then(|| f.metadata().ok().map(|m| m.len())).flatten()
}

/// Advances `bar` by a chunk of `bytes`, with the records so far.
pub fn advance(bar: &ProgressBar, bytes: u64, total_records: u64) {
    if bar.is_hidden() {
        return;
    }
    bar.inc(bytes);
    let secs = bar.elapsed().as_secs_f64().max(0.001);
    bar.set_message(format!("{total_records} records, {:.0}/s", total_records as f64 / secs));
}
