//! Small helpers shared by the schema modules: field constructors and null-aware
//! readers, so each schema file reads as a list of its columns.

use std::collections::BTreeMap;

use arrow::array::{
    Array, ArrayRef, Int32Array, Int64Array, ListArray, MapArray, MapBuilder, MapFieldNames,
    StringArray, StringBuilder, StringDictionaryBuilder, TimestampNanosecondArray,
    TimestampNanosecondBuilder,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Int32Type, TimeUnit};

use crate::{Error, Result};

/// Builder of a dictionary-encoded string column.
#[allow(clippy::upper_case_acronyms)]
pub(crate) type DICT = StringDictionaryBuilder<Int32Type>;
/// Builder of a UTC nanosecond timestamp column.
#[allow(clippy::upper_case_acronyms)]
pub(crate) type TS = TimestampNanosecondBuilder;

/// The Arrow type of dictionary-encoded strings in Tapio's schemas.
pub fn dict_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The Arrow type of Tapio's timestamps: ns since the epoch, UTC.
pub fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

pub(crate) fn dict_field(name: &str, nullable: bool) -> Field {
    Field::new(name, dict_type(), nullable)
}

pub(crate) fn str_field(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

pub(crate) fn ts_field(name: &str, nullable: bool) -> Field {
    Field::new(name, ts_type(), nullable)
}

pub(crate) fn list_field(name: &str) -> Field {
    Field::new(
        name,
        DataType::List(std::sync::Arc::new(Field::new(
            "item",
            DataType::Utf8,
            true,
        ))),
        false,
    )
}

pub(crate) fn map_field(name: &str) -> Field {
    // Same shape as `map_builder` produces, so builders and schema agree.
    let entries = Field::new(
        "entries",
        DataType::Struct(
            vec![
                Field::new("keys", DataType::Utf8, false),
                Field::new("values", DataType::Utf8, true),
            ]
            .into(),
        ),
        false,
    );
    Field::new(
        name,
        DataType::Map(std::sync::Arc::new(entries), false),
        false,
    )
}

pub(crate) fn map_builder() -> MapBuilder<StringBuilder, StringBuilder> {
    let names = MapFieldNames {
        entry: "entries".into(),
        key: "keys".into(),
        value: "values".into(),
    };
    MapBuilder::new(Some(names), StringBuilder::new(), StringBuilder::new())
}

pub(crate) fn append_map(
    b: &mut MapBuilder<StringBuilder, StringBuilder>,
    m: &BTreeMap<String, String>,
) {
    for (k, v) in m {
        b.keys().append_value(k);
        b.values().append_value(v);
    }
    b.append(true).expect("keys and values appended in pairs");
}

/// Casts a string-like column (Utf8, LargeUtf8, Utf8View or a dictionary of them) to
/// a plain `StringArray`; `None` for other types.
pub fn as_strings(col: &ArrayRef) -> Option<StringArray> {
    let plain = cast(col, &DataType::Utf8).ok()?;
    plain.as_any().downcast_ref::<StringArray>().cloned()
}

pub(crate) fn opt_str(a: &StringArray, i: usize) -> Option<String> {
    (!a.is_null(i)).then(|| a.value(i).to_string())
}

pub(crate) fn req_str(a: &StringArray, i: usize, field: &'static str) -> Result<String> {
    opt_str(a, i).ok_or(Error::Field {
        field,
        row: i,
        message: "is null".into(),
    })
}

pub(crate) fn req_ts(a: &TimestampNanosecondArray, i: usize, field: &'static str) -> Result<i64> {
    if a.is_null(i) {
        return Err(Error::Field {
            field,
            row: i,
            message: "is null".into(),
        });
    }
    Ok(a.value(i))
}

pub(crate) fn opt_i32(a: &Int32Array, i: usize) -> Option<i32> {
    (!a.is_null(i)).then(|| a.value(i))
}

pub(crate) fn opt_i64(a: &Int64Array, i: usize) -> Option<i64> {
    (!a.is_null(i)).then(|| a.value(i))
}

/// A list-of-strings column read row by row, its items cast to plain strings once: cast
/// per row, the owner chains and attributes were most of decoding a batch into events.
pub(crate) struct Lists<'a> {
    list: &'a ListArray,
    items: Option<StringArray>,
}

impl<'a> Lists<'a> {
    pub(crate) fn of(list: &'a ListArray) -> Self {
        Lists {
            list,
            items: as_strings(list.values()),
        }
    }

    /// Row `i`'s items, null items left out (none for a null row, or items not strings).
    pub(crate) fn get(&self, i: usize) -> Vec<String> {
        let Some(items) = self.items.as_ref().filter(|_| self.list.is_valid(i)) else {
            return Vec::new();
        };
        let offsets = self.list.value_offsets();
        (offsets[i] as usize..offsets[i + 1] as usize)
            .filter_map(|j| opt_str(items, j))
            .collect()
    }
}

/// A map-of-strings column read row by row, its keys and values cast to plain strings
/// once (see [`Lists`]).
pub(crate) struct Maps<'a> {
    map: &'a MapArray,
    entries: Option<(StringArray, StringArray)>,
}

impl<'a> Maps<'a> {
    pub(crate) fn of(map: &'a MapArray) -> Self {
        Maps {
            map,
            entries: as_strings(map.keys()).zip(as_strings(map.values())),
        }
    }

    /// Row `i`'s entries, a null value as "" (none for a null row, or entries not
    /// strings).
    pub(crate) fn get(&self, i: usize) -> BTreeMap<String, String> {
        let Some((keys, values)) = self.entries.as_ref().filter(|_| self.map.is_valid(i)) else {
            return BTreeMap::new();
        };
        let offsets = self.map.value_offsets();
        (offsets[i] as usize..offsets[i + 1] as usize)
            .map(|j| {
                (
                    keys.value(j).to_string(),
                    opt_str(values, j).unwrap_or_default(),
                )
            })
            .collect()
    }
}
