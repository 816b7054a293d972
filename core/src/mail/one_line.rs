//! Text for a mail header: one line, whatever was typed.

/// `text` on one line: every run of whitespace or control characters (newlines, tabs) becomes one
/// space, and the ends are trimmed.
pub fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_tabs_and_runs_of_spaces_become_one_space() {
        assert_eq!(
            one_line("  April\r\n dues\t\u{0}for  Pat \n"),
            "April dues for Pat"
        );
        assert_eq!(one_line(" \n\t "), "");
    }
}
