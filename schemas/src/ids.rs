//! Stable ids: the same input gives the same id on every run and machine.

use xxhash_rust::xxh3::xxh3_128;

/// A 32-hex-digit id from the given parts (joined with a separator no part contains).
pub fn stable_id(parts: &[&str]) -> String {
    format!("{:032x}", stable_hash(parts))
}

/// A 128-bit hash of the given parts, for in-memory keys (same separator rule).
pub fn stable_hash(parts: &[&str]) -> u128 {
    let mut buf = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for p in parts {
        buf.extend_from_slice(p.as_bytes());
        buf.push(0x1f);
    }
    xxh3_128(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_separated() {
        assert_ne!(stable_id(&["ab", "c"]), stable_id(&["a", "bc"]));
        assert_eq!(stable_id(&["a"]), stable_id(&["a"]));
        assert_eq!(stable_id(&["a"]).len(), 32);
    }
}
