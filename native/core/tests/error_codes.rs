//! The core's error codes are declared once in Rust (`ErrorCode`, whose
//! `ALL` is generated with the enum, so no variant can be left out) and once
//! in TypeScript (`ERROR_CODES` in src/errors.ts, which decodes the codes
//! that cross the N-API boundary). Every Rust code must be a key there, or
//! JavaScript would turn it into ERR_PANIC. The N-API layer (native/node)
//! declares no codes of its own: it reuses `ErrorCode` (e.g. `Panic`).

use std::collections::HashSet;

use sigvwap_core::ErrorCode;

const ERRORS_TS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../src/errors.ts");

/// The keys of `export const ERROR_CODES = { ... } as const;`, one per line
/// (`  ERR_XXX: '...',`).
fn typescript_codes() -> Vec<String> {
    let text = std::fs::read_to_string(ERRORS_TS).unwrap_or_else(|e| panic!("cannot read {ERRORS_TS}: {e}"));
    let start = text
        .find("export const ERROR_CODES = {")
        .unwrap_or_else(|| panic!("{ERRORS_TS}: no `export const ERROR_CODES = {{`"));
    let body = &text[start..];
    let body = &body[body.find('{').unwrap() + 1..];
    let end = body.find("} as const;").unwrap_or_else(|| panic!("{ERRORS_TS}: ERROR_CODES has no closing `}} as const;`"));
    body[..end]
        .lines()
        .filter_map(|line| {
            let (key, _) = line.trim().split_once(':')?;
            let key = key.trim();
            let is_code = key.starts_with("ERR_") && key.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            is_code.then(|| key.to_string())
        })
        .collect()
}

#[test]
fn every_rust_code_is_declared_in_errors_ts() {
    let ts = typescript_codes();
    assert!(!ts.is_empty(), "{ERRORS_TS}: no ERR_* keys found in ERROR_CODES");
    let missing: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).filter(|c| !ts.iter().any(|k| k == c)).collect();
    assert!(missing.is_empty(), "error codes of sigvwap-core missing from ERROR_CODES in {ERRORS_TS}: {missing:?}");
}

#[test]
fn rust_codes_are_distinct() {
    let strings: HashSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(strings.len(), ErrorCode::ALL.len(), "two ErrorCode variants share a string");
    assert!(ErrorCode::ALL.iter().all(|c| c.as_str().starts_with("ERR_")));
}
