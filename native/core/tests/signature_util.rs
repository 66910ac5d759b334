//! Helpers shared by the `signature_*` tests (included with `#[path]`; as a
//! test target of its own it holds no tests).
#![allow(dead_code)]

use sigvwap_core::signature::tensor::TensorShape;
use sigvwap_core::signature::{SigFloat, SigOptions};

/// Deterministic pseudo-random numbers (splitmix64), no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
    pub fn vec(&mut self, n: usize, scale: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform() * scale).collect()
    }
}

/// A random-walk batch `[batch, length, channels]` with steps of size ~`step`.
pub fn random_walk(rng: &mut Rng, batch: usize, length: usize, channels: usize, step: f64) -> Vec<f64> {
    let mut out = vec![0.0; batch * length * channels];
    for b in 0..batch {
        for c in 0..channels {
            let mut x = rng.uniform();
            for t in 0..length {
                out[(b * length + t) * channels + c] = x;
                x += rng.uniform() * step;
            }
        }
    }
    out
}

/// Per-level error over all rows together (the max of a level over every row).
pub fn worst_level_error_pooled(shape: &TensorShape, got: &[f64], want: &[f64]) -> (f64, usize) {
    let siglen = shape.siglen();
    let mut worst = (0.0f64, 0usize);
    for k in 1..=shape.depth() {
        let pick = |v: &[f64]| -> Vec<f64> { v.chunks(siglen).flat_map(|r| r[shape.level(k)].to_vec()).collect() };
        let e = rel_error(&pick(got), &pick(want));
        if e > worst.0 || e.is_nan() {
            worst = (e, k);
        }
    }
    worst
}

/// Worst per-level error of `got` against `want` (pooled over the batch),
/// relative to the larger of the level's largest magnitude and the bound
/// V^k / k! that every level-k entry obeys, V the largest 1-variation
/// (Σ over segments of |Δx|₁) of a path. Why: where a path's increments
/// cancel, the level's final value can be far below the magnitudes its
/// terms had on the way, and computing it in another order (chunks glued
/// by Chen's identity) differs by rounding of those terms, not of the result.
pub fn worst_level_error_variation(shape: &TensorShape, got: &[f64], want: &[f64], path: &[f64], o: &SigOptions) -> (f64, usize) {
    let d = o.channels;
    let mut v = 0.0f64;
    for b in 0..o.batch {
        let p = &path[b * o.length * d..(b + 1) * o.length * d];
        let mut total: f64 = if o.basepoint { p[..d].iter().map(|x| x.abs()).sum() } else { 0.0 };
        for t in 1..o.length {
            total += (0..d).map(|c| (p[t * d + c] - p[(t - 1) * d + c]).abs()).sum::<f64>();
        }
        v = v.max(total);
    }
    let siglen = shape.siglen();
    let mut worst = (0.0f64, 0usize);
    let mut fact = 1.0;
    for k in 1..=shape.depth() {
        fact *= k as f64;
        let pick = |x: &[f64]| -> Vec<f64> { x.chunks(siglen).flat_map(|r| r[shape.level(k)].to_vec()).collect() };
        let (g, w) = (pick(got), pick(want));
        let scale = w.iter().fold(v.powi(k as i32) / fact, |m, x| m.max(x.abs()));
        let diff = g.iter().zip(&w).fold(0.0f64, |m, (a, b)| if (a - b).abs() > m || (a - b).is_nan() { (a - b).abs() } else { m });
        let e = if scale == 0.0 { if diff == 0.0 { 0.0 } else { 1.0 } } else { diff / scale };
        if e > worst.0 || e.is_nan() {
            worst = (e, k);
        }
    }
    worst
}

/// `max|got - want| / max|want|`; for all-zero `want`, 0 if `|got| <= 1e-300` else 1.
pub fn rel_error(got: &[f64], want: &[f64]) -> f64 {
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let diff = got.iter().zip(want).fold(0.0f64, |m, (g, w)| if (g - w).abs() > m || (g - w).is_nan() { (g - w).abs() } else { m });
    if scale == 0.0 {
        if got.iter().all(|g| g.abs() <= 1e-300) {
            0.0
        } else {
            1.0
        }
    } else {
        diff / scale
    }
}

/// The bit patterns of `v` (as float64), for bit-for-bit comparisons.
pub fn bits<T: SigFloat>(v: &[T]) -> Vec<u64> {
    v.iter().map(|x| x.to_f64().to_bits()).collect()
}

pub fn to_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

pub fn to_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// A JSON value whose numbers keep their text, so that they can be parsed
/// with `str::parse::<f64>` (correctly rounded; serde_json's default float
/// parser is not, and an ulp on a point of size 1 is 1e-9 of a 1e-7 increment).
#[derive(Debug, Clone)]
pub enum Json {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn parse(text: &str) -> Json {
        let bytes = text.as_bytes();
        let mut pos = 0;
        let v = parse_value(bytes, &mut pos);
        skip_ws(bytes, &mut pos);
        assert_eq!(pos, bytes.len(), "trailing characters in JSON");
        v
    }

    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Num(s) => s.parse().ok(),
            _ => None,
        }
    }

    pub fn as_usize(&self) -> Option<usize> {
        match self {
            Json::Num(s) => s.parse().ok(),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Arr(v) => Some(v),
            _ => None,
        }
    }
}

fn skip_ws(b: &[u8], pos: &mut usize) {
    while *pos < b.len() && b[*pos].is_ascii_whitespace() {
        *pos += 1;
    }
}

fn parse_value(b: &[u8], pos: &mut usize) -> Json {
    skip_ws(b, pos);
    match b[*pos] {
        b'{' => {
            *pos += 1;
            let mut fields = Vec::new();
            skip_ws(b, pos);
            if b[*pos] == b'}' {
                *pos += 1;
                return Json::Obj(fields);
            }
            loop {
                skip_ws(b, pos);
                let key = parse_string(b, pos);
                skip_ws(b, pos);
                assert_eq!(b[*pos], b':', "expected ':' in JSON object");
                *pos += 1;
                let value = parse_value(b, pos);
                fields.push((key, value));
                skip_ws(b, pos);
                match b[*pos] {
                    b',' => *pos += 1,
                    b'}' => {
                        *pos += 1;
                        return Json::Obj(fields);
                    }
                    c => panic!("unexpected {:?} in JSON object", c as char),
                }
            }
        }
        b'[' => {
            *pos += 1;
            let mut items = Vec::new();
            skip_ws(b, pos);
            if b[*pos] == b']' {
                *pos += 1;
                return Json::Arr(items);
            }
            loop {
                items.push(parse_value(b, pos));
                skip_ws(b, pos);
                match b[*pos] {
                    b',' => *pos += 1,
                    b']' => {
                        *pos += 1;
                        return Json::Arr(items);
                    }
                    c => panic!("unexpected {:?} in JSON array", c as char),
                }
            }
        }
        b'"' => Json::Str(parse_string(b, pos)),
        b't' => {
            *pos += 4;
            Json::Bool(true)
        }
        b'f' => {
            *pos += 5;
            Json::Bool(false)
        }
        b'n' => {
            *pos += 4;
            Json::Null
        }
        _ => {
            let start = *pos;
            while *pos < b.len() && matches!(b[*pos], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                *pos += 1;
            }
            assert!(*pos > start, "bad JSON value at byte {start}");
            Json::Num(String::from_utf8(b[start..*pos].to_vec()).unwrap())
        }
    }
}

fn parse_string(b: &[u8], pos: &mut usize) -> String {
    assert_eq!(b[*pos], b'"', "expected a JSON string");
    *pos += 1;
    let mut out = Vec::new();
    while b[*pos] != b'"' {
        if b[*pos] == b'\\' {
            *pos += 1;
            out.push(match b[*pos] {
                b'n' => b'\n',
                b't' => b'\t',
                other => other,
            });
        } else {
            out.push(b[*pos]);
        }
        *pos += 1;
    }
    *pos += 1;
    String::from_utf8(out).unwrap()
}
