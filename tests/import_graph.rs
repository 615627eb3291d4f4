//! The direction of flow, checked on the source: the `use crate::` edges between top-level
//! modules of `src/` (production code only: `#[cfg(test)]` modules and `tests.rs` files are
//! left out) must have no cycle, and a few edges that once ran backwards must stay gone.
//!
//! `cargo test --test import_graph -- --nocapture` prints the whole graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Edges that must not exist: (from, to, why).
const FORBIDDEN: &[(&str, &str, &str)] = &[
    (
        "config",
        "analysis",
        "the configuration sits below the analysis",
    ),
    (
        "http",
        "commands",
        "the daemon's HTTP layer must not import a command",
    ),
    (
        "model",
        "*",
        "the model is the ground floor and imports nothing",
    ),
    ("facts", "*", "facts import the model only"),
];

/// Modules whose files must not run the analysis (they take its reports).
const NO_ANALYSIS_CALLS: &[&str] = &["state"];

/// Known violations another change is removing: (file, what). Each entry is printed; delete it
/// once the change is in, and the check holds it from then on. Edges that carry report and
/// finding types from analysis into state are fine; calling the analysis is not.
const PENDING: &[(&str, &str)] = &[(
    "src/state/lifecycle.rs",
    "analyze_target (the daemon split moves the analysis out of state)",
)];

/// Cycles another change is removing (their modules, sorted), printed instead of failed.
const PENDING_CYCLES: &[&[&str]] = &[];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Production code of a file: comments and `#[cfg(test)]` items removed.
fn production_code(text: &str) -> String {
    let mut out = String::new();
    let mut skip_depth: Option<i32> = None;
    let mut pending_cfg_test = false;
    let mut depth = 0i32;
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let trimmed = code.trim();
        let opens = code.matches('{').count() as i32;
        let closes = code.matches('}').count() as i32;
        if let Some(d) = skip_depth {
            depth += opens - closes;
            if depth <= d {
                skip_depth = None;
            }
            continue;
        }
        if trimmed == "#[cfg(test)]" {
            pending_cfg_test = true;
            continue;
        }
        if pending_cfg_test {
            pending_cfg_test = false;
            if opens > closes {
                skip_depth = Some(depth);
                depth += opens - closes;
            }
            // `mod tests;` (a file of its own) or a one-line item: skipped either way.
            continue;
        }
        depth += opens - closes;
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// The top-level modules a piece of code names through `crate::`.
fn crate_refs(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(list) = rest.strip_prefix('{') {
            // `crate::{a::X, b}`: the first segment of each top-level item.
            let mut level = 0;
            let mut start = true;
            for (j, c) in list.char_indices() {
                match c {
                    '{' => level += 1,
                    '}' if level == 0 => break,
                    '}' => level -= 1,
                    ',' if level == 0 => start = true,
                    c if start && level == 0 && (c.is_ascii_alphanumeric() || c == '_') => {
                        start = false;
                        out.insert(ident(&list[j..]));
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

fn top_module(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib" && name != "main").then(|| name.to_string())
}

struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
    modules: BTreeSet<String>,
}

fn graph() -> (Graph, Vec<String>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let modules: BTreeSet<String> = files.iter().filter_map(|f| top_module(&src, f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for f in &files {
        let Some(from) = top_module(&src, f) else {
            continue;
        };
        if f.file_name().is_some_and(|n| n == "tests.rs")
            || f.components().any(|c| c.as_os_str() == "tests")
        {
            continue;
        }
        let code = production_code(&std::fs::read_to_string(f).expect("read"));
        let rel = format!("src/{}", f.strip_prefix(&src).unwrap().display());
        if NO_ANALYSIS_CALLS.contains(&from.as_str()) {
            for call in ["analyze_target", "analysis::policy"] {
                if code.contains(call) && !PENDING.iter().any(|(p, _)| *p == rel) {
                    problems.push(format!(
                        "{rel}: {from} uses {call}: it takes reports and never runs the analysis"
                    ));
                }
            }
        }
        for to in crate_refs(&code) {
            if to != from && modules.contains(&to) {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    (Graph { edges, modules }, problems)
}

/// One cycle through `start`, if any (depth-first search).
fn cycle_from(g: &Graph, start: &str) -> Option<Vec<String>> {
    fn walk(
        g: &Graph,
        at: &str,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in g.edges.get(at).into_iter().flatten() {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(g, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    let mut seen = BTreeSet::new();
    walk(g, start, start, &mut path, &mut seen).then(|| {
        path.push(start.to_string());
        path
    })
}

/// The edges of `g` that [`FORBIDDEN`] names.
fn forbidden_edges(g: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    for (from, to, why) in FORBIDDEN {
        for t in g.edges.get(*from).into_iter().flatten() {
            if (*to == "*" && t != "model") || t == to {
                out.push(format!("{from} -> {t}: {why}"));
            }
        }
    }
    out
}

#[test]
fn crate_imports_flow_one_way() {
    let (g, mut problems) = graph();
    for (from, tos) in &g.edges {
        println!(
            "{from} -> {}",
            tos.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    for (file, what) in PENDING {
        println!("pending: {file}: {what}");
    }
    problems.extend(forbidden_edges(&g));
    let mut cycles = BTreeSet::new();
    for m in &g.modules {
        if let Some(c) = cycle_from(&g, m) {
            let mut key = c[..c.len() - 1].to_vec();
            key.sort();
            let pending = PENDING_CYCLES.iter().any(|p| *p == key.as_slice());
            if cycles.insert(key) {
                if pending {
                    println!("pending cycle: {}", c.join(" -> "));
                } else {
                    problems.push(format!("cycle: {}", c.join(" -> ")));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_sees_edges_and_cycles() {
    // The parser finds both spellings and ignores comments and test modules.
    let code = production_code(
        "use crate::a::X;\nuse crate::{b::Y, c};\n// use crate::d;\n#[cfg(test)]\nmod tests {\n    use crate::e;\n}\nfn f() { crate::g::h(); }\n",
    );
    let refs: Vec<String> = crate_refs(&code).into_iter().collect();
    assert_eq!(refs, ["a", "b", "c", "g"]);
    let g = Graph {
        edges: BTreeMap::from([
            ("x".to_string(), BTreeSet::from(["y".to_string()])),
            ("y".to_string(), BTreeSet::from(["x".to_string()])),
        ]),
        modules: BTreeSet::from(["x".to_string(), "y".to_string()]),
    };
    assert_eq!(cycle_from(&g, "x").unwrap(), ["x", "y", "x"]);
    let backwards = Graph {
        edges: BTreeMap::from([
            (
                "config".to_string(),
                BTreeSet::from(["analysis".to_string(), "model".to_string()]),
            ),
            (
                "facts".to_string(),
                BTreeSet::from(["model".to_string(), "aws".to_string()]),
            ),
        ]),
        modules: BTreeSet::new(),
    };
    assert_eq!(
        forbidden_edges(&backwards),
        [
            "config -> analysis: the configuration sits below the analysis",
            "facts -> aws: facts import the model only",
        ]
    );
}
