//! Adam: the CPU mirror (`adam::adam_update_on(Device::Cpu, …)`) against
//! src/train/adam.ts itself, bit for bit, and the typed errors.

use sigvwap_core::adam::{adam_update_on, lr_t, AdamOptions};
use sigvwap_core::device::Device;
use sigvwap_core::ErrorCode;

fn from_bits(b: &[u32]) -> Vec<f32> {
    b.iter().map(|&x| f32::from_bits(x)).collect()
}

/// Three steps of adam.ts (`new Adam({ learningRate: 0.01 })`, the other
/// options default) on these gradients; the expected bits were printed by
/// adam.ts under tsx (`Float32Array` → `Uint32Array`). The cases hold a
/// zero gradient, gradients far below ε and a sign change.
#[test]
fn three_steps_equal_adam_ts_bit_for_bit() {
    let o = AdamOptions { learning_rate: 0.01, ..AdamOptions::default() };
    let mut w = vec![0.5f32, -1.25, 3.0, 0.0, 1e-3];
    let (mut m, mut v) = (vec![0f32; 5], vec![0f32; 5]);
    let grads = [[0.1f32, -2.0, 0.0, 1e-9, 5.5], [-0.3, 1.5, 0.25, -1e-9, 5.0], [0.7, 0.0, -0.125, 3.0, -4.0]];
    for (i, g) in grads.iter().enumerate() {
        adam_update_on(Device::Cpu, &o, i as u64 + 1, &mut w, g, &mut m, &mut v).unwrap();
    }
    assert_eq!(w, from_bits(&[0x3efb3bfa, 0xbf9e846d, 0x403f609f, 0xbbd16c10, 0xbcba170e]), "w");
    assert_eq!(m, from_bits(&[0x3d514e3b, 0xbcdd2f1c, 0x3c23d70b, 0x3e99999a, 0x3efdb22d]), "m");
    assert_eq!(v, from_bits(&[0x3a1aa2d9, 0x3bcc76da, 0x38a3b57d, 0x3c1374bc, 0x3d91beb6]), "v");
}

#[test]
fn the_step_size_has_the_bias_corrections() {
    let o = AdamOptions::default();
    // t = 1: lr·√(1−β2)/(1−β1) = 1e-3·√0.001/0.1
    assert!((lr_t(&o, 1) - 1e-3 * 0.001f64.sqrt() / 0.1).abs() < 1e-18);
    // large t: both corrections tend to 1
    assert!((lr_t(&o, 1_000_000) - 1e-3).abs() < 1e-12);
}

#[test]
fn invalid_options_and_lengths_are_typed_errors() {
    let (mut w, g, mut m, mut v) = (vec![0f32; 3], vec![0f32; 3], vec![0f32; 3], vec![0f32; 3]);
    for (name, o) in [
        ("learningRate", AdamOptions { learning_rate: 0.0, ..AdamOptions::default() }),
        ("epsilon", AdamOptions { epsilon: f64::NAN, ..AdamOptions::default() }),
        ("beta1", AdamOptions { beta1: 1.0, ..AdamOptions::default() }),
        ("beta2", AdamOptions { beta2: -0.1, ..AdamOptions::default() }),
    ] {
        let e = adam_update_on(Device::Cpu, &o, 1, &mut w, &g, &mut m, &mut v).unwrap_err();
        assert_eq!(e.code, ErrorCode::Arg, "{name}");
        assert!(e.message.starts_with(name), "{name}: {}", e.message);
    }
    let e = adam_update_on(Device::Cpu, &AdamOptions::default(), 0, &mut w, &g, &mut m, &mut v).unwrap_err();
    assert!(e.message.starts_with("step"), "{}", e.message);
    let e = adam_update_on(Device::Cpu, &AdamOptions::default(), 1, &mut w, &g[1..], &mut m, &mut v).unwrap_err();
    assert_eq!(e.code, ErrorCode::Shape);
    assert!(e.message.starts_with("gradient"), "{}", e.message);
}
