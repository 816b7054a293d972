//! The dependency rule, checked: the crates depend downward only (intake → core → migrations;
//! the stand-in on none of paylink's crates; the test kit a dev-dependency only), nothing below
//! the HTTP layer names axum or the intake's types, the `use` lines of `src/` form no cycle, and
//! no file cites a document that is not in the repository. `docs/architecture.md` draws the rule.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
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

/// The dependencies a crate's manifest names in `section`.
fn dependencies(manifest: &str, section: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join(manifest)).unwrap();
    let parsed: toml::Table = text.parse().unwrap();
    parsed
        .get(section)
        .and_then(|d| d.as_table())
        .map(|d| d.keys().cloned().collect())
        .unwrap_or_default()
}

const PAYLINK_CRATES: [&str; 5] = [
    "paylink",
    "paylink-core",
    "migration",
    "fake-stripe",
    "paylink-testkit",
];

fn paylink_dependencies(manifest: &str, section: &str) -> BTreeSet<String> {
    dependencies(manifest, section)
        .into_iter()
        .filter(|d| PAYLINK_CRATES.contains(&d.as_str()))
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[test]
fn the_crates_depend_downward_only() {
    assert_eq!(
        paylink_dependencies("Cargo.toml", "dependencies"),
        set(&["paylink-core", "fake-stripe"]),
        "the intake uses the core (and the stand-in for `paylink fake-stripe`), not the schema"
    );
    assert_eq!(
        paylink_dependencies("core/Cargo.toml", "dependencies"),
        set(&["migration"]),
        "the core depends on the schema only"
    );
    assert_eq!(
        paylink_dependencies("migrations/Cargo.toml", "dependencies"),
        set(&[]),
    );
    assert_eq!(
        paylink_dependencies("fake-stripe/Cargo.toml", "dependencies"),
        set(&[]),
        "the stand-in shares no code with paylink"
    );
    assert_eq!(
        paylink_dependencies("Cargo.toml", "dev-dependencies"),
        set(&["paylink-testkit"]),
        "the test kit is a dev-dependency"
    );
    for (manifest, section) in [
        ("core/Cargo.toml", "dev-dependencies"),
        ("fake-stripe/Cargo.toml", "dev-dependencies"),
    ] {
        assert!(
            !paylink_dependencies(manifest, section).contains("paylink"),
            "{manifest} {section}"
        );
    }
    let core = dependencies("core/Cargo.toml", "dependencies");
    assert!(!core.contains("axum"), "the core speaks no HTTP server");
}

#[test]
fn nothing_below_the_http_layer_names_it() {
    let mut offenders = Vec::new();
    for file in rust_files(&root().join("core/src")) {
        let text = std::fs::read_to_string(&file).unwrap();
        for name in ["axum", "ApiError", "AppState"] {
            if text.contains(name) {
                offenders.push(format!("{} names {name}", file.display()));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

#[test]
fn no_file_cites_a_document_outside_the_repository() {
    let mut offenders = Vec::new();
    let mut stack = vec![root()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" {
                    stack.push(path);
                }
                continue;
            }
            if !["rs", "md", "toml", "yml", "sh"]
                .iter()
                .any(|e| name.ends_with(&format!(".{e}")))
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            // Spelled in two halves so that this file does not cite them itself.
            for cited in [["DESIGN", ".md"], ["STACK-FACTS", ".md"], ["../", "shared"]] {
                if text.contains(&cited.concat()) {
                    offenders.push(format!("{} cites {}", path.display(), cited.concat()));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

/// The module path of a file under `src/` (`routes/mod.rs` → `routes`, `lib.rs` → ``).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The paths a `use` tree names: `a::{b, c::{d as e}}` → `a::b`, `a::c::d`.
fn expand(tree: &str) -> Vec<Vec<String>> {
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
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let prefix: Vec<String> = tree[..open]
            .split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let inner = &tree[open + 1..tree.rfind('}').unwrap()];
        return split_top(inner)
            .into_iter()
            .flat_map(expand)
            .map(|rest| {
                let mut path = prefix.clone();
                path.extend(rest.into_iter().filter(|s| s != "self"));
                path
            })
            .collect();
    }
    let tree = tree.split(" as ").next().unwrap_or(tree);
    vec![
        tree.split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "*")
            .map(str::to_owned)
            .collect(),
    ]
}

/// Every `use` statement of a file, as written between `use` and `;`.
fn use_statements(text: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        match current.as_mut() {
            Some(statement) => statement.push_str(line),
            None => {
                let Some(rest) = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
                    .iter()
                    .find_map(|p| line.strip_prefix(p))
                else {
                    continue;
                };
                current = Some(rest.to_owned());
            }
        }
        if let Some(statement) = current.take_if(|s| s.contains(';')) {
            statements.push(statement.split(';').next().unwrap().to_owned());
        }
    }
    statements
}

#[test]
fn the_use_lines_of_src_form_no_cycle() {
    let src = root().join("src");
    let files: BTreeMap<Vec<String>, PathBuf> = rust_files(&src)
        .into_iter()
        .filter(|f| f.file_name().unwrap() != "main.rs")
        .map(|f| (module_of(&src, &f), f))
        .collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, file) in &files {
        let text = std::fs::read_to_string(file).unwrap();
        // Test modules may use anything.
        let text = text.split("#[cfg(test)]").next().unwrap_or("");
        for statement in use_statements(text) {
            for path in expand(&statement) {
                let absolute: Vec<String> = match path.first().map(String::as_str) {
                    Some("crate") => path[1..].to_vec(),
                    Some("super") => {
                        let mut base = module.clone();
                        let mut rest = &path[..];
                        while rest.first().is_some_and(|s| s == "super") {
                            base.pop();
                            rest = &rest[1..];
                        }
                        base.extend(rest.iter().cloned());
                        base
                    }
                    Some("self") => {
                        let mut base = module.clone();
                        base.extend(path[1..].iter().cloned());
                        base
                    }
                    _ => continue,
                };
                // The longest prefix that is a file of its own.
                let target = (0..=absolute.len())
                    .rev()
                    .map(|n| absolute[..n].to_vec())
                    .find(|prefix| files.contains_key(prefix));
                if let Some(target) = target.filter(|t| t != module) {
                    edges.entry(module.clone()).or_default().insert(target);
                }
            }
        }
    }
    // Depth-first search for a back edge.
    fn visit(
        node: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, bool>,
        path: &mut Vec<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        match state.get(node) {
            Some(true) => return None,
            Some(false) => {
                let start = path.iter().position(|p| p == node).unwrap();
                let mut cycle = path[start..].to_vec();
                cycle.push(node.clone());
                return Some(cycle);
            }
            None => {}
        }
        state.insert(node.clone(), false);
        path.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, state, path) {
                return Some(cycle);
            }
        }
        path.pop();
        state.insert(node.clone(), true);
        None
    }
    let mut state = BTreeMap::new();
    for module in files.keys() {
        let cycle = visit(module, &edges, &mut state, &mut Vec::new());
        let names: Option<Vec<String>> = cycle.map(|c| {
            c.iter()
                .map(|m| format!("crate::{}", m.join("::")))
                .collect()
        });
        assert_eq!(names, None, "the use lines of src/ form a cycle");
    }
    assert!(
        edges.len() > 10,
        "the check read the use lines ({} files import)",
        edges.len()
    );
}
