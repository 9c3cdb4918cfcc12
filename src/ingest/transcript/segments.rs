//! Speech-to-text JSON segments, one call per file.
//!
//! Contract: the file is an array of segments, or an object with a `segments` array and optional `id`,
//! `customer_id` and `started_at` (as in `chat`). A segment is `{"start": 0.0, "end": 2.5, "speaker":
//! "SPEAKER_00", "text": "..."}`: times in seconds from the start of the recording (numbers or numeric
//! strings), the speaker under `speaker` (or `role`, `speaker_label`; a segment without one continues the
//! previous speaker), the text under `text` (or `transcript`). Segments without text are skipped. Rejected
//! (row 1 unless the JSON is invalid, then the line at fault): invalid JSON, another shape, a segment that is
//! not an object, a time that is not a non-negative number.

use serde_json::Value;

use super::chat::not_json;
use super::fields;
use super::{Parsed, RawConversation, RawTurn, Rejected};

pub(crate) fn parse(text: &str) -> Parsed {
    let value: Value = serde_json::from_str(text).map_err(|e| not_json(e, text))?;
    let reject = |reason: String| Rejected {
        row: 1,
        column: None,
        reason,
        record: text.to_string(),
    };
    let (metadata, segments) = match &value {
        Value::Array(segments) => (None, segments),
        Value::Object(object) => match object.get("segments") {
            Some(Value::Array(segments)) => (Some(object), segments),
            _ => {
                return Err(reject(
                    "not a segments transcript: no segments array".into(),
                ))
            }
        },
        _ => {
            return Err(reject(
                "not a segments transcript: expected an array or an object".into(),
            ))
        }
    };
    let mut turns = Vec::new();
    for (segment, number) in segments.iter().zip(1..) {
        let Value::Object(segment) = segment else {
            return Err(reject(format!("segment {number} is not a JSON object")));
        };
        let time = |key| {
            fields::seconds(segment, key).map_err(|raw| {
                reject(format!(
                    "segment {number}: {key} {raw} is not a time in seconds"
                ))
            })
        };
        let (start, end) = (time("start")?, time("end")?);
        let Some(text) = fields::text(segment, &["text", "transcript"]) else {
            continue;
        };
        turns.push(RawTurn {
            speaker: fields::text(segment, &["speaker", "role", "speaker_label"]),
            start,
            end,
            text,
        });
    }
    let started_at = match metadata {
        Some(object) => fields::timestamp(object, &fields::STARTED_AT_KEYS)
            .map_err(|raw| reject(format!("unparseable start time {raw}")))?,
        None => None,
    };
    Ok(RawConversation {
        id: metadata.and_then(|o| fields::text(o, &fields::ID_KEYS)),
        customer_id: metadata.and_then(|o| fields::text(o, &fields::CUSTOMER_ID_KEYS)),
        started_at,
        turns,
        row: 1,
        record: text.to_string(),
    })
}
