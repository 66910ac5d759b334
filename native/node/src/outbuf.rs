//! Float arrays at the boundary: views of the inputs, Rust-owned copies for
//! the Async forms, the caller's `out` (checked, written in place or, for an
//! Async call, written back on completion), and fresh results handed to
//! JavaScript without a copy.
//!
//! Ownership rule (why the Async forms copy). A typed array's memory belongs
//! to its ArrayBuffer, which JavaScript can detach at any time it runs:
//! `postMessage(x, [x.buffer])`, `structuredClone(x, { transfer })` or
//! `buffer.transfer()` move (and may free) the backing store. A napi
//! reference keeps the *object* alive, not its memory, and N-API offers no
//! way to pin a backing store or to make a buffer non-detachable. So:
//! * sync calls read and write JavaScript memory directly: no JavaScript runs
//!   until they return, so nothing can detach it meanwhile;
//! * an Async call copies its inputs into Rust-owned memory on the JavaScript
//!   thread when it is called ([`Owned::copy_of`]), computes on the libuv pool
//!   into a Rust-owned result, and on completion, back on the JavaScript
//!   thread, writes the result into the caller's `out` ([`write_back`]) only
//!   if `out` is still attached with its length (else rejects with ERR_ARG
//!   naming `out`), or hands the result over as a fresh array. No JavaScript
//!   memory is touched off the JavaScript thread.
//! Cost of the rule: one memcpy of the inputs on the calling thread (and of
//! the result into `out`, when one is given); see README "Async forms".
//! Copying into fresh memory costs about twice a memcpy (the page faults
//! that zero it: 96 MB took 24 ms vs 14 ms into warm memory here), so the
//! large buffers of a finished Async call are kept as spares ([`park`]) and
//! reused by the next call of the same sizes ([`scratch`]): a loop of Async
//! calls pays the memcpy only. Fresh results handed to JavaScript go the same
//! way once collected (their finalizer parks them) and are reused by the next
//! fresh result of their size ([`recycled`]), which is safe because every
//! kernel that takes one writes all its elements (tested with NaN-filled
//! `out`). At most [`SPARE_MAX_COUNT`] buffers and
//! [`SPARE_MAX_BYTES`] are kept (resident until reused or the process ends).
//!
//! A caller's `out` must have the input's float type and the result's
//! length, and must not share memory with any input (the sync kernels read
//! the inputs while they write `out`; the Async forms keep the same rule so
//! that both forms accept the same arguments).

use std::sync::Mutex;

use napi::bindgen_prelude::{Either, Float32Array, Float64Array, FromNapiValue, ToNapiValue};
use napi::{sys, Env};
use sigvwap_core::buffer::{Backing, ZeroedBuf};
use sigvwap_core::{CoreError, CoreResult, ErrorCode, Real};

use crate::args::FloatArray;
use crate::errors::to_napi;

/// A read-only view of float data: JavaScript memory (sync calls, valid while
/// no JavaScript runs) or a Rust-owned copy (Async calls).
#[derive(Clone, Copy)]
pub enum Floats<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
}

impl<'a> Floats<'a> {
    /// The elements of a JavaScript array. Valid only while no JavaScript
    /// runs: during a sync call, or while an Async call is being made (to copy
    /// the inputs); never keep it past that (see the module header).
    pub fn of(a: &'a FloatArray) -> Self {
        match a {
            Either::A(x) => Floats::F32(&x[..]),
            Either::B(x) => Floats::F64(&x[..]),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Floats::F32(x) => x.len(),
            Floats::F64(x) => x.len(),
        }
    }

    pub fn is_f64(&self) -> bool {
        matches!(self, Floats::F64(_))
    }

    pub fn range(&self) -> (usize, usize) {
        match self {
            Floats::F32(x) => byte_range(x),
            Floats::F64(x) => byte_range(x),
        }
    }
}

/// A Rust-owned float buffer: an Async call's copy of an input, or a result.
pub enum Owned {
    F32(ZeroedBuf<f32>),
    F64(ZeroedBuf<f64>),
}

/// Buffers smaller than this are not kept: calloc gives them cheaply.
const SPARE_MIN_BYTES: usize = 4 << 20;
/// Most spare buffers kept, and their total size.
pub const SPARE_MAX_COUNT: usize = 8;
pub const SPARE_MAX_BYTES: usize = 512 << 20;

static SPARES: Mutex<Vec<Owned>> = Mutex::new(Vec::new());

/// A buffer of `len` elements of `T` whose every element the caller will
/// overwrite: a spare of exactly that size (stale contents), else a fresh
/// zeroed one (`ERR_ARG` naming `name` when it cannot be allocated).
pub fn scratch<T: Typed>(name: &str, len: usize) -> CoreResult<ZeroedBuf<T>> {
    take_spare(len).map_or_else(|| ZeroedBuf::new(name, len), Ok)
}

/// A spare of exactly `len` elements of `T`, removed from the spares, if one
/// is kept (stale contents).
fn take_spare<T: Typed>(len: usize) -> Option<ZeroedBuf<T>> {
    if len.saturating_mul(std::mem::size_of::<T>()) < SPARE_MIN_BYTES {
        return None;
    }
    let mut spares = SPARES.lock().unwrap_or_else(|p| p.into_inner());
    let at = spares.iter().position(|o| o.floats().is_f64() == T::IS_F64 && o.floats().len() == len)?;
    T::from_owned(spares.swap_remove(at))
}

/// Keep a buffer that is no longer needed as a spare for [`scratch`] (the
/// oldest spares make room), or drop it when it is small or too large.
pub fn park(o: Owned) {
    let bytes = o.bytes();
    if !(SPARE_MIN_BYTES..=SPARE_MAX_BYTES).contains(&bytes) {
        return;
    }
    let mut spares = SPARES.lock().unwrap_or_else(|p| p.into_inner());
    spares.push(o);
    let mut total: usize = spares.iter().map(Owned::bytes).sum();
    while spares.len() > SPARE_MAX_COUNT || total > SPARE_MAX_BYTES {
        total -= spares.remove(0).bytes();
    }
}

/// The spares kept now, oldest first: (float64?, elements).
pub fn spares() -> Vec<(bool, usize)> {
    let spares = SPARES.lock().unwrap_or_else(|p| p.into_inner());
    spares.iter().map(|o| (o.floats().is_f64(), o.floats().len())).collect()
}

/// An Async call's copy of one input: parked as a spare when the call is
/// dropped (on the JavaScript thread, after the Promise settled).
pub struct InputCopy(Option<Owned>);

impl InputCopy {
    /// See [`Owned::copy_of`].
    pub fn of(name: &str, a: &FloatArray) -> CoreResult<Self> {
        Ok(InputCopy(Some(Owned::copy_of(name, a)?)))
    }

    pub fn floats(&self) -> Floats<'_> {
        self.0.as_ref().expect("present until dropped").floats()
    }
}

impl Drop for InputCopy {
    fn drop(&mut self) {
        if let Some(o) = self.0.take() {
            park(o);
        }
    }
}

impl Owned {
    pub fn bytes(&self) -> usize {
        match self {
            Owned::F32(b) => b.len() * 4,
            Owned::F64(b) => b.len() * 8,
        }
    }

    /// Copy `a` into Rust-owned memory. Call on the JavaScript thread, before
    /// the work is queued: afterwards JavaScript may detach or change `a`
    /// without affecting the call. `ERR_ARG` naming `name` when the copy
    /// cannot be allocated. Cost: one memcpy of `a` (plus the page faults of
    /// fresh memory; large copies are huge-page backed, see core `buffer`).
    pub fn copy_of(name: &str, a: &FloatArray) -> CoreResult<Owned> {
        fn copy<T: Typed>(name: &str, src: &[T]) -> CoreResult<ZeroedBuf<T>> {
            // Every element is overwritten: a spare's stale contents never show.
            let mut b = scratch(name, src.len())?;
            b.as_mut_slice().copy_from_slice(src);
            Ok(b)
        }
        Ok(match Floats::of(a) {
            Floats::F32(x) => Owned::F32(copy(name, x)?),
            Floats::F64(x) => Owned::F64(copy(name, x)?),
        })
    }

    pub fn floats(&self) -> Floats<'_> {
        match self {
            Owned::F32(b) => Floats::F32(b.as_slice()),
            Owned::F64(b) => Floats::F64(b.as_slice()),
        }
    }

    /// Hand the buffer to JavaScript without a copy.
    pub fn wrap(self) -> FloatArray {
        match self {
            Owned::F32(b) => f32::wrap(b),
            Owned::F64(b) => f64::wrap(b),
        }
    }
}

/// f32 / f64 and their JavaScript typed arrays.
pub trait Typed: Real {
    const IS_F64: bool;
    fn wrap(buf: ZeroedBuf<Self>) -> FloatArray;
    fn owned(buf: ZeroedBuf<Self>) -> Owned;
    /// The buffer of `o` if it holds this type.
    fn from_owned(o: Owned) -> Option<ZeroedBuf<Self>>;
    /// The elements of `f` if it holds this type.
    fn of<'a>(f: Floats<'a>) -> Option<&'a [Self]>;
    /// The elements of `a` if it holds this type.
    ///
    /// # Safety
    /// The slice aliases JavaScript memory; see [`dest`].
    unsafe fn slice_of(a: &mut FloatArray) -> Option<&mut [Self]>;
}

/// The finalizer of a result handed to JavaScript: the buffer becomes a spare
/// ([`park`]) for the next result of its size ([`recycled`]), or is freed.
/// Why: an Async loop of fresh results otherwise maps and faults in new
/// memory on every call. Shape c (256 × 128 × 8, depth 4, f64: 9.6 MB),
/// `signatureAsync` in an await loop, 2 cores: ~19-20 ms per call (median)
/// when every result maps fresh memory, ~7 when a spare is there (8 calls in
/// 9; the call during which V8 collects costs 16-30 ms), ~7.3 with `out`.
/// Node runs this on the event loop after the GC that collected the array,
/// so a sync loop would not see it: sync results are allocated by JavaScript
/// (`src/native/resultArray.ts`). May run on any thread; `park` only locks.
fn release<T: Typed>(backing: Backing) -> impl FnOnce(*mut T, usize) + 'static {
    // SAFETY (at the call): napi calls this once, with the pointer and length given below.
    move |p, len| park(T::owned(unsafe { ZeroedBuf::from_raw(p, len, backing) }))
}

impl Typed for f32 {
    const IS_F64: bool = false;
    fn wrap(buf: ZeroedBuf<f32>) -> FloatArray {
        let (p, len, backing) = buf.into_raw();
        // SAFETY: p is valid for len elements until the finalizer frees it.
        Either::A(unsafe { Float32Array::with_external_data(p, len, release::<f32>(backing)) })
    }
    fn owned(buf: ZeroedBuf<f32>) -> Owned {
        Owned::F32(buf)
    }
    fn from_owned(o: Owned) -> Option<ZeroedBuf<f32>> {
        match o {
            Owned::F32(b) => Some(b),
            Owned::F64(_) => None,
        }
    }
    fn of<'a>(f: Floats<'a>) -> Option<&'a [f32]> {
        match f {
            Floats::F32(x) => Some(x),
            Floats::F64(_) => None,
        }
    }
    unsafe fn slice_of(a: &mut FloatArray) -> Option<&mut [f32]> {
        match a {
            Either::A(x) => Some(unsafe { x.as_mut() }),
            Either::B(_) => None,
        }
    }
}

impl Typed for f64 {
    const IS_F64: bool = true;
    fn wrap(buf: ZeroedBuf<f64>) -> FloatArray {
        let (p, len, backing) = buf.into_raw();
        // SAFETY: as for f32.
        Either::B(unsafe { Float64Array::with_external_data(p, len, release::<f64>(backing)) })
    }
    fn owned(buf: ZeroedBuf<f64>) -> Owned {
        Owned::F64(buf)
    }
    fn from_owned(o: Owned) -> Option<ZeroedBuf<f64>> {
        match o {
            Owned::F64(b) => Some(b),
            Owned::F32(_) => None,
        }
    }
    fn of<'a>(f: Floats<'a>) -> Option<&'a [f64]> {
        match f {
            Floats::F64(x) => Some(x),
            Floats::F32(_) => None,
        }
    }
    unsafe fn slice_of(a: &mut FloatArray) -> Option<&mut [f64]> {
        match a {
            Either::B(x) => Some(unsafe { x.as_mut() }),
            Either::A(_) => None,
        }
    }
}

/// What a call saw of the caller's `out` when it was called: its float type,
/// length and memory range. Async calls keep only this (and the JavaScript
/// handle) and never dereference `out` off the JavaScript thread.
#[derive(Clone, Copy, Debug)]
pub struct OutMeta {
    pub is_f64: bool,
    pub len: usize,
    pub range: (usize, usize),
}

impl OutMeta {
    pub fn of(out: &FloatArray) -> Self {
        let f = Floats::of(out);
        OutMeta { is_f64: f.is_f64(), len: f.len(), range: f.range() }
    }
}

/// Check the caller's `out` for a result of `len` elements of `T`: its float
/// type must be that of `like` (ERR_ARG), its length `len` (ERR_SHAPE), and
/// its memory disjoint from every input (ERR_ARG). All errors name `out`.
/// Run after the inputs were checked, so that a wrong input is blamed on it.
pub fn check_out<T: Typed>(
    out: &OutMeta,
    like: &str,
    len: usize,
    layout: &str,
    inputs: &[(&str, (usize, usize))],
) -> CoreResult<()> {
    if out.is_f64 != T::IS_F64 {
        return Err(CoreError::arg("out", format!("must have the same float type as {like} (both Float32Array or both Float64Array)")));
    }
    if out.len != len {
        return Err(CoreError::shape("out", len, out.len, layout));
    }
    let (s, e) = out.range;
    for (name, (a, b)) in inputs {
        if s < *b && *a < e && s < e {
            return Err(CoreError::arg("out", format!("must not share memory with {name} (the kernel reads {name} while writing out)")));
        }
    }
    Ok(())
}

/// ERR_ARG naming the output `name` when its memory `out` (start, end)
/// overlaps one of `others` (arrays the kernel reads, or other outputs).
pub fn check_apart(name: &str, out: (usize, usize), others: &[(&str, (usize, usize))]) -> CoreResult<()> {
    let (s, e) = out;
    for (other, (a, b)) in others {
        if s < *b && *a < e && s < e {
            return Err(CoreError::arg(name, format!("must not share memory with {other} (the kernel reads or writes {other} while writing {name})")));
        }
    }
    Ok(())
}

/// A slice's memory as (start, end) addresses.
pub fn byte_range<T>(s: &[T]) -> (usize, usize) {
    let start = s.as_ptr() as usize;
    (start, start + std::mem::size_of_val(s))
}

/// Largest result (bytes) handed to JavaScript as a fresh array made in
/// native memory. Why: Node 20 refuses external ArrayBuffers above 4 GiB
/// (ERR_BUFFER_TOO_LARGE); in an Async call that error is raised in the
/// completion callback, where it is an uncaught exception that ends the
/// process. So a larger fresh result is refused before any work, and the
/// caller can pass `out` (an array allocated in JavaScript) instead.
pub const MAX_FRESH_BYTES: u128 = 1 << 32;

/// A fresh result buffer of `len` elements: `ERR_ARG` naming `size_arg` (the
/// argument that makes the result large) above [`MAX_FRESH_BYTES`] or when it
/// cannot be allocated.
pub fn fresh<T: Real>(len: usize, size_arg: &str) -> CoreResult<ZeroedBuf<T>> {
    let bytes = len as u128 * std::mem::size_of::<T>() as u128;
    if bytes > MAX_FRESH_BYTES {
        return Err(CoreError::arg(
            size_arg,
            format!(
                "the result would be {bytes} bytes, more than the {MAX_FRESH_BYTES} bytes (4 GiB) a natively made array \
                 may have in Node; pass `out` (an array you allocate) to receive a larger result"
            ),
        )
        .with("elements", len)
        .with("bytes", bytes as f64));
    }
    ZeroedBuf::new(size_arg, len)
}

/// A result buffer for a kernel that writes every element of it: a spare of
/// exactly `len` elements (stale contents, pages already mapped: see
/// [`release`]) or, when there is none, [`fresh`] with its size limit (no
/// spare is that large: they are capped at [`SPARE_MAX_BYTES`]).
pub fn recycled<T: Typed>(len: usize, size_arg: &str) -> CoreResult<ZeroedBuf<T>> {
    take_spare(len).map_or_else(|| fresh(len, size_arg), Ok)
}

/// Where a sync kernel writes its result of `len` elements of `T`.
pub enum Dest<'a, T: Real> {
    Fresh(ZeroedBuf<T>),
    Given(&'a mut [T]),
}

impl<T: Real> Dest<'_, T> {
    pub fn slice(&mut self) -> &mut [T] {
        match self {
            Dest::Fresh(b) => b.as_mut_slice(),
            Dest::Given(s) => s,
        }
    }

    /// The fresh buffer, if the result did not go to a caller's `out`.
    pub fn into_fresh(self) -> Option<ZeroedBuf<T>> {
        match self {
            Dest::Fresh(b) => Some(b),
            Dest::Given(_) => None,
        }
    }
}

/// The destination of a sync call's result: `out` after [`check_out`], or a
/// [`recycled`] buffer (`ERR_ARG` naming `size_arg` when it cannot be
/// allocated). The kernel must write every element of it.
///
/// `out` is advised huge pages (contents unchanged): it is usually the fresh
/// JavaScript array of a call without `out` (`src/native/resultArray.ts`),
/// and one past glibc's mmap threshold (32 MiB at most) is new, untouched
/// memory that the kernel's threads would otherwise fault in 4 KiB at a time.
/// vwapLossGrad 1M × 12 f64 (96 MB), 2 cores of an AMD EPYC Zen 4: 78–91 ms
/// per call without the advice, 48–55 ms with it, 38–42 ms into a reused
/// `out`.
///
/// # Safety
/// With `out`, the returned slice aliases JavaScript memory: the caller must
/// not let JavaScript run while the slice lives (sync calls only).
pub unsafe fn dest<'a, T: Typed>(
    out: Option<&'a mut FloatArray>,
    like: &str,
    len: usize,
    layout: &str,
    inputs: &[(&str, (usize, usize))],
    size_arg: &str,
) -> CoreResult<Dest<'a, T>> {
    let Some(out) = out else { return Ok(Dest::Fresh(recycled(len, size_arg)?)) };
    check_out::<T>(&OutMeta::of(out), like, len, layout, inputs)?;
    // SAFETY: the type was checked just above; see this function's contract.
    let given = unsafe { T::slice_of(out) }.expect("type checked by check_out");
    sigvwap_core::buffer::advise_huge_pages(given);
    Ok(Dest::Given(given))
}

/// The current data pointer, length and detached state of a typed array,
/// read now (napi-rs's `Float64Array` caches what it saw at conversion).
///
/// # Safety
/// On the JavaScript thread, with `value` a typed array of `env`.
unsafe fn typed_array_now(env: sys::napi_env, value: sys::napi_value) -> napi::Result<(*mut u8, usize, bool)> {
    let (mut kind, mut len, mut data, mut buffer, mut offset) = (0, 0usize, std::ptr::null_mut(), std::ptr::null_mut(), 0usize);
    // SAFETY: per this function's contract.
    let status = unsafe { sys::napi_get_typedarray_info(env, value, &mut kind, &mut len, &mut data, &mut buffer, &mut offset) };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::new(napi::Status::from(status), "cannot read out's typed array info".to_string()));
    }
    let mut detached = false;
    // A SharedArrayBuffer is never detached (and is reported as not detached).
    // SAFETY: `buffer` is the typed array's buffer, just returned by napi.
    let status = unsafe { sys::napi_is_detached_arraybuffer(env, buffer, &mut detached) };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::new(napi::Status::from(status), "cannot read out's buffer state".to_string()));
    }
    Ok((data.cast(), len, detached))
}

/// Finish an Async call that was given `out`: on the JavaScript thread, write
/// `result` into `out` if its buffer is still attached with the length the
/// call was checked against, and return `out`; otherwise ERR_ARG naming
/// `out` (the result is dropped, `out` is left untouched).
pub fn write_back(env: &Env, out: FloatArray, result: Owned) -> napi::Result<FloatArray> {
    let written = write_back_ref(env, out, &result);
    // Copied (or refused): the result buffer is free for the next call.
    park(result);
    written
}

fn write_back_ref(env: &Env, out: FloatArray, result: &Owned) -> napi::Result<FloatArray> {
    let raw = env.raw();
    // The handle of the caller's array (napi-rs keeps it alive by a reference).
    // SAFETY: resolve runs on the JavaScript thread of `env`.
    let value = unsafe { FloatArray::to_napi_value(raw, out)? };
    let (data, len, detached) = unsafe { typed_array_now(raw, value)? };
    let (src, want) = match result {
        Owned::F32(b) => (b.as_slice().as_ptr().cast::<u8>(), b.len()),
        Owned::F64(b) => (b.as_slice().as_ptr().cast::<u8>(), b.len()),
    };
    if detached {
        return Err(to_napi(
            CoreError::new(
                ErrorCode::Arg,
                "out was detached (transferred) while the call ran: the result could not be written \
                 (keep out in this thread until the promise settles, or omit out to get a fresh array)",
            )
            .with("argument", "out")
            .with("reason", "detached"),
        ));
    }
    if len != want {
        return Err(to_napi(
            CoreError::new(ErrorCode::Arg, format!("out changed length from {want} to {len} while the call ran (its buffer was resized); the result could not be written"))
                .with("argument", "out")
                .with("expected", want)
                .with("got", len)
                .with("reason", "resized"),
        ));
    }
    let bytes = want * if result.floats().is_f64() { 8 } else { 4 };
    if bytes > 0 {
        // SAFETY: `data` is out's current memory, `len` elements of the
        // result's type (the type was checked when the call was made and a
        // typed array never changes type); `src` is Rust-owned, so the two do
        // not overlap. Byte copy: no alignment assumption.
        unsafe { std::ptr::copy_nonoverlapping(src, data, bytes) };
    }
    // A fresh napi-rs handle on the same array (re-reads its current memory).
    // SAFETY: as above.
    unsafe { FloatArray::from_napi_value(raw, value) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spares_are_reused_by_size_and_type_and_bounded() {
        let len = SPARE_MIN_BYTES / 8 + 3;
        let a = ZeroedBuf::<f64>::new("x", len).unwrap();
        let p = a.as_slice().as_ptr() as usize;
        park(Owned::F64(a));
        // another type or size: not this spare (which is still parked, so no
        // new mapping can reuse its address)
        assert_ne!(scratch::<f32>("x", len * 2).unwrap().as_slice().as_ptr() as usize, p);
        assert_ne!(scratch::<f64>("x", len + 1).unwrap().as_slice().as_ptr() as usize, p);
        // same type and size: the spare (taken out of the cache)
        let spare = scratch::<f64>("x", len).unwrap();
        assert_eq!(spare.as_slice().as_ptr() as usize, p);
        // (held: once dropped, a new mapping may well get the same address)
        assert_ne!(scratch::<f64>("x", len).unwrap().as_slice().as_ptr() as usize, p);
        drop(spare);
        // small buffers are not kept; the cache stays within its bounds
        park(Owned::F32(ZeroedBuf::new("x", 16).unwrap()));
        for _ in 0..SPARE_MAX_COUNT + 3 {
            park(Owned::F64(ZeroedBuf::new("x", len).unwrap()));
        }
        let spares = SPARES.lock().unwrap();
        assert!(spares.len() <= SPARE_MAX_COUNT && spares.iter().map(Owned::bytes).sum::<usize>() <= SPARE_MAX_BYTES);
        assert!(spares.iter().all(|o| o.bytes() >= SPARE_MIN_BYTES));
    }
}
