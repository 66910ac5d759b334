//! Pool size 1 vs 2 (its own test binary: it resizes the process-wide pool).
//! Work is split by blocks of paths, whose results do not depend on the
//! thread that runs them: bit-identical. Few long paths are split along the
//! length according to the thread count (plan.rs): equal to rounding.

#[path = "signature_util.rs"]
mod util;

use sigvwap_core::pool;
use sigvwap_core::signature::tensor::TensorShape;
use sigvwap_core::signature::{signature, signature_backward, SigOptions};
use util::{random_walk, rel_error, worst_level_error_pooled, Rng};

fn run(o: &SigOptions, path: &[f64], grad_out: &[f64], threads: usize) -> (Vec<f64>, Vec<f64>) {
    pool::set_threads(threads).unwrap();
    (signature(path, o).unwrap(), signature_backward(path, grad_out, o).unwrap())
}

#[test]
fn one_and_two_threads_agree() {
    for (name, batch, length, channels, depth, bitwise) in
        [("b64-l50-c3-m3", 64, 50, 3, 3, true), ("b2-l3000-c2-m4", 2, 3000, 2, 4, false), ("b5-l900-c4-m3", 5, 900, 4, 3, false)]
    {
        let o = SigOptions::new(batch, length, channels, depth);
        let ts = TensorShape::new(channels, depth).unwrap();
        let mut rng = Rng::new(17);
        let path = random_walk(&mut rng, batch, length, channels, 0.1);
        let grad_out = rng.vec(batch * ts.siglen(), 1.0);
        let (s1, g1) = run(&o, &path, &grad_out, 1);
        let (s2, g2) = run(&o, &path, &grad_out, 2);
        if bitwise {
            assert_eq!(s1, s2, "{name}: signature differs between 1 and 2 threads");
            assert_eq!(g1, g2, "{name}: gradient differs between 1 and 2 threads");
        }
        let (e, level) = worst_level_error_pooled(&ts, &s2, &s1);
        assert!(e <= 1e-13, "{name}: level {level} differs by {e:.3e}");
        let e = rel_error(&g2, &g1);
        assert!(e <= 1e-12, "{name}: gradient differs by {e:.3e}");
    }
}
