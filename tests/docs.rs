//! The README and docs/ send readers to each other by file and heading. Every relative link in
//! them must lead to a file that exists and, with a `#anchor`, to a heading of that file whose
//! GitHub anchor it is, so that moving a section cannot leave a reader at a dead end. The README
//! stays a short guide: at most [`README_MAX_LINES`] lines.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

const README_MAX_LINES: usize = 250;

#[test]
fn every_relative_link_leads_to_a_file_and_a_heading_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut broken = Vec::new();
    for document in documents(root) {
        broken.extend(broken_links(root, &document));
    }
    assert!(
        broken.is_empty(),
        "{} broken link(s) in README.md and docs/:\n{}",
        broken.len(),
        broken.join("\n")
    );
}

#[test]
fn the_readme_stays_a_short_guide() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md reads");
    let lines = readme.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines, more than {README_MAX_LINES}: move the detail into docs/ \
         and link to it"
    );
}

/// README.md and every Markdown file in docs/.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ reads")
        .map(|entry| entry.expect("a docs/ entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    found.sort();
    found.insert(0, root.join("README.md"));
    found
}

/// One line per link of `document` that leads nowhere, naming the file, line, link and why.
fn broken_links(root: &Path, document: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(document).expect("a document reads");
    let shown = document.strip_prefix(root).unwrap_or(document).display();
    let mut broken = Vec::new();
    for link in links(&prose(&text)) {
        if let Some(why) = why_broken(root, document, &text, &link.target) {
            broken.push(format!(
                "{shown}:{}: [{}]({}): {why}",
                link.line, link.text, link.target
            ));
        }
    }
    broken
}

/// Why `target`, linked from `document`, leads nowhere; `None` when it leads somewhere (or
/// elsewhere than this repository).
fn why_broken(root: &Path, document: &Path, text: &str, target: &str) -> Option<String> {
    let lower = target.to_ascii_lowercase();
    if ["http:", "https:", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme))
    {
        return None;
    }
    let (file, anchor) = match target.split_once('#') {
        Some((file, anchor)) => (file, Some(anchor)),
        None => (target, None),
    };
    let (path, headings_of) = if file.is_empty() {
        (document.to_path_buf(), text.to_owned())
    } else {
        let path = match file.strip_prefix('/') {
            Some(from_root) => root.join(from_root),
            None => document.parent().expect("a folder").join(file),
        };
        if !path.exists() {
            let shown = path.strip_prefix(root).unwrap_or(&path).display();
            return Some(format!("no file {shown}"));
        }
        let is_markdown = path.extension().is_some_and(|ext| ext == "md");
        if !is_markdown || anchor.is_none() {
            return None;
        }
        let headings_of = std::fs::read_to_string(&path).expect("the linked file reads");
        (path, headings_of)
    };
    let anchor = anchor?;
    let anchors = anchors(&headings_of);
    if anchors.iter().any(|known| known == anchor) {
        return None;
    }
    let closest = anchors
        .iter()
        .max_by_key(|known| common_prefix(known, anchor))
        .map(|known| format!(" (the closest is #{known})"))
        .unwrap_or_default();
    let shown = path.strip_prefix(root).unwrap_or(&path).display();
    Some(format!(
        "no heading of {shown} has the anchor #{anchor}{closest}"
    ))
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

/// The text as a reader sees prose: fenced code blocks and inline code spans blanked out, so
/// that what looks like a link or a heading there counts as neither. Line breaks are kept, so
/// positions still give the line.
fn prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut fence: Option<String> = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let marker: String = trimmed
            .chars()
            .take_while(|c| *c == '`' || *c == '~')
            .collect();
        let opens = marker.len() >= 3 && marker.chars().all(|c| c == marker.as_bytes()[0] as char);
        match &fence {
            Some(open) => {
                if opens
                    && marker.starts_with(open.as_str())
                    && trimmed[marker.len()..].trim().is_empty()
                {
                    fence = None;
                }
                out.push_str(&blank(line));
            }
            None if opens => {
                fence = Some(marker);
                out.push_str(&blank(line));
            }
            None => out.push_str(line),
        }
    }
    without_code_spans(&out)
}

/// Inline code spans (a run of backticks up to the next run of as many, within a paragraph)
/// blanked out.
fn without_code_spans(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = chars.clone();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|c| **c == '`').count();
        let mut j = i + run;
        let mut closed = None;
        while j < chars.len() {
            if chars[j] == '\n' && chars.get(j + 1) == Some(&'\n') {
                break;
            }
            if chars[j] == '`' {
                let other = chars[j..].iter().take_while(|c| **c == '`').count();
                if other == run {
                    closed = Some(j + other);
                    break;
                }
                j += other;
            } else {
                j += 1;
            }
        }
        match closed {
            Some(end) => {
                for c in &mut out[i..end] {
                    if *c != '\n' {
                        *c = ' ';
                    }
                }
                i = end;
            }
            None => i += run,
        }
    }
    out.into_iter().collect()
}

fn blank(line: &str) -> String {
    line.chars()
        .map(|c| if c == '\n' { '\n' } else { ' ' })
        .collect()
}

#[derive(Debug, PartialEq)]
struct Link {
    line: usize,
    text: String,
    target: String,
}

/// Every inline link `[text](target)` (and image) of the prose, with its line. The text may run
/// over lines; a title after the target (`[a](b "title")`) is dropped.
fn links(prose: &str) -> Vec<Link> {
    let chars: Vec<char> = prose.chars().collect();
    let mut found = Vec::new();
    for at in 0..chars.len().saturating_sub(1) {
        if chars[at] != ']' || chars[at + 1] != '(' {
            continue;
        }
        let Some(open) = opening_bracket(&chars, at) else {
            continue;
        };
        let Some(close) = closing_parenthesis(&chars, at + 1) else {
            continue;
        };
        let inside: String = chars[at + 2..close].iter().collect();
        let inside = inside.trim();
        let target = inside.split_whitespace().next().unwrap_or("");
        let target = target
            .strip_prefix('<')
            .and_then(|t| t.strip_suffix('>'))
            .unwrap_or(target);
        if target.is_empty() {
            continue;
        }
        let text: String = chars[open + 1..at].iter().collect();
        found.push(Link {
            line: chars[..open].iter().filter(|c| **c == '\n').count() + 1,
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
            target: target.to_owned(),
        });
    }
    found
}

/// The `[` that the `]` at `close` ends, within its paragraph.
fn opening_bracket(chars: &[char], close: usize) -> Option<usize> {
    let mut depth = 0;
    let mut i = close;
    while i > 0 {
        i -= 1;
        match chars[i] {
            ']' => depth += 1,
            '[' if depth == 0 => return Some(i),
            '[' => depth -= 1,
            '\n' if chars.get(i.wrapping_sub(1)) == Some(&'\n') => return None,
            _ => {}
        }
    }
    None
}

/// The `)` that the `(` at `open` ends, on the same line.
fn closing_parenthesis(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in chars.iter().enumerate().skip(open) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            '\n' => return None,
            _ => {}
        }
    }
    None
}

/// The anchors GitHub gives the headings of a Markdown text, in order; a heading that repeats
/// gets `-1`, `-2`, … after its first.
fn anchors(text: &str) -> Vec<String> {
    let mut taken = HashSet::new();
    let mut found = Vec::new();
    for line in prose(text).lines() {
        let Some(heading) = heading(line) else {
            continue;
        };
        let base = slug(&heading);
        let mut anchor = base.clone();
        let mut n = 0;
        while taken.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        taken.insert(anchor.clone());
        found.push(anchor);
    }
    found
}

/// The text of an ATX heading line (`## Text`), as rendered: its code spans' text and links'
/// text kept, the closing `#`s dropped.
fn heading(line: &str) -> Option<String> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let rest = &line[indent..];
    let level = rest.chars().take_while(|c| *c == '#').count();
    if indent > 3 || !(1..=6).contains(&level) {
        return None;
    }
    let rest = &rest[level..];
    if !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t')) {
        return None;
    }
    let text = rest.trim().trim_end_matches('#').trim_end();
    // A link in a heading reads as its text.
    let mut shown = String::new();
    let mut remaining = text;
    while let Some(start) = remaining.find("](") {
        let end = remaining[start..]
            .find(')')
            .map_or(remaining.len(), |e| start + e + 1);
        shown.push_str(&remaining[..start]);
        remaining = &remaining[end..];
    }
    shown.push_str(remaining);
    Some(shown)
}

/// GitHub's anchor for a heading: lower case, only letters, digits, spaces, hyphens and
/// underscores kept, each space a hyphen.
fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn slugs_are_githubs() {
    assert_eq!(
        slug("When people pay: webhooks"),
        "when-people-pay-webhooks"
    );
    assert_eq!(slug("A pay URL's reach"), "a-pay-urls-reach");
    assert_eq!(
        slug("3. A real blast against Stripe's test mode"),
        "3-a-real-blast-against-stripes-test-mode"
    );
    assert_eq!(
        slug("Delivery, retries and replay"),
        "delivery-retries-and-replay"
    );
    assert_eq!(
        heading("### 2. The dashboard: `demo --keep`").map(|h| slug(&h)),
        Some("2-the-dashboard-demo---keep".into())
    );
    assert_eq!(heading("#hashtag"), None);
    assert_eq!(
        anchors("# A\n\n## Notes\n\n```sh\n# Notes\n```\n\n## Notes\n### Notes #\n"),
        ["a", "notes", "notes-1", "notes-2"]
    );
}

#[test]
fn links_are_found_outside_code_only() {
    let text = "See [the API](api.md#http-api) and [a\nlong text](#here \"title\").\n\
                `[not](a-link.md)` nor\n```\n[this](one.md)\n```\n![image](pic.png) [y/N] f(x)\n";
    let found: Vec<(usize, String)> = links(&prose(text))
        .into_iter()
        .map(|link| (link.line, link.target))
        .collect();
    assert_eq!(
        found,
        [
            (1, "api.md#http-api".to_owned()),
            (1, "#here".to_owned()),
            (7, "pic.png".to_owned())
        ]
    );
}
