//! The domain stays pure (ARCHITECTURE.md): no framework, database, CSV, runtime, I/O, clock or
//! float in `src/domain`. This test reads the source and fails on any forbidden name.

use std::path::Path;

/// Names the domain must never mention, with why.
const FORBIDDEN_TOKENS: [&str; 7] = [
    "actix",
    "actix_web",
    "diesel",
    "csv",
    "tokio",
    "anyhow",
    "f32",
];
const FORBIDDEN_PATHS: [&str; 4] = ["std::fs", "std::net", "Utc::now", "SystemTime"];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn domain_names_no_framework_io_clock_or_float() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() >= 5, "src/domain should hold the engine");
    let mut violations = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            let tokens: Vec<&str> = line
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .collect();
            for bad in FORBIDDEN_TOKENS.iter().chain(["f64"].iter()) {
                if tokens.iter().any(|t| t.eq_ignore_ascii_case(bad)) {
                    violations.push(format!("{}:{}: {bad}: {line}", file.display(), n + 1));
                }
            }
            for bad in FORBIDDEN_PATHS {
                if line.contains(bad) {
                    violations.push(format!("{}:{}: {bad}: {line}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "src/domain must stay pure:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_check_itself_catches_a_violation() {
    // Guard against a scanner that can never fail: the same tokenizer sees a float here.
    let line = "let x: f64 = 1.0; std::fs::read(p)";
    let tokens: Vec<&str> = line
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    assert!(tokens.contains(&"f64"));
    assert!(line.contains("std::fs"));
}

fn store_files() -> Vec<(std::path::PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            (f, text)
        })
        .collect()
}

#[test]
fn the_store_defines_no_request_form_or_validator() {
    // Request forms are deserialized and checked in src/wire; the store runs checked commands.
    let mut violations = Vec::new();
    for (file, text) in store_files() {
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let bad = code.contains("Deserialize")
                || code.contains("fn check")
                || code.contains("fn validate")
                || code.contains("fn parse_");
            if bad {
                violations.push(format!("{}:{}: {line}", file.display(), n + 1));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn ledger_and_settlement_do_not_import_each_other() {
    let files = store_files();
    let text = |name: &str| {
        files
            .iter()
            .find(|(f, _)| f.ends_with(name))
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| panic!("src/store/{name} is missing"))
    };
    let ledger = text("ledger.rs");
    let settle = text("settle.rs");
    assert!(
        !ledger.contains("settle::"),
        "src/store/ledger.rs must not import src/store/settle.rs"
    );
    assert!(
        !settle.contains("ledger::"),
        "src/store/settle.rs must not import src/store/ledger.rs"
    );
}

#[test]
fn the_wire_holds_no_sql() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/wire");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(!files.is_empty(), "src/wire should hold the request forms");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            !text.contains("diesel") && !text.contains("actix"),
            "{} must not name diesel or actix",
            file.display()
        );
    }
}
