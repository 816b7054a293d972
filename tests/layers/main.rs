#![expect(
    clippy::unwrap_used,
    reason = "a test that cannot unwrap should fail loudly"
)]

//! The dependency rule, checked: the crates depend downward only (intake → core → migrations;
//! the stand-in and the mail sink on none of paylink's crates; the test kit a dev-dependency
//! only), nothing below the HTTP layer names axum or the intake's types, the files of `src/` and
//! of `core/src/` form no circle (counting every path written out, not only `use` lines:
//! `graph.rs`), the domain sits under the store, and no file cites a document that is not in the
//! repository.
//! `docs/architecture.md` draws the rule.

mod graph;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use graph::{Graph, Module, rust_files};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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

const PAYLINK_CRATES: [&str; 6] = [
    "paylink",
    "paylink-core",
    "migration",
    "fake-stripe",
    "mail-sink",
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
        set(&["paylink-core", "fake-stripe", "mail-sink"]),
        "the intake uses the core (and, for the demo, the stand-in and the mail sink), not the schema"
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
        paylink_dependencies("mail-sink/Cargo.toml", "dependencies"),
        set(&[]),
        "the mail sink shares no code with paylink"
    );
    assert_eq!(
        paylink_dependencies("Cargo.toml", "dev-dependencies"),
        set(&["paylink-testkit", "mail-sink"]),
        "the test kit and the mail sink are dev-dependencies"
    );
    for (manifest, section) in [
        ("core/Cargo.toml", "dev-dependencies"),
        ("fake-stripe/Cargo.toml", "dev-dependencies"),
        ("mail-sink/Cargo.toml", "dev-dependencies"),
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

fn named(cycle: &[Module]) -> Vec<String> {
    cycle
        .iter()
        .map(|m| format!("crate::{}", m.join("::")))
        .collect()
}

fn assert_no_circle(src: &str) {
    let graph = Graph::read(&root().join(src));
    assert_eq!(
        graph.cycle().as_deref().map(named),
        None,
        "the files of {src} form a circle"
    );
    assert!(
        graph.edges.len() > 10,
        "the check read the files of {src} ({} name another)",
        graph.edges.len()
    );
}

#[test]
fn the_files_of_src_form_no_circle() {
    assert_no_circle("src");
}

#[test]
fn the_files_of_core_form_no_circle() {
    assert_no_circle("core/src");
}

/// The store depends on the domain (its values, ids and rules), never the reverse; nor does
/// the domain know of jobs or the queue.
#[test]
fn the_domain_sits_under_the_store_jobs_and_queue() {
    let graph = Graph::read(&root().join("core/src"));
    let mut offenders = Vec::new();
    for (from, targets) in &graph.edges {
        if from.first().is_some_and(|m| m == "domain") {
            for to in targets {
                if to
                    .first()
                    .is_some_and(|m| ["store", "jobs", "queue"].contains(&m.as_str()))
                {
                    offenders.push(format!("{} names {}", from.join("::"), to.join("::")));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

/// The checker itself: a circle is found whichever way its paths are written, and what is not
/// a dependency (a comment, a string, a re-export that leads elsewhere) is not one.
#[test]
fn the_checker_sees_a_circle_however_its_paths_are_written() {
    fn graph(files: &[(&str, &str)]) -> Graph {
        let modules: BTreeSet<Module> = files
            .iter()
            .map(|(m, _)| {
                m.split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .collect();
        let code: BTreeMap<Module, String> = files
            .iter()
            .map(|(m, text)| {
                (
                    m.split("::")
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    graph::strip_comments_and_strings(text),
                )
            })
            .collect();
        Graph::build(&modules, &code)
    }
    let circles = [
        // A fully written path, the way startup named routes.
        [("a", "fn f() { crate::b::g() }"), ("b", "use crate::a::X;")],
        // A child naming its parent with super, the parent naming the child by its own name.
        [("p", "fn f() { c::g() }"), ("p::c", "use super::helper;")],
        // Inside a use tree, and through a parent's re-export of the file that defines it.
        [
            ("s", "pub use x::{Thing as Other, y::*}; pub fn helper() {}"),
            ("s::x", "use crate::s::{Other, helper};"),
        ],
    ];
    for files in &circles {
        assert!(graph(files).cycle().is_some(), "{files:?}");
    }
    let three = graph(&[
        ("a", "fn f() { crate::b::g() }"),
        ("b", "fn g() { crate::c::h() }"),
        ("c", "use crate::a;"),
    ]);
    assert_eq!(three.cycle().map(|c| c.len()), Some(4), "a → b → c → a");
    let no_circle = [
        // Comments, strings and tests are not dependencies.
        [
            (
                "a",
                "// crate::b::g\n/// [`crate::b`]\nfn f() { \"crate::b::g\"; }",
            ),
            (
                "b",
                "fn g() { crate::a::f() }\n#[cfg(test)]\nmod tests { use crate::b::g; }",
            ),
        ],
        // A name the parent re-exports from a sibling resolves to the sibling, not the parent.
        [
            (
                "m",
                "mod x; mod y; pub use x::Shared; fn wire() { y::run() }",
            ),
            ("m::y", "use super::Shared; fn run() {}"),
        ],
    ];
    for files in &no_circle {
        let g = graph(files);
        assert_eq!(g.cycle(), None, "{files:?}: {:?}", g.edges);
    }
}
