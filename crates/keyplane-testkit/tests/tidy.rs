//! The tidy test, in the manner of rust-analyzer's: it reads the workspace's sources and fails,
//! naming the file and line, when one of the invariants the architecture promises breaks:
//!
//! - SQL is written only in `keyplane-store` ([`sql_lives_only_in_the_store`]);
//! - the dialects and the domain import no store backend, and the domain depends on no wire or
//!   I/O crate and reads neither the clock nor the environment
//!   ([`the_domain_and_the_dialects_stay_off_the_store_and_the_wire`]);
//! - every Rust module opens with its `//!` doc ([`every_module_has_its_doc`]);
//! - no source file under `src/` is longer than [`MAX_SOURCE_LINES`]
//!   ([`source_files_stay_small`]);
//! - a request's context is built, and its refusal audited, only by the engine
//!   ([`only_the_engine_builds_contexts_and_audits_refusals`]);
//! - every wire code is written only in its dialect's one code table
//!   ([`wire_codes_live_in_their_dialects_table`]).
//!
//! Each check has its own explicit allow-list of today's exceptions; an allowed exception
//! that no longer occurs fails the check too, so that each list only ever shrinks.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The longest a file under a crate's `src/` may be.
const MAX_SOURCE_LINES: usize = 650;

/// Files under `src/` allowed to be longer than [`MAX_SOURCE_LINES`]: none. The list stays so
/// that an exception, should one ever be needed, is written down here with its reason.
const OVERSIZED_ALLOWED: &[&str] = &[];

/// Files outside `keyplane-store` that may hold SQL, and why.
const SQL_ALLOWED: &[&str] = &[
    // Makes a scratch PostgreSQL schema per test, before any store exists.
    "crates/keyplane-server/tests/server/cluster.rs",
    // This test: its own examples of what it looks for.
    "crates/keyplane-testkit/tests/tidy.rs",
];

/// Each dialect's one closed code table (a `keyplane_engine::code_table!`): the only file
/// where its wire codes are written.
const CODE_TABLES: &[&str] = &[
    "crates/keyplane-tencent/src/codes.rs",
    "crates/keyplane-aliyun/src/errors/codes.rs",
];

/// The crates whose code writes wire codes: the two dialects, and the server (whose gateway
/// still makes some up; they move to the Alibaba dialect's table).
const WIRE_CODE_CRATES: &[&str] = &["keyplane-tencent", "keyplane-aliyun", "keyplane-server"];

/// Crates the domain (`keyplane-core`) must not depend on: the store, the dialects, the
/// server, and every wire-format, network, database or runtime crate.
const DOMAIN_FORBIDDEN_DEPENDENCIES: &[&str] = &[
    "keyplane-store",
    "keyplane-tencent",
    "keyplane-aliyun",
    "keyplane-server",
    "keyplane-crypto",
    "tokio",
    "hyper",
    "hyper-util",
    "http",
    "http-body-util",
    "bytes",
    "rustls",
    "tokio-rustls",
    "tokio-tungstenite",
    "sqlx",
    "rusqlite",
    "serde_json",
    "quick-xml",
    "form_urlencoded",
    "percent-encoding",
    "toml",
];

/// What the domain's code must not call: the clock, the environment, the file system.
const DOMAIN_FORBIDDEN_CALLS: &[&str] = &[
    "now_utc(",
    "SystemTime::now(",
    "Instant::now(",
    "std::env::",
    "std::fs::",
    "tokio::",
];

// The checks.

#[test]
fn sql_lives_only_in_the_store() {
    let mut failures = Vec::new();
    let mut allowed_seen = BTreeSet::new();
    for file in rust_files() {
        if file.relative.starts_with("crates/keyplane-store/") {
            continue;
        }
        for literal in string_literals(&file.text) {
            if let Some(statement) = sql_statement(&literal.text) {
                if SQL_ALLOWED.contains(&file.relative.as_str()) {
                    allowed_seen.insert(file.relative.clone());
                    continue;
                }
                failures.push(format!(
                    "{}:{}: SQL ({statement}) outside keyplane-store",
                    file.relative, literal.line
                ));
            }
        }
    }
    stale_allowances(&mut failures, SQL_ALLOWED.iter().copied(), &allowed_seen);
    report("SQL outside the store", failures);
}

#[test]
fn the_domain_and_the_dialects_stay_off_the_store_and_the_wire() {
    let mut failures = Vec::new();
    for crate_name in ["keyplane-core", "keyplane-tencent", "keyplane-aliyun"] {
        let manifest = format!("crates/{crate_name}/Cargo.toml");
        for (line, dependency) in dependencies(&manifest) {
            if dependency == "keyplane-store" {
                failures.push(format!("{manifest}:{line}: depends on keyplane-store"));
            }
        }
    }
    for (line, dependency) in dependencies("crates/keyplane-core/Cargo.toml") {
        if DOMAIN_FORBIDDEN_DEPENDENCIES.contains(&dependency.as_str()) {
            failures.push(format!(
                "crates/keyplane-core/Cargo.toml:{line}: the domain depends on {dependency}"
            ));
        }
    }
    for file in rust_files() {
        let domain = file.relative.starts_with("crates/keyplane-core/src/");
        let dialect = file.relative.starts_with("crates/keyplane-tencent/src/")
            || file.relative.starts_with("crates/keyplane-aliyun/src/");
        if !domain && !dialect {
            continue;
        }
        for (index, line) in code_lines(&file.text) {
            if line.contains("keyplane_store") {
                failures.push(format!(
                    "{}:{}: imports a store backend (keyplane_store)",
                    file.relative,
                    index + 1
                ));
            }
            if domain {
                for call in DOMAIN_FORBIDDEN_CALLS {
                    if line.contains(call) {
                        failures.push(format!(
                            "{}:{}: the domain calls `{call}` (clock, environment or I/O)",
                            file.relative,
                            index + 1
                        ));
                    }
                }
            }
        }
    }
    report(
        "the domain or a dialect reaching the store or the wire",
        failures,
    );
}

#[test]
fn every_module_has_its_doc() {
    let mut failures = Vec::new();
    for file in rust_files() {
        let first = file.text.lines().find(|line| !line.trim().is_empty());
        if !first.is_some_and(|line| line.trim_start().starts_with("//!")) {
            failures.push(format!(
                "{}:1: the module does not open with a `//!` doc",
                file.relative
            ));
        }
    }
    report("modules without their `//!` doc", failures);
}

#[test]
fn source_files_stay_small() {
    let mut failures = Vec::new();
    let mut allowed_seen = BTreeSet::new();
    for file in rust_files() {
        if !file.relative.contains("/src/") {
            continue;
        }
        let lines = file.text.lines().count();
        if lines <= MAX_SOURCE_LINES {
            continue;
        }
        if OVERSIZED_ALLOWED.contains(&file.relative.as_str()) {
            allowed_seen.insert(file.relative.clone());
            continue;
        }
        failures.push(format!(
            "{}:{}: {lines} lines, over {MAX_SOURCE_LINES}: split it by topic",
            file.relative,
            MAX_SOURCE_LINES + 1
        ));
    }
    stale_allowances(
        &mut failures,
        OVERSIZED_ALLOWED.iter().copied(),
        &allowed_seen,
    );
    report("oversized source files", failures);
}

/// Every wire code is a member of its dialect's one code table ([`CODE_TABLES`]): a string
/// literal anywhere in the dialects' or the server's `src/` that equals a code of a table, or
/// that is shaped like a dotted wire code (`InvalidParameter.Xxx`, `EntityNotExist.User`),
/// fails unless it stands in a table. So a code cannot be made up, or decided, outside them.
#[test]
fn wire_codes_live_in_their_dialects_table() {
    let files = rust_files();
    let mut codes = BTreeSet::new();
    for table in CODE_TABLES {
        let file = files
            .iter()
            .find(|file| file.relative == *table)
            .unwrap_or_else(|| panic!("the code table {table} is missing"));
        let members = table_codes(&file.text);
        assert!(
            members.len() > 10,
            "{table}: no code_table! rows read; has its layout changed?"
        );
        codes.extend(members);
    }
    let mut failures = Vec::new();
    for file in &files {
        let in_scope = WIRE_CODE_CRATES
            .iter()
            .any(|name| file.relative.starts_with(&format!("crates/{name}/src/")));
        if !in_scope || CODE_TABLES.contains(&file.relative.as_str()) {
            continue;
        }
        for literal in string_literals(&file.text) {
            if codes.contains(&literal.text) || looks_like_dotted_wire_code(&literal.text) {
                failures.push(format!(
                    "{}:{}: wire code {:?} outside its dialect's code table",
                    file.relative, literal.line, literal.text
                ));
            }
        }
    }
    report("wire codes outside their table", failures);
}

/// The wire codes of a `code_table!`: the first string of every `Member => ("Code", …)` row.
fn table_codes(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| line.split_once("=> (\""))
        .filter_map(|(_, rest)| rest.split_once('"'))
        .map(|(code, _)| code.to_owned())
        .collect()
}

/// One request pipeline: outside the domain (`keyplane-core`, where its constructors live) and
/// the engine (`keyplane-engine`, which builds a request's one context and audits its refusal),
/// no source builds a `RequestContext` by hand or audits a refusal itself.
#[test]
fn only_the_engine_builds_contexts_and_audits_refusals() {
    let mut failures = Vec::new();
    for file in rust_files() {
        let owner = ["crates/keyplane-core/src/", "crates/keyplane-engine/src/"]
            .iter()
            .any(|prefix| file.relative.starts_with(prefix));
        if owner || !file.relative.contains("/src/") {
            continue;
        }
        for (index, line) in file.text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            // A function returning a context (`-> RequestContext {`) builds none.
            let literal = code.contains("RequestContext {") && !code.contains("-> RequestContext");
            let found = [".record_refusal", ".record_throttled_refusal"]
                .into_iter()
                .find(|pattern| code.contains(pattern))
                .or(literal.then_some("RequestContext {"));
            if let Some(pattern) = found {
                failures.push(format!(
                    "{}:{}: `{pattern}` outside keyplane-core and keyplane-engine",
                    file.relative,
                    index + 1
                ));
            }
        }
    }
    report(
        "request contexts or refusal audits outside the engine",
        failures,
    );
}

// Reading the workspace.

/// One Rust source file of the workspace.
struct SourceFile {
    /// The path from the workspace root, with `/` separators.
    relative: String,
    text: String,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root")
}

/// Every `.rs` file under `crates/` and `fuzz/` (build output excluded), sorted.
fn rust_files() -> Vec<SourceFile> {
    let root = workspace_root();
    let mut paths = Vec::new();
    for top in ["crates", "fuzz"] {
        collect_rust_files(&root.join(top), &mut paths);
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| SourceFile {
            relative: path
                .strip_prefix(&root)
                .expect("under the root")
                .to_string_lossy()
                .replace('\\', "/"),
            text: std::fs::read_to_string(&path).expect("a UTF-8 source file"),
        })
        .collect()
}

fn collect_rust_files(directory: &Path, paths: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("");
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                collect_rust_files(&path, paths);
            }
        } else if name.ends_with(".rs") {
            paths.push(path);
        }
    }
}

/// The dependency names of a manifest's `[dependencies]` table, with their line numbers.
fn dependencies(manifest: &str) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(workspace_root().join(manifest)).expect("a manifest");
    let mut in_dependencies = false;
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
            continue;
        }
        if in_dependencies && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.', ' ']).next().unwrap_or("").to_owned();
            found.push((index + 1, name));
        }
    }
    found
}

/// The lines of `text` (numbered from 0) with comments removed.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(index, line)| {
        let code = line.split("//").next().unwrap_or("");
        (!code.trim().is_empty()).then_some((index, code))
    })
}

/// A string literal's contents and the line it starts on.
struct Literal {
    line: usize,
    text: String,
}

/// The string literals of Rust source (plain and raw; byte strings too), skipping comments
/// and character literals. Escapes are kept as written, which the checks do not mind.
fn string_literals(source: &str) -> Vec<Literal> {
    let characters: Vec<char> = source.chars().collect();
    let mut literals = Vec::new();
    let mut line = 1;
    let mut index = 0;
    while index < characters.len() {
        let character = characters[index];
        let next = characters.get(index + 1).copied();
        match character {
            '\n' => {
                line += 1;
                index += 1;
            }
            '/' if next == Some('/') => {
                while index < characters.len() && characters[index] != '\n' {
                    index += 1;
                }
            }
            '/' if next == Some('*') => {
                index += 2;
                while index < characters.len()
                    && !(characters[index] == '*' && characters.get(index + 1) == Some(&'/'))
                {
                    if characters[index] == '\n' {
                        line += 1;
                    }
                    index += 1;
                }
                index += 2;
            }
            'r' if matches!(next, Some('"') | Some('#'))
                && !is_identifier_character(index.checked_sub(1).map(|at| characters[at])) =>
            {
                let mut cursor = index + 1;
                let mut hashes = 0;
                while characters.get(cursor) == Some(&'#') {
                    hashes += 1;
                    cursor += 1;
                }
                if characters.get(cursor) != Some(&'"') {
                    index += 1;
                    continue;
                }
                let start_line = line;
                cursor += 1;
                let start = cursor;
                loop {
                    match characters.get(cursor) {
                        None => break,
                        Some('"')
                            if (1..=hashes)
                                .all(|offset| characters.get(cursor + offset) == Some(&'#')) =>
                        {
                            break
                        }
                        Some('\n') => line += 1,
                        Some(_) => {}
                    }
                    cursor += 1;
                }
                literals.push(Literal {
                    line: start_line,
                    text: characters[start..cursor.min(characters.len())]
                        .iter()
                        .collect(),
                });
                index = cursor + 1 + hashes;
            }
            '"' => {
                let start_line = line;
                let mut cursor = index + 1;
                let mut text = String::new();
                while let Some(&inner) = characters.get(cursor) {
                    match inner {
                        '\\' => {
                            text.push(inner);
                            if let Some(&escaped) = characters.get(cursor + 1) {
                                if escaped == '\n' {
                                    line += 1;
                                }
                                text.push(escaped);
                            }
                            cursor += 2;
                            continue;
                        }
                        '"' => break,
                        '\n' => line += 1,
                        _ => {}
                    }
                    text.push(inner);
                    cursor += 1;
                }
                literals.push(Literal {
                    line: start_line,
                    text,
                });
                index = cursor + 1;
            }
            '\'' => {
                // A character literal ('x', '\n', '"'), or a lifetime ('a), which is skipped.
                if next == Some('\\') {
                    let mut cursor = index + 2;
                    while cursor < characters.len() && characters[cursor] != '\'' {
                        cursor += 1;
                    }
                    index = cursor + 1;
                } else if characters.get(index + 2) == Some(&'\'') {
                    index += 3;
                } else {
                    index += 1;
                }
            }
            _ => index += 1,
        }
    }
    literals
}

fn is_identifier_character(character: Option<char>) -> bool {
    character.is_some_and(|character| character.is_alphanumeric() || character == '_')
}

/// The kind of SQL statement `text` holds, if it reads as one: `SELECT … FROM`, `INSERT
/// INTO`, `UPDATE x SET`, `DELETE FROM`, or `CREATE`/`ALTER`/`DROP` of a table, index,
/// schema, function or trigger (any case).
fn sql_statement(text: &str) -> Option<&'static str> {
    let words: Vec<String> = text
        .split(|character: char| !(character.is_alphanumeric() || character == '_'))
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let followed_by = |first: &str, then: &str, within: usize| {
        words.iter().enumerate().any(|(index, word)| {
            word == first
                && words[index + 1..]
                    .iter()
                    .take(within)
                    .any(|later| later == then)
        })
    };
    const DEFINED: &[&str] = &["table", "index", "schema", "function", "trigger"];
    if followed_by("select", "from", 64) {
        Some("SELECT … FROM")
    } else if followed_by("insert", "into", 1) {
        Some("INSERT INTO")
    } else if words
        .windows(3)
        .any(|window| window[0] == "update" && window[2] == "set")
    {
        Some("UPDATE … SET")
    } else if followed_by("delete", "from", 1) {
        Some("DELETE FROM")
    } else if words.windows(2).any(|window| {
        ["create", "alter", "drop"].contains(&window[0].as_str())
            && DEFINED.contains(&window[1].as_str())
    }) {
        Some("a schema change")
    } else {
        None
    }
}

/// Whether `text` is, by its shape, a dotted wire code: two or more `.`-separated parts, each
/// an upper-case letter followed by letters and digits (`InvalidParameter.PolicyName.Length`).
fn looks_like_dotted_wire_code(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|part| {
            part.chars()
                .next()
                .is_some_and(|first| first.is_ascii_uppercase())
                && part
                    .chars()
                    .all(|character| character.is_ascii_alphanumeric())
        })
}

// Reporting.

/// Adds a failure for every allowed exception that no longer occurs, so the lists shrink.
fn stale_allowances<'a>(
    failures: &mut Vec<String>,
    allowed: impl Iterator<Item = &'a str>,
    seen: &BTreeSet<String>,
) {
    for allowed in allowed {
        if !seen.contains(allowed) {
            failures.push(format!(
                "{allowed}: allowed as an exception but no longer one: remove it from the list"
            ));
        }
    }
}

fn report(what: &str, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "tidy: {what}:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_scanner_reads_literals_and_statements() {
    let literals = string_literals(
        "let a = \"SELECT id FROM users\"; // \"DELETE FROM x\"\nlet b = r#\"x \"q\" y\"#;\nlet c = '\"'; let d = \"two\";",
    );
    let texts: Vec<&str> = literals
        .iter()
        .map(|literal| literal.text.as_str())
        .collect();
    assert_eq!(texts, ["SELECT id FROM users", "x \"q\" y", "two"]);
    assert_eq!(literals[2].line, 3);
    assert_eq!(sql_statement("SELECT id FROM users"), Some("SELECT … FROM"));
    assert_eq!(
        sql_statement("update users set name = ?"),
        Some("UPDATE … SET")
    );
    assert_eq!(
        sql_statement("CREATE SCHEMA test_1"),
        Some("a schema change")
    );
    assert_eq!(sql_statement("keep them safe and delete the file"), None);
    assert!(looks_like_dotted_wire_code(
        "InvalidParameter.PolicyName.Length"
    ));
    assert!(!looks_like_dotted_wire_code("InvalidParameter"));
    assert!(!looks_like_dotted_wire_code("keyplane.db"));
}
