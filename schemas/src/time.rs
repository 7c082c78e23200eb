//! Time helpers: Tapio keeps times as i64 nanoseconds since the Unix epoch (UTC) and
//! writes them as RFC 3339 in JSON.

use jiff::Timestamp;

/// RFC 3339 text (UTC, `Z`) of a nanosecond timestamp.
pub fn format_ns(ns: i64) -> String {
    match Timestamp::from_nanosecond(ns as i128) {
        Ok(t) => t.to_string(),
        Err(_) => ns.to_string(),
    }
}

/// Parses RFC 3339 text into nanoseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    s.parse::<Timestamp>()
        .ok()
        .map(|t| t.as_nanosecond() as i64)
}

/// Serde adapter: i64 ns as RFC 3339 text; reads text or an integer of ns.
pub mod rfc3339_ns {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes RFC 3339.
    pub fn serialize<S: Serializer>(ns: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_ns(*ns))
    }

    /// Reads RFC 3339 text or integer nanoseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum T {
            Int(i64),
            Text(String),
        }
        match T::deserialize(d)? {
            T::Int(n) => Ok(n),
            T::Text(s) => super::parse_rfc3339(&s)
                .ok_or_else(|| D::Error::custom(format!("not an RFC 3339 time: {s:?}"))),
        }
    }
}

/// Serde adapter for `Option<i64>` ns as RFC 3339 text.
pub mod rfc3339_ns_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes RFC 3339 or null.
    pub fn serialize<S: Serializer>(ns: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match ns {
            Some(n) => s.serialize_str(&super::format_ns(*n)),
            None => s.serialize_none(),
        }
    }

    /// Reads RFC 3339 text, integer ns, or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "super::rfc3339_ns")] i64);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }
}
