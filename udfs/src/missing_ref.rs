//! `missing_ref(message)`: the object a kubelet or controller message says is missing,
//! as `Kind/name` (`ConfigMap/app-config`, `Secret/db-creds`), or NULL.
//!
//! The kubelet words these as `configmap "app-config" not found`, `secret "db-creds"
//! not found` (container config and volume mounts alike), and `couldn't find key
//! DB_HOST in ConfigMap shop/app-config` for a missing key.

use std::sync::LazyLock;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use regex::Regex;

static NOT_FOUND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(configmap|secret)s? "([^"]+)" not found"#).expect("static regex")
});
static KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"couldn't find key \S+ in (ConfigMap|Secret) (?:[^/\s]+/)?([^\s/]+)")
        .expect("static regex")
});

/// Parses a message; see the module doc.
pub fn parse(message: &str) -> Option<String> {
    let (kind, name) = if let Some(c) = NOT_FOUND.captures(message) {
        (c[1].to_lowercase(), c[2].to_string())
    } else {
        let c = KEY.captures(message)?;
        (c[1].to_lowercase(), c[2].to_string())
    };
    let kind = if kind == "configmap" {
        "ConfigMap"
    } else {
        "Secret"
    };
    Some(format!("{kind}/{name}"))
}

/// The `missing_ref` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MissingRef {
    signature: Signature,
}

impl Default for MissingRef {
    fn default() -> Self {
        Self::new()
    }
}

impl MissingRef {
    /// A new instance.
    pub fn new() -> Self {
        MissingRef {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for MissingRef {
    fn name(&self) -> &str {
        "missing_ref"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = crate::string_arg(&args.args, args.number_rows, self.name())?;
        Ok(crate::map_strings(&input, parse))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn kubelet_wordings() {
        assert_eq!(
            parse(r#"Error: configmap "app-config" not found"#).as_deref(),
            Some("ConfigMap/app-config")
        );
        assert_eq!(
            parse(r#"MountVolume.SetUp failed for volume "creds" : secret "db-creds" not found"#)
                .as_deref(),
            Some("Secret/db-creds")
        );
        assert_eq!(
            parse("Error: couldn't find key DB_HOST in ConfigMap shop/app-config").as_deref(),
            Some("ConfigMap/app-config")
        );
        assert_eq!(parse("Back-off restarting failed container"), None);
    }
}
