//! HTML escaping for the HTML template: what the payer or the organiser typed is printed as text.

use minijinja::{AutoEscape, Error, Output, State, Value, escape_formatter};

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, safe in HTML text and quoted attributes.
/// minijinja's own escaping also turns `/` into `&#x2f;`, which HTML does not need and which
/// makes the pay URL and anything typed with a slash unreadable in the mail's source.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// The environment's formatter: every value printed into an HTML template is escaped with
/// [`escape`] unless marked safe; the other templates print values as they are.
pub fn formatter(out: &mut Output, state: &mut State, value: &Value) -> Result<(), Error> {
    if matches!(state.auto_escape(), AutoEscape::Html) && !value.is_safe() {
        out.write_str(&escape(&value.to_string()))
            .map_err(Error::from)
    } else {
        escape_formatter(out, state, value)
    }
}

/// The `nl2br` filter: in an HTML template, `text` escaped with its line breaks kept as `<br>`
/// (the organiser's message has paragraphs); elsewhere, `text` unchanged.
pub fn nl2br(state: &State, text: String) -> Value {
    if !matches!(state.auto_escape(), AutoEscape::Html) {
        return Value::from(text);
    }
    let lines: Vec<String> = text.lines().map(escape).collect();
    Value::from_safe_string(lines.join("<br>\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped_and_slashes_kept() {
        assert_eq!(
            escape(r#"<b>Bob</b> & "Co" 'n' https://x/y"#),
            "&lt;b&gt;Bob&lt;/b&gt; &amp; &quot;Co&quot; &#39;n&#39; https://x/y"
        );
    }
}
