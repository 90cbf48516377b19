//! The library's files import each other without a loop: drawn from the `use` lines and the
//! paths written in the code (`crate::…`, `super::…`), file to file, the graph has no cycle,
//! so that each file can be read (and changed) knowing only the ones below it.
//!
//! A path that names a module's item resolves to the file that defines the module; one that
//! goes through a module's re-export (`pub use child::Item` in a `mod.rs`) resolves to the
//! child that defines the item; the re-export itself is no import of the `mod.rs` (it hands a
//! name on). Inline modules count as their file, but for `#[cfg(test)]` ones: a file's tests
//! use it from above.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::{self, Visit};

/// A module by its path below the crate root: `["capture", "ptrace", "calls"]`.
type Module = Vec<String>;

/// Every file of the library, by its module.
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || path == src.join("main.rs") {
                continue;
            }
            let relative = path.strip_prefix(src).expect("below src").with_extension("");
            let mut module: Module = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            out.insert(module, path);
        }
    }
    out
}

/// Flattens a `use` tree into its paths (a glob keeps the path to its module).
fn use_paths(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_paths(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => out.push((with(prefix, &n.ident.to_string()), n.ident.to_string())),
        syn::UseTree::Rename(r) => out.push((with(prefix, &r.ident.to_string()), r.rename.to_string())),
        syn::UseTree::Glob(_) => out.push((prefix.clone(), "*".to_string())),
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| use_paths(t, prefix, out)),
    }
}

fn with(prefix: &[String], last: &str) -> Vec<String> {
    let mut path = prefix.to_vec();
    path.push(last.to_string());
    path
}

/// The paths one file writes, each made absolute (below the crate root), and the names its
/// public `use` lines hand on, with the path each stands for.
#[derive(Default)]
struct FileUses {
    paths: Vec<Module>,
    reexports: BTreeMap<String, Module>,
    /// Paths into the system's interfaces (`std::fs::…`, `libc::…`, `tokio::…`): see
    /// [`SYSTEM_APIS`].
    system: BTreeSet<String>,
}

struct Reader<'a> {
    /// The module the reader is in: the file's, or an inline module's inside it.
    here: Module,
    known: &'a BTreeMap<Module, PathBuf>,
    uses: FileUses,
}

impl Reader<'_> {
    /// A path as written here, made absolute; `None` for one outside the crate (`std::…`).
    fn absolute(&self, path: &[String]) -> Option<Module> {
        let mut at = self.here.clone();
        let mut rest = path;
        match rest.first().map(String::as_str) {
            Some("crate") => {
                at.clear();
                rest = &rest[1..];
            }
            Some("self") => rest = &rest[1..],
            Some("super") => {
                while rest.first().map(String::as_str) == Some("super") {
                    at.pop();
                    rest = &rest[1..];
                }
            }
            // A child module named without `self::` (2018 paths).
            Some(first) if self.known.contains_key(&with(&self.here, first)) => {}
            _ => return None,
        }
        at.extend(rest.iter().cloned());
        Some(at)
    }
}

impl Reader<'_> {
    fn note_system(&mut self, path: &[String]) {
        // A constant (`libc::ECONNREFUSED`) is a number, not a way into the system.
        if path.last().is_some_and(|last| last.len() > 1 && last.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')) {
            return;
        }
        let written = path.join("::");
        // nix's errno is a table of names, no way into the system.
        if written.starts_with("nix::errno") {
            return;
        }
        if let Some(api) = SYSTEM_APIS.iter().find(|api| written == **api || written.starts_with(&format!("{api}::"))) {
            self.uses.system.insert(api.to_string());
        }
    }
}

impl<'ast> Visit<'ast> for Reader<'_> {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut paths = Vec::new();
        use_paths(&item.tree, &mut Vec::new(), &mut paths);
        let public = matches!(item.vis, syn::Visibility::Public(_));
        for (path, name) in paths {
            self.note_system(&path);
            // A public `use` hands a name on (a module's face): it leads those who use the
            // name to where it is defined, and is no import of this file's own.
            match self.absolute(&path) {
                Some(absolute) if public => {
                    self.uses.reexports.insert(name, absolute);
                }
                Some(absolute) => self.uses.paths.push(absolute),
                None => {}
            }
        }
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        // A file's tests use it from above (a whole replay to test one of its parts): they
        // are no part of the library's layers.
        let test_only = item.attrs.iter().any(|a| a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test"));
        if item.content.is_some() && !test_only {
            self.here.push(item.ident.to_string());
            visit::visit_item_mod(self, item);
            self.here.pop();
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.note_system(&segments);
        // `crate::…`, `super::…`, `self::…`, and a child module named bare (`book::BookArgs`
        // in `cli/mod.rs`, which declares `mod book;`).
        if segments.len() > 1 {
            if let Some(absolute) = self.absolute(&segments) {
                self.uses.paths.push(absolute);
            }
        }
        visit::visit_path(self, path);
    }
}

/// The file a path leads to: the deepest module on it that is a file, or, through a
/// re-export of that module, the file the item comes from.
fn target(path: &[String], known: &BTreeMap<Module, PathBuf>, uses: &BTreeMap<Module, FileUses>) -> Option<Module> {
    let mut depth = path.len();
    while !known.contains_key(&path[..depth]) {
        depth = depth.checked_sub(1)?;
    }
    let module = path[..depth].to_vec();
    if let Some(name) = path.get(depth) {
        if let Some(source) = uses.get(&module).and_then(|u| u.reexports.get(name)) {
            if source != path {
                return target(source, known, uses);
            }
        }
    }
    Some(module)
}

/// The file-to-file import graph of the library.
fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    read().0
}

/// The file-to-file import graph, and the system interfaces each file names.
fn read() -> (BTreeMap<Module, BTreeSet<Module>>, BTreeMap<Module, BTreeSet<String>>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let known = modules(&src);
    let mut uses: BTreeMap<Module, FileUses> = BTreeMap::new();
    for (module, path) in &known {
        let text = std::fs::read_to_string(path).expect("a source file");
        let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut reader = Reader { here: module.clone(), known: &known, uses: FileUses::default() };
        reader.visit_file(&file);
        uses.insert(module.clone(), reader.uses);
    }
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, file) in &uses {
        let out = edges.entry(module.clone()).or_default();
        for path in &file.paths {
            if let Some(to) = target(path, &known, &uses).filter(|to| to != module) {
                out.insert(to);
            }
        }
    }
    let system = uses.into_iter().map(|(module, file)| (module, file.system)).collect();
    (edges, system)
}

/// A cycle of the graph, if it has one (depth-first search; the cycle as the path back).
fn a_cycle(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(at: &Module, edges: &BTreeMap<Module, BTreeSet<Module>>, marks: &mut BTreeMap<Module, Mark>, path: &mut Vec<Module>) -> Option<Vec<Module>> {
        match marks.get(at) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let from = path.iter().position(|m| m == at).unwrap_or(0);
                return Some(path[from..].iter().cloned().chain([at.clone()]).collect());
            }
            None => {}
        }
        marks.insert(at.clone(), Mark::Open);
        path.push(at.clone());
        for next in edges.get(at).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(at.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    edges.keys().find_map(|m| visit(m, edges, &mut marks, &mut Vec::new()))
}

fn shown(module: &Module) -> String {
    if module.is_empty() {
        "lib".to_string()
    } else {
        module.join("::")
    }
}

#[test]
fn the_library_files_import_each_other_without_a_cycle() {
    let edges = graph();
    // The reader sees what it must: a known import of one file by another.
    let calls = |m: &str| m.split("::").map(String::from).collect::<Module>();
    assert!(edges[&calls("capture::ptrace::calls")].contains(&calls("capture::ptrace::tracer")), "the graph misses calls.rs → tracer.rs");
    assert!(edges[&calls("live::session")].contains(&calls("live::error")), "the graph misses a path through a use line");
    assert!(edges[&calls("cli")].contains(&calls("cli::book")), "the graph misses a child module named bare in an expression");
    if let Some(cycle) = a_cycle(&edges) {
        panic!("the library's files import each other in a loop: {}", cycle.iter().map(shown).collect::<Vec<_>>().join(" → "));
    }
}

#[test]
fn the_top_level_modules_import_each_other_without_a_cycle() {
    // The rooms of lib.rs's map, each one file or a directory of files: one whole room may use
    // another only from above.
    let mut rooms: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (from, to) in graph() {
        let room = from.iter().take(1).cloned().collect::<Module>();
        let out = rooms.entry(room.clone()).or_default();
        out.extend(to.into_iter().map(|m| m.into_iter().take(1).collect::<Module>()).filter(|m| *m != room && !m.is_empty()));
    }
    if let Some(cycle) = a_cycle(&rooms) {
        panic!("the library's top-level modules import each other in a loop: {}", cycle.iter().map(shown).collect::<Vec<_>>().join(" → "));
    }
}

#[test]
fn a_loop_of_imports_is_found() {
    let m = |s: &str| vec![s.to_string()];
    let edges: BTreeMap<Module, BTreeSet<Module>> =
        [(m("a"), [m("b")].into()), (m("b"), [m("c")].into()), (m("c"), [m("a")].into()), (m("d"), [m("a")].into())].into();
    let cycle = a_cycle(&edges).expect("a → b → c → a");
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4);
    edges.get(&m("d")).expect("d");
    let without: BTreeMap<Module, BTreeSet<Module>> = [(m("a"), [m("b")].into()), (m("b"), BTreeSet::new())].into();
    assert_eq!(a_cycle(&without), None);
}

/// The modules that run programs, open sockets, talk to the kernel or serve: what the crate
/// doc (`src/lib.rs`) lists as touching the running system.
const SYSTEM: [&str; 8] = ["capture", "echo", "live", "netns", "record", "book", "grade", "cli"];

/// What `src/lib.rs` calls pure: given events, traces or bytes, they give values or text,
/// and reach the system only through a trace file they are named (`trace::read_trace`).
const PURE: [&str; 24] = [
    "wire",
    "inert",
    "state_path",
    "exit_codes",
    "sock_name",
    "errno",
    "tcp",
    "event",
    "query",
    "protocol",
    "sequence",
    "fault",
    "wording",
    "hash",
    "parallel",
    "timeline",
    "story",
    "check",
    "normalize",
    "replay",
    "render",
    "export",
    "summary",
    "sim",
];

/// The interfaces by which code reaches processes, sockets, the kernel or the environment.
const SYSTEM_APIS: [&str; 10] =
    ["std::process", "std::env", "std::net::TcpStream", "std::net::TcpListener", "std::net::UdpSocket", "std::os", "libc", "nix", "tokio", "std::io::stdout"];

#[test]
fn the_pure_modules_never_reach_the_system() {
    let (edges, system) = read();
    let top = |m: &Module| m.first().cloned().unwrap_or_default();
    let mut problems = Vec::new();
    for start in edges.keys().filter(|m| PURE.contains(&top(m).as_str())) {
        // Everything the file reaches, with the file it was reached through.
        let mut seen: BTreeMap<Module, Module> = BTreeMap::new();
        let mut stack = vec![start.clone()];
        while let Some(at) = stack.pop() {
            for next in edges.get(&at).into_iter().flatten() {
                if !seen.contains_key(next) && next != start {
                    seen.insert(next.clone(), at.clone());
                    stack.push(next.clone());
                }
            }
        }
        if let Some((reached, via)) = seen.iter().find(|(m, _)| SYSTEM.contains(&top(m).as_str())) {
            problems.push(format!("{} reaches {} (through {})", shown(start), shown(reached), shown(via)));
        }
        for api in system.get(start).into_iter().flatten() {
            problems.push(format!("{} names {api}", shown(start)));
        }
    }
    assert!(problems.is_empty(), "pure modules that touch the system:\n{}", problems.join("\n"));
    // Every module of the crate is in one list or the other, or is a file format (trace,
    // import): a new module is placed on purpose.
    let placed: BTreeSet<String> = PURE.iter().chain(SYSTEM.iter()).chain(["trace", "import", "fuzzing"].iter()).map(|m| m.to_string()).collect();
    let unplaced: Vec<String> = edges.keys().map(top).filter(|m| !m.is_empty() && !placed.contains(m)).collect();
    assert!(unplaced.is_empty(), "modules neither pure nor listed as touching the system: {unplaced:?} (place them in tests/layers.rs and src/lib.rs)");
}
