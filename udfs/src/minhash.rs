//! `minhash(text)`: a MinHash signature of a text's word shingles (single words and
//! pairs), 64 hashes as 256 bytes (`Binary`), so that texts sharing most of their words
//! have signatures agreeing in most positions. Compose it with `msg_template` to compare
//! messages about different pods: `minhash(msg_template(message))`. `NULL` for a text
//! with no words.

use std::sync::Arc;

use datafusion::arrow::array::BinaryArray;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use xxhash_rust::xxh3::xxh3_64;

/// Hashes per signature.
pub const K: usize = 64;

/// Bytes of a signature (`K` little-endian u32).
pub const SIGNATURE_BYTES: usize = K * 4;

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The K hash functions: multiply-shift with fixed odd multipliers, so every run and
/// machine computes the same signature (signatures are stored and compared later).
fn coefficients() -> &'static [(u64, u64); K] {
    static C: std::sync::OnceLock<[(u64, u64); K]> = std::sync::OnceLock::new();
    C.get_or_init(|| {
        let mut c = [(0u64, 0u64); K];
        for (i, slot) in c.iter_mut().enumerate() {
            *slot = (splitmix(2 * i as u64) | 1, splitmix(2 * i as u64 + 1));
        }
        c
    })
}

/// The signature of `text`, or `None` when it has no words.
pub fn signature(text: &str) -> Option<[u32; K]> {
    let words: Vec<String> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '<' || c == '>' || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    if words.is_empty() {
        return None;
    }
    let mut sig = [u32::MAX; K];
    let mut add = |h: u64| {
        for (s, (a, b)) in sig.iter_mut().zip(coefficients()) {
            let v = (a.wrapping_mul(h).wrapping_add(*b) >> 32) as u32;
            if v < *s {
                *s = v;
            }
        }
    };
    for w in &words {
        add(xxh3_64(w.as_bytes()));
    }
    for pair in words.windows(2) {
        add(xxh3_64(format!("{} {}", pair[0], pair[1]).as_bytes()));
    }
    Some(sig)
}

/// The share of positions where two signatures agree: the estimated Jaccard similarity
/// (what `minhash_similarity` computes over stored signatures).
pub fn agreement(a: &[u32; K], b: &[u32; K]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / K as f64
}

/// The signature as stored: K little-endian u32.
pub fn to_bytes(sig: &[u32; K]) -> Vec<u8> {
    sig.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The `minhash` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MinHash {
    signature: Signature,
}

impl Default for MinHash {
    fn default() -> Self {
        Self::new()
    }
}

impl MinHash {
    /// A new instance.
    pub fn new() -> Self {
        MinHash {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for MinHash {
    fn name(&self) -> &str {
        "minhash"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = crate::string_arg(&args.args, args.number_rows, self.name())?;
        let out: BinaryArray = input
            .iter()
            .map(|t| t.and_then(signature).map(|s| to_bytes(&s)))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg_template::template;

    fn agree(a: &str, b: &str) -> f64 {
        agreement(&signature(a).unwrap(), &signature(b).unwrap())
    }

    #[test]
    fn templated_messages_about_different_pods_agree() {
        let a = template(
            "Back-off restarting failed container app in pod web-7d4f9c8b5-x2k9q_shop(8e2a1b7c-3d4e-4f5a-9b6c-7d8e9f0a1b2c)",
        );
        let b = template(
            "Back-off restarting failed container app in pod web-7d4f9c8b5-m4n8z_shop(1f3e5d7c-9b8a-4c6d-8e2f-0a1b2c3d4e5f)",
        );
        assert_eq!(agree(&a, &b), 1.0, "{a} / {b}");
        let c = "Readiness probe failed: HTTP probe failed with statuscode: 503";
        assert!(
            agree(&a, c) < 0.2,
            "unrelated messages rarely agree: {}",
            agree(&a, c)
        );
        let d = "Readiness probe failed: HTTP probe failed with statuscode: 500";
        let sim = agree(c, d);
        assert!(
            sim > 0.6 && sim < 1.0,
            "near-identical messages mostly agree: {sim}"
        );
    }

    #[test]
    fn stable_and_empty() {
        assert_eq!(
            signature("OOMKilled in shop"),
            signature("oomkilled IN shop")
        );
        assert_eq!(signature("  ,;  "), None);
        // Fixed coefficients: the same signature on every run (stored signatures compare).
        assert_eq!(signature("x").unwrap()[0], signature("x").unwrap()[0]);
        assert_ne!(signature("x"), signature("y"));
    }
}
