//! `minhash_similarity(a, b)`: the share of positions where two `minhash` signatures
//! agree — an estimate of the Jaccard similarity of the two texts' shingle sets, in
//! [0, 1]. `NULL` when either is not a signature.

use std::sync::Arc;

use datafusion::arrow::array::{Array, Float64Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::minhash::{K, SIGNATURE_BYTES};

/// The estimated similarity of two stored signatures.
pub fn similarity(a: &[u8], b: &[u8]) -> Option<f64> {
    if a.len() != SIGNATURE_BYTES || b.len() != SIGNATURE_BYTES {
        return None;
    }
    let same = a
        .chunks_exact(4)
        .zip(b.chunks_exact(4))
        .filter(|(x, y)| x == y)
        .count();
    Some(same as f64 / K as f64)
}

/// The `minhash_similarity` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MinHashSimilarity {
    signature: Signature,
}

impl Default for MinHashSimilarity {
    fn default() -> Self {
        Self::new()
    }
}

impl MinHashSimilarity {
    /// A new instance.
    pub fn new() -> Self {
        MinHashSimilarity {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for MinHashSimilarity {
    fn name(&self) -> &str {
        "minhash_similarity"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args.len() != 2 {
            return exec_err!("minhash_similarity takes two signatures");
        }
        let a = crate::binary_arg(&args.args, 0, args.number_rows, self.name())?;
        let b = crate::binary_arg(&args.args, 1, args.number_rows, self.name())?;
        let out: Float64Array = (0..a.len())
            .map(|i| {
                if a.is_null(i) || b.is_null(i) {
                    None
                } else {
                    similarity(a.value(i), b.value(i))
                }
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::minhash::{signature, to_bytes};

    #[test]
    fn identical_similar_and_malformed() {
        let s = |t: &str| to_bytes(&signature(t).unwrap());
        let a = s("Liveness probe failed: Get http://<ip>/healthz: context deadline exceeded");
        assert_eq!(similarity(&a, &a), Some(1.0));
        let b = s("Liveness probe failed: Get http://<ip>/ready: context deadline exceeded");
        let sim = similarity(&a, &b).unwrap();
        assert!(sim > 0.5 && sim < 1.0, "{sim}");
        assert_eq!(similarity(&a, &[1, 2, 3]), None);
    }
}
