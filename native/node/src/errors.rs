//! CoreError -> napi::Error encoding and panic capture.

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
