//! The forward sweep one first letter at a time (src/signature/by_letter.rs)
//! against the per-segment step it stands in for (`Tuning::by_letter =
//! Some(false)`, one segment per pass), forced on (`Some(true)`, as the
//! default only takes it with AVX-512), through the public API: forward and
//! backward (whose forward sweep to depth m-1 takes it too) bit for bit, on
//! every (channels, depth) pair it is compiled for and one past each edge,
//! every lane count, chunks, the basepoint, one and several tiles, float32 and
//! float64, and each instruction set this machine has.

#[path = "signature_util.rs"]
mod util;

use sigvwap_core::signature::{
    output_len, signature_backward_with, signature_with, Precision, SigFloat, SigOptions, Simd,
    Tuning,
};
use util::{bits, random_walk, Rng};

struct Case {
    name: &'static str,
    /// batch, length, channels, depth
    shape: (usize, usize, usize, usize),
    basepoint: bool,
    lanes: Option<usize>,
    chunks: Option<usize>,
}

const fn case(
    name: &'static str,
    shape: (usize, usize, usize, usize),
    lanes: Option<usize>,
    chunks: Option<usize>,
) -> Case {
    Case {
        name,
        shape,
        basepoint: false,
        lanes,
        chunks,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case("batch 1, length 1 (no segments)", (1, 1, 3, 3), None, None),
        case("batch 1, length 2", (1, 2, 3, 3), None, None),
        Case {
            basepoint: true,
            ..case("batch 1, length 2, basepoint", (1, 2, 3, 3), None, None)
        },
        case(
            "d 3 m 3, several tiles, 8 lanes",
            (8, 300, 3, 3),
            Some(8),
            Some(1),
        ),
        case(
            "d 3 m 3, 16 lanes, partial block",
            (21, 130, 3, 3),
            Some(16),
            Some(1),
        ),
        case(
            "d 3 m 4 (by two letters), 4 lanes",
            (9, 140, 3, 4),
            Some(4),
            Some(1),
        ),
        case(
            "d 3 m 4 (by two letters), 8 lanes, several tiles",
            (8, 300, 3, 4),
            Some(8),
            Some(1),
        ),
        case(
            "d 3 m 5 (backward only), 8 lanes",
            (8, 90, 3, 5),
            Some(8),
            Some(1),
        ),
        case("d 3 m 2, 2 lanes", (5, 70, 3, 2), Some(2), Some(1)),
        case("d 2 m 2, 1 lane", (3, 65, 2, 2), Some(1), Some(1)),
        case("d 2 m 3, 8 lanes", (11, 129, 2, 3), Some(8), Some(1)),
        case("d 2 m 4, 16 lanes", (16, 200, 2, 4), Some(16), Some(1)),
        case(
            "d 2 m 5 (backward only), 8 lanes",
            (8, 100, 2, 5),
            Some(8),
            Some(1),
        ),
        case("d 4 m 2, 8 lanes", (9, 64, 4, 2), Some(8), Some(1)),
        case("d 4 m 3, 8 lanes", (8, 90, 4, 3), Some(8), Some(1)),
        case(
            "d 4 m 4 (by two letters), 16 lanes",
            (17, 70, 4, 4),
            Some(16),
            Some(1),
        ),
        case(
            "d 4 m 5 (backward only), 8 lanes",
            (8, 40, 4, 5),
            Some(8),
            Some(1),
        ),
        case("d 5 m 3 (never by letter)", (8, 40, 5, 3), None, None),
        case("d 8 m 2, 4 lanes", (6, 66, 8, 2), Some(4), Some(1)),
        case("d 8 m 3 (backward only)", (8, 40, 8, 3), None, None),
        case("d 1 m 3 (never by letter)", (8, 40, 1, 3), None, None),
        case(
            "d 9 m 2 (run-time channels, never by letter)",
            (8, 40, 9, 2),
            None,
            None,
        ),
        case("chunks split the paths", (3, 1000, 2, 3), Some(4), Some(4)),
        Case {
            basepoint: true,
            ..case("odd chunks, basepoint", (5, 513, 3, 3), Some(8), Some(3))
        },
        case("automatic plan, many paths", (70, 90, 3, 3), None, None),
    ]
}

/// Instruction sets present here: the best, AVX2 under AVX-512, and the
/// portable code (separate multiply and add).
fn simds() -> Vec<Option<Simd>> {
    let mut v = vec![None, Some(Simd::Portable)];
    if Simd::detect() == Simd::Avx512 {
        v.push(Some(Simd::Avx2Fma));
    }
    v
}

fn agree<T: SigFloat>(c: &Case, precision: Precision, dtype: &str) {
    let (batch, length, channels, depth) = c.shape;
    let o = SigOptions::new(batch, length, channels, depth)
        .with_basepoint(c.basepoint)
        .with_precision(precision);
    let mut rng = Rng::new(11);
    // An offset and small moves, so that the increments round.
    let path: Vec<T> = random_walk(&mut rng, batch, length, channels, 0.1)
        .iter()
        .map(|&v| T::from_f64(v + 3.0))
        .collect();
    let grad_out: Vec<T> = rng
        .vec(output_len(&o).unwrap(), 1.0)
        .iter()
        .map(|&v| T::from_f64(v))
        .collect();
    for simd in simds() {
        let letters = Tuning {
            lanes: c.lanes,
            chunks: c.chunks,
            simd,
            by_letter: Some(true),
            ..Tuning::default()
        };
        let steps = Tuning {
            by_letter: Some(false),
            segments_per_pass: Some(1),
            ..letters
        };
        let what = format!("{} ({dtype}, {precision:?}, {simd:?})", c.name);
        let want = signature_with(&path, &o, &steps).unwrap();
        let got = signature_with(&path, &o, &letters).unwrap();
        assert!(bits(&got) == bits(&want), "{what}: forward differs");
        let want = signature_backward_with(&path, &grad_out, &o, &steps).unwrap();
        let got = signature_backward_with(&path, &grad_out, &o, &letters).unwrap();
        assert!(bits(&got) == bits(&want), "{what}: backward differs");
    }
}

#[test]
fn by_letter_sweep_matches_the_step_bit_for_bit() {
    for c in cases() {
        for precision in [Precision::F32, Precision::F64] {
            agree::<f64>(&c, precision, "f64");
            agree::<f32>(&c, precision, "f32");
        }
    }
}

/// The by-letter sweep (on by default where it fits) against the plain
/// reference (`signature::cpu`) to rounding: the bit-for-bit test compares two
/// kernels with each other, this one ties them to the definition.
#[test]
fn by_letter_sweep_matches_the_reference() {
    use sigvwap_core::signature::signature_reference;
    for (name, shape) in [
        ("d 3 m 3", (8usize, 300usize, 3usize, 3usize)),
        ("d 2 m 4", (16, 200, 2, 4)),
        ("d 3 m 4 (two letters)", (8, 200, 3, 4)),
        ("d 4 m 3", (8, 150, 4, 3)),
        ("d 4 m 4 (two letters)", (8, 100, 4, 4)),
        ("d 5 m 2", (8, 70, 5, 2)),
    ] {
        let (batch, length, channels, depth) = shape;
        let o = SigOptions::new(batch, length, channels, depth).with_precision(Precision::F64);
        let path = random_walk(&mut Rng::new(3), batch, length, channels, 0.1);
        let want = signature_reference(&path, &o).unwrap();
        let got = signature_with(
            &path,
            &o,
            &Tuning {
                chunks: Some(1),
                by_letter: Some(true),
                ..Tuning::default()
            },
        )
        .unwrap();
        let err = want
            .iter()
            .zip(&got)
            .map(|(a, b)| (a - b).abs() / (1.0 + a.abs()))
            .fold(0.0, f64::max);
        assert!(err < 1e-12, "{name}: error {err:e} against the reference");
    }
}
