//! The file graph of a crate's `src/`: which file names a path into which other file. A file
//! depends on another when its code (not its comments, its string literals or its tests, which
//! follow `#[cfg(test)]`) names a path that resolves into that file: `crate::…`, `super::…`,
//! `self::…` or a path that starts with one of the file's own child modules, in a `use` line or
//! written out anywhere. A name re-exported with `pub use` resolves to the file that defines it,
//! so `crate::store::Order` (re-exported by `store/mod.rs` from `store/order.rs`) is an edge to
//! `store/order.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module's path inside its crate: `routes/admin/mod.rs` → `["routes", "admin"]`.
pub type Module = Vec<String>;

pub struct Graph {
    pub edges: BTreeMap<Module, BTreeSet<Module>>,
}

impl Graph {
    /// Reads every `.rs` file under `src` (`main.rs` aside: the binary's entry, not the library).
    pub fn read(src: &Path) -> Self {
        let files: BTreeMap<Module, PathBuf> = rust_files(src)
            .into_iter()
            .filter(|f| f.file_name().is_some_and(|n| n != "main.rs"))
            .map(|f| (module_of(src, &f), f))
            .collect();
        let code: BTreeMap<Module, String> = files
            .iter()
            .map(|(m, f)| {
                let text = std::fs::read_to_string(f).unwrap();
                let text = text.split("#[cfg(test)]").next().unwrap_or("").to_owned();
                (m.clone(), strip_comments_and_strings(&text))
            })
            .collect();
        let modules: BTreeSet<Module> = files.keys().cloned().collect();
        Self::build(&modules, &code)
    }

    /// The graph of modules whose code (comments and strings already removed) is given.
    pub fn build(modules: &BTreeSet<Module>, code: &BTreeMap<Module, String>) -> Self {
        // (module, name) → what `pub use` there binds the name to; `None` outside the crate.
        let mut reexports: BTreeMap<(Module, String), Option<Module>> = BTreeMap::new();
        for (module, text) in code {
            for (public, tree) in use_statements(text) {
                if !public {
                    continue;
                }
                for (path, name) in expand(&tree) {
                    let target = absolute(module, &path, modules);
                    reexports.insert((module.clone(), name), target);
                }
            }
        }
        let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
        for (module, text) in code {
            let mut paths: Vec<Vec<String>> = Vec::new();
            for (_, tree) in use_statements(text) {
                paths.extend(expand(&tree).into_iter().map(|(path, _)| path));
            }
            paths.extend(written_paths(&without_use_statements(text)));
            for path in paths {
                let Some(absolute) = absolute(module, &path, modules) else {
                    continue;
                };
                if let Some(target) = resolve(&absolute, modules, &reexports, 0)
                    && &target != module
                {
                    edges.entry(module.clone()).or_default().insert(target);
                }
            }
        }
        Self { edges }
    }

    /// A circle of files, if there is one: `[a, b, …, a]`.
    pub fn cycle(&self) -> Option<Vec<Module>> {
        fn visit(
            node: &Module,
            edges: &BTreeMap<Module, BTreeSet<Module>>,
            done: &mut BTreeMap<Module, bool>,
            path: &mut Vec<Module>,
        ) -> Option<Vec<Module>> {
            match done.get(node) {
                Some(true) => return None,
                Some(false) => {
                    let start = path.iter().position(|p| p == node).unwrap();
                    let mut cycle = path[start..].to_vec();
                    cycle.push(node.clone());
                    return Some(cycle);
                }
                None => {}
            }
            done.insert(node.clone(), false);
            path.push(node.clone());
            for next in edges.get(node).into_iter().flatten() {
                if let Some(cycle) = visit(next, edges, done, path) {
                    return Some(cycle);
                }
            }
            path.pop();
            done.insert(node.clone(), true);
            None
        }
        let mut done = BTreeMap::new();
        self.edges
            .keys()
            .find_map(|m| visit(m, &self.edges, &mut done, &mut Vec::new()))
    }
}

pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// `routes/mod.rs` → `routes`, `lib.rs` → the root (empty).
fn module_of(src: &Path, file: &Path) -> Module {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Module = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The code without comments, and with every string and character literal emptied, so that
/// neither a doc link nor a message that names a path counts.
pub fn strip_comments_and_strings(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !chars[..i]
                .last()
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A character literal ('a', '\n', '\u{1F600}'), or a lifetime ('a) which stays.
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Where each `use` statement's tree starts and ends (`use` to `;`), and whether it is
/// public (`pub use`, `pub(crate) use`, …: a re-export).
fn use_spans(text: &str) -> Vec<(usize, usize, bool)> {
    let bytes = text.as_bytes();
    let word = |i: usize| bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_';
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("use") {
        let start = from + at;
        from = start + 3;
        let before_ok = start == 0 || !word(start - 1);
        let after_ok = bytes
            .get(start + 3)
            .is_some_and(|b| b.is_ascii_whitespace());
        if !before_ok || !after_ok {
            continue;
        }
        let Some(end) = text[start..].find(';').map(|e| start + e) else {
            break;
        };
        let prefix = text[..start].trim_end();
        let public = prefix.ends_with("pub")
            || (prefix.ends_with(')') && {
                let open = prefix.rfind('(').unwrap_or(0);
                prefix[..open].trim_end().ends_with("pub")
            });
        spans.push((start, end, public));
        from = end;
    }
    spans
}

/// Every `use` statement's tree (between `use` and `;`), and whether it re-exports.
fn use_statements(text: &str) -> Vec<(bool, String)> {
    use_spans(text)
        .into_iter()
        .map(|(start, end, public)| (public, text[start + 3..end].to_owned()))
        .collect()
}

fn without_use_statements(text: &str) -> String {
    let mut out = String::new();
    let mut last = 0;
    for (start, end, _) in use_spans(text) {
        out.push_str(&text[last..start]);
        last = end + 1;
    }
    out.push_str(&text[last..]);
    out
}

/// The paths a `use` tree names, each with the name it binds: `a::{b, c::{d as e}}` →
/// (`a::b`, `b`), (`a::c::d`, `e`).
fn expand(tree: &str) -> Vec<(Vec<String>, String)> {
    fn split_top(list: &str) -> Vec<&str> {
        let (mut depth, mut start, mut parts) = (0, 0, Vec::new());
        for (i, c) in list.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&list[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&list[start..]);
        parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
    }
    let segments = |s: &str| -> Vec<String> {
        s.split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "*")
            .map(str::to_owned)
            .collect()
    };
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let prefix = segments(&tree[..open]);
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        return split_top(inner)
            .into_iter()
            .flat_map(expand)
            .map(|(rest, name)| {
                let mut path = prefix.clone();
                let self_only = rest.len() == 1 && rest[0] == "self";
                path.extend(rest.into_iter().filter(|s| s != "self"));
                let name = if self_only {
                    path.last().cloned().unwrap_or(name)
                } else {
                    name
                };
                (path, name)
            })
            .collect();
    }
    let (path, alias) = match tree.split_once(" as ") {
        Some((path, alias)) => (path, Some(alias.trim().to_owned())),
        None => (tree, None),
    };
    let path = segments(path);
    let name = alias.unwrap_or_else(|| path.last().cloned().unwrap_or_default());
    vec![(path, name)]
}

/// Every path written out in code: `a::b::c` (two segments or more).
fn written_paths(text: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut word = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let finish = |current: &mut Vec<String>, paths: &mut Vec<Vec<String>>| {
        if current.len() > 1 {
            paths.push(std::mem::take(current));
        }
        current.clear();
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
            i += 1;
            continue;
        }
        if !word.is_empty() {
            current.push(std::mem::take(&mut word));
        }
        if c == ':' && chars.get(i + 1) == Some(&':') && !current.is_empty() {
            i += 2;
            continue;
        }
        finish(&mut current, &mut paths);
        i += 1;
    }
    if !word.is_empty() {
        current.push(word);
    }
    finish(&mut current, &mut paths);
    paths
}

/// `path` as written in `module`, from the crate's root; `None` when it starts outside the
/// crate (another crate, the standard library, a local name).
fn absolute(module: &Module, path: &[String], modules: &BTreeSet<Module>) -> Option<Module> {
    let head = path.first()?;
    match head.as_str() {
        "crate" => Some(path[1..].to_vec()),
        "super" | "self" => {
            let mut base = module.clone();
            let mut rest = path;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
            if rest.first().is_some_and(|s| s == "self") {
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            Some(base)
        }
        _ => {
            let mut child = module.clone();
            child.push(head.clone());
            modules.contains(&child).then(|| {
                let mut full = module.clone();
                full.extend(path.iter().cloned());
                full
            })
        }
    }
}

/// The file an absolute path lands in: its longest prefix that is a file, followed through
/// `pub use` re-exports; `None` when a re-export leads outside the crate.
fn resolve(
    path: &[String],
    modules: &BTreeSet<Module>,
    reexports: &BTreeMap<(Module, String), Option<Module>>,
    depth: usize,
) -> Option<Module> {
    let n = (0..=path.len())
        .rev()
        .find(|n| modules.contains(&path[..*n].to_vec()))?;
    let file = path[..n].to_vec();
    if let Some(name) = path.get(n)
        && depth < 10
        && let Some(target) = reexports.get(&(file.clone(), name.clone()))
    {
        let mut through = target.clone()?;
        through.extend(path[n + 1..].iter().cloned());
        return resolve(&through, modules, reexports, depth + 1);
    }
    Some(file)
}
