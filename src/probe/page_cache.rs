//! The page cache state of model files: evict them for a cold load, read them through for a warm one,
//! and measure with mincore how much of them is resident right before a load.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::path::Path;

/// Asks the kernel to drop the file's cached pages (fsync first: dirty pages cannot be dropped).
/// Whether it worked is for [`resident_fraction_of`] to say: some filesystems ignore the advice.
pub(crate) fn evict(path: &Path) -> io::Result<()> {
    let file = File::open(path)?;
    file.sync_all()?;
    // SAFETY: the descriptor is the open file's; the advice takes plain integers.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// Reads the whole file so that its pages are cached; returns the bytes read.
pub fn read_through(path: &Path) -> io::Result<u64> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; 8 * crate::units::MIB as usize];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
    }
}

/// The fraction (0..=1) of the file's pages that are in the page cache now; `None` for an empty file.
#[cfg(test)]
fn resident_fraction(path: &Path) -> io::Result<Option<f64>> {
    let (resident, total) = resident_pages(path)?;
    Ok(if total == 0 { None } else { Some(resident as f64 / total as f64) })
}

/// Resident fraction over several files, weighted by their sizes.
pub(crate) fn resident_fraction_of(paths: &[impl AsRef<Path>]) -> io::Result<Option<f64>> {
    let (mut resident, mut total) = (0u64, 0u64);
    for path in paths {
        let (r, t) = resident_pages(path.as_ref())?;
        resident += r;
        total += t;
    }
    Ok(if total == 0 { None } else { Some(resident as f64 / total as f64) })
}

fn resident_pages(path: &Path) -> io::Result<(u64, u64)> {
    let file = File::open(path)?;
    let len = file.metadata()?.len() as usize;
    if len == 0 {
        return Ok((0, 0));
    }
    // SAFETY: sysconf takes a plain integer and reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    let pages = len.div_ceil(page);
    // Mapping a file does not read it: mincore only reports what the cache already holds.
    // SAFETY: a read-only shared mapping of the open file's `len` bytes; nothing reads through it
    // (mincore only reports residency), and it is unmapped below.
    let addr = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), 0) };
    if addr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let mut vec = vec![0u8; pages];
    // SAFETY: `addr` maps `len` bytes; `vec` holds one byte per page of them.
    let rc = unsafe { libc::mincore(addr, len, vec.as_mut_ptr()) };
    let err = io::Error::last_os_error();
    // SAFETY: the mapping made above, unmapped once.
    unsafe { libc::munmap(addr, len) };
    if rc != 0 {
        return Err(err);
    }
    let resident = vec.iter().filter(|b| *b & 1 == 1).count() as u64;
    Ok((resident, pages as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn read_through_makes_a_file_resident() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let mut f = File::create(&path).unwrap();
        f.write_all(&vec![7u8; 4 << 20]).unwrap();
        drop(f);
        assert_eq!(read_through(&path).unwrap(), 4 << 20);
        assert_eq!(resident_fraction(&path).unwrap(), Some(1.0));
    }

    #[test]
    fn eviction_makes_a_file_non_resident() {
        // Under target/, on the disk: tmpfs would keep the pages whatever we advise.
        let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        std::fs::create_dir_all(&target).unwrap();
        let dir = tempfile::tempdir_in(target).unwrap();
        let path = dir.path().join("blob");
        std::fs::write(&path, vec![3u8; 8 << 20]).unwrap();
        read_through(&path).unwrap();
        evict(&path).unwrap();
        let fraction = resident_fraction(&path).unwrap().unwrap();
        // target/ is on the disk (tmpfs would keep the pages whatever we advise).
        assert!(fraction < 0.05, "resident fraction after eviction under {}: {fraction}", dir.path().display());
        assert_eq!(resident_fraction_of(&[&path, &path]).unwrap(), Some(fraction));
    }

    #[test]
    fn empty_file_has_no_fraction() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty");
        std::fs::write(&path, b"").unwrap();
        assert_eq!(resident_fraction(&path).unwrap(), None);
    }
}
