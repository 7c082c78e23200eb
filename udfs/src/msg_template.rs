//! `msg_template(message)`: a message with its variable parts masked — numbers, hex
//! ids, UUIDs, IPs, quoted names, durations — so that "the same thing said about
//! different pods" compares equal.

use std::sync::LazyLock;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use regex::Regex;

static MASKS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r#""[^"]*""#, "<q>"),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "<uuid>",
        ),
        // The kubelet names a pod `<name>_<namespace>(<uid>)`.
        (r"\b[a-z0-9][a-z0-9.-]*_[a-z0-9-]+\(<uuid>\)", "<pod>"),
        (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "<ip>"),
        (r"\b[0-9a-f]{12,}\b", "<hex>"),
        (r"\b[a-z0-9]+(?:-[a-z0-9]+)*-[a-z0-9]{5}\b", "<pod>"),
        (r"\b\d+(?:\.\d+)?(?:ms|s|m|h|Mi|Gi|Ki|kB|MB|GB|%)?\b", "<n>"),
    ]
    .into_iter()
    .map(|(r, m)| (Regex::new(r).expect("static regex"), m))
    .collect()
});

/// Masks a message; see the module doc.
pub fn template(message: &str) -> String {
    let mut s = message.to_string();
    for (re, mask) in MASKS.iter() {
        // Most masks find nothing in a message: the text is copied only when one does.
        if let std::borrow::Cow::Owned(masked) = re.replace_all(&s, *mask) {
            s = masked;
        }
    }
    s
}

/// The `msg_template` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MsgTemplate {
    signature: Signature,
}

impl Default for MsgTemplate {
    fn default() -> Self {
        Self::new()
    }
}

impl MsgTemplate {
    /// A new instance.
    pub fn new() -> Self {
        MsgTemplate {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for MsgTemplate {
    fn name(&self) -> &str {
        "msg_template"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = crate::string_arg(&args.args, args.number_rows, self.name())?;
        Ok(crate::map_strings(&input, |m| Some(template(m))))
    }
}

#[cfg(test)]
mod tests {
    use super::template;

    #[test]
    fn same_thing_about_different_pods() {
        let a = template(
            "Readiness probe failed: Get \"http://10.1.2.3:8080/healthz\": dial tcp 10.1.2.3:8080: connect: connection refused",
        );
        let b = template(
            "Readiness probe failed: Get \"http://10.1.9.7:8080/healthz\": dial tcp 10.1.9.7:8080: connect: connection refused",
        );
        assert_eq!(a, b);
        assert_eq!(
            template("Back-off 5m0s restarting failed container=app pod=web-7d4f9c8b5-x2k9q"),
            template("Back-off 5m0s restarting failed container=app pod=web-7d4f9c8b5-p8m3z")
        );
        assert_ne!(
            template("Liveness probe failed"),
            template("Readiness probe failed")
        );
    }
}
