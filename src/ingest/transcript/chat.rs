//! Chat exports: JSON and JSON Lines.
//!
//! Contract (shapes read; key names are tried in the orders of `fields`):
//! - A conversation is an object with a `messages` (or `turns`) array and optional `id`, `customer_id` and
//!   `started_at`: `{"id": "c1", "customer_id": "k9", "started_at": "2024-03-01T09:00:00Z", "messages":
//!   [{"role": "customer", "text": "...", "timestamp": "2024-03-01T09:00:05Z"}]}`. A message's speaker is its
//!   `role`, `sender` (text, or an object with `role` / `type` / `name`), `speaker` or `author`; its text is
//!   `text`, `content`, `message` or `body`. Messages without text (events, attachments) are skipped.
//! - JSON: one conversation object, an array of them, or an object with a `conversations` array; the row is
//!   the conversation's 1-based index.
//! - JSON Lines: each line is either a conversation object (it has a `messages` array) or one message with a
//!   `conversation_id` (or `conversationId`, `chat_id`, `session_id`, `thread_id`); messages are grouped by
//!   that id in order, the row is the line of the group's first message and the id is the group's key.
//! - The conversation starts at `started_at`, else at its earliest message; turns' start times are seconds from
//!   then (end times are null: chat messages have no length).
//! - Rejected: text that is not JSON (the row is the line at fault), a conversation without a messages array,
//!   a message that is not an object, a timestamp that does not parse, a message line without conversation id.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::fields::{self, Object};
use super::{Parsed, RawConversation, RawTurn, Rejected};
use crate::schema;

const MESSAGES_KEYS: [&str; 2] = ["messages", "turns"];
const GROUP_KEYS: [&str; 5] = [
    "conversation_id",
    "conversationId",
    "chat_id",
    "session_id",
    "thread_id",
];

pub(crate) fn parse_json(text: &str) -> Vec<Parsed> {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => return vec![Err(not_json(e, text))],
    };
    match value {
        Value::Array(items) => conversations(&items),
        Value::Object(object) => match object.get("conversations") {
            Some(Value::Array(items)) => conversations(items),
            _ => vec![conversation(&Value::Object(object), 1)],
        },
        other => vec![Err(Rejected {
            row: 1,
            column: None,
            reason: "not a chat export: expected a conversation object or an array of them".into(),
            record: fields::record(&other),
        })],
    }
}

fn conversations(items: &[Value]) -> Vec<Parsed> {
    items
        .iter()
        .zip(1..)
        .map(|(item, row)| conversation(item, row))
        .collect()
}

pub(crate) fn parse_jsonl(text: &str) -> Vec<Parsed> {
    let mut parsed = Vec::new();
    let mut groups: Vec<(String, u64, Vec<Value>)> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for (line, row) in text.lines().zip(1..) {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = match serde_json::from_str(line) {
            Ok(value) => value,
            Err(e) => {
                parsed.push(Err(Rejected {
                    row,
                    column: None,
                    reason: format!("not valid JSON: {e}"),
                    record: line.to_string(),
                }));
                continue;
            }
        };
        let Value::Object(object) = &value else {
            parsed.push(Err(reject(
                row,
                None,
                "a line that is not a JSON object",
                &value,
            )));
            continue;
        };
        if messages_of(object).is_some() {
            parsed.push(conversation(&value, row));
            continue;
        }
        let Some(key) = fields::text(object, &GROUP_KEYS) else {
            let reason =
                "a message line without a conversation id (conversation_id) or messages array";
            parsed.push(Err(reject(
                row,
                Some(schema::CONVERSATION_ID),
                reason,
                &value,
            )));
            continue;
        };
        let index = *group_of.entry(key.clone()).or_insert_with(|| {
            groups.push((key, row, Vec::new()));
            groups.len() - 1
        });
        if let Some((_, _, messages)) = groups.get_mut(index) {
            messages.push(value);
        }
    }
    for (key, row, messages) in groups {
        let customer_id = messages
            .iter()
            .filter_map(Value::as_object)
            .find_map(|m| fields::text(m, &fields::CUSTOMER_ID_KEYS));
        let mut object = Map::new();
        object.insert("id".into(), Value::String(key));
        if let Some(customer_id) = customer_id {
            object.insert("customer_id".into(), Value::String(customer_id));
        }
        object.insert("messages".into(), Value::Array(messages));
        parsed.push(conversation(&Value::Object(object), row));
    }
    parsed.sort_by_key(|p| match p {
        Ok(conversation) => conversation.row,
        Err(rejected) => rejected.row,
    });
    parsed
}

fn messages_of(object: &Object) -> Option<&Vec<Value>> {
    MESSAGES_KEYS
        .iter()
        .find_map(|key| object.get(*key).and_then(Value::as_array))
}

fn conversation(value: &Value, row: u64) -> Parsed {
    let Value::Object(object) = value else {
        return Err(reject(
            row,
            None,
            "a conversation that is not a JSON object",
            value,
        ));
    };
    let Some(messages) = messages_of(object) else {
        return Err(reject(row, Some("messages"), "no messages array", value));
    };
    let started_at = fields::timestamp(object, &fields::STARTED_AT_KEYS).map_err(|raw| {
        let reason = format!("unparseable start time {raw}");
        reject(row, Some(schema::TIMESTAMP), &reason, value)
    })?;
    let mut timed: Vec<(Option<String>, Option<i64>, String)> = Vec::new();
    for (message, number) in messages.iter().zip(1..) {
        let Value::Object(message) = message else {
            let reason = format!("message {number} is not a JSON object");
            return Err(reject(row, Some("messages"), &reason, value));
        };
        let time = fields::timestamp(message, &fields::MESSAGE_TIME_KEYS).map_err(|raw| {
            let reason = format!("message {number}: unparseable timestamp {raw}");
            reject(row, Some(schema::TIMESTAMP), &reason, value)
        })?;
        if let Some(text) = fields::text(message, &fields::TEXT_KEYS) {
            timed.push((fields::speaker(message), time, text));
        }
    }
    let started_at = started_at.or_else(|| timed.iter().filter_map(|m| m.1).min());
    let turns = timed
        .into_iter()
        .map(|(speaker, time, text)| RawTurn {
            speaker,
            start: time
                .zip(started_at)
                .map(|(time, start)| (time - start) as f64 / 1e6),
            end: None,
            text,
        })
        .collect();
    Ok(RawConversation {
        id: fields::text(object, &fields::ID_KEYS),
        customer_id: fields::text(object, &fields::CUSTOMER_ID_KEYS),
        started_at,
        turns,
        row,
        record: fields::record(value),
    })
}

fn reject(row: u64, column: Option<&'static str>, reason: &str, value: &Value) -> Rejected {
    Rejected {
        row,
        column,
        reason: reason.to_string(),
        record: fields::record(value),
    }
}

/// Invalid JSON: the row is the line of the error.
pub(crate) fn not_json(error: serde_json::Error, text: &str) -> Rejected {
    Rejected {
        row: error.line() as u64,
        column: None,
        reason: format!("not valid JSON: {error}"),
        record: text.to_string(),
    }
}
