//! Bad inputs of the signature API: each error code, the argument it names,
//! and its structured data.

use sigvwap_core::error::{DataValue, ErrorCode};
use sigvwap_core::signature::{
    check_inputs, output_len, sig_length, signature, signature_backward, signature_backward_into, signature_backward_with,
    signature_into, signature_reference, signature_with, Precision, SigOptions, Tuning, MAX_DEPTH,
};
use sigvwap_core::CoreError;

fn datum<'a>(e: &'a CoreError, key: &str) -> Option<&'a DataValue> {
    e.data.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
}

fn int(e: &CoreError, key: &str) -> i64 {
    match datum(e, key) {
        Some(DataValue::Int(v)) => *v,
        other => panic!("{e}: data {key} is {other:?}"),
    }
}

fn text(e: &CoreError, key: &str) -> String {
    match datum(e, key) {
        Some(DataValue::Str(v)) => v.clone(),
        other => panic!("{e}: data {key} is {other:?}"),
    }
}

fn walk(n: usize) -> Vec<f64> {
    (0..n).map(|i| (i as f64 * 0.37).sin()).collect()
}

#[test]
fn zero_channels_depth_or_length_is_err_arg() {
    for (name, o) in [
        ("channels", SigOptions::new(2, 5, 0, 3)),
        ("depth", SigOptions::new(2, 5, 3, 0)),
        ("length", SigOptions::new(2, 0, 3, 3)),
    ] {
        let e = signature::<f64>(&[], &o).unwrap_err();
        assert_eq!(e.code, ErrorCode::Arg, "{name}: {e}");
        assert_eq!(text(&e, "argument"), name, "{e}");
        assert!(e.message.starts_with(name), "{e}");
        let e = signature_backward::<f64>(&[], &[], &o).unwrap_err();
        assert_eq!(e.code, ErrorCode::Arg, "{name} backward: {e}");
        assert_eq!(output_len(&o).unwrap_err().code, ErrorCode::Arg);
    }
    assert_eq!(sig_length(0, 3).unwrap_err().code, ErrorCode::Arg);
    assert_eq!(sig_length(3, 0).unwrap_err().code, ErrorCode::Arg);
}

#[test]
fn sizes_that_cannot_be_allocated_are_err_arg_with_the_size() {
    // d^m overflows usize
    let e = sig_length(1000, 10).unwrap_err();
    assert_eq!(e.code, ErrorCode::Arg, "{e}");
    assert!(matches!(datum(&e, "size"), Some(DataValue::Float(v)) if *v > 1e29), "{e:?}");
    // fits in usize, but the output is ~1e12 doubles (8 TB): one signature
    // alone is too large, so the argument to lower is the depth
    let o = SigOptions::new(1, 2, 100, 6);
    let e = signature(&walk(200), &o).unwrap_err();
    assert_eq!(e.code, ErrorCode::Arg, "{e}");
    assert_eq!(text(&e, "argument"), "depth", "{e}");
    assert_eq!(text(&e, "output"), "signature", "{e}");
    assert!(int(&e, "elements") > 1_000_000_000_000, "{e:?}");
    // batch * length * channels overflows
    let o = SigOptions::new(usize::MAX / 2, 4, 3, 2);
    let e = signature::<f64>(&[], &o).unwrap_err();
    assert_eq!(e.code, ErrorCode::Arg, "{e}");
    // stream output too large although the plain one fits (checked before the
    // length of `path`)
    let o = SigOptions::new(1000, 100_000, 5, 4);
    assert!(output_len(&o).is_ok());
    let e = signature(&walk(10), &o.with_stream(true)).unwrap_err();
    assert_eq!((e.code, text(&e, "argument")), (ErrorCode::Arg, "batch".to_string()), "{e}");
    // one path's stream alone is too large: the length
    let o = SigOptions::new(1, 1 << 31, 5, 4).with_stream(true);
    let e = signature(&walk(10), &o).unwrap_err();
    assert_eq!((e.code, text(&e, "argument")), (ErrorCode::Arg, "length".to_string()), "{e}");
}

#[test]
fn huge_depth_fails_fast_naming_depth() {
    // Each of these looped over the depth (2^40 steps for one channel, ~18 min;
    // 2^31 powi calls to format the message for more): now O(1) or <= 64 steps.
    let t = std::time::Instant::now();
    for (channels, depth, argument) in [
        (1, 1usize << 40, "depth"),
        (1, usize::MAX, "depth"),
        (2, 1 << 31, "depth"),
        (7, MAX_DEPTH + 1, "depth"),
        (2, 70, "depth"),
        (1 << 40, 2, "channels"),
        (usize::MAX, 3, "depth"),
    ] {
        let e = sig_length(channels, depth).unwrap_err();
        assert_eq!((e.code, text(&e, "argument")), (ErrorCode::Arg, argument.to_string()), "d={channels} m={depth}: {e}");
        let e = signature(&walk(4), &SigOptions::new(1, 2, channels, depth)).unwrap_err();
        assert_eq!(e.code, ErrorCode::Arg, "{e}");
    }
    // The message of an overflow states the size in closed form, beyond f64's range too.
    let e = sig_length(10, 1000).unwrap_err();
    assert!(e.message.contains("~1.111e1000 entries"), "{e}");
    assert!(t.elapsed().as_secs_f64() < 1.0, "took {:?}", t.elapsed());
    // The largest depths still work.
    assert_eq!(sig_length(1, MAX_DEPTH).unwrap(), MAX_DEPTH);
    assert_eq!(sig_length(2, 33).unwrap(), (1 << 34) - 2);
    let s = signature(&[0.0f64, 0.5, 1.0], &SigOptions::new(1, 3, 1, MAX_DEPTH)).unwrap();
    assert_eq!(s.len(), MAX_DEPTH);
    assert!((s[1] - 0.5).abs() < 1e-15 && s.iter().all(|v| v.is_finite()), "level k = 1/k!: {:?}", &s[..4]);
}

#[test]
fn check_inputs_blames_the_input_before_anything_else() {
    let o = SigOptions::new(2, 5, 3, 2);
    let e = check_inputs::<f64>(&o, 29, Some(24)).unwrap_err();
    assert_eq!((e.code, text(&e, "argument")), (ErrorCode::Shape, "path".to_string()), "{e}");
    let e = check_inputs::<f64>(&o, 30, Some(23)).unwrap_err();
    assert_eq!((e.code, text(&e, "argument")), (ErrorCode::Shape, "gradOut".to_string()), "{e}");
    assert!(check_inputs::<f32>(&o, 30, None).is_ok());
    let e = check_inputs::<f64>(&SigOptions::new(1 << 40, 5, 3, 4), 30, None).unwrap_err();
    assert_eq!((e.code, text(&e, "argument")), (ErrorCode::Arg, "batch".to_string()), "{e}");
}

/// Two paths of three points in R^2; path 1 scaled by `big`.
fn two_paths(big: f64) -> Vec<f64> {
    let mut p = vec![0.0, 0.0, 1.0, 1.0, -1.0, 2.0];
    p.extend([0.0, 0.0, big, big, -big, 2.0 * big]);
    p
}

#[test]
fn overflowing_signature_of_a_finite_path_is_err_nonfinite_naming_the_level() {
    for (name, big, depth, level) in [("1e200", 1e200, 3, 2), ("1e120", 1e120, 3, 3), ("1e160 depth 2", 1e160, 2, 2)] {
        let path = two_paths(big);
        for stream in [false, true] {
            let o = SigOptions::new(2, 3, 2, depth).with_stream(stream);
            for (what, e) in [
                ("f64", signature(&path, &o).unwrap_err()),
                ("chunks", signature_with(&path, &o.with_stream(false), &Tuning { chunks: Some(2), ..Tuning::default() }).unwrap_err()),
            ] {
                assert_eq!(e.code, ErrorCode::NonFinite, "{name} {what}: {e}");
                assert_eq!((text(&e, "argument"), text(&e, "output")), ("path".into(), "signature".into()), "{e}");
                assert_eq!((int(&e, "level"), int(&e, "batch")), (level, 1), "{name} {what}: {e}");
                // Infinity, or NaN where an infinite intermediate met a zero or another infinity
                let said = ["Infinity", "-Infinity", "NaN"].iter().any(|v| e.message.contains(&format!("signature level {level} overflowed to {v} for path 1")));
                assert!(said, "{name} {what}: {e}");
            }
        }
    }
    // float32: finite in float64, rounded to Infinity
    let path: Vec<f32> = two_paths(1e30).iter().map(|&v| v as f32).collect();
    let e = signature(&path, &SigOptions::new(2, 3, 2, 3)).unwrap_err();
    assert_eq!((e.code, int(&e, "level")), (ErrorCode::NonFinite, 2), "{e}");
    assert!(e.message.contains("f32") && e.message.contains("Float64Array"), "{e}");
    // float32 input with float64 arithmetic: finite in the kernel's state,
    // Infinity only once rounded to the output (the kernel's own check of its
    // state cannot see that; the output is scanned)
    let e = signature(&path, &SigOptions::new(2, 3, 2, 3).with_precision(Precision::F64)).unwrap_err();
    assert_eq!((e.code, int(&e, "level"), int(&e, "batch")), (ErrorCode::NonFinite, 2, 1), "{e}");
    // one path of many blocks overflows (37 paths, 8 or 16 lanes a block)
    let many = |big: f64| -> Vec<f64> { (0..37).flat_map(|b| two_paths(if b == 30 { big } else { 1.0 })[6..].to_vec()).collect() };
    let o = SigOptions::new(37, 3, 2, 3);
    let f32_path: Vec<f32> = many(1e30).iter().map(|&v| v as f32).collect();
    for (name, e) in [("f64", signature(&many(1e200), &o).unwrap_err()), ("f32", signature(&f32_path, &o).unwrap_err())] {
        assert_eq!((e.code, int(&e, "batch"), int(&e, "level")), (ErrorCode::NonFinite, 30, 2), "{name}: {e}");
    }
    // representable: returned
    assert!(signature(&two_paths(1e100), &SigOptions::new(2, 3, 2, 3)).unwrap().iter().all(|v| v.is_finite()));
}

#[test]
fn overflowing_gradient_is_err_nonfinite_naming_the_point() {
    let o = SigOptions::new(2, 3, 2, 3);
    for (name, e) in [
        ("f64", signature_backward(&two_paths(1e200), &[1.0; 28], &o).unwrap_err()),
        ("f32", signature_backward(&two_paths(1e30).iter().map(|&v| v as f32).collect::<Vec<_>>(), &[1.0f32; 28], &o).unwrap_err()),
        ("chunks", signature_backward_with(&two_paths(1e200), &[1.0; 28], &o, &Tuning { chunks: Some(2), ..Tuning::default() }).unwrap_err()),
    ] {
        assert_eq!(e.code, ErrorCode::NonFinite, "{name}: {e}");
        assert_eq!((text(&e, "argument"), text(&e, "output"), int(&e, "batch")), ("path".into(), "grad".into(), 1), "{name}: {e}");
        assert!(e.message.contains("gradient at path[1]"), "{name}: {e}");
    }
}

#[test]
fn batch_zero_gives_an_empty_output() {
    let o = SigOptions::new(0, 7, 3, 3);
    assert!(signature::<f64>(&[], &o).unwrap().is_empty());
    assert!(signature::<f32>(&[], &o.with_stream(true)).unwrap().is_empty());
    assert!(signature_backward::<f64>(&[], &[], &o).unwrap().is_empty());
}

#[test]
fn wrong_slice_lengths_are_err_shape_naming_the_argument() {
    let o = SigOptions::new(2, 5, 3, 2);
    let e = signature(&walk(29), &o).unwrap_err();
    assert_eq!(e.code, ErrorCode::Shape, "{e}");
    assert_eq!(text(&e, "argument"), "path");
    assert_eq!(int(&e, "expected"), 30);
    assert_eq!(int(&e, "got"), 29);
    assert!(e.message.contains("path") && e.message.contains("30"), "{e}");

    let e = signature_backward(&walk(30), &walk(23), &o).unwrap_err();
    assert_eq!(e.code, ErrorCode::Shape, "{e}");
    assert_eq!(text(&e, "argument"), "gradOut");
    assert_eq!(int(&e, "expected"), 24);

    let e = signature_backward(&walk(30), &walk(24), &o.with_stream(true)).unwrap_err();
    assert_eq!(text(&e, "argument"), "gradOut", "stream gradOut is [batch, L'-1, siglen]: {e}");
    assert_eq!(int(&e, "expected"), 2 * 4 * 12);

    let mut out = vec![0.0; 23];
    let e = signature_into(&walk(30), &o, &mut out).unwrap_err();
    assert_eq!((e.code, text(&e, "argument")), (ErrorCode::Shape, "out".to_string()), "{e}");

    let mut grad = vec![0.0; 31];
    let e = signature_backward_into(&walk(30), &walk(24), &o, &mut grad).unwrap_err();
    assert_eq!((e.code, text(&e, "argument")), (ErrorCode::Shape, "grad".to_string()), "{e}");
}

#[test]
fn non_finite_path_is_err_nonfinite_with_its_position() {
    let (batch, length, channels) = (3, 50, 4);
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        for (b, t, c) in [(0, 0, 0), (2, 17, 3), (1, 49, 1)] {
            let mut path = walk(batch * length * channels);
            path[(b * length + t) * channels + c] = bad;
            let want = (b as i64, t as i64, c as i64);
            for stream in [false, true] {
                let o = SigOptions::new(batch, length, channels, 3).with_stream(stream);
                for (what, e) in [
                    ("forward", signature(&path, &o).unwrap_err()),
                    ("reference", signature_reference(&path, &o).unwrap_err()),
                    ("chunks", signature_with(&path, &o, &Tuning { chunks: Some(4), ..Tuning::default() }).unwrap_err()),
                    ("f32", signature(&path.iter().map(|&v| v as f32).collect::<Vec<_>>(), &o).unwrap_err()),
                    ("backward", signature_backward(&path, &vec![1.0; output_len(&o).unwrap()], &o).unwrap_err()),
                ] {
                    assert_eq!(e.code, ErrorCode::NonFinite, "{what}: {e}");
                    assert_eq!(text(&e, "argument"), "path", "{what}: {e}");
                    assert_eq!((int(&e, "batch"), int(&e, "step"), int(&e, "channel")), want, "{what}: {e}");
                    assert!(e.message.contains(&format!("path[{b}][{t}][{c}]")), "{what}: {e}");
                }
            }
        }
    }
    // One point per path: still checked.
    let e = signature(&[f64::NAN, 0.0], &SigOptions::new(1, 1, 2, 2)).unwrap_err();
    assert_eq!(e.code, ErrorCode::NonFinite, "{e}");
}

#[test]
fn overflowing_increment_is_err_nonfinite() {
    let path = [0.0, 1e308, -1e308, 0.0];
    let e = signature(&path, &SigOptions::new(1, 4, 1, 2)).unwrap_err();
    assert_eq!(e.code, ErrorCode::NonFinite, "{e}");
    assert_eq!((int(&e, "batch"), int(&e, "step"), int(&e, "channel")), (0, 2, 0), "{e}");
}

#[test]
fn non_finite_grad_out_is_err_nonfinite_naming_grad_out() {
    let o = SigOptions::new(2, 5, 3, 2);
    let path = walk(30);
    let mut g = vec![0.5; 24];
    g[13] = f64::NAN;
    let e = signature_backward(&path, &g, &o).unwrap_err();
    assert_eq!(e.code, ErrorCode::NonFinite, "{e}");
    assert_eq!(text(&e, "argument"), "gradOut");
    assert_eq!((int(&e, "batch"), int(&e, "entry")), (1, 1), "{e}");
    assert!(e.message.contains("gradOut[1][1]"), "{e}");

    let o = o.with_stream(true);
    let mut g = vec![0.5f32; 2 * 4 * 12];
    g[4 * 12 + 2 * 12 + 5] = f32::INFINITY;
    let e = signature_backward(&path.iter().map(|&v| v as f32).collect::<Vec<_>>(), &g, &o).unwrap_err();
    assert_eq!(e.code, ErrorCode::NonFinite, "{e}");
    assert_eq!((int(&e, "batch"), int(&e, "step"), int(&e, "entry")), (1, 2, 5), "{e}");
}
