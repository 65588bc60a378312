//! Memory units, in one place. Probes count bytes (the kernel's kB are KiB); the records hold MB,
//! which in mora is always MiB (2^20 bytes, as the proof of concept computed them: `rss_mb`,
//! `memory_increase_mb`, ...). A probe turns its bytes into MB with [`mib`] where it builds its
//! record, and every other conversion between the two goes through here too.

/// Bytes in a KiB: /proc's and cgroups' "kB".
pub(crate) const KIB: u64 = 1 << 10;

/// Bytes in a MiB: what every `_mb` figure counts.
pub(crate) const MIB: u64 = 1 << 20;

/// Bytes as MB (MiB).
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

/// A kernel "kB" figure (KiB) as bytes.
pub fn kib_to_bytes(kib: u64) -> u64 {
    kib.saturating_mul(KIB)
}

/// MB (MiB) as whole bytes, for a limit handed to the kernel: rounded down, never below zero.
pub(crate) fn mib_to_bytes(mb: f64) -> u64 {
    // `as` saturates: a negative or NaN figure gives 0, a huge one u64::MAX.
    (mb * MIB as f64) as u64
}

/// MB (MiB) as GB (GiB), for tables that show RAM in GB.
pub(crate) fn mib_to_gib(mb: f64) -> f64 {
    mb / (KIB as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mb_is_a_mebibyte() {
        assert_eq!(mib(MIB), 1.0);
        assert_eq!(mib(512 * KIB), 0.5);
        assert_eq!(kib_to_bytes(2048), 2 * MIB);
        assert_eq!(mib(kib_to_bytes(1536)), 1.5);
        assert_eq!(mib_to_bytes(1.5), 3 * MIB / 2);
        assert_eq!(mib_to_bytes(-1.0), 0);
        assert_eq!(mib_to_gib(1536.0), 1.5);
    }
}
