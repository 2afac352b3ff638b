//! The house's rules, checked as rust-analyzer's tidy tests check its own: the layer order
//! declared here is ARCHITECTURE.md's code map, every module under `src/` is in it, and no
//! module uses one above it in the order (which also rules out import circles between them).
//! Within a module, no file circle either.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// From the bottom: a module may use those before it, never one after it.
const LAYERS: &[&str] = &[
    "text",
    "metrics",
    "model",
    "price",
    "inventory",
    "rules",
    "schedule",
    "config",
    "wire",
    "secret",
    "sources",
    "app",
    "sink",
    "notify",
    "coverage",
    "efficiency",
    "review",
    "alerts",
    "digest",
    "selfcost",
    "outcome",
    "report",
    "datadog",
    "backtest",
    "check",
    "run",
    "lib",
    "main",
];

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top module a file of `src/` belongs to: `run` for src/run/cycle.rs, `lib`, `main`.
fn module_of(rel: &Path) -> String {
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().to_string();
    match first.as_str() {
        "lib.rs" => "lib".into(),
        "main.rs" | "bin" => "main".into(),
        f => f.trim_end_matches(".rs").into(),
    }
}

/// Every `crate::a::b…` path of a file, with the line it starts on; `crate::{a, b::{c, d}}`
/// groups (over several lines too) give one path per top-level item. Comments are skipped.
fn crate_paths(text: &str) -> Vec<(usize, Vec<String>)> {
    let code: String = text.lines().map(|l| l.find("//").map_or(l, |i| &l[..i])).collect::<Vec<_>>().join("\n");
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let path = |s: &str| -> Vec<String> {
        let head = s.split('{').next().unwrap_or("");
        head.split("::").map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect()
    };
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = code[from..].find("crate::") {
        let at = from + i;
        let rest = &code[at + "crate::".len()..];
        from = at + "crate::".len();
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group: split at commas outside inner braces.
            let (mut depth, mut start) = (0, 0);
            for (k, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.push((line_of(at), path(&group[start..k])));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push((line_of(at), path(&group[start..k])));
                        start = k + 1;
                    }
                    _ => {}
                }
            }
        } else {
            let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
            out.push((line_of(at), path(&rest[..end])));
        }
    }
    out.retain(|(_, p)| !p.is_empty());
    out
}

struct Use {
    from: String,
    file: PathBuf,
    line: usize,
    to: String,
    /// The file the path leads to, when it names one (src/a/b.rs or src/a/b/mod.rs).
    to_file: Option<PathBuf>,
}

fn uses() -> (Vec<Use>, BTreeSet<String>) {
    let src = Path::new(ROOT).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(f.strip_prefix(&src).unwrap())).collect();
    let mut out = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let from = module_of(rel);
        {
            for (line, segs) in crate_paths(&std::fs::read_to_string(f).unwrap()) {
                // An item of the crate root (a re-export or a declaration of lib.rs).
                let to = if modules.contains(&segs[0]) { segs[0].clone() } else { "lib".to_string() };
                let mut to_file = None;
                let mut dir = src.clone();
                for s in &segs {
                    let (file, module) = (dir.join(format!("{s}.rs")), dir.join(s).join("mod.rs"));
                    if file.exists() {
                        to_file = Some(file);
                    } else if module.exists() {
                        to_file = Some(module);
                    } else {
                        break;
                    }
                    dir = dir.join(s);
                }
                out.push(Use { from: from.clone(), file: rel.to_path_buf(), line, to, to_file });
            }
        }
    }
    (out, modules)
}

fn rank(m: &str) -> usize {
    LAYERS.iter().position(|l| *l == m).unwrap_or(usize::MAX)
}

/// The violations of the order: a module using one after it.
fn upward(uses: &[Use]) -> Vec<String> {
    let mut out: Vec<String> = uses
        .iter()
        .filter(|u| u.from != u.to && rank(&u.to) > rank(&u.from))
        .map(|u| format!("src/{}:{}: {} uses {}, which is above it", u.file.display(), u.line, u.from, u.to))
        .collect();
    out.dedup();
    out
}

#[test]
fn the_declared_order_is_architecture_mds_code_map_and_names_every_module() {
    let text = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap();
    let map = text.split("## Code map").nth(1).expect("a Code map section").split("\n## ").next().unwrap();
    let listed: Vec<String> = map
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .map(|l| l.split('`').next().unwrap().trim_end_matches('/').trim_end_matches(".rs").to_string())
        .map(|m| m.split('/').next().unwrap().to_string())
        .map(|m| if m.starts_with("main") { "main".to_string() } else { m })
        .collect();
    assert_eq!(listed, LAYERS, "ARCHITECTURE.md's code map, in order, is the declared layer order");
    let (_, modules) = uses();
    let missing: Vec<&String> = modules.iter().filter(|m| rank(m) == usize::MAX).collect();
    assert!(missing.is_empty(), "modules under src/ not in the order (nor in ARCHITECTURE.md): {missing:?}");
}

#[test]
fn no_module_uses_one_above_it() {
    let (uses, _) = uses();
    assert!(uses.len() > 100, "the scan found the crate's paths ({})", uses.len());
    let bad = upward(&uses);
    assert!(bad.is_empty(), "{} upward uses:\n{}", bad.len(), bad.join("\n"));
}

#[test]
fn no_file_circle_within_a_module() {
    let (uses, _) = uses();
    let src = Path::new(ROOT).join("src");
    let mut graph: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for u in &uses {
        if let Some(to) = &u.to_file {
            let to = to.strip_prefix(&src).unwrap().to_path_buf();
            if to != u.file && module_of(&to) == u.from {
                graph.entry(u.file.clone()).or_default().insert(to);
            }
        }
    }
    // Depth-first; a file met again on the current path closes a circle.
    fn visit(
        n: &PathBuf,
        g: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        path: &mut Vec<PathBuf>,
        done: &mut BTreeSet<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            return Some(path[i..].to_vec());
        }
        if !done.insert(n.clone()) {
            return None;
        }
        path.push(n.clone());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for n in graph.keys() {
        if let Some(circle) = visit(n, &graph, &mut Vec::new(), &mut done) {
            panic!(
                "a circle of imports: {}",
                circle.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" -> ")
            );
        }
    }
}

#[test]
fn an_upward_use_is_caught_with_its_file_and_line() {
    // The check itself can fail: one upward path, as the scan would meet it.
    let planted = Use { from: "model".into(), file: "model.rs".into(), line: 7, to: "run".into(), to_file: None };
    assert_eq!(upward(&[planted]), ["src/model.rs:7: model uses run, which is above it"]);
    let paths: Vec<Vec<String>> = crate_paths(
        "use crate::{config::Config,\n    wire::{self, Api}}; // crate::nothing\nlet x = crate::model::f();",
    )
    .into_iter()
    .map(|(_, p)| p)
    .collect();
    assert_eq!(paths, [vec!["config", "Config"], vec!["wire"], vec!["model", "f"]]);
}
