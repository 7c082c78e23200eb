//! Path access into Kubernetes JSON (`serde_json::Value`), lenient about what is
//! absent and precise about what is wrong, so errors can name the field.

use serde_json::Value;

/// Follows a dotted path (`status.containerStatuses`); `None` if any step is absent.
pub fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, key| cur.get(key))
}

/// A string at `path`, `None` when absent, null or empty.
pub fn str_at<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    at(v, path)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// An array at `path` (empty when absent).
pub fn arr_at<'a>(v: &'a Value, path: &str) -> &'a [Value] {
    at(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// An integer at `path`.
pub fn int_at(v: &Value, path: &str) -> Option<i64> {
    at(v, path).and_then(Value::as_i64)
}

/// An RFC 3339 time at `path`, in ns. `Err` names the field when present but unreadable.
pub fn time_at(v: &Value, path: &str) -> Result<Option<i64>, String> {
    match str_at(v, path) {
        None => Ok(None),
        Some(s) => tapio_schemas::time::parse_rfc3339(s)
            .map(Some)
            .ok_or_else(|| format!("`{path}` is not an RFC 3339 time: {s:?}")),
    }
}

/// A string map at `path` (labels, selectors).
pub fn map_at(v: &Value, path: &str) -> std::collections::BTreeMap<String, String> {
    at(v, path)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}
