//! A line for the person at the terminal, on stdout at once.

use std::io::Write as _;

/// A line for the person (or script) that started paylink, on stdout.
pub fn announce(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
