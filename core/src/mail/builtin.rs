//! The templates paylink ships, compiled in from `core/templates/mail/`. Their file names are also
//! the names an operator's templates directory overrides them by.

/// The subject line's template.
pub const SUBJECT: &str = "pay_link.subject.txt";
/// The text part's template.
pub const TEXT: &str = "pay_link.txt";
/// The HTML part's template.
pub const HTML: &str = "pay_link.html";

/// The built-in subject, also the one used when an operator's renders empty for some mail.
pub const SUBJECT_SOURCE: &str = include_str!("../../templates/mail/pay_link.subject.txt");

/// Every template: its file name and its built-in source.
pub const TEMPLATES: [(&str, &str); 3] = [
    (SUBJECT, SUBJECT_SOURCE),
    (TEXT, include_str!("../../templates/mail/pay_link.txt")),
    (HTML, include_str!("../../templates/mail/pay_link.html")),
];
