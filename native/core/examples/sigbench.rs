//! Timing of the CPU signature engine: `signature/cpu/b{batch}-l{length}-c{channels}-m{depth}`.
//!
//! Run: `cargo run -p sigvwap-core --release --example sigbench [-- OPTIONS]`
//!   --runs N        timed runs per measurement (default 15, at least 10 recommended)
//!   --threads N     pool size (default: all cores)
//!   --shape b,l,c,m extra shape (repeatable); --only-extra skips the default table
//!   --lanes N / --chunks N / --per-pass N / --portable   override the work plan
//!                   (--per-pass: segments per pass of the forward sweep, 1, 2, 4 or 8)
//!   --simd portable|avx2|avx512           instruction set (portable if not available)
//!   --precision auto|f32|f64              arithmetic of the kernels (default auto)
//!   --direction fwd|bwd / --dtype f64|f32  time only these (for profiling)
//!   --stream        time the stream (every prefix) forward and backward
//!   --scalar-fill   transpose increments lane by lane (the scalar gather)
//!                   instead of with SIMD shuffles (`Tuning::scalar_fill`)
//!   --no-by-letter  never sweep one first letter at a time with the state in
//!                   registers (`Tuning::by_letter`), the per-segment step instead
//!   --fill-ab       time the SIMD and the scalar fill side by side on every
//!                   shape (runs interleaved: A, B, A, B, ...), with the ratio
//!   --sweep         block-size sweep: every shape x dtype x available
//!                   instruction set x lanes (2, 4, 8, 16) x segments per pass
//!                   (1, 2, 4, 8), forward and backward, one JSON object per line
//!                   on stdout (read by bench/signature-sweep.ts, which appends
//!                   it to the history); --simd limits it to one instruction
//!                   set, --sweep-lanes 4,8 / --sweep-per-pass 1,4 to those values
//!
//! Every measurement is preceded by a check against the reference
//! implementation (`signature::cpu`) on a few paths of the same batch, then a
//! warm-up run; the figure is the median wall time of the timed runs (the
//! minimum is printed too, and `cpu`: CPU ms per run summed over the threads,
//! which other processes on a shared machine do not inflate; GFLOP/s and
//! paths/s use the median). `%pk`: share of the measured FMA peak of the
//! pool's threads (`sigvwap_core::fma_peak`, register-resident FMA chains
//! on the widest vectors, all threads at once), the 'of measured peak' of
//! bench/signature.bench.ts; for the kernels' arithmetic type (`--precision`).
//!
//! Work counted (multiply-adds, one FLOP pair each) per path and segment, with
//! d = channels, m = depth (additions of the level-1 / A_1 updates ignored):
//!   F(m) = Σ_{k=2..m} Σ_{i=2..k} d^i       forward Horner step
//!   Fr   = Σ_{k=4..m} Σ_{i=2..k-2} d^i     backward: recomputing Horner's A_2..A_{k-2}
//!   Ft   = Σ_{k=2..m} d^(k-1)              backward: A_{k-1} formed on the fly
//!   forward  GFLOP = 2 · F(m) · batch · (length - 1)
//!   backward GFLOP = 2 · (2 F(m-1) + Fr + Ft + 2 F(m)) · batch · (length - 1)
//!     (forward sweep and undo step to depth m-1, recompute, and the reverse
//!     sweep's two multiply-adds per adjoint entry of levels >= 2)

// `!(e <= tol)` on purpose: a NaN error must fail.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use std::time::Instant;

// The tests' random walk and error measure (same numbers as before: splitmix64).
#[path = "../tests/signature_util.rs"]
mod util;
use util::{random_walk, rel_error, Rng};

use sigvwap_core::pool;
use sigvwap_core::signature::{
    signature_backward_reference, signature_backward_with, signature_reference, signature_with, SigFloat, SigOptions,
    Precision, Simd, Tuning, SEGMENTS_PER_PASS_CHOICES,
};

/// Multiply-adds per path and segment: (forward, backward), see the header.
fn macs(channels: usize, depth: usize) -> (f64, f64) {
    let d = channels as f64;
    let f = |m: usize| -> f64 { (2..=m).map(|k| (2..=k).map(|i| d.powi(i as i32)).sum::<f64>()).sum() };
    let fr: f64 = (4..=depth).map(|k| (2..=k - 2).map(|i| d.powi(i as i32)).sum::<f64>()).sum();
    let ft: f64 = (2..=depth).map(|k| d.powi(k as i32 - 1)).sum();
    (f(depth), 2.0 * f(depth.saturating_sub(1)) + fr + ft + 2.0 * f(depth))
}

/// CPU time of all threads of this process in ms (Linux schedstat; NaN elsewhere).
/// Unlike wall time it does not count time lost to other processes.
fn cpu_ms() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return f64::NAN };
    let mut ns = 0u64;
    for entry in dir.flatten() {
        if let Ok(text) = std::fs::read_to_string(entry.path().join("schedstat")) {
            ns += text.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    ns as f64 / 1e6
}

struct Timing {
    median_ms: f64,
    min_ms: f64,
    /// CPU ms per run summed over threads.
    cpu_ms: f64,
}

/// Wall time (median, min) and CPU time per run of each of `fs`: one warm-up
/// each, then `runs` rounds that run each once in turn, so that a change of
/// load on a shared machine hits all of them alike.
fn time_interleaved(runs: usize, fs: &mut [&mut dyn FnMut()]) -> Vec<Timing> {
    for f in fs.iter_mut() {
        f(); // warm-up
    }
    let mut times = vec![Vec::with_capacity(runs); fs.len()];
    let mut cpu = vec![0.0; fs.len()];
    for _ in 0..runs {
        for (i, f) in fs.iter_mut().enumerate() {
            let cpu0 = cpu_ms();
            let t = Instant::now();
            f();
            times[i].push(t.elapsed().as_secs_f64() * 1e3);
            cpu[i] += cpu_ms() - cpu0;
        }
    }
    times
        .into_iter()
        .zip(cpu)
        .map(|(mut t, c)| {
            t.sort_by(|a, b| a.partial_cmp(b).unwrap());
            Timing { median_ms: t[t.len() / 2], min_ms: t[0], cpu_ms: c / runs as f64 }
        })
        .collect()
}

/// Measured FMA GFLOP/s of the pool's threads in float32 (`f32`) or float64
/// (see the header); measured once per type and thread count.
fn peak_gflops(f32: bool) -> f64 {
    static PEAKS: std::sync::Mutex<Vec<(bool, usize, f64)>> = std::sync::Mutex::new(Vec::new());
    let threads = pool::threads();
    let mut peaks = PEAKS.lock().unwrap();
    if let Some(&(_, _, g)) = peaks.iter().find(|p| p.0 == f32 && p.1 == threads) {
        return g;
    }
    let g = sigvwap_core::fma_peak::fma_peak(f32).gflops;
    peaks.push((f32, threads, g));
    g
}

/// Check the first `n` paths of the batch against the reference (same plan as timed).
fn check<T: SigFloat>(path: &[T], grad_out: &[T], opts: &SigOptions, tuning: &Tuning, tol: f64) -> Result<(), String> {
    let n = opts.batch.min(4);
    let sub = SigOptions { batch: n, ..*opts };
    let rows = opts.length * opts.channels;
    let out_row = sigvwap_core::signature::output_len(opts).unwrap() / opts.batch;
    let full = signature_with(path, opts, tuning).map_err(|e| e.to_string())?;
    let want = signature_reference(&path[..n * rows], &sub).map_err(|e| e.to_string())?;
    let as64 = |v: &[T]| v.iter().map(|x| x.to_f64()).collect::<Vec<_>>();
    let e = rel_error(&as64(&full[..n * out_row]), &as64(&want));
    if !(e <= tol) {
        return Err(format!("forward differs from the reference: {e:.3e}"));
    }
    let full = signature_backward_with(path, grad_out, opts, tuning).map_err(|e| e.to_string())?;
    let want = signature_backward_reference(&path[..n * rows], &grad_out[..n * out_row], &sub)
        .map_err(|e| e.to_string())?;
    let e = rel_error(&as64(&full[..n * rows]), &as64(&want));
    if !(e <= tol) {
        return Err(format!("backward differs from the reference: {e:.3e}"));
    }
    Ok(())
}

struct Row {
    name: String,
    dtype: &'static str,
    fwd_ms: f64,
    bwd_ms: f64,
    fwd_min: f64,
    bwd_min: f64,
    fwd_cpu: f64,
    bwd_cpu: f64,
    fwd_gflops: f64,
    bwd_gflops: f64,
    paths_per_s: f64,
    /// Share of the FMA peak, forward and backward (percent).
    fwd_peak: f64,
    bwd_peak: f64,
    target: Option<(f64, f64)>,
}

/// Time `shape` under each of `tunings` (interleaved, see
/// [`time_interleaved`]), one row per tuning, each checked first.
fn run_shape<T: SigFloat>(
    dtype: &'static str,
    shape: Shape,
    target: Option<(f64, f64)>,
    runs: usize,
    tunings: &[Tuning],
    filter: &Filter,
) -> Vec<Row> {
    let (batch, length, channels, depth) = shape;
    let opts = SigOptions::new(batch, length, channels, depth).with_stream(filter.stream).with_precision(filter.precision);
    let path64 = random_walk(&mut Rng::new(7), batch, length, channels, 1.0 / (length as f64).sqrt());
    let out_len = sigvwap_core::signature::output_len(&opts).unwrap();
    let grad64 = Rng::new(11).vec(out_len, 1.0);
    let path: Vec<T> = path64.iter().map(|&v| T::from_f64(v)).collect();
    let grad_out: Vec<T> = grad64.iter().map(|&v| T::from_f64(v)).collect();
    // Float32 arithmetic (float32 input under `auto`, or `f32`): ~1e-6 measured.
    let f32_math = opts.precision.is_f32::<T>();
    let tol = if f32_math { 1e-4 } else if dtype == "f64" { 1e-12 } else { 1e-5 };
    let name = format!(
        "signature{}/cpu/b{batch}-l{length}-c{channels}-m{depth}",
        if filter.stream { "-stream" } else { "" }
    );
    for tuning in tunings {
        if let Err(e) = check(&path, &grad_out, &opts, tuning, tol) {
            panic!("{name} {dtype} {tuning:?}: {e}");
        }
    }
    let none = || Timing { median_ms: f64::NAN, min_ms: f64::NAN, cpu_ms: f64::NAN };
    let fwd = if filter.direction.as_deref().is_none_or(|d| d == "fwd") {
        let mut outs = vec![vec![T::from_f64(0.0); out_len]; tunings.len()];
        let mut fs: Vec<_> = outs
            .iter_mut()
            .zip(tunings)
            .map(|(out, tuning)| {
                let (path, opts) = (&path, &opts);
                move || sigvwap_core::signature::signature_into_with(path, opts, out, tuning).unwrap()
            })
            .collect();
        time_interleaved(runs, &mut fs.iter_mut().map(|f| f as &mut dyn FnMut()).collect::<Vec<_>>())
    } else {
        tunings.iter().map(|_| none()).collect()
    };
    let bwd = if filter.direction.as_deref().is_none_or(|d| d == "bwd") {
        let mut grads = vec![vec![T::from_f64(0.0); path.len()]; tunings.len()];
        let mut fs: Vec<_> = grads
            .iter_mut()
            .zip(tunings)
            .map(|(grad, tuning)| {
                let (path, grad_out, opts) = (&path, &grad_out, &opts);
                move || sigvwap_core::signature::signature_backward_into_with(path, grad_out, opts, grad, tuning).unwrap()
            })
            .collect();
        time_interleaved(runs, &mut fs.iter_mut().map(|f| f as &mut dyn FnMut()).collect::<Vec<_>>())
    } else {
        tunings.iter().map(|_| none()).collect()
    };
    let (f, fb) = macs(channels, depth);
    let work = (batch * (length - 1)) as f64;
    fwd.into_iter()
        .zip(bwd)
        .map(|(fwd, bwd)| {
            let (fwd_ms, bwd_ms) = (fwd.median_ms, bwd.median_ms);
            let (fwd_gflops, bwd_gflops) = (2.0 * f * work / (fwd_ms * 1e6), 2.0 * fb * work / (bwd_ms * 1e6));
            let peak = peak_gflops(f32_math);
            Row {
                name: name.clone(),
                dtype,
                fwd_ms,
                bwd_ms,
                fwd_min: fwd.min_ms,
                bwd_min: bwd.min_ms,
                fwd_cpu: fwd.cpu_ms,
                bwd_cpu: bwd.cpu_ms,
                fwd_gflops,
                bwd_gflops,
                paths_per_s: batch as f64 / (fwd_ms * 1e-3),
                fwd_peak: 100.0 * fwd_gflops / peak,
                bwd_peak: 100.0 * bwd_gflops / peak,
                target,
            }
        })
        .collect()
}

/// `--fill-ab`: the SIMD fill (A, `tuning` as given) against the scalar
/// fill (B) on every shape and dtype, medians of interleaved runs.
fn fill_ab(shapes: &[(Shape, Option<(f64, f64)>)], runs: usize, filter: &Filter, tuning: &Tuning) {
    let a = Tuning { scalar_fill: Some(false), ..*tuning };
    let b = Tuning { scalar_fill: Some(true), ..*tuning };
    println!(
        "{:<38} {:>5} {:>9} {:>9} {:>6} {:>9} {:>9} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "name (A: SIMD fill, B: scalar fill)",
        "dtype",
        "fwd A ms",
        "fwd B ms",
        "A/B",
        "bwd A ms",
        "bwd B ms",
        "A/B",
        "fA %pk",
        "fB %pk",
        "bA %pk",
        "bB %pk"
    );
    for &(shape, _) in shapes {
        for dtype in ["f64", "f32"] {
            if filter.dtype.as_deref().is_some_and(|d| d != dtype) {
                continue;
            }
            let rows = if dtype == "f64" {
                run_shape::<f64>("f64", shape, None, runs, &[a, b], filter)
            } else {
                run_shape::<f32>("f32", shape, None, runs, &[a, b], filter)
            };
            let (ra, rb) = (&rows[0], &rows[1]);
            println!(
                "{:<38} {:>5} {:>9.3} {:>9.3} {:>6.3} {:>9.3} {:>9.3} {:>6.3} {:>6.1} {:>6.1} {:>6.1} {:>6.1}",
                ra.name,
                dtype,
                ra.fwd_ms,
                rb.fwd_ms,
                ra.fwd_ms / rb.fwd_ms,
                ra.bwd_ms,
                rb.bwd_ms,
                ra.bwd_ms / rb.bwd_ms,
                ra.fwd_peak,
                rb.fwd_peak,
                ra.bwd_peak,
                rb.bwd_peak
            );
        }
    }
}

/// (batch, length, channels, depth)
type Shape = (usize, usize, usize, usize);

#[derive(Default)]
struct Filter {
    direction: Option<String>,
    dtype: Option<String>,
    stream: bool,
    precision: Precision,
}

fn parse_simd(name: &str) -> Simd {
    match name {
        "portable" => Simd::Portable,
        "avx2" => Simd::Avx2Fma,
        "avx512" => Simd::Avx512,
        "fma" => Simd::Fma,
        other => panic!("--simd: unknown instruction set {other}"),
    }
}

/// `--sweep`: lanes per block x instruction set, per shape and dtype; one
/// JSON line per measurement (median of `runs`), checked before timing.
fn sweep(shapes: &[(Shape, Option<(f64, f64)>)], runs: usize, filter: &Filter, only: &Tuning, sweep_lanes: &[usize], sweep_per_pass: &[usize]) {
    let simds: Vec<Simd> = [Simd::Avx512, Simd::Avx2Fma, Simd::Fma, Simd::Portable]
        .into_iter()
        .filter(|s| s.available() && *s != Simd::Portable && only.simd.is_none_or(|o| o == *s))
        .collect();
    for &(shape, _) in shapes {
        for dtype in ["f64", "f32"] {
            if filter.dtype.as_deref().is_some_and(|d| d != dtype) {
                continue;
            }
            for &simd in &simds {
                for (&lanes, &per_pass) in sweep_lanes.iter().flat_map(|l| sweep_per_pass.iter().map(move |p| (l, p))) {
                    let tuning =
                        Tuning { lanes: Some(lanes), simd: Some(simd), segments_per_pass: Some(per_pass), ..Tuning::default() };
                    let row = if dtype == "f64" {
                        run_shape::<f64>("f64", shape, None, runs, &[tuning], filter).remove(0)
                    } else {
                        run_shape::<f32>("f32", shape, None, runs, &[tuning], filter).remove(0)
                    };
                    let (b, l, c, m) = shape;
                    println!(
                        "{{\"shape\":\"b{b}-l{l}-c{c}-m{m}\",\"dtype\":\"{dtype}\",\"precision\":\"{}\",\"simd\":\"{simd:?}\",\"lanes\":{lanes},\"segmentsPerPass\":{per_pass},\"threads\":{},\"forwardMs\":{:.4},\"backwardMs\":{:.4},\"forwardGflops\":{:.3},\"backwardGflops\":{:.3},\"forwardCpuMs\":{:.4},\"backwardCpuMs\":{:.4}}}",
                        filter.precision.name(),
                        pool::threads(),
                        row.fwd_ms,
                        row.bwd_ms,
                        row.fwd_gflops,
                        row.bwd_gflops,
                        row.fwd_cpu,
                        row.bwd_cpu
                    );
                }
            }
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut filter = Filter::default();
    let mut runs = 15;
    let mut tuning = Tuning::default();
    let mut extra = Vec::new();
    let mut only_extra = false;
    let mut do_sweep = false;
    let mut do_fill_ab = false;
    let mut sweep_lanes = vec![2usize, 4, 8, 16];
    let mut sweep_per_pass = SEGMENTS_PER_PASS_CHOICES.to_vec();
    let list = |v: Option<String>, what: &str| -> Vec<usize> {
        v.unwrap_or_else(|| panic!("{what} needs a list"))
            .split(',')
            .map(|x| x.parse().unwrap_or_else(|_| panic!("{what}: not a number: {x}")))
            .collect()
    };
    while let Some(a) = args.next() {
        let mut num = |what: &str| -> usize {
            args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{what} needs a number"))
        };
        match a.as_str() {
            "--runs" => runs = num("--runs").max(1),
            "--threads" => pool::set_threads(num("--threads")).unwrap(),
            "--lanes" => tuning.lanes = Some(num("--lanes")),
            "--chunks" => tuning.chunks = Some(num("--chunks")),
            "--per-pass" => tuning.segments_per_pass = Some(num("--per-pass")),
            "--sweep-lanes" => sweep_lanes = list(args.next(), "--sweep-lanes"),
            "--sweep-per-pass" => sweep_per_pass = list(args.next(), "--sweep-per-pass"),
            "--portable" => tuning.simd = Some(Simd::Portable),
            "--simd" => tuning.simd = Some(parse_simd(&args.next().expect("--simd NAME"))),
            "--precision" => {
                let v = args.next().expect("--precision auto|f32|f64");
                filter.precision = Precision::parse(&v).unwrap_or_else(|| panic!("--precision: unknown value {v}"));
            }
            "--sweep" => do_sweep = true,
            "--scalar-fill" => tuning.scalar_fill = Some(true),
            "--no-by-letter" => tuning.by_letter = Some(false),
            "--no-prefetch" => tuning.prefetch = Some(false),
            "--prefetch" => tuning.prefetch = Some(true),
            "--fill-ab" => do_fill_ab = true,
            "--only-extra" => only_extra = true,
            "--direction" => filter.direction = args.next(),
            "--dtype" => filter.dtype = args.next(),
            "--stream" => filter.stream = true,
            "--shape" => {
                let v: Vec<usize> = args
                    .next()
                    .expect("--shape b,l,c,m")
                    .split(',')
                    .map(|x| x.parse().expect("--shape b,l,c,m"))
                    .collect();
                assert_eq!(v.len(), 4, "--shape b,l,c,m");
                extra.push((v[0], v[1], v[2], v[3]));
            }
            "--bench" => {} // passed by `cargo bench`
            other => panic!("unknown option {other}"),
        }
    }
    let mut shapes: Vec<(Shape, Option<(f64, f64)>)> = Vec::new();
    if !only_extra {
        shapes.push(((1024, 400, 3, 3), Some((3.0, 9.0))));
        shapes.push(((1024, 400, 3, 4), Some((8.0, 24.0))));
        shapes.push(((256, 128, 8, 4), Some((15.0, 45.0))));
        shapes.push(((256, 10000, 4, 3), Some((30.0, 90.0))));
    }
    shapes.extend(extra.into_iter().map(|s| (s, None)));
    if do_sweep {
        sweep(&shapes, runs, &filter, &tuning, &sweep_lanes, &sweep_per_pass);
        return;
    }

    println!(
        "sigbench: {} threads, simd {:?}, {runs} timed runs (median), plan {:?}",
        pool::threads(),
        tuning.simd.unwrap_or_else(Simd::detect),
        tuning
    );
    println!("measured FMA peak ({} threads): float64 {:.1} GFLOP/s, float32 {:.1} GFLOP/s", pool::threads(), peak_gflops(false), peak_gflops(true));
    if do_fill_ab {
        fill_ab(&shapes, runs, &filter, &tuning);
        return;
    }
    println!(
        "{:<38} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6} {:>6} {:>11}  target fwd/bwd ms (median)",
        "name",
        "dtype",
        "fwd ms",
        "bwd ms",
        "fwd min",
        "bwd min",
        "fwd cpu",
        "bwd cpu",
        "fwd GF/s",
        "bwd GF/s",
        "fwd%pk",
        "bwd%pk",
        "paths/s fwd",
    );
    for (shape, target) in shapes {
        let want = |t: &str| filter.dtype.as_deref().is_none_or(|d| d == t);
        let mut rows = Vec::new();
        if want("f64") {
            rows.extend(run_shape::<f64>("f64", shape, target, runs, &[tuning], &filter));
        }
        if want("f32") {
            rows.extend(run_shape::<f32>("f32", shape, None, runs, &[tuning], &filter));
        }
        for row in rows {
            let target = if filter.stream { None } else { row.target };
            let verdict = match target {
                Some((tf, tb)) => format!(
                    "{tf} / {tb} {}",
                    if row.fwd_ms <= tf && row.bwd_ms <= tb { "met" } else { "NOT MET" }
                ),
                None => String::new(),
            };
            println!(
                "{:<38} {:>5} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.2} {:>9.2} {:>6.1} {:>6.1} {:>11.0}  {}",
                row.name,
                row.dtype,
                row.fwd_ms,
                row.bwd_ms,
                row.fwd_min,
                row.bwd_min,
                row.fwd_cpu,
                row.bwd_cpu,
                row.fwd_gflops,
                row.bwd_gflops,
                row.fwd_peak,
                row.bwd_peak,
                row.paths_per_s,
                verdict
            );
        }
    }
}
