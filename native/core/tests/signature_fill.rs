//! The SIMD transpose of increments (src/signature/fill.rs) against the
//! scalar gather it replaced (`Tuning::scalar_fill`), through the public
//! API: forward, stream and backward results bit for bit, and the same
//! errors for non-finite inputs. The cases cover the tile edges the fill
//! sees: no segments, one segment, partial blocks, tiles shorter than a
//! register, several tiles, the basepoint, chunks, every lane count, float32
//! and float64 sources and arithmetic, and both instruction sets present.

#[path = "signature_util.rs"]
mod util;

use sigvwap_core::signature::{
    output_len, signature_backward_with, signature_with, Precision, SigFloat, SigOptions, Simd, Tuning,
};
use util::{bits, random_walk, Rng};

struct Case {
    name: &'static str,
    /// batch, length, channels, depth
    shape: (usize, usize, usize, usize),
    basepoint: bool,
    stream: bool,
    lanes: Option<usize>,
    chunks: Option<usize>,
    precision: Precision,
}

const fn case(name: &'static str, shape: (usize, usize, usize, usize), lanes: Option<usize>, chunks: Option<usize>) -> Case {
    Case { name, shape, basepoint: false, stream: false, lanes, chunks, precision: Precision::Auto }
}

fn cases() -> Vec<Case> {
    vec![
        case("batch 1, length 1 (no segments)", (1, 1, 3, 3), None, None),
        case("batch 1, length 2", (1, 2, 3, 3), None, None),
        Case { basepoint: true, ..case("batch 1, length 2, basepoint", (1, 2, 3, 3), None, None) },
        case("one segment in 16 lanes", (16, 2, 2, 3), Some(16), Some(1)),
        case("odd sizes, last block partial, 8 lanes", (17, 9, 5, 2), Some(8), Some(1)),
        case("several tiles, 16 lanes", (16, 300, 3, 3), Some(16), Some(1)),
        Case { basepoint: true, ..case("several tiles, 8 lanes, basepoint", (8, 300, 3, 4), Some(8), Some(1)) },
        case("4 lanes, 7 channels", (9, 150, 7, 2), Some(4), Some(1)),
        case("8 lanes, 1 channel", (8, 150, 1, 3), Some(8), Some(1)),
        case("8 lanes, 6 channels, partial block", (11, 130, 6, 2), Some(8), Some(1)),
        case("8 lanes, 8 channels", (8, 70, 8, 2), Some(8), Some(1)),
        case("2 lanes", (6, 140, 3, 3), Some(2), Some(1)),
        case("1 lane", (3, 140, 2, 3), Some(1), Some(1)),
        case("channels > 8 (run-time count)", (8, 100, 9, 2), Some(8), Some(1)),
        case("chunks split the paths", (3, 1000, 2, 3), Some(4), Some(4)),
        Case { basepoint: true, ..case("odd chunks, basepoint", (5, 513, 3, 3), Some(8), Some(3)) },
        case("automatic plan, few long paths", (2, 3000, 3, 3), None, None),
        case("automatic plan, many paths", (70, 90, 4, 3), None, None),
        Case { stream: true, ..case("stream, 16 lanes", (16, 100, 4, 3), Some(16), None) },
        Case { precision: Precision::F32, ..case("float32 arithmetic", (16, 200, 3, 3), Some(16), Some(1)) },
        Case { precision: Precision::F64, ..case("float64 arithmetic", (8, 200, 3, 3), Some(8), Some(1)) },
    ]
}

/// Instruction sets to run both fills under: this machine's best, and AVX2
/// when the best is AVX-512 (its 4 x 4 / 8 x 8 transposes).
fn simds() -> Vec<Option<Simd>> {
    let mut v = vec![None];
    if Simd::detect() == Simd::Avx512 {
        v.push(Some(Simd::Avx2Fma));
    }
    v
}

fn agree<T: SigFloat>(c: &Case, dtype: &str) {
    let (batch, length, channels, depth) = c.shape;
    let o = SigOptions::new(batch, length, channels, depth)
        .with_basepoint(c.basepoint)
        .with_stream(c.stream)
        .with_precision(c.precision);
    let mut rng = Rng::new(5);
    // An offset and small moves, so that the increments round.
    let path: Vec<T> = random_walk(&mut rng, batch, length, channels, 0.1).iter().map(|&v| T::from_f64(v + 3.0)).collect();
    let grad_out: Vec<T> = rng.vec(output_len(&o).unwrap(), 1.0).iter().map(|&v| T::from_f64(v)).collect();
    // With and without the prefetch of the next tile (`Tuning::prefetch`).
    for (simd, prefetch) in simds().into_iter().flat_map(|s| [(s, true), (s, false)]) {
        let simd_fill = Tuning { lanes: c.lanes, chunks: c.chunks, simd, prefetch: Some(prefetch), ..Tuning::default() };
        let scalar_fill = Tuning { scalar_fill: Some(true), ..simd_fill };
        let what = format!("{} ({dtype}, {simd:?}, prefetch {prefetch})", c.name);
        let want = signature_with(&path, &o, &scalar_fill).unwrap();
        let got = signature_with(&path, &o, &simd_fill).unwrap();
        assert!(bits(&got) == bits(&want), "{what}: forward differs");
        let want = signature_backward_with(&path, &grad_out, &o, &scalar_fill).unwrap();
        let got = signature_backward_with(&path, &grad_out, &o, &simd_fill).unwrap();
        assert!(bits(&got) == bits(&want), "{what}: backward differs");
    }
}

#[test]
fn simd_fill_matches_the_scalar_fill_bit_for_bit() {
    for c in cases() {
        agree::<f64>(&c, "f64");
        agree::<f32>(&c, "f32");
    }
}

/// Non-finite points, and finite points whose increment overflows (in
/// float64, or only in float32 arithmetic): the same error either way.
#[test]
fn non_finite_inputs_give_the_same_error() {
    let (batch, length, channels) = (16, 200, 3);
    let at = (5 * length + 150) * channels + 1; // path[5][150][1]
    let base = random_walk(&mut Rng::new(9), batch, length, channels, 0.1);
    let bad = |f: &dyn Fn(&mut [f64])| {
        let mut p = base.clone();
        f(&mut p);
        p
    };
    let inputs = [
        ("NaN", bad(&|p| p[at] = f64::NAN), Precision::Auto),
        ("infinity", bad(&|p| p[at] = f64::NEG_INFINITY), Precision::Auto),
        ("float64 overflow", bad(&|p| (p[at], p[at + channels]) = (f64::MAX, -f64::MAX)), Precision::Auto),
        ("float32 overflow", bad(&|p| p[at] = 1e39), Precision::F32),
    ];
    for (name, path, precision) in inputs {
        let o = SigOptions::new(batch, length, channels, 3).with_precision(precision);
        let grad_out = vec![1.0; output_len(&o).unwrap()];
        for simd in simds() {
            let simd_fill = Tuning { lanes: Some(8), chunks: Some(1), simd, ..Tuning::default() };
            let scalar_fill = Tuning { scalar_fill: Some(true), ..simd_fill };
            let want = signature_with(&path, &o, &scalar_fill).unwrap_err();
            let got = signature_with(&path, &o, &simd_fill).unwrap_err();
            assert_eq!(format!("{got:?}"), format!("{want:?}"), "{name} ({simd:?}): forward");
            let want = signature_backward_with(&path, &grad_out, &o, &scalar_fill).unwrap_err();
            let got = signature_backward_with(&path, &grad_out, &o, &simd_fill).unwrap_err();
            assert_eq!(format!("{got:?}"), format!("{want:?}"), "{name} ({simd:?}): backward");
        }
    }
}
