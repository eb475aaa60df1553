//! The crate's layering, checked on its own source: every `crate::` path in `src/` is
//! resolved to the module it names, and
//!
//! - a top-level module may import only the ones below it in [`LAYERS`] (so imports point
//!   one way, from the edges down to `ops`, and no cycle between them can exist);
//! - inside every folder, its files and subfolders import each other without a cycle.
//!
//! The rules are those written in each folder's `mod.rs` and in the README's code map.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules, each with the ones it may import (`ops` is used by all and uses none).
const LAYERS: &[(&str, &[&str])] = &[
    ("ops", &[]),
    ("ingest", &["ops"]),
    ("store", &["ingest", "ops"]),
    ("graphs", &["store", "ingest", "ops"]),
    ("config", &["graphs", "store", "ingest", "ops"]),
    ("http", &["config", "graphs", "store", "ingest", "ops"]),
    (
        "fuzz",
        &["http", "config", "graphs", "store", "ingest", "ops"],
    ),
    (
        "actors",
        &["http", "config", "graphs", "store", "ingest", "ops"],
    ),
    (
        "cli",
        &[
            "actors", "http", "config", "graphs", "store", "ingest", "ops",
        ],
    ),
];

/// Every module of `src/` (`store::layout`, `http`, ...) with its source, `lib` and `main`
/// left out (they only declare and dispatch).
fn modules(src: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src/ is readable") {
            let path = entry.expect("src/ is readable").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    let mut modules = BTreeMap::new();
    for file in files {
        let relative = file
            .strip_prefix(src)
            .expect("under src/")
            .with_extension("");
        let mut parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|p| p == "mod") {
            parts.pop();
        }
        if parts == ["lib"] || parts == ["main"] {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("a source file is UTF-8");
        modules.insert(parts.join("::"), text);
    }
    modules
}

/// The source without comments (doc links name modules without importing them) and without
/// string literals.
fn code_only(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if c == '"' && !escaped {
                        break;
                    }
                    escaped = c == '\\' && !escaped;
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// Every path written after `crate::`, with `{a, b::c}` groups expanded.
fn crate_paths(code: &str) -> Vec<String> {
    fn tree(rest: &str, prefix: &str, out: &mut Vec<String>) {
        let rest = rest.trim_start();
        if let Some(inner) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        tree(&inner[start..i], prefix, out);
                        return;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        tree(&inner[start..i], prefix, out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            return;
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let (name, after) = rest.split_at(end);
        if name.is_empty() {
            if !prefix.is_empty() {
                out.push(prefix.to_owned());
            }
            return;
        }
        let path = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}::{name}")
        };
        match after.strip_prefix("::") {
            Some(more) => tree(more, &path, out),
            None => out.push(path),
        }
    }
    let mut out = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        tree(&code[at + "crate::".len()..], "", &mut out);
    }
    out
}

/// module -> the modules it names.
fn imports(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    modules
        .iter()
        .map(|(module, source)| {
            let targets = crate_paths(&code_only(source))
                .into_iter()
                .filter_map(|path| {
                    // The longest prefix that is a module: `store::layout::LogKey` names
                    // `store::layout`.
                    let parts: Vec<&str> = path.split("::").collect();
                    (1..=parts.len())
                        .rev()
                        .map(|n| parts[..n].join("::"))
                        .find(|candidate| modules.contains_key(candidate))
                })
                .filter(|target| target != module)
                .collect();
            (module.clone(), targets)
        })
        .collect()
}

fn top_level(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

/// Imports that break [`LAYERS`], as messages.
fn layer_violations(imports: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut problems = Vec::new();
    for (module, targets) in imports {
        let from = top_level(module);
        let Some((_, allowed)) = LAYERS.iter().find(|(name, _)| *name == from) else {
            problems.push(format!(
                "{module}: top-level module {from:?} has no place in LAYERS (tests/it/architecture.rs)"
            ));
            continue;
        };
        for target in targets {
            let to = top_level(target);
            if to != from && !allowed.contains(&to) {
                problems.push(format!(
                    "{module} imports crate::{target}, but {from} may import only {allowed:?}"
                ));
            }
        }
    }
    problems
}

/// Cycles between the children (files and subfolders) of each folder, as messages.
fn folder_cycles(imports: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut folders: BTreeSet<String> = BTreeSet::from([String::new()]);
    for module in imports.keys() {
        if let Some((folder, _)) = module.rsplit_once("::") {
            folders.insert(folder.to_owned());
        }
    }
    let mut problems = Vec::new();
    for folder in folders {
        let prefix = if folder.is_empty() {
            String::new()
        } else {
            format!("{folder}::")
        };
        let child = |module: &str| -> Option<String> {
            let rest = module.strip_prefix(&prefix)?;
            Some(rest.split("::").next()?.to_owned())
        };
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (module, targets) in imports {
            let Some(from) = child(module).filter(|_| *module != folder) else {
                continue;
            };
            let entry = graph.entry(from.clone()).or_default();
            for target in targets {
                if let Some(to) = child(target).filter(|to| *to != from && *target != folder) {
                    entry.insert(to);
                }
            }
        }
        if let Some(cycle) = find_cycle(&graph) {
            let shown = if folder.is_empty() { "src" } else { &folder };
            problems.push(format!("import cycle in {shown}: {}", cycle.join(" -> ")));
        }
    }
    problems
}

/// One cycle of `graph`, if it has any (depth-first search).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

fn crate_source() -> BTreeMap<String, BTreeSet<String>> {
    imports(&modules(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")))
}

#[test]
fn top_level_modules_import_only_the_layers_below_them() {
    let problems = layer_violations(&crate_source());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_folder_has_an_import_cycle_between_its_files() {
    let problems = folder_cycles(&crate_source());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_folder_says_what_it_owns_and_what_it_may_not_import() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (folder, _) in LAYERS {
        let module = src.join(folder).join("mod.rs");
        let text = std::fs::read_to_string(&module)
            .or_else(|_| std::fs::read_to_string(src.join(format!("{folder}.rs"))))
            .expect("every top-level module has a mod.rs or a file");
        let doc: String = text
            .lines()
            .take_while(|line| line.starts_with("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            doc.contains("import"),
            "{folder}'s //! paragraph says what it owns and what it may import:\n{doc}"
        );
    }
}

/// The checker itself: it must see what it is meant to forbid.
#[test]
fn the_checker_catches_an_upward_import_a_grouped_one_and_a_cycle() {
    let source = |text: &str| text.to_owned();
    let modules = BTreeMap::from([
        (
            "ops::events".to_owned(),
            source("use crate::{ingest::sample::Rejection, ops::clock};"),
        ),
        (
            "ops::clock".to_owned(),
            source("// crate::store::layout in a comment\n"),
        ),
        (
            "ingest::sample".to_owned(),
            source("fn f() { crate::ops::events::rejected(\"crate::store\"); }"),
        ),
        (
            "http::assets".to_owned(),
            source("use crate::http::html::x;"),
        ),
        (
            "http::html".to_owned(),
            source("use crate::http::assets::LINKS;"),
        ),
    ]);
    let imports = imports(&modules);
    assert_eq!(
        imports["ops::events"],
        BTreeSet::from(["ingest::sample".to_owned(), "ops::clock".to_owned()])
    );
    assert!(imports["ops::clock"].is_empty(), "comments are not imports");
    assert_eq!(
        imports["ingest::sample"],
        BTreeSet::from(["ops::events".to_owned()]),
        "strings are not imports"
    );
    let layers = layer_violations(&imports);
    assert_eq!(layers.len(), 1, "{layers:?}");
    assert!(layers[0].starts_with("ops::events imports crate::ingest::sample"));
    assert_eq!(
        folder_cycles(&imports),
        [
            "import cycle in src: ingest -> ops -> ingest",
            "import cycle in http: assets -> html -> assets",
        ]
    );
}
