//! Reading the fields of exported JSON objects, whose key names differ between tools.
//!
//! Contract: each getter tries its keys in order and takes the first present, non-null value of a usable type;
//! ids accept strings and numbers, timestamps accept the text forms of `ingest::timestamp` and epoch numbers
//! (seconds, or milliseconds from 10^11), times in seconds accept numbers and numeric strings.

use serde_json::{Map, Value};

use crate::ingest::timestamp::parse_micros;

pub(crate) type Object = Map<String, Value>;

pub(crate) const ID_KEYS: [&str; 5] = [
    "id",
    "conversation_id",
    "conversationId",
    "chat_id",
    "session_id",
];
pub(crate) const CUSTOMER_ID_KEYS: [&str; 4] = ["customer_id", "customerId", "klant_id", "user_id"];
pub(crate) const STARTED_AT_KEYS: [&str; 5] = [
    "started_at",
    "start_time",
    "startedAt",
    "created_at",
    "timestamp",
];
pub(crate) const SPEAKER_KEYS: [&str; 6] = [
    "role",
    "sender",
    "speaker",
    "author",
    "from",
    "speaker_label",
];
pub(crate) const TEXT_KEYS: [&str; 5] = ["text", "content", "message", "body", "transcript"];
pub(crate) const MESSAGE_TIME_KEYS: [&str; 5] =
    ["timestamp", "time", "created_at", "sent_at", "date"];

fn first<'a>(object: &'a Object, keys: &[&str]) -> Option<&'a Value> {
    keys.iter()
        .filter_map(|key| object.get(*key))
        .find(|value| !value.is_null())
}

/// A string or number as text; blank text is absent.
pub(crate) fn text(object: &Object, keys: &[&str]) -> Option<String> {
    let value = match first(object, keys)? {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!value.is_empty()).then_some(value)
}

/// A speaker: text, or an object naming its role, type or name (`"sender": {"type": "agent"}`).
pub(crate) fn speaker(object: &Object) -> Option<String> {
    match first(object, &SPEAKER_KEYS)? {
        Value::Object(inner) => text(inner, &["role", "type", "name"]),
        _ => text(object, &SPEAKER_KEYS),
    }
}

/// A point in time, in microseconds since the epoch. `Err` carries the value that did not parse.
pub(crate) fn timestamp(object: &Object, keys: &[&str]) -> Result<Option<i64>, String> {
    match first(object, keys) {
        None => Ok(None),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(integer), _) => parse_micros(&integer.to_string())
                .map(Some)
                .ok_or(n.to_string()),
            (None, Some(seconds)) if seconds.is_finite() => {
                Ok(Some((seconds * 1e6).round() as i64))
            }
            _ => Err(n.to_string()),
        },
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => parse_micros(s).map(Some).ok_or(s.clone()),
        Some(other) => Err(other.to_string()),
    }
}

/// A time in seconds (a number or a numeric string). `Err` carries a value that is not one.
pub(crate) fn seconds(object: &Object, key: &str) -> Result<Option<f64>, String> {
    let parsed = match object.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match parsed {
        Some(value) if value.is_finite() && value >= 0.0 => Ok(Some(value)),
        _ => Err(object.get(key).map(Value::to_string).unwrap_or_default()),
    }
}

/// The JSON text of a value, for the rejects file.
pub(crate) fn record(value: &Value) -> String {
    value.to_string()
}
