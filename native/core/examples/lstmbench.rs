//! Fused LSTM kernel timings (no Node): forward and backward medians at a
//! shape, in ms and in GFLOP/s of their products (2 flops per multiply-add:
//! forward 4U·(C+U)·S·B, backward about twice). Results are checked against
//! the reference on a small shape first.
//!   cargo run --release -p sigvwap-core --example lstmbench [-- S B C U]
use std::time::Instant;

use sigvwap_core::lstm::{lstm_backward, lstm_forward, reference_forward, LstmGrads, LstmSaved, LstmShape};

fn rnd(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut z = seed;
    (0..n)
        .map(|_| {
            z = z.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((z >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let a: Vec<usize> = std::env::args().skip(1).map(|s| s.parse().expect("S B C U")).collect();
    let (s, b, c, u) = if a.len() == 4 { (a[0], a[1], a[2], a[3]) } else { (60, 1024, 7, 64) };
    let shape = LstmShape { steps: s, batch: b, channels: c, units: u };
    let g = 4 * u;
    let (x, wx, wh, bias) = (rnd(s * b * c, 1, 1.0), rnd(c * g, 2, 0.3), rnd(u * g, 3, 0.1), rnd(g, 4, 0.1));
    let (mut h, mut gates, mut cs) = (vec![0f32; s * b * u], vec![0f32; s * b * g], vec![0f32; s * b * u]);
    // check on the first rows' first step against the reference of a 1-step slice
    let one = LstmShape { steps: 1, ..shape };
    lstm_forward(&shape, &x, &wx, &wh, &bias, &mut h, &mut gates, &mut cs).unwrap();
    let (h1, _, _) = reference_forward(&one, &x[..b * c], &wx, &wh, &bias);
    let err = h1.iter().zip(&h).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(err < 1e-5, "forward differs from the reference by {err}");
    let dh = rnd(s * b * u, 5, 1.0);
    let (mut dwx, mut dwh, mut db) = (vec![0f32; c * g], vec![0f32; u * g], vec![0f32; g]);
    let (mut tf, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let t0 = Instant::now();
        lstm_forward(&shape, &x, &wx, &wh, &bias, &mut h, &mut gates, &mut cs).unwrap();
        tf.push(t0.elapsed().as_secs_f64() * 1e3);
        let t0 = Instant::now();
        let saved = LstmSaved { x: &x, wx: &wx, wh: &wh, h: &h, gates: &gates, c: &cs };
        lstm_backward(&shape, saved, &dh, LstmGrads { dwx: &mut dwx, dwh: &mut dwh, dbias: &mut db, dx: None }).unwrap();
        tb.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    let flops = 2.0 * (4 * u * (c + u) * s * b) as f64;
    let (f, bw) = (median(tf), median(tb));
    println!("lstm s{s}-b{b}-c{c}-u{u}: forward {f:.1} ms ({:.1} GFLOP/s), backward {bw:.1} ms ({:.1} GFLOP/s), threads {}", flops / f / 1e6, 2.0 * flops / bw / 1e6, sigvwap_core::pool::threads());
}
