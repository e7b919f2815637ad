//! The layers of the README's layout, checked: no module imports from a layer above
//! its own (ground types -> lake -> ingest, attribute -> budget, findings -> report,
//! nudge -> run, demo -> commands -> main). Reads `src/` as text: every `crate::<module>`
//! path, including `use crate::{a, b}` lists.

use std::collections::BTreeSet;
use std::path::Path;

/// Each top-level module's layer; modules of one layer may not import each other
/// unless listed in `SIDEWAYS`.
const LAYERS: &[(&str, u8)] = &[
    ("money", 0),
    ("calendar", 0),
    ("schema", 0),
    ("provider", 0),
    ("currency", 0),
    ("timestamp", 0),
    ("hashing", 0),
    ("metrics", 0),
    ("output", 0),
    ("queries", 0),
    ("lake", 1),
    ("ingest", 2),
    ("attribute", 2),
    ("export", 2),
    ("budget", 3),
    ("findings", 3),
    ("report", 4),
    ("nudge", 4),
    ("run", 5),
    ("demo", 5),
    ("commands", 6),
    ("main", 7),
    ("lib", 7),
];

/// Same-layer imports that are domain dependencies: the ground floor's small types use
/// each other (a timestamp's month, a metric's money), reports and nudges both show budgets.
const SIDEWAYS: &[(&str, &str)] = &[
    ("timestamp", "calendar"),
    ("queries", "calendar"),
    ("metrics", "money"),
    ("schema", "money"),
    ("currency", "money"),
    ("output", "money"),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(list) = rest.strip_prefix('{') {
            let end = list.find('}').unwrap_or(list.len());
            for item in list[..end].split(',') {
                let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                out.insert(name);
            }
        } else {
            out.insert(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
        }
    }
    out
}

#[test]
fn no_module_imports_from_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    for entry in walkdir::WalkDir::new(&src).into_iter().filter_map(Result::ok) {
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let relative = path.strip_prefix(&src).unwrap();
        let top = relative.components().next().unwrap().as_os_str().to_str().unwrap().trim_end_matches(".rs");
        let from =
            layer(top).unwrap_or_else(|| panic!("src/{}: module `{top}` has no layer in LAYERS", relative.display()));
        for to in imports(&std::fs::read_to_string(path).unwrap()) {
            if to == top || to.is_empty() {
                continue;
            }
            // In the binary (main.rs, commands/), `crate::` is the binary crate; it names the same modules.
            let Some(at) = layer(&to) else { continue };
            if at > from || (at == from && !SIDEWAYS.contains(&(top, to.as_str()))) {
                wrong.push(format!("src/{} (layer {from}) imports crate::{to} (layer {at})", relative.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers:\n{}", wrong.join("\n"));
}
