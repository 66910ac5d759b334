//! Typed errors of the core: a stable code, a human message that names the
//! argument, and structured data (argument name, index, expected size ...)
//! that the N-API layer forwards to JavaScript as `error.data`.

use std::fmt;

/// Declares `ErrorCode`, `ErrorCode::ALL` and `as_str` from one list, so that
/// a new code cannot be left out of `ALL` (which tests/error_codes.rs checks
/// against `ERROR_CODES` in src/errors.ts, the TypeScript declaration).
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident => $code:literal,)+) => {
        /// Stable error codes; the N-API layer exposes `code.as_str()` as `error.code`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)+
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)+
                }
            }
        }
    };
}

error_codes! {
    /// An array has the wrong length for the declared shape.
    Shape => "ERR_SHAPE",
    /// An argument has an invalid value.
    Arg => "ERR_ARG",
    /// An input holds NaN or Infinity.
    NonFinite => "ERR_NONFINITE",
    /// An order's market volume sums to zero (VWAP undefined).
    ZeroVolume => "ERR_ZERO_VOLUME",
    /// Device 'cuda' was requested but cannot be used (not compiled in, no
    /// driver or device, or a driver error).
    CudaUnavailable => "ERR_CUDA_UNAVAILABLE",
    /// A panic was caught at the N-API boundary (a bug).
    Panic => "ERR_PANIC",
}

/// A value in `CoreError::data`.
#[derive(Clone, Debug, PartialEq)]
pub enum DataValue {
    Str(String),
    Int(i64),
    Float(f64),
}

impl From<&str> for DataValue {
    fn from(s: &str) -> Self {
        DataValue::Str(s.to_string())
    }
}
impl From<String> for DataValue {
    fn from(s: String) -> Self {
        DataValue::Str(s)
    }
}
impl From<usize> for DataValue {
    fn from(v: usize) -> Self {
        DataValue::Int(v as i64)
    }
}
impl From<i64> for DataValue {
    fn from(v: i64) -> Self {
        DataValue::Int(v)
    }
}
impl From<f64> for DataValue {
    fn from(v: f64) -> Self {
        DataValue::Float(v)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct CoreError {
    pub code: ErrorCode,
    pub message: String,
    pub data: Vec<(&'static str, DataValue)>,
}

impl CoreError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        CoreError { code, message: message.into(), data: Vec::new() }
    }

    /// Attach one structured datum (builder style).
    pub fn with(mut self, key: &'static str, value: impl Into<DataValue>) -> Self {
        self.data.push((key, value.into()));
        self
    }

    /// `ERR_SHAPE`: array `name` has `got` elements where `expected` were needed.
    pub fn shape(name: &str, expected: usize, got: usize, layout: &str) -> Self {
        CoreError::new(
            ErrorCode::Shape,
            format!("{name}: expected {expected} elements ({layout}), got {got}"),
        )
        .with("argument", name)
        .with("expected", expected)
        .with("got", got)
    }

    /// `ERR_ARG`: argument `name` has an invalid value.
    pub fn arg(name: &str, message: impl Into<String>) -> Self {
        CoreError::new(ErrorCode::Arg, format!("{name}: {}", message.into())).with("argument", name)
    }

    /// `ERR_NONFINITE`: array `name` holds NaN/Inf at flat `index`.
    pub fn non_finite(name: &str, index: usize, value: f64) -> Self {
        CoreError::new(ErrorCode::NonFinite, format!("{name}[{index}] is {value}, not a finite number"))
            .with("argument", name)
            .with("index", index)
    }

    /// `ERR_CUDA_UNAVAILABLE`: device 'cuda' was asked for but cannot be used,
    /// because of `reason` (also in the data).
    pub fn cuda_unavailable(reason: impl Into<String>) -> Self {
        let reason = reason.into();
        CoreError::new(ErrorCode::CudaUnavailable, format!("device 'cuda' requested but unavailable: {reason}"))
            .with("argument", "device")
            .with("reason", reason)
    }

    /// Data as a JSON object (no external crate: the keys are static identifiers).
    pub fn data_json(&self) -> String {
        let mut out = String::from("{");
        for (i, (k, v)) in self.data.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('"');
            out.push_str(k);
            out.push_str("\":");
            match v {
                DataValue::Str(s) => push_json_string(&mut out, s),
                DataValue::Int(n) => out.push_str(&n.to_string()),
                DataValue::Float(f) if f.is_finite() => out.push_str(&format!("{f:?}")),
                DataValue::Float(f) => push_json_string(&mut out, &f.to_string()),
            }
        }
        out.push('}');
        out
    }
}

fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for CoreError {}

pub type CoreResult<T> = Result<T, CoreError>;
