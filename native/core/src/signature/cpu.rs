//! Reference implementation (the specification the fast kernels are tested
//! against): scalar, one path at a time, float64 throughout.
//!
//! Forward: Chen's identity with the exponential written out,
//!   S^0 = 1,  S^n = S^{n-1} ⊗ exp(z_n),  z_n = x_n - x_{n-1},
//!   exp(z)_k = z^{⊗k} / k!,
//! the signature being S^N (N = L' - 1 segments; with `stream`, S^1..S^N).
//!
//! Backward: reverse mode with every prefix S^0..S^N stored (memory
//! O(N · siglen), unlike the fast path): with T = S ⊗ E, E = exp(z),
//!   S̄ = T̄ contracted on the right with E,   Ē = T̄ contracted on the left with S,
//! then z̄ by reverse mode through the recursion of exp. This derivation is
//! independent of the fast path's (which differentiates Horner's scheme).
//!
//! Cost: O(N · m · siglen) per path. Not parallel. Meant for tests.

use crate::error::CoreResult;

use super::options::{check_call, check_grad_finite, check_out_len, find_non_finite, SigFloat, SigOptions};
use super::tensor::{exp_backward, exp_into, left_contract_into, mul_into, right_contract_into, TensorShape};

/// Increments `z_1..z_N` of path `b` in float64 (row n-1 holds z_n), the
/// basepoint (if any) being the zero point 0.
fn increments<T: SigFloat>(path: &[T], opts: &SigOptions, b: usize) -> Vec<f64> {
    let (length, d) = (opts.length, opts.channels);
    let bp = usize::from(opts.basepoint);
    let point = |p: usize, a: usize| -> f64 {
        if p < bp {
            0.0
        } else {
            path[(b * length + p - bp) * d + a].to_f64()
        }
    };
    let n = opts.segments();
    let mut z = vec![0.0; n * d];
    for s in 1..=n {
        for a in 0..d {
            z[(s - 1) * d + a] = point(s, a) - point(s - 1, a);
        }
    }
    z
}

/// Signature (or stream of prefix signatures) by the definition; same
/// contract and errors as [`super::signature`].
pub fn signature_reference<T: SigFloat>(path: &[T], opts: &SigOptions) -> CoreResult<Vec<T>> {
    let checked = check_call(path, opts)?;
    if let Some(err) = find_non_finite(path, opts) {
        return Err(err);
    }
    let shape = TensorShape::new(opts.channels, opts.depth)?;
    let (siglen, d, n) = (checked.siglen, opts.channels, opts.segments());
    let mut out = vec![T::from_f64(0.0); checked.out_len];
    let mut e = vec![0.0; siglen];
    let mut next = vec![0.0; siglen];
    for b in 0..opts.batch {
        let z = increments(path, opts, b);
        let mut s = vec![0.0; siglen];
        for step in 0..n {
            exp_into(&shape, &z[step * d..(step + 1) * d], &mut e);
            mul_into(&shape, &s, &e, &mut next);
            std::mem::swap(&mut s, &mut next);
            if opts.stream {
                let row = &mut out[(b * n + step) * siglen..(b * n + step + 1) * siglen];
                for (o, &v) in row.iter_mut().zip(&s) {
                    *o = T::from_f64(v);
                }
            }
        }
        if !opts.stream {
            for (o, &v) in out[b * siglen..(b + 1) * siglen].iter_mut().zip(&s) {
                *o = T::from_f64(v);
            }
        }
    }
    Ok(out)
}

/// Gradient of `sum(gradOut * signature(path))` with respect to `path`, by
/// reverse mode over stored prefixes; same contract as
/// [`super::signature_backward`].
pub fn signature_backward_reference<T: SigFloat>(path: &[T], grad_out: &[T], opts: &SigOptions) -> CoreResult<Vec<T>> {
    let checked = check_call(path, opts)?;
    check_out_len("gradOut", checked.out_len, grad_out.len(), opts)?;
    if let Some(err) = find_non_finite(path, opts) {
        return Err(err);
    }
    check_grad_finite(grad_out, opts, checked.siglen)?;
    let shape = TensorShape::new(opts.channels, opts.depth)?;
    let (siglen, d, n, length) = (checked.siglen, opts.channels, opts.segments(), opts.length);
    let bp = usize::from(opts.basepoint);
    let mut grad = vec![T::from_f64(0.0); checked.path_len];
    for b in 0..opts.batch {
        let z = increments(path, opts, b);
        // prefixes[s] = S^s, s = 0..=n
        let mut prefixes = vec![vec![0.0; siglen]; n + 1];
        let mut e = vec![0.0; siglen];
        for step in 0..n {
            exp_into(&shape, &z[step * d..(step + 1) * d], &mut e);
            let (done, rest) = prefixes.split_at_mut(step + 1);
            mul_into(&shape, &done[step], &e, &mut rest[0]);
        }
        let upstream = |s: usize| -> Vec<f64> {
            // adjoint entering at S^s (s >= 1)
            let row = if opts.stream { (b * n + s - 1) * siglen } else { b * siglen };
            grad_out[row..row + siglen].iter().map(|v| v.to_f64()).collect()
        };
        let mut zbar = vec![0.0; n * d];
        if n > 0 {
            let mut tbar = upstream(n);
            let mut sbar = vec![0.0; siglen];
            let mut ebar = vec![0.0; siglen];
            for step in (0..n).rev() {
                let zs = &z[step * d..(step + 1) * d];
                exp_into(&shape, zs, &mut e);
                right_contract_into(&shape, &tbar, &e, &mut sbar);
                left_contract_into(&shape, &prefixes[step], &tbar, &mut ebar);
                exp_backward(&shape, zs, &e, &mut ebar, &mut zbar[step * d..(step + 1) * d]);
                std::mem::swap(&mut tbar, &mut sbar);
                if opts.stream && step >= 1 {
                    for (t, u) in tbar.iter_mut().zip(upstream(step)) {
                        *t += u;
                    }
                }
            }
        }
        // point p (with basepoint offset) ends increment p and starts p + 1
        for p in bp..=n {
            for a in 0..d {
                let mut g = 0.0;
                if p >= 1 {
                    g += zbar[(p - 1) * d + a];
                }
                if p < n {
                    g -= zbar[p * d + a];
                }
                grad[(b * length + p - bp) * d + a] = T::from_f64(g);
            }
        }
    }
    Ok(grad)
}
