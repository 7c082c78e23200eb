//! `lsh_bands(signature, bands)`: the locality-sensitive hashing keys of a `minhash`
//! signature — one 64-bit key per band of `64 / bands` rows. Two signatures that agree on
//! a fraction s of positions share at least one key with probability 1 - (1 - s^r)^b, so
//! `JOIN ... ON a_key = b_key` over `UNNEST(lsh_bands(...))` finds similar pairs without
//! comparing every pair. `bands` must divide 64 (16 bands of 4 rows: pairs above ~0.5
//! similarity meet).

use std::sync::Arc;

use datafusion::arrow::array::{Array, Int64Array, ListBuilder, UInt64Builder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use xxhash_rust::xxh3::xxh3_64;

use crate::minhash::{K, SIGNATURE_BYTES};

/// The band keys of a stored signature; `None` when it is not a signature.
pub fn bands(sig: &[u8], bands: usize) -> Option<Vec<u64>> {
    if sig.len() != SIGNATURE_BYTES || bands == 0 || !K.is_multiple_of(bands) {
        return None;
    }
    let rows = K / bands;
    Some(
        (0..bands)
            .map(|i| {
                let mut buf = Vec::with_capacity(1 + rows * 4);
                buf.push(i as u8);
                buf.extend_from_slice(&sig[i * rows * 4..(i + 1) * rows * 4]);
                xxh3_64(&buf)
            })
            .collect(),
    )
}

/// The `lsh_bands` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LshBands {
    signature: Signature,
}

impl Default for LshBands {
    fn default() -> Self {
        Self::new()
    }
}

impl LshBands {
    /// A new instance.
    pub fn new() -> Self {
        LshBands {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for LshBands {
    fn name(&self) -> &str {
        "lsh_bands"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Arc::new(Field::new(
            "item",
            DataType::UInt64,
            true,
        ))))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [_, n] = args.args.as_slice() else {
            return exec_err!("lsh_bands takes (signature, bands)");
        };
        let sig = crate::binary_arg(&args.args, 0, args.number_rows, self.name())?;
        let n = cast(&n.to_array(args.number_rows)?, &DataType::Int64)?;
        let Some(n) = n.as_any().downcast_ref::<Int64Array>() else {
            return exec_err!("lsh_bands expects an integer number of bands");
        };
        let mut out = ListBuilder::new(UInt64Builder::new());
        for i in 0..sig.len() {
            if sig.is_null(i) || n.is_null(i) {
                out.append(false);
                continue;
            }
            let b = n.value(i);
            if b <= 0 || !K.is_multiple_of(b as usize) {
                return exec_err!("lsh_bands: bands must divide {K}, got {b}");
            }
            // A value that is not a signature (wrong length) gets NULL, not an error.
            match bands(sig.value(i), b as usize) {
                Some(keys) => {
                    out.values().append_slice(&keys);
                    out.append(true);
                }
                None => out.append(false),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::minhash::{signature, to_bytes};

    fn keys(text: &str) -> Vec<u64> {
        bands(&to_bytes(&signature(text).unwrap()), 16).unwrap()
    }

    #[test]
    fn similar_texts_share_a_band_dissimilar_ones_do_not() {
        let a = keys("Readiness probe failed: HTTP probe failed with statuscode: 503");
        let b = keys("Readiness probe failed: HTTP probe failed with statuscode: 500");
        let c = keys("Failed to pull image example/web:1.2: not found");
        assert_eq!(a.len(), 16);
        assert!(a.iter().any(|k| b.contains(k)));
        assert!(!a.iter().any(|k| c.contains(k)));
    }

    #[test]
    fn bad_inputs() {
        assert!(bands(&[0u8; 10], 16).is_none());
        assert!(bands(&[0u8; SIGNATURE_BYTES], 7).is_none());
    }
}
