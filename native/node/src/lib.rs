//! N-API boundary of sigvwap: argument checks, error codes, async work.
//!
//! Every exported kernel has a sync form and an `...Async` form that runs on
//! the libuv pool (AsyncTask). Errors cross as napi errors whose reason is
//! `CODE \u{1} message \u{0} json-data`; src/errors.ts decodes them. A Rust
//! panic is caught (`catch_unwind`) and becomes ERR_PANIC, never an abort.

mod args;
mod attention;
mod errors;
mod fills;
mod grn;
mod info;
mod lstm;
mod matmul;
mod outbuf;
mod packed;
mod signature;
mod tensor;
mod tkan;
mod vwap;

pub use attention::*;
pub use fills::*;
pub use grn::*;
pub use info::*;
pub use lstm::*;
pub use matmul::*;
pub use signature::*;
pub use tensor::*;
pub use tkan::*;
pub use vwap::*;
