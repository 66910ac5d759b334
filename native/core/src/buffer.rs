//! `ZeroedBuf<T>`: a zero-filled result buffer that is cheap to obtain even
//! when it is large, and that can be handed to another owner (a JavaScript
//! ArrayBuffer) together with the way to free it.
//!
//! Why. A kernel's result is often as large as its input (a signature
//! gradient of 256 × 10,000 × 4 doubles is 82 MB). Fresh memory costs one
//! page fault per 4 KiB page on first touch: 20,000 faults, ~30 ms on the
//! 2-core Firecracker VM this was measured on (1.5 µs each), more than the
//! backward kernel itself on smaller shapes. `Vec::resize` would also touch
//! every page serially before the parallel kernel starts. So:
//! - below [`MAP_THRESHOLD_BYTES`], memory comes from the allocator with
//!   `alloc_zeroed` (calloc: no memset for fresh pages);
//! - at or above it (Linux), from an anonymous private mapping, which the OS
//!   zero-fills on first touch (so the memory is initialized, and no memset
//!   runs), advised `MADV_HUGEPAGE` so one fault maps 2 MiB: 82 MB took
//!   ~6 ms instead of ~30 ms there. The first touches happen inside the
//!   parallel kernel, on all threads. With the kernel's THP setting `never`
//!   the advice is ignored and the mapping behaves like 4 KiB pages.
//!
//! Cost: O(1) system calls; pages are zeroed by the OS when first written.
//! Sizes above [`MAX_BYTES`] are refused with `ERR_ARG` stating the size,
//! before anything is allocated ([`check_alloc`], also used for workspaces).

use std::alloc::Layout;
use std::ptr::NonNull;

use crate::error::{CoreError, CoreResult};
use crate::real::Real;

/// Largest buffer (output, temporary or workspace) that a call may allocate: 16 GiB.
pub const MAX_BYTES: u128 = 1 << 34;

/// Refuse a buffer of `elements` values of `elem_bytes` bytes each when it
/// exceeds [`MAX_BYTES`].
pub(crate) fn check_alloc(name: &str, elements: usize, elem_bytes: usize) -> CoreResult<()> {
    let bytes = elements as u128 * elem_bytes as u128;
    if bytes > MAX_BYTES {
        return Err(CoreError::arg(
            name,
            format!("needs {elements} elements ({bytes} bytes), more than the limit of {MAX_BYTES} bytes"),
        )
        .with("elements", elements)
        .with("bytes", bytes as f64));
    }
    Ok(())
}

/// A zero-filled vector, or `ERR_ARG` (with the size) when it cannot be had.
/// Allocated zeroed (calloc): fresh pages are not written here but on first
/// touch inside the parallel kernel, instead of serially by a fill.
pub(crate) fn zeroed_vec<T: Real>(name: &str, elements: usize) -> CoreResult<Vec<T>> {
    check_alloc(name, elements, std::mem::size_of::<T>())?;
    let fail = || {
        CoreError::arg(name, format!("cannot allocate {elements} elements"))
            .with("elements", elements)
            .with("bytes", (elements * std::mem::size_of::<T>()) as f64)
    };
    if elements == 0 {
        return Ok(Vec::new());
    }
    let layout = Layout::array::<T>(elements).map_err(|_| fail())?;
    // SAFETY: non-zero size; all-zero bits are 0.0 for f32 and f64 (the only
    // Real types), and Vec::from_raw_parts gets the pointer, length and
    // capacity of a global-allocator block with exactly Vec's layout.
    unsafe {
        let p = std::alloc::alloc_zeroed(layout).cast::<T>();
        if p.is_null() {
            return Err(fail());
        }
        Ok(Vec::from_raw_parts(p, elements, elements))
    }
}

/// Buffers of at least this many bytes are mapped (Linux): two huge pages.
pub const MAP_THRESHOLD_BYTES: usize = 4 << 20;

/// Where the memory of a [`ZeroedBuf`] came from, needed to free it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backing {
    /// No memory (length 0): a dangling, aligned pointer.
    Empty,
    /// A `Vec<T>` from [`zeroed_vec`], capacity `len`.
    Heap,
    /// An anonymous mapping of `bytes` bytes.
    Mapped { bytes: usize },
}

/// A zero-filled `[T; len]` owned by this value (see the module header).
pub struct ZeroedBuf<T: Real> {
    ptr: NonNull<T>,
    len: usize,
    backing: Backing,
}

// SAFETY: the buffer is uniquely owned plain data, like a Vec<T>.
unsafe impl<T: Real> Send for ZeroedBuf<T> {}
unsafe impl<T: Real> Sync for ZeroedBuf<T> {}

impl<T: Real> ZeroedBuf<T> {
    /// `len` zeros, or `ERR_ARG` naming `name` with the size when it is too
    /// large or cannot be had.
    pub fn new(name: &str, len: usize) -> CoreResult<Self> {
        check_alloc(name, len, std::mem::size_of::<T>())?;
        if len == 0 {
            return Ok(Self { ptr: NonNull::dangling(), len, backing: Backing::Empty });
        }
        let bytes = len * std::mem::size_of::<T>(); // at most MAX_BYTES: no overflow
        if bytes >= MAP_THRESHOLD_BYTES {
            if let Some(ptr) = map_zeroed(bytes) {
                return Ok(Self { ptr: ptr.cast(), len, backing: Backing::Mapped { bytes } });
            }
        }
        let mut v = std::mem::ManuallyDrop::new(zeroed_vec::<T>(name, len)?);
        // SAFETY: a non-empty Vec's pointer is non-null; Drop rebuilds the Vec.
        Ok(Self { ptr: unsafe { NonNull::new_unchecked(v.as_mut_ptr()) }, len, backing: Backing::Heap })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn backing(&self) -> Backing {
        self.backing
    }

    pub fn as_slice(&self) -> &[T] {
        // SAFETY: ptr is valid for len initialized (zeroed) elements, or dangling with len 0.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as above, and self is borrowed uniquely.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// Give up ownership: the pointer, the length and how to free them
    /// (pass all three back to [`ZeroedBuf::from_raw`] and drop it).
    pub fn into_raw(self) -> (*mut T, usize, Backing) {
        let parts = (self.ptr.as_ptr(), self.len, self.backing);
        std::mem::forget(self);
        parts
    }

    /// # Safety
    /// `ptr`, `len` and `backing` must come from one [`ZeroedBuf::into_raw`]
    /// call of the same `T`, and be passed back at most once.
    pub unsafe fn from_raw(ptr: *mut T, len: usize, backing: Backing) -> Self {
        Self { ptr: NonNull::new(ptr).unwrap_or(NonNull::dangling()), len, backing }
    }
}

impl<T: Real> std::fmt::Debug for ZeroedBuf<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ZeroedBuf<{}>[{}; {:?}]", T::NAME, self.len, self.backing)
    }
}

impl<T: Real> Drop for ZeroedBuf<T> {
    fn drop(&mut self) {
        match self.backing {
            Backing::Empty => {}
            // SAFETY: the parts of the Vec that `new` took apart (capacity = len).
            Backing::Heap => drop(unsafe { Vec::from_raw_parts(self.ptr.as_ptr(), self.len, self.len) }),
            Backing::Mapped { bytes } => unmap(self.ptr.cast(), bytes),
        }
    }
}

/// Advise the OS to back `x` with huge pages where it spans whole 2 MiB
/// pages (Linux; a no-op elsewhere). Contents are unchanged; pages not yet
/// touched (a fresh JavaScript result past glibc's mmap threshold) are then
/// mapped 2 MiB per fault when the kernel first writes them, instead of
/// 4 KiB: a 96 MB result takes ~50 faults instead of ~24,000. For output
/// arrays the caller allocated (the sync calls' JavaScript results;
/// [`ZeroedBuf`] advises its own mappings). Cost: one system call.
pub fn advise_huge_pages<T>(x: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = x.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(x);
        let (a, b) = (start.next_multiple_of(HUGE), end & !(HUGE - 1));
        if b > a {
            // SAFETY: [a, b) lies inside `x`, which is borrowed exclusively;
            // MADV_HUGEPAGE changes how pages are backed, never their contents.
            unsafe { libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = x;
}

#[cfg(target_os = "linux")]
fn map_zeroed(bytes: usize) -> Option<NonNull<u8>> {
    // SAFETY: a fresh anonymous private mapping; no existing memory is touched.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return None;
        }
        // Advice only: failure (THP compiled out) leaves ordinary pages.
        libc::madvise(p, bytes, libc::MADV_HUGEPAGE);
        NonNull::new(p.cast())
    }
}

#[cfg(not(target_os = "linux"))]
fn map_zeroed(_bytes: usize) -> Option<NonNull<u8>> {
    None
}

#[cfg(target_os = "linux")]
fn unmap(ptr: NonNull<u8>, bytes: usize) {
    // SAFETY: the mapping was created by map_zeroed with this size.
    unsafe {
        libc::munmap(ptr.as_ptr().cast(), bytes);
    }
}

#[cfg(not(target_os = "linux"))]
fn unmap(_ptr: NonNull<u8>, _bytes: usize) {
    unreachable!("nothing is mapped off Linux")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_around_the_threshold_are_zeroed_writable_and_freed() {
        for (name, len, want) in [
            ("empty", 0usize, Backing::Empty),
            ("one", 1, Backing::Heap),
            ("just below", MAP_THRESHOLD_BYTES / 8 - 1, Backing::Heap),
            ("at the threshold", MAP_THRESHOLD_BYTES / 8, if cfg!(target_os = "linux") { Backing::Mapped { bytes: MAP_THRESHOLD_BYTES } } else { Backing::Heap }),
            ("odd, large", 3 * MAP_THRESHOLD_BYTES / 8 + 7, if cfg!(target_os = "linux") { Backing::Mapped { bytes: 3 * MAP_THRESHOLD_BYTES + 56 } } else { Backing::Heap }),
        ] {
            let mut b = ZeroedBuf::<f64>::new("out", len).unwrap();
            assert_eq!(b.backing(), want, "{name}");
            assert_eq!(b.len(), len, "{name}");
            assert!(b.as_slice().iter().all(|&v| v == 0.0), "{name}: not zero");
            b.as_mut_slice().iter_mut().enumerate().for_each(|(i, v)| *v = i as f64);
            assert!(b.as_slice().iter().enumerate().all(|(i, &v)| v == i as f64), "{name}");
            let (p, n, backing) = b.into_raw();
            // SAFETY: the parts of one into_raw call, given back once.
            let b = unsafe { ZeroedBuf::from_raw(p, n, backing) };
            assert_eq!(b.as_slice().last().copied(), n.checked_sub(1).map(|i| i as f64), "{name}");
        }
    }

    #[test]
    fn huge_page_advice_keeps_contents_and_bounds() {
        // Written before and after the advice, on spans with and without a
        // whole aligned 2 MiB page and at an odd offset into the allocation
        // (the advice must stay inside the slice, rounding inwards).
        let mut v: Vec<f64> = (0..(5 << 20) / 8 + 3).map(|i| i as f64).collect();
        for (name, lo, hi) in [("empty", 0usize, 0usize), ("one element", 7, 8), ("under 2 MiB", 1, 200_000), ("odd, 5 MiB", 3, v.len())] {
            advise_huge_pages(&mut v[lo..hi]);
            assert!(v.iter().enumerate().all(|(i, &x)| x == i as f64), "{name}: contents changed");
            v[lo..hi].iter_mut().for_each(|x| *x = -*x);
            assert!(v[lo..hi].iter().enumerate().all(|(i, &x)| x == -((lo + i) as f64)), "{name}: not writable");
            v[lo..hi].iter_mut().for_each(|x| *x = -*x);
        }
    }

    #[test]
    fn too_large_is_err_arg_with_the_size() {
        let e = ZeroedBuf::<f32>::new("grad", usize::MAX / 2).unwrap_err();
        assert_eq!(e.code.as_str(), "ERR_ARG");
        assert!(e.message.contains("grad") && e.message.contains("elements"), "{}", e.message);
    }
}
