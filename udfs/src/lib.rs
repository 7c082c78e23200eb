//! DataFusion scalar functions used by Tapio's pattern SQL (`queries/`). One function
//! per file; [`all`] lists them for registration.

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF};

pub mod lsh_bands;
pub mod minhash;
pub mod minhash_similarity;
pub mod missing_ref;
pub mod msg_template;

/// Every Tapio function, ready for `SessionContext::register_udf`.
pub fn all() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(missing_ref::MissingRef::new()),
        ScalarUDF::from(msg_template::MsgTemplate::new()),
        ScalarUDF::from(minhash::MinHash::new()),
        ScalarUDF::from(lsh_bands::LshBands::new()),
        ScalarUDF::from(minhash_similarity::MinHashSimilarity::new()),
    ]
}

/// The single string argument of a function as a plain `StringArray`, whatever string
/// encoding (dictionary, view) the column arrived in.
pub(crate) fn string_arg(args: &[ColumnarValue], rows: usize, name: &str) -> Result<StringArray> {
    let [arg] = args else {
        return exec_err!("{name} takes one argument, got {}", args.len());
    };
    let array: ArrayRef = arg.to_array(rows)?;
    let plain = cast(&array, &DataType::Utf8)?;
    match plain.as_any().downcast_ref::<StringArray>() {
        Some(s) => Ok(s.clone()),
        None => exec_err!("{name} expects a string argument"),
    }
}

/// Argument `i` of a function as a `BinaryArray` (a `minhash` signature).
pub(crate) fn binary_arg(
    args: &[ColumnarValue],
    i: usize,
    rows: usize,
    name: &str,
) -> Result<datafusion::arrow::array::BinaryArray> {
    let Some(arg) = args.get(i) else {
        return exec_err!("{name}: missing argument {}", i + 1);
    };
    let array = cast(&arg.to_array(rows)?, &DataType::Binary)?;
    match array
        .as_any()
        .downcast_ref::<datafusion::arrow::array::BinaryArray>()
    {
        Some(b) => Ok(b.clone()),
        None => exec_err!("{name} expects a minhash signature as argument {}", i + 1),
    }
}

/// Applies `f` to each non-null string, producing a nullable string column.
pub(crate) fn map_strings(
    input: &StringArray,
    f: impl Fn(&str) -> Option<String>,
) -> ColumnarValue {
    let out: StringArray = input.iter().map(|v| v.and_then(&f)).collect();
    ColumnarValue::Array(std::sync::Arc::new(out))
}
