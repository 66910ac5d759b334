//! Packed arrays of the fused layer calls (attention, GRN): a layer's weights,
//! its weight gradients and its saved activations each cross as one
//! Float32Array, the parts back to back in a documented order, instead of a
//! dozen arguments. The total length is checked here (ERR_SHAPE naming the
//! packed argument and listing its parts); each part's length is then what the
//! core's own checks expect.
//!
//! Also the fused calls' (LSTM, TKAN, attention, GRN) rule for their outputs:
//! [`check_outputs_apart`], every output apart from the inputs and from the
//! outputs before it.

use sigvwap_core::{CoreError, CoreResult};

use crate::outbuf::check_apart;

/// A named memory range (start, end), as `outbuf::byte_range` gives it.
pub type Named<'a> = (&'a str, (usize, usize));

/// ERR_ARG naming the first output (in order) whose memory overlaps an input
/// or an earlier output: a sync kernel reads every input while it writes its
/// outputs, and writes each output as one array. O(outputs · (inputs + outputs)).
pub fn check_outputs_apart<'a>(inputs: &[Named<'a>], outputs: &[Named<'a>]) -> CoreResult<()> {
    let mut seen: Vec<Named<'a>> = inputs.to_vec();
    for &(name, out) in outputs {
        check_apart(name, out, &seen)?;
        seen.push((name, out));
    }
    Ok(())
}

fn check_total(name: &str, parts: &[(&str, usize)], got: usize) -> CoreResult<()> {
    let total = parts.iter().try_fold(0usize, |a, &(_, n)| a.checked_add(n));
    let total = total.ok_or_else(|| CoreError::arg(name, "the packed parts would have more elements than fit in memory"))?;
    if total != got {
        let layout = parts.iter().map(|(p, n)| format!("{p} {n}")).collect::<Vec<_>>().join(" | ");
        return Err(CoreError::shape(name, total, got, &format!("packed: {layout}")));
    }
    Ok(())
}

/// Split `a` into the named parts (in order) after checking its total length.
pub fn split<'a>(name: &str, a: &'a [f32], parts: &[(&str, usize)]) -> CoreResult<Vec<&'a [f32]>> {
    check_total(name, parts, a.len())?;
    let mut rest = a;
    Ok(parts
        .iter()
        .map(|&(_, n)| {
            let (head, tail) = rest.split_at(n);
            rest = tail;
            head
        })
        .collect())
}

/// [`split`] for an output.
pub fn split_mut<'a>(name: &str, a: &'a mut [f32], parts: &[(&str, usize)]) -> CoreResult<Vec<&'a mut [f32]>> {
    check_total(name, parts, a.len())?;
    let mut rest = a;
    Ok(parts
        .iter()
        .map(|&(_, n)| {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(n);
            rest = tail;
            head
        })
        .collect())
}
