//! Adam, the optimizer of src/train/adam.ts, for parameters that live in the
//! native core (the device-resident LSTM trainer): the same update, bit for
//! bit, on f32 storage.
//!
//! Math (Kingma & Ba, the Keras form, as adam.ts), t = the step count after
//! this update (1 for the first):
//!   m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g·g       (f64, stored as f32)
//!   w ← w − lr_t · m / (√v + ε),   lr_t = lr·√(1−β2^t) / (1−β1^t)
//! where m and v in the last line are the stored (f32-rounded) moments and ε
//! is added to √v, not to v. Every operation is in f64 on f32 storage, in
//! adam.ts's order (JavaScript numbers never fuse a multiply-add; the CUDA
//! kernel uses round-to-nearest intrinsics so that nvcc does not either),
//! so the CPU mirror, the kernel and adam.ts give the same bits for the same
//! lr_t. lr_t is computed once per step on the host ([`lr_t`]); β^t uses
//! `f64::powf`, which may differ from JavaScript's `**` in the last bit.
//! Layout: w, g, m, v are flat f32 arrays of one length (all the parameters
//! of a model may be one array: the update is per element).
//! Cost: O(parameters) per step, memory-bound (4 reads, 3 writes per value).
//!
//! Module map: `cpu` (the specification), `cuda` (feature `cuda`: launcher of
//! kernels/adam.cu on host or device arrays).

mod cpu;
#[cfg(feature = "cuda")]
pub(crate) mod cuda;

use crate::device::{cuda_only, Device};
use crate::error::{CoreError, CoreResult};

pub use cpu::adam_update_into;

/// Adam's hyper-parameters (adam.ts `AdamOptions`, same defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamOptions {
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
}

impl Default for AdamOptions {
    /// adam.ts `DEFAULT_ADAM`.
    fn default() -> Self {
        AdamOptions { learning_rate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }
    }
}

impl AdamOptions {
    /// adam.ts's checks: learningRate and epsilon positive, beta1 and beta2 in [0, 1)
    /// (ERR_ARG naming the option with adam.ts's camelCase name).
    pub fn check(&self) -> CoreResult<()> {
        for (name, v) in [("learningRate", self.learning_rate), ("epsilon", self.epsilon)] {
            if !(v > 0.0) {
                return Err(CoreError::arg(name, format!("expected a positive number, got {v}")));
            }
        }
        for (name, v) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !((0.0..1.0).contains(&v)) {
                return Err(CoreError::arg(name, format!("expected a number in [0, 1), got {v}")));
            }
        }
        Ok(())
    }
}

/// The step size of step `t` (1-based): lr·√(1−β2^t) / (1−β1^t), in adam.ts's order.
pub fn lr_t(o: &AdamOptions, t: u64) -> f64 {
    let t = t as f64;
    (o.learning_rate * (1.0 - o.beta2.powf(t)).sqrt()) / (1.0 - o.beta1.powf(t))
}

/// One Adam update of `w` with gradient `g` at step `t` (1-based; the
/// caller counts), moments `m` and `v` updated in place, on `device`.
/// Lengths must agree (ERR_SHAPE naming the array); `t` must be at least 1.
pub fn adam_update_on(device: Device, o: &AdamOptions, t: u64, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) -> CoreResult<()> {
    o.check()?;
    if t == 0 {
        return Err(CoreError::arg("step", "the step count after the update starts at 1"));
    }
    for (name, len) in [("gradient", g.len()), ("m", m.len()), ("v", v.len())] {
        if len != w.len() {
            return Err(CoreError::shape(name, w.len(), len, "one value per parameter"));
        }
    }
    let lr = lr_t(o, t);
    match device {
        Device::Cpu => {
            adam_update_into(o, lr, w, g, m, v);
            Ok(())
        }
        Device::Cuda => cuda_only!(cuda::adam_update(o, lr, w, g, m, v)),
    }
}
