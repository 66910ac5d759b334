//! The CPU Adam update, the specification (math in `mod.rs`): adam.ts's loop
//! with its f64 arithmetic on f32 storage, operation for operation.

use super::AdamOptions;

/// One update with step size `lr_t` (`super::lr_t`); lengths checked by the caller.
pub fn adam_update_into(o: &AdamOptions, lr_t: f64, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    let (b1, b2, eps) = (o.beta1, o.beta2, o.epsilon);
    for i in 0..w.len() {
        let gi = g[i] as f64;
        let mi = b1 * m[i] as f64 + (1.0 - b1) * gi;
        let vi = b2 * v[i] as f64 + (1.0 - b2) * gi * gi;
        m[i] = mi as f32;
        v[i] = vi as f32;
        w[i] = (w[i] as f64 - (lr_t * m[i] as f64) / ((v[i] as f64).sqrt() + eps)) as f32;
    }
}
