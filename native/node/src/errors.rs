//! CoreError -> napi::Error encoding and panic capture.
//!
//! No error codes are declared here: every code, ERR_PANIC included, is a
//! `sigvwap_core::ErrorCode` (checked against src/errors.ts by
//! native/core/tests/error_codes.rs). The separators of the encoding are
//! checked against src/errors.ts's decoder by the test below.

use std::panic::{catch_unwind, AssertUnwindSafe};

use sigvwap_core::{CoreError, CoreResult, ErrorCode};

/// Separator between code and message, and between message and JSON data.
const CODE_SEP: char = '\u{1}';
const DATA_SEP: char = '\u{0}';

pub fn to_napi(e: CoreError) -> napi::Error {
    napi::Error::new(
        napi::Status::GenericFailure,
        format!("{}{CODE_SEP}{}{DATA_SEP}{}", e.code.as_str(), e.message, e.data_json()),
    )
}

/// Run `f`, turning a panic into ERR_PANIC and a CoreError into a napi error.
pub fn guarded<T>(what: &str, f: impl FnOnce() -> CoreResult<T>) -> napi::Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(to_napi),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(to_napi(
                CoreError::new(ErrorCode::Panic, format!("{what}: internal error (panic): {msg}; please report it"))
                    .with("function", what.to_string()),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{CODE_SEP, DATA_SEP};

    /// The character of `const NAME = '\uXXXX';` in src/errors.ts.
    fn ts_separator(ts: &str, name: &str) -> char {
        let decl = format!("const {name} = '\\u");
        let at = ts.find(&decl).unwrap_or_else(|| panic!("src/errors.ts: no `{decl}XXXX'`"));
        let hex = &ts[at + decl.len()..at + decl.len() + 4];
        char::from_u32(u32::from_str_radix(hex, 16).unwrap()).unwrap()
    }

    #[test]
    fn separators_match_the_typescript_decoder() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../src/errors.ts");
        let ts = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        assert_eq!(ts_separator(&ts, "CODE_SEPARATOR"), CODE_SEP);
        assert_eq!(ts_separator(&ts, "DATA_SEPARATOR"), DATA_SEP);
    }
}
