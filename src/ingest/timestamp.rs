//! Timestamps to `schema::timestamp_type()` (microseconds since the epoch, UTC).
//!
//! Contract: text is accepted as RFC 3339 / ISO 8601 with an offset or `Z`; `YYYY-MM-DD HH:MM[:SS[.f]]` and
//! `YYYY-MM-DDTHH:MM[:SS[.f]]` without an offset (taken as UTC for now); `YYYY-MM-DD`; `DD-MM-YYYY HH:MM[:SS]`
//! and `DD-MM-YYYY`; and integer epoch seconds or milliseconds (a magnitude of 10^11 or more is read as
//! milliseconds: as seconds it would lie beyond the year 5000). Arrow timestamp and date columns are converted
//! as they are. Blank text and nulls are null; anything else is unparseable and its row is rejected.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::ArrayRef;
use arrow_cast::cast;
use arrow_schema::{DataType, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveDateTime};

use crate::error::Result;

/// One row's timestamp: `Ok(None)` when absent, `Err(raw text)` when present but unparseable.
pub(crate) type ParsedTimestamp = std::result::Result<Option<i64>, String>;

const WITH_OFFSET: [&str; 4] = [
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%d %H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f%z",
];

const WITHOUT_OFFSET: [&str; 6] = [
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
];

const DATES: [&str; 2] = ["%Y-%m-%d", "%d-%m-%Y"];

const MILLISECONDS_FROM: i64 = 100_000_000_000;

/// Parses one text timestamp to microseconds (UTC); `None` when it is in no accepted form.
pub(crate) fn parse_micros(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(epoch) = text.parse::<i64>() {
        return epoch_to_micros(epoch);
    }
    if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
        return Some(parsed.timestamp_micros());
    }
    for format in WITH_OFFSET {
        if let Ok(parsed) = DateTime::parse_from_str(text, format) {
            return Some(parsed.timestamp_micros());
        }
    }
    for format in WITHOUT_OFFSET {
        if let Ok(parsed) = NaiveDateTime::parse_from_str(text, format) {
            return Some(parsed.and_utc().timestamp_micros());
        }
    }
    for format in DATES {
        if let Ok(parsed) = NaiveDate::parse_from_str(text, format) {
            return Some(
                parsed
                    .and_time(chrono::NaiveTime::MIN)
                    .and_utc()
                    .timestamp_micros(),
            );
        }
    }
    None
}

fn epoch_to_micros(epoch: i64) -> Option<i64> {
    if epoch.unsigned_abs() >= MILLISECONDS_FROM.unsigned_abs() {
        epoch.checked_mul(1_000)
    } else {
        epoch.checked_mul(1_000_000)
    }
}

/// For Arrow date and time types: how their raw integer converts to microseconds.
fn micros_scale(data_type: &DataType) -> Option<fn(i64) -> Option<i64>> {
    Some(match data_type {
        DataType::Timestamp(TimeUnit::Second, _) => |v| v.checked_mul(1_000_000),
        DataType::Timestamp(TimeUnit::Millisecond, _) => |v| v.checked_mul(1_000),
        DataType::Timestamp(TimeUnit::Microsecond, _) => Some,
        DataType::Timestamp(TimeUnit::Nanosecond, _) => |v| Some(v.div_euclid(1_000)),
        DataType::Date32 => |v| v.checked_mul(86_400_000_000),
        DataType::Date64 => |v| v.checked_mul(1_000),
        _ => return None,
    })
}

/// Whether a source column of this type can be read as timestamps.
pub(crate) fn is_supported(data_type: &DataType) -> bool {
    data_type.is_integer()
        || matches!(
            data_type,
            DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 | DataType::Null
        )
        || arrow_cast::can_cast_types(data_type, &DataType::Utf8)
}

/// Converts a source column to one parsed timestamp per row.
pub(crate) fn parse_column(column: &ArrayRef) -> Result<Vec<ParsedTimestamp>> {
    let data_type = column.data_type();
    if let Some(scale) = micros_scale(data_type) {
        // Arrow timestamps are stored as UTC (naive ones are taken as UTC), so only the unit changes. This is
        // done by hand: arrow-cast would need chrono-tz to attach the "UTC" zone.
        let raw = cast(column, &DataType::Int64)?;
        let raw = raw.as_primitive::<Int64Type>();
        return Ok(raw
            .iter()
            .map(|value| match value {
                None => Ok(None),
                Some(value) => scale(value).map(Some).ok_or_else(|| value.to_string()),
            })
            .collect());
    }
    if data_type.is_integer() {
        let converted = cast(column, &DataType::Int64)?;
        let epochs = converted.as_primitive::<Int64Type>();
        return Ok(epochs
            .iter()
            .map(|epoch| match epoch {
                None => Ok(None),
                Some(epoch) => epoch_to_micros(epoch)
                    .map(Some)
                    .ok_or_else(|| epoch.to_string()),
            })
            .collect());
    }
    let text: ArrayRef = if data_type == &DataType::Utf8 {
        Arc::clone(column)
    } else {
        cast(column, &DataType::Utf8)?
    };
    let text = text.as_string::<i32>();
    Ok(text
        .iter()
        .map(|value| match value.map(str::trim) {
            None | Some("") => Ok(None),
            Some(value) => parse_micros(value)
                .map(Some)
                .ok_or_else(|| value.to_string()),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOON_UTC: i64 = 1_706_702_400_000_000; // 2024-01-31T12:00:00Z

    #[test]
    fn accepted_forms() {
        for text in [
            "2024-01-31T12:00:00Z",
            "2024-01-31T13:00:00+01:00",
            "2024-01-31 13:00:00+0100",
            "2024-01-31 12:00:00",
            "2024-01-31T12:00",
            "2024-01-31 12:00",
            "31-01-2024 12:00:00",
            "31-01-2024 12:00",
            "1706702400",
            "1706702400000",
        ] {
            assert_eq!(parse_micros(text), Some(NOON_UTC), "{text}");
        }
        assert_eq!(
            parse_micros("2024-01-31"),
            Some(NOON_UTC - 12 * 3_600_000_000)
        );
        assert_eq!(
            parse_micros("2024-01-31T12:00:00.5Z"),
            Some(NOON_UTC + 500_000)
        );
    }

    #[test]
    fn rejected_forms() {
        for text in ["yesterday", "2024-13-01", "31/01/2024 12:00", "12:00"] {
            assert_eq!(parse_micros(text), None, "{text}");
        }
    }

    #[test]
    fn arrow_dates_and_zoned_timestamps_convert_to_utc_micros() {
        use arrow_array::{Date32Array, TimestampSecondArray};

        let days: ArrayRef = Arc::new(Date32Array::from(vec![Some(19_753), None]));
        assert_eq!(
            parse_column(&days).unwrap(),
            [Ok(Some(NOON_UTC - 12 * 3_600_000_000)), Ok(None)]
        );
        let zoned: ArrayRef = Arc::new(
            TimestampSecondArray::from(vec![1_706_702_400]).with_timezone("Europe/Amsterdam"),
        );
        assert_eq!(parse_column(&zoned).unwrap(), [Ok(Some(NOON_UTC))]);
        let text: ArrayRef = Arc::new(arrow_array::StringArray::from(vec![
            Some(" "),
            Some("morgen"),
            Some("2024-01-31T12:00:00Z"),
        ]));
        assert_eq!(
            parse_column(&text).unwrap(),
            [Ok(None), Err("morgen".to_string()), Ok(Some(NOON_UTC))]
        );
    }
}
