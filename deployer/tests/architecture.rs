//! Rules of the source's shape that the compiler does not check, read from
//! `deployer/src` itself:
//!
//! - `aws` is the one door to AWS: no other file names an SDK crate or sends
//!   a request.
//! - No import cycle between two files: each file's dependencies are the
//!   files that define what its paths name (`use` trees and paths in code
//!   that start at `crate`, `super`, `self`, a child module or a module a
//!   `use` brought in). A `mod x;` declaration is not a dependency; a parent
//!   that re-exports a child's item (`pub use x::Y`) depends on the child, so
//!   a child that uses its parent's items makes a cycle: what both share
//!   lives in a leaf file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, relative to `src()`, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("src is readable").path();
        if path.is_dir() {
            found.extend(files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path.strip_prefix(src()).unwrap().to_path_buf());
        }
    }
    found.sort();
    found
}

/// Rust source without its comments and the contents of its string and
/// character literals (a literal is left as `""`), so that words in prose
/// or data are not read as code.
fn code(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            loop {
                if at(i) == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if at(i) == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else if i >= chars.len() {
                    break;
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && (at(i + 1) == '"' || (at(i + 1) == '#' && at(i + 2) != '[')) {
            // A raw string: r"...", r#"..."#, ...
            let mut j = i + 1;
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            if at(j) != '"' {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            let closing: String = std::iter::once('"')
                .chain("#".repeat(hashes).chars())
                .collect();
            while j < chars.len() && !chars[j..].iter().collect::<String>().starts_with(&closing) {
                j += 1;
            }
            i = j + closing.len();
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && (at(i + 1) == '\\' || at(i + 2) == '\'') {
            // A character literal ('a', '\n', '\u{1F600}'), not a lifetime.
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Path,
    Punct(char),
}

fn tokens(code: &str) -> Vec<Token> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' || (c == '$' && chars.get(i + 1) == Some(&'c')) {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push(Token::Path);
            i += 2;
        } else {
            if !c.is_whitespace() {
                out.push(Token::Punct(c));
            }
            i += 1;
        }
    }
    out
}

/// The SDK's crates, as code names them.
fn is_sdk_crate(word: &str) -> bool {
    word.starts_with("aws_sdk_")
        || word.starts_with("aws_smithy_")
        || ["aws_config", "aws_types", "aws_runtime", "aws_sigv4"].contains(&word)
}

#[test]
fn only_aws_names_an_sdk_crate_or_sends_a_request() {
    let mut offences = Vec::new();
    for file in files(&src()) {
        if file.starts_with("aws") || file == Path::new("aws.rs") {
            continue;
        }
        let text = std::fs::read_to_string(src().join(&file)).unwrap();
        let tokens = tokens(&code(&text));
        for (i, token) in tokens.iter().enumerate() {
            let Token::Word(word) = token else { continue };
            if is_sdk_crate(word) {
                offences.push(format!("{}: names `{word}`", file.display()));
            }
            let sends = word == "send"
                && i > 0
                && tokens[i - 1] == Token::Punct('.')
                && tokens.get(i + 1) == Some(&Token::Punct('('))
                && tokens.get(i + 2) == Some(&Token::Punct(')'));
            if sends {
                offences.push(format!("{}: sends a request (`.send()`)", file.display()));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "AWS is reached through `aws` only (a named function of aws/<service>.rs):\n{}",
        offences.join("\n")
    );
}

/// A module: its file, and its children's names.
#[derive(Debug)]
struct Module {
    file: PathBuf,
    children: BTreeSet<String>,
}

/// Every module of the crate whose root is `root`, by path (`["crate",
/// "aws", "iam"]`), with the file that holds it. Inline modules (`mod
/// tests { ... }`) are their file's.
fn modules(root: &Path) -> BTreeMap<Vec<String>, Module> {
    let mut found = BTreeMap::new();
    let mut pending = vec![(vec!["crate".to_string()], root.to_path_buf())];
    while let Some((path, file)) = pending.pop() {
        let text = std::fs::read_to_string(src().join(&file)).unwrap();
        let tokens = tokens(&code(&text));
        let mut children = BTreeSet::new();
        for window in tokens.windows(3) {
            if let [Token::Word(m), Token::Word(name), Token::Punct(';')] = window {
                if m == "mod" {
                    children.insert(name.clone());
                }
            }
        }
        let dir = match file.file_stem().unwrap().to_str().unwrap() {
            "lib" | "main" => PathBuf::new(),
            stem => file.with_file_name(stem),
        };
        for child in &children {
            let mut child_path = path.clone();
            child_path.push(child.clone());
            pending.push((child_path, dir.join(format!("{child}.rs"))));
        }
        found.insert(path, Module { file, children });
    }
    found
}

/// One `use` tree's paths, each with the name it binds (`None` for a glob).
fn use_paths(tokens: &[Token], prefix: Vec<String>, out: &mut Vec<(Vec<String>, Option<String>)>) {
    let mut path = prefix;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Word(w) if w == "as" => {
                if let Some(Token::Word(alias)) = tokens.get(i + 1) {
                    let last = out.last_mut().expect("an alias follows a path");
                    last.1 = Some(alias.clone());
                }
                i += 2;
                continue;
            }
            Token::Word(w) => {
                path.push(w.clone());
                if tokens.get(i + 1) != Some(&Token::Path) {
                    let name = match w.as_str() {
                        "self" => {
                            path.pop();
                            path.last().cloned()
                        }
                        _ => Some(w.clone()),
                    };
                    out.push((path.clone(), name));
                }
            }
            Token::Punct('*') => out.push((path.clone(), None)),
            Token::Punct('{') => {
                let mut depth = 0;
                let mut start = i + 1;
                let mut j = i;
                loop {
                    match tokens[j] {
                        Token::Punct('{') => depth += 1,
                        Token::Punct('}') => depth -= 1,
                        _ => {}
                    }
                    let at_comma = depth == 1 && tokens[j] == Token::Punct(',');
                    if at_comma || depth == 0 {
                        use_paths(&tokens[start..j], path.clone(), out);
                        start = j + 1;
                    }
                    if depth == 0 {
                        break;
                    }
                    j += 1;
                }
                i = j;
            }
            _ => {}
        }
        i += 1;
    }
}

/// The file-level graph of one crate: each file and the files it uses.
fn graph(root: &Path) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let modules = modules(root);
    let mut graph = BTreeMap::new();
    for (module_path, module) in &modules {
        let text = std::fs::read_to_string(src().join(&module.file)).unwrap();
        let tokens = tokens(&code(&text));
        // Where each path starts, by the module it is read in (inline
        // modules go one level deeper).
        let mut scopes: Vec<(Vec<String>, usize)> = vec![(module_path.clone(), 0)];
        let mut depth = 0;
        let mut uses: Vec<(Vec<String>, Vec<String>, Option<String>)> = Vec::new();
        let mut code_paths: Vec<(Vec<String>, Vec<String>)> = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            let scope = scopes.last().unwrap().0.clone();
            match &tokens[i] {
                Token::Punct('{') => depth += 1,
                Token::Punct('}') => {
                    depth -= 1;
                    if scopes.len() > 1 && scopes.last().unwrap().1 == depth {
                        scopes.pop();
                    }
                }
                Token::Word(w) if w == "mod" => {
                    if let (Some(Token::Word(name)), Some(Token::Punct('{'))) =
                        (tokens.get(i + 1), tokens.get(i + 2))
                    {
                        let mut inner = scope.clone();
                        inner.push(name.clone());
                        scopes.push((inner, depth));
                    }
                }
                Token::Word(w) if w == "use" => {
                    let end = i + tokens[i..]
                        .iter()
                        .position(|t| *t == Token::Punct(';'))
                        .unwrap();
                    let mut found = Vec::new();
                    use_paths(&tokens[i + 1..end], Vec::new(), &mut found);
                    uses.extend(found.into_iter().map(|(p, n)| (scope.clone(), p, n)));
                    i = end;
                }
                Token::Word(w) if tokens.get(i + 1) == Some(&Token::Path) => {
                    let after_path = i > 0 && tokens[i - 1] == Token::Path;
                    if !after_path {
                        let mut path = vec![w.clone()];
                        let mut j = i + 1;
                        while tokens.get(j) == Some(&Token::Path) {
                            match tokens.get(j + 1) {
                                Some(Token::Word(next)) => path.push(next.clone()),
                                _ => break,
                            }
                            j += 2;
                        }
                        code_paths.push((scope.clone(), path));
                    }
                }
                _ => {}
            }
            i += 1;
        }
        // The module each name a `use` binds stands for, in its scope.
        let mut bound: BTreeMap<(Vec<String>, String), Vec<String>> = BTreeMap::new();
        let mut targets = BTreeSet::new();
        // Bindings may name each other in any order: resolve until stable.
        for _ in 0..4 {
            for (scope, path, name) in &uses {
                if let Some(resolved) = absolute(&modules, &bound, scope, path) {
                    if let Some(name) = name {
                        if modules.contains_key(&resolved) {
                            bound.insert((scope.clone(), name.clone()), resolved.clone());
                        }
                    }
                    targets.insert(resolved);
                }
            }
        }
        for (scope, path) in &code_paths {
            if let Some(resolved) = absolute(&modules, &bound, scope, path) {
                targets.insert(resolved);
            }
        }
        let files: BTreeSet<PathBuf> = targets
            .iter()
            .map(|t| file_of(&modules, t))
            .filter(|f| *f != module.file)
            .collect();
        graph.insert(module.file.clone(), files);
    }
    graph
}

/// `path`, read in module `scope`, from the crate's root; `None` when it
/// starts outside the crate.
fn absolute(
    modules: &BTreeMap<Vec<String>, Module>,
    bound: &BTreeMap<(Vec<String>, String), Vec<String>>,
    scope: &[String],
    path: &[String],
) -> Option<Vec<String>> {
    let (first, rest) = path.split_first()?;
    let mut base: Vec<String> = match first.as_str() {
        "crate" | "$crate" => vec!["crate".to_string()],
        "self" => scope.to_vec(),
        "super" => scope[..scope.len() - 1].to_vec(),
        name => {
            let child: Vec<String> = scope.iter().cloned().chain([name.to_string()]).collect();
            if let Some(module) = bound.get(&(scope.to_vec(), name.to_string())) {
                module.clone()
            } else if modules
                .get(scope)
                .is_some_and(|m| m.children.contains(name))
            {
                child
            } else {
                return None;
            }
        }
    };
    let mut rest = rest.iter().peekable();
    while rest.peek().is_some_and(|s| *s == "super") {
        base.pop();
        rest.next();
    }
    base.extend(rest.cloned());
    Some(base)
}

/// The file that defines what `path` names: its longest prefix that is a
/// module (an inline module is its file's).
fn file_of(modules: &BTreeMap<Vec<String>, Module>, path: &[String]) -> PathBuf {
    (1..=path.len())
        .rev()
        .find_map(|n| modules.get(&path[..n]))
        .map(|m| m.file.clone())
        .unwrap_or_default()
}

/// A cycle of `graph`, as the files in order, if it has one.
fn cycles(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    // The strongly connected components (files that reach each other);
    // each one of more than one file holds a cycle, shown as the shortest
    // from its first file back. A few hundred files make this cheap.
    let mut found = Vec::new();
    let mut seen = BTreeSet::new();
    for start in graph.keys() {
        if seen.contains(start) {
            continue;
        }
        let mut component: BTreeSet<PathBuf> = BTreeSet::new();
        for other in graph.keys() {
            if reaches(graph, start, other) && reaches(graph, other, start) {
                component.insert(other.clone());
            }
        }
        seen.extend(component.iter().cloned());
        if component.len() > 1 {
            found.push(shortest_cycle(graph, start));
        }
    }
    found
}

fn reaches(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>, from: &PathBuf, to: &PathBuf) -> bool {
    let mut stack = vec![from];
    let mut visited = BTreeSet::new();
    while let Some(file) = stack.pop() {
        if file == to {
            return true;
        }
        if visited.insert(file) {
            stack.extend(graph.get(file).into_iter().flatten());
        }
    }
    false
}

/// The shortest way from `start` back to itself (breadth first).
fn shortest_cycle(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>, start: &PathBuf) -> Vec<PathBuf> {
    let mut previous: BTreeMap<&PathBuf, &PathBuf> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(file) = queue.pop_front() {
        for next in graph.get(file).into_iter().flatten() {
            if next == start {
                let mut cycle = vec![file.clone()];
                let mut at = file;
                while at != start {
                    at = previous[at];
                    cycle.push(at.clone());
                }
                cycle.reverse();
                cycle.push(start.clone());
                return cycle;
            }
            if !previous.contains_key(next) && next != start {
                previous.insert(next, file);
                queue.push_back(next);
            }
        }
    }
    unreachable!("a file of a cycle's component reaches itself")
}

#[test]
fn no_two_files_import_each_other_even_through_others() {
    let mut found = Vec::new();
    for root in ["lib.rs", "main.rs"] {
        found.extend(cycles(&graph(Path::new(root))));
    }
    let shown = found
        .iter()
        .map(|cycle| {
            cycle
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(" -> ")
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        found.is_empty(),
        "import cycles (move what both sides use into a leaf file):\n{shown}"
    );
}

#[test]
fn the_graph_sees_uses_paths_and_parents() {
    let graph = graph(Path::new("lib.rs"));
    let uses = |from: &str, to: &str| graph[Path::new(from)].contains(Path::new(to));
    // `use crate::aws::{self, AwsError, Clients}` and `aws::iam::tag(...)`.
    assert!(uses("apply/adopt.rs", "aws.rs"));
    assert!(uses("apply/adopt.rs", "aws/iam.rs"));
    // `super::` from a child, to a sibling and to the parent.
    assert!(uses("aws/iam.rs", "aws/error.rs"));
    assert!(uses("aws/sns.rs", "aws.rs"));
    // A `mod` declaration alone is not a use.
    assert!(!uses("lib.rs", "apply.rs"));
}
