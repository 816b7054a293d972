//! Why the mail templates cannot be used: the template (its file, or `built-in <name>`), the line
//! and minijinja's words, so that an operator finds the mistake at start-up.

use std::path::PathBuf;

/// A mail template that does not load or render.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A template does not compile, does not render with a sample mail, or renders something
    /// unusable (an empty subject, no pay URL).
    #[error("mail template {template}{}: {reason}", at_line(*.line))]
    Template {
        /// The template's file, or `built-in pay_link.html`.
        template: String,
        /// The line of the mistake, when minijinja knows it.
        line: Option<usize>,
        reason: String,
    },
    /// A file in the templates directory whose name is none of the templates' (a typo would
    /// otherwise leave the built-in template in use without a word).
    #[error(
        "unknown mail template file {}: the templates are {}",
        .path.display(),
        super::builtin::TEMPLATES.map(|(name, _)| name).join(", ")
    )]
    UnknownFile { path: PathBuf },
    /// The templates directory cannot be listed.
    #[error("mail templates directory {}: {source}", .path.display())]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A template file cannot be read (or is not UTF-8).
    #[error("mail template {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl TemplateError {
    /// minijinja's `error` in the template known as `template`.
    pub(super) fn from_minijinja(template: &str, error: &minijinja::Error) -> Self {
        let reason = match error.detail() {
            Some(detail) => format!("{}: {detail}", error.kind()),
            None => error.kind().to_string(),
        };
        Self::Template {
            template: template.to_owned(),
            line: error.line(),
            reason,
        }
    }

    /// A template that renders something a mail cannot use.
    pub(super) fn unusable(template: &str, reason: &str) -> Self {
        Self::Template {
            template: template.to_owned(),
            line: None,
            reason: reason.to_owned(),
        }
    }
}

fn at_line(line: Option<usize>) -> String {
    line.map(|line| format!(", line {line}"))
        .unwrap_or_default()
}
