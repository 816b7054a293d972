//! The doctor's output: one line per check, `ok`, `warn`, `FAIL` (with what to do) or `skip`
//! (a check that needs one that failed), and whether anything failed.

use std::io::Write as _;

/// What one check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
    Skip,
}

impl Verdict {
    fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "skip",
        }
    }
}

/// Prints each check as it is made and counts the failures.
#[derive(Debug, Default)]
pub struct Report {
    pub failures: usize,
    pub warnings: usize,
}

impl Report {
    pub fn ok(&mut self, check: &str, message: impl AsRef<str>) {
        self.line(Verdict::Ok, check, message.as_ref());
    }

    pub fn warn(&mut self, check: &str, message: impl AsRef<str>) {
        self.warnings += 1;
        self.line(Verdict::Warn, check, message.as_ref());
    }

    /// A failed check: `message` says what is wrong, `fix` what to do about it.
    pub fn fail(&mut self, check: &str, message: impl AsRef<str>, fix: impl AsRef<str>) {
        self.failures += 1;
        let line = format!("{} Fix: {}", message.as_ref(), fix.as_ref());
        self.line(Verdict::Fail, check, &line);
    }

    pub fn skip(&mut self, check: &str, message: impl AsRef<str>) {
        self.line(Verdict::Skip, check, message.as_ref());
    }

    fn line(&self, verdict: Verdict, check: &str, message: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{:<5} {check:<20} {message}", verdict.label());
        let _ = out.flush();
    }
}
