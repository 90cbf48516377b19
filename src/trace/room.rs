//! Room for a trace's worth of items at once, backed by huge pages (2 MB) on the Linux
//! machines that give them to memory that asks (`transparent_hugepage` set to `madvise`, or
//! `always`). A million events' worth of anything is megabytes, and memory fresh from the
//! kernel costs a fault the first time each 4 KB page of it is written: the events read, and
//! the tables and text the views make of them (each view makes them anew, and the faults grew
//! their cost per event from a trace of 10^5 events to one of 10^6). A huge page is one fault.

/// A vector with room for `items`.
pub(crate) fn vec_with_room<T>(items: usize) -> Vec<T> {
    let mut vector = Vec::with_capacity(items);
    ask_for_huge_pages(&mut vector);
    vector
}

/// A string with room for `bytes`.
pub(crate) fn string_with_room(bytes: usize) -> String {
    String::from_utf8(vec_with_room(bytes)).unwrap_or_default()
}

/// Asks the kernel to back `vector`'s room with huge pages.
pub(crate) fn ask_for_huge_pages<T>(vector: &mut Vec<T>) {
    const HUGE: usize = 2 << 20;
    let start = vector.as_mut_ptr() as usize;
    let end = start.saturating_add(vector.capacity().saturating_mul(std::mem::size_of::<T>()));
    let (from, to) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
    if from < to {
        // SAFETY: the range lies within the vector's own allocation, and the advice changes how
        // the kernel backs it, never what it holds. It is advice: where huge pages are off, the
        // kernel refuses it (EINVAL) and the memory works as before, so the answer is not read.
        let _ = unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE) };
    }
}
