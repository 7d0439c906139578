//! The source tree keeps its layers (docs/architecture.md): no file imports
//! a file that imports it back (directly or round a circle), and no module
//! imports one of a higher layer, or a sibling of its own layer.
//!
//! An import is any path into the crate a file writes: `use crate::…`,
//! `use super::…`, `use self::…` (groups expanded), and the same paths
//! written inline (`crate::run::Now::parse(…)`), outside comments and
//! strings. A path names the file of its longest prefix that is a module,
//! or, when that module re-exports the item (`pub use …`), the file the
//! item comes from. A module may name its own submodules (a `mod.rs`
//! assembles its children); every other path counts.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Top-level modules, highest layer first. A module may import only
/// modules of the layers below its own.
const LAYERS: &[&[&str]] = &[
    // The faces: the command line's commands, its definition, the dashboard.
    &["cmd"],
    &["cli", "serve"],
    // The engine: one run, from sources to report.
    &["run"],
    // What a run writes and tells: the database, notifications, reports.
    &["store"],
    &["notify"],
    &["report"],
    // The shapes the store fills and the reports render.
    &["summary"],
    // Rules and templates over records.
    &["detect"],
    &["template"],
    // The job file, Sigma rules, and `where` expressions.
    &["config"],
    &["sigma"],
    &["expr"],
    // Reading a source end to end; writing records.
    &["read", "output"],
    // Records out of units; the parallel pipeline; progress.
    &["parse", "pipeline", "progress"],
    // Inputs: finding, opening, framing.
    &["source"],
    // Base types.
    &["error", "json", "net", "clock"],
];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file under `src/` (`detect/window.rs` →
/// `detect::window`; `detect/mod.rs` and `lib.rs` name their directory).
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// The code of a file with comments, strings and character literals
/// blanked out (same length, so byte offsets and lines stay).
fn code_only(src: &str) -> Vec<u8> {
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n);
            blank(&mut out, i, end);
            i = end;
        } else if rest.starts_with(b"/*") {
            let (mut depth, mut j) = (0usize, i);
            while j < b.len() {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if let Some(hashes) = raw_string_start(b, i) {
            // r"…", r#"…"#, br"…": up to a quote and as many hashes.
            let open = i + memchr(b'"', &b[i..]).unwrap() + 1;
            let close: Vec<u8> =
                std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
            let end = find(&b[open..], &close).map_or(b.len(), |n| open + n + close.len());
            blank(&mut out, i, end);
            i = end;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if b[i] == b'\'' {
            // A character literal ('x', '\n', '\u{1f}', '"'), else a lifetime.
            if b.get(i + 1) == Some(&b'\\') {
                // The escaped character may itself be a quote (`'\''`).
                let from = (i + 3).min(b.len());
                let end = memchr(b'\'', &b[from..]).map_or(b.len(), |n| from + n + 1);
                blank(&mut out, i, end);
                i = end;
            } else {
                let ch_len = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                if b.get(i + 1 + ch_len) == Some(&b'\'') {
                    blank(&mut out, i, i + 2 + ch_len);
                    i += 2 + ch_len;
                } else {
                    i += 1;
                }
            }
        } else {
            i += 1;
        }
    }
    out
}

fn memchr(c: u8, s: &[u8]) -> Option<usize> {
    s.iter().position(|&x| x == c)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn is_ident(b: &[u8], i: usize) -> bool {
    b.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// At `i`, the start of a raw string (`r"`, `r#"`, `br"`): its hashes.
fn raw_string_start(b: &[u8], i: usize) -> Option<usize> {
    if is_ident(b, i.wrapping_sub(1)) {
        return None;
    }
    let mut j = i;
    if b.get(j) == Some(&b'b') {
        j += 1;
    }
    if b.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let hashes = b[j..].iter().take_while(|&&c| c == b'#').count();
    (b.get(j + hashes) == Some(&b'"')).then_some(hashes)
}

/// Where `word` (a keyword and its space) starts a word in `code`.
fn words(code: &[u8], word: &str) -> Vec<usize> {
    let w = word.as_bytes();
    (0..code.len().saturating_sub(w.len()))
        .filter(|&at| code[at..].starts_with(w) && !is_ident(code, at.wrapping_sub(1)))
        .collect()
}

/// The spans (open brace to close brace) of inline modules (`mod tests {`).
fn inline_modules(code: &[u8]) -> Vec<(usize, usize, String)> {
    let text = String::from_utf8_lossy(code);
    let mut out = Vec::new();
    for at in words(code, "mod ") {
        let rest = &text[at + 4..];
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let after = rest[name.len()..].trim_start();
        if name.is_empty() || !after.starts_with('{') {
            continue;
        }
        let open = at + 4 + rest.len() - after.len();
        let mut depth = 0usize;
        let mut close = code.len();
        for (k, &c) in code.iter().enumerate().skip(open) {
            if c == b'{' {
                depth += 1;
            } else if c == b'}' {
                depth -= 1;
                if depth == 0 {
                    close = k;
                    break;
                }
            }
        }
        out.push((open, close, name));
    }
    out
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e` (renames dropped).
fn expand(tree: &str) -> Vec<String> {
    let Some((prefix, parts)) = group(tree) else {
        return vec![tree.trim().split(" as ").next().unwrap().trim().to_string()];
    };
    parts.iter().flat_map(|p| expand(&join(prefix, p))).collect()
}

/// A use tree's group: `a::{b, c::{d}}` → (`a`, [`b`, `c::{d}`]); `None`
/// for a single path.
fn group(tree: &str) -> Option<(&str, Vec<String>)> {
    let tree = tree.trim();
    let open = tree.find('{')?;
    let prefix = tree[..open].trim().trim_end_matches("::").trim();
    let inner = &tree[open + 1..tree.rfind('}').unwrap()];
    let (mut parts, mut depth, mut cur) = (Vec::new(), 0, String::new());
    for ch in inner.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if ch == ',' && depth == 0 {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(ch);
        }
    }
    parts.push(cur);
    Some((
        prefix,
        parts.into_iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
    ))
}

fn join(prefix: &str, path: &str) -> String {
    if prefix.is_empty() {
        path.to_string()
    } else {
        format!("{prefix}::{path}")
    }
}

/// Every crate path of a file, with the byte offset where it is written.
fn paths(code: &[u8]) -> Vec<(usize, String)> {
    let text = String::from_utf8_lossy(code);
    let mut out = Vec::new();
    let mut uses = Vec::new();
    // `use` declarations, groups expanded.
    for at in words(code, "use ") {
        let Some(end) = text[at..].find(';') else { break };
        uses.push(at..at + end);
        let tree: String = text[at + 4..at + end].split_whitespace().collect::<Vec<_>>().join(" ");
        let tree = tree.replace(":: ", "::").replace(" ::", "::");
        if ["crate::", "super::", "self::"].iter().any(|p| tree.starts_with(p)) {
            out.extend(expand(&tree).into_iter().map(|p| (at, p)));
        }
    }
    // Paths written inline.
    for head in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(n) = text[from..].find(head) {
            let at = from + n;
            from = at + head.len();
            let inside_use = uses.iter().any(|u| u.contains(&at));
            if inside_use
                || is_ident(code, at.wrapping_sub(1))
                || code.get(at.wrapping_sub(1)) == Some(&b':')
            {
                continue;
            }
            let path: String = text[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push((at, path.trim_end_matches(':').to_string()));
        }
    }
    out
}

/// The names a file re-exports (`pub use a::b::C;`, `pub(crate) use
/// x::{y as z};`): each name with the path it stands for, as written
/// (relative paths are the file's own module's).
fn reexports(code: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(code);
    let mut out = Vec::new();
    for at in words(code, "use ") {
        let before = text[..at].trim_end();
        let public = before.ends_with("pub")
            || (before.ends_with(')')
                && before.rfind("pub(").is_some_and(|p| !before[p..].contains('\n')));
        let Some(end) = text[at..].find(';') else { break };
        if !public {
            continue;
        }
        let tree: String = text[at + 4..at + end].split_whitespace().collect::<Vec<_>>().join(" ");
        let tree = tree.replace(":: ", "::").replace(" ::", "::");
        for (path, name) in expand_named(&tree) {
            out.push((name, path));
        }
    }
    out
}

/// [`expand`], keeping each path's name in the importing module (its
/// rename, else its last segment; `a::{self}` is `a`).
fn expand_named(tree: &str) -> Vec<(String, String)> {
    let Some((prefix, parts)) = group(tree) else {
        let (path, rename) = match tree.split_once(" as ") {
            Some((p, r)) => (p.trim(), Some(r.trim())),
            None => (tree.trim(), None),
        };
        let path = path.strip_suffix("::self").unwrap_or(path);
        let name = rename.unwrap_or_else(|| path.rsplit("::").next().unwrap());
        return if name == "*" || name == "_" {
            Vec::new()
        } else {
            vec![(path.to_string(), name.to_string())]
        };
    };
    parts.iter().flat_map(|p| expand_named(&join(prefix, p))).collect()
}

/// `segs` made absolute from `module` (`crate::`, `super::`, `self::`,
/// or relative to `module`).
fn absolute(module: &[String], segs: &[&str]) -> Vec<String> {
    let mut base: Vec<String> = module.to_vec();
    let mut rest = segs;
    match rest.first() {
        Some(&"crate") => {
            base.clear();
            rest = &rest[1..];
        }
        _ => {
            while let Some(&s) = rest.first() {
                match s {
                    "super" => drop(base.pop()),
                    "self" => {}
                    _ => break,
                }
                rest = &rest[1..];
            }
        }
    }
    base.into_iter().chain(rest.iter().map(|s| s.to_string())).collect()
}

struct Tree {
    /// Module path → file (relative to `src/`).
    files: BTreeMap<Vec<String>, PathBuf>,
    /// file → file it imports → where (file:line) it does first.
    edges: BTreeMap<PathBuf, BTreeMap<PathBuf, String>>,
}

fn read_tree() -> Tree {
    let src = src_dir();
    let mut all = Vec::new();
    rust_files(&src, &mut all);
    all.sort();
    let mut files = BTreeMap::new();
    for f in &all {
        let rel = f.strip_prefix(&src).unwrap().to_path_buf();
        // The binary is a client of the library (`logtrack::…`).
        if rel != Path::new("main.rs") {
            files.insert(module_of(&rel), rel);
        }
    }
    // (module, name) → the absolute path a `pub use` there stands for.
    let mut exported: BTreeMap<(Vec<String>, String), Vec<String>> = BTreeMap::new();
    for (module, rel) in &files {
        let code = code_only(&fs::read_to_string(src.join(rel)).unwrap());
        for (name, path) in reexports(&code) {
            let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            exported.insert((module.clone(), name), absolute(module, &segs));
        }
    }
    let mut edges: BTreeMap<PathBuf, BTreeMap<PathBuf, String>> = BTreeMap::new();
    for (module, rel) in &files {
        let text = fs::read_to_string(src.join(rel)).unwrap();
        let code = code_only(&text);
        let inline = inline_modules(&code);
        for (at, path) in paths(&code) {
            let mut segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            let mut base: Vec<String> = module.clone();
            // The inline modules around `at` are part of where `self` is.
            base.extend(
                inline.iter().filter(|(o, c, _)| *o < at && at < *c).map(|(_, _, n)| n.clone()),
            );
            match segs.first() {
                Some(&"crate") => {
                    segs.remove(0);
                    base.clear();
                }
                Some(&"super") | Some(&"self") => {
                    while let Some(&s) = segs.first() {
                        match s {
                            "super" => drop(base.pop()),
                            "self" => {}
                            _ => break,
                        }
                        segs.remove(0);
                    }
                }
                _ => continue,
            }
            let mut full: Vec<String> =
                base.into_iter().chain(segs.iter().map(|s| s.to_string())).collect();
            // Through re-exports to where the item lives (a few hops at most).
            let mut target = None;
            for _ in 0..8 {
                let Some(n) = (1..=full.len()).rev().find(|n| files.contains_key(&full[..*n]))
                else {
                    break;
                };
                target = files.get(&full[..n]);
                match full.get(n).and_then(|name| exported.get(&(full[..n].to_vec(), name.clone())))
                {
                    Some(to) if *to != full[..=n] => {
                        full = to.iter().cloned().chain(full[n + 1..].iter().cloned()).collect();
                    }
                    _ => break,
                }
            }
            let Some(target) = target else {
                continue; // the crate root (lib.rs): not a layer
            };
            let target_module = module_of(target);
            // Self, or one of the file's own submodules.
            if target == rel
                || (target_module.len() > module.len() && target_module.starts_with(module))
            {
                continue;
            }
            let line = text[..at].matches('\n').count() + 1;
            edges
                .entry(rel.clone())
                .or_default()
                .entry(target.clone())
                .or_insert_with(|| format!("src/{}:{line}", rel.display()));
        }
    }
    Tree { files, edges }
}

/// The circles of the import graph (Tarjan's strongly connected components
/// with more than one file).
fn circles(edges: &BTreeMap<PathBuf, BTreeMap<PathBuf, String>>) -> Vec<Vec<PathBuf>> {
    struct St<'a> {
        edges: &'a BTreeMap<PathBuf, BTreeMap<PathBuf, String>>,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on: BTreeSet<&'a PathBuf>,
        out: Vec<Vec<PathBuf>>,
    }
    fn visit<'a>(s: &mut St<'a>, v: &'a PathBuf) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on.insert(v);
        if let Some(ws) = s.edges.get(v) {
            for w in ws.keys() {
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let l = s.low[w].min(s.low[v]);
                    s.low.insert(v, l);
                } else if s.on.contains(w) {
                    let l = s.index[w].min(s.low[v]);
                    s.low.insert(v, l);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = St {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn layer_of(top: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&top))
}

#[test]
fn no_file_imports_round_a_circle() {
    let tree = read_tree();
    let found = circles(&tree.edges);
    let mut msg = String::new();
    for c in &found {
        msg.push_str("circle:\n");
        for a in c {
            for b in c {
                if let Some(at) = tree.edges.get(a).and_then(|e| e.get(b)) {
                    msg.push_str(&format!("  {} -> {} ({at})\n", a.display(), b.display()));
                }
            }
        }
    }
    assert!(found.is_empty(), "{msg}");
}

#[test]
fn every_import_points_down_the_layers() {
    let tree = read_tree();
    let top = |f: &PathBuf| module_of(f).first().cloned().unwrap_or_default();
    // Every top-level module has its layer.
    let unplaced: Vec<String> = tree
        .files
        .values()
        .map(top)
        .filter(|t| !t.is_empty() && layer_of(t).is_none())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(
        unplaced.is_empty(),
        "modules without a layer in LAYERS (and docs/architecture.md): {unplaced:?}"
    );
    let mut wrong = Vec::new();
    for (from, tos) in &tree.edges {
        for (to, at) in tos {
            let (a, b) = (top(from), top(to));
            if a == b {
                continue;
            }
            let (la, lb) = (layer_of(&a).unwrap(), layer_of(&b).unwrap());
            if lb <= la {
                let how = if lb == la { "a sibling in its layer" } else { "a higher layer" };
                wrong.push(format!("{at}: {a} imports {b}, {how}"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers:\n{}", wrong.join("\n"));
}

/// The layers the architecture page draws are the ones checked here.
#[test]
fn the_architecture_page_lists_the_layers() {
    let page =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md"))
            .unwrap();
    let start =
        page.find("<!-- layers -->").expect("docs/architecture.md has a <!-- layers --> list");
    let end = page.find("<!-- /layers -->").expect("and its end");
    let listed: Vec<Vec<String>> = page[start..end]
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix(|c: char| c.is_ascii_digit()))
        .map(|l| {
            let names = l.split_once(". ").map_or(l, |(_, r)| r).split(':').next().unwrap();
            names.split(',').map(|n| n.trim().trim_matches('`').to_string()).collect()
        })
        .collect();
    let want: Vec<Vec<String>> =
        LAYERS.iter().map(|l| l.iter().map(|s| s.to_string()).collect()).collect();
    assert_eq!(
        listed, want,
        "docs/architecture.md's layer list and LAYERS in tests/layers.rs differ"
    );
}

#[test]
fn the_reader_sees_through_comments_strings_and_groups() {
    let code = code_only(
        "// crate::a::b\nlet s = \"crate::c\"; let c = '\"'; use crate::{d::E, f::{g, h as i}};\n",
    );
    let found: Vec<String> = paths(&code).into_iter().map(|(_, p)| p).collect();
    assert_eq!(found, ["crate::d::E", "crate::f::g", "crate::f::h"]);
    let code = code_only(
        "fn f<'a>(x: &'a str) { let q = ['\\'','\"']; crate::run::Now::parse(x); r#\"crate::x\"#; }",
    );
    let found: Vec<String> = paths(&code).into_iter().map(|(_, p)| p).collect();
    assert_eq!(found, ["crate::run::Now::parse"]);
    // Re-exports are followed to where the item lives.
    let code =
        code_only("pub use a::{b as c, d::{self, e}};\npub(crate) use crate::f::G;\nuse h::I;\n");
    let named = reexports(&code);
    let want = [("c", "a::b"), ("d", "a::d"), ("e", "a::d::e"), ("G", "crate::f::G")];
    assert_eq!(named, want.map(|(n, p)| (n.to_string(), p.to_string())));
    let module = ["x".to_string(), "y".to_string()];
    assert_eq!(absolute(&module, &["super", "z", "W"]), ["x", "z", "W"]);
    assert_eq!(absolute(&module, &["w", "V"]), ["x", "y", "w", "V"]);
    let edges: BTreeMap<PathBuf, BTreeMap<PathBuf, String>> =
        [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")].iter().fold(
            BTreeMap::new(),
            |mut m, (a, b)| {
                m.entry(PathBuf::from(a)).or_default().insert(PathBuf::from(b), String::new());
                m
            },
        );
    assert_eq!(
        circles(&edges),
        vec![vec![PathBuf::from("a"), PathBuf::from("b"), PathBuf::from("c")]]
    );
}
