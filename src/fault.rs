//! Faults injected on purpose through `MORA_FAULT`, so the tests can prove that a crashing, hanging
//! or leaking trial is reported as such and never takes the run down, and that a worker's one-time
//! warm-up is kept apart from a model's figures. Unset in normal use. Several faults are separated by
//! commas.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::phase::Phase;

fn faults() -> Vec<String> {
    std::env::var("MORA_FAULT").map(|f| f.split(',').map(str::to_string).collect()).unwrap_or_default()
}

/// `crash:PHASE` aborts, `segfault:PHASE` writes to a page it may not (a real memory fault, as a
/// runtime bug makes), `exit:PHASE` exits with code 3, `hang:PHASE` sleeps forever, each on entering
/// PHASE (a prefix match: `crash:cycle` hits every cycle).
pub(crate) fn inject(phase: &Phase) {
    let phase = phase.to_string();
    for fault in faults() {
        let Some((kind, at)) = fault.split_once(':') else { continue };
        if !phase.starts_with(at) {
            continue;
        }
        match kind {
            "crash" => std::process::abort(),
            "segfault" => fault_on_a_page_without_access(),
            "exit" => std::process::exit(3),
            "hang" => loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            },
            _ => {}
        }
    }
}

/// A write to a page mapped without access: the kernel raises SIGSEGV for it (SEGV_ACCERR), which
/// no Rust code could do without undefined behaviour.
fn fault_on_a_page_without_access() {
    // SAFETY: mmap takes no pointer of ours (addr is null); the result is checked before use.
    let page = unsafe { libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
    assert_ne!(page, libc::MAP_FAILED, "cannot map a page");
    // SAFETY: none: this write faults on purpose, and the kernel ends the process before it returns.
    unsafe { std::ptr::write_volatile(page.cast::<u8>(), 1) };
}

/// `slow-run:MS`: every inference takes MS milliseconds longer, inside its timer: a deliberate
/// regression, for proving the regression gate (`scripts/gate-check.sh`). Read once: the check runs
/// inside the timed region.
pub(crate) fn slow_run() {
    static DELAY: std::sync::OnceLock<Option<std::time::Duration>> = std::sync::OnceLock::new();
    let delay = DELAY.get_or_init(|| {
        faults().iter().find_map(|f| f.strip_prefix("slow-run:")?.parse::<u64>().ok()).map(std::time::Duration::from_millis)
    });
    if let Some(d) = delay {
        std::thread::sleep(*d);
    }
}

/// `keep-outputs`: the leak scenario keeps every cycle's outputs alive, a deliberate leak.
pub(crate) fn keep_outputs() -> bool {
    faults().iter().any(|f| f == "keep-outputs")
}

/// `keep-sessions`: the leak scenario never drops its sessions, a deliberate leak of every model.
pub(crate) fn keep_sessions() -> bool {
    faults().iter().any(|f| f == "keep-sessions")
}

static RESULTS_WRITES: AtomicUsize = AtomicUsize::new(0);

/// `disk-full:N`: in mora (the parent), the N-th and every later file write fails half way with
/// ENOSPC, as on a full disk. Counts every atomic write (results.json after each trial, reports).
pub(crate) fn disk_full_now() -> bool {
    let Some(n) = faults().iter().find_map(|f| f.strip_prefix("disk-full:")?.parse::<usize>().ok()) else { return false };
    RESULTS_WRITES.fetch_add(1, Ordering::SeqCst) + 1 >= n
}

static FIRST_LOAD_DONE: AtomicBool = AtomicBool::new(false);

/// `first-load-keeps:MB`: the first model load in a worker keeps MB of memory for the worker's life,
/// as a provider does with the libraries and kernels it loads on first use (CUDA: +160 to +455 MB
/// RSS). A stand-in for that one-time cost where no GPU is at hand.
pub(crate) fn on_model_loaded() {
    if FIRST_LOAD_DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    let Some(mb) = faults().iter().find_map(|f| f.strip_prefix("first-load-keeps:")?.parse::<usize>().ok()) else { return };
    let mut block = vec![0u8; mb * crate::units::MIB as usize];
    // Touch every page so the memory is resident, then keep it for the life of the process. The
    // block goes through black_box: nothing reads it, and the optimiser may otherwise drop it.
    for i in (0..block.len()).step_by(4096) {
        block[i] = 1;
    }
    std::mem::forget(std::hint::black_box(block));
}

/// `perturb-outputs:LEVER`: the levers scenario shifts the outputs it compares for levers whose
/// label contains LEVER, so a test can see a configuration that differs reported and never
/// recommended.
pub(crate) fn perturb_outputs(lever_label: &str) -> bool {
    faults().iter().any(|f| f.strip_prefix("perturb-outputs:").is_some_and(|l| lever_label.contains(l)))
}

/// `leak-per-inference:KB`: every inference keeps KB of memory for the worker's life, a leak at a
/// known rate for the soak scenario's tests.
pub(crate) fn on_inference() {
    let Some(kb) = faults().iter().find_map(|f| f.strip_prefix("leak-per-inference:")?.parse::<usize>().ok()) else { return };
    let mut block = vec![0u8; kb * crate::units::KIB as usize];
    for i in (0..block.len()).step_by(4096) {
        block[i] = 1;
    }
    // As above: black_box keeps the optimiser from dropping a block nothing reads.
    std::mem::forget(std::hint::black_box(block));
}
