//! Column names and types shared by every stage, defined once.
//!
//! The canonical interaction schema is what `ingest` produces: the six canonical columns first, then the
//! source's own columns passed through unchanged, then the provenance columns. Each later stage appends its
//! own columns and never reshapes the others'. The output files and the rejects file use the names here.

use std::sync::Arc;

use arrow_schema::{DataType, Field, FieldRef, Fields, TimeUnit};

// Canonical interaction columns (the default column mapping uses these names in the input too).
pub const ID: &str = "id";
pub const CUSTOMER_ID: &str = "customer_id";
pub const CHANNEL: &str = "channel";
pub const TIMESTAMP: &str = "timestamp";
pub const DIRECTION: &str = "direction";
pub const TEXT: &str = "text";

/// Canonical channel values. Sources' own names are mapped onto these (built-in synonyms plus the pipeline's
/// `[input.channels]`); `voice` is a transcribed call.
pub const CHANNELS: [&str; 8] = [
    "email", "chat", "voice", "sms", "social", "letter", "web", "other",
];

/// Canonical direction values, seen from the organisation.
pub const DIRECTIONS: [&str; 2] = ["inbound", "outbound"];

/// The canonical columns in their output order.
pub const CANONICAL: [&str; 6] = [ID, CUSTOMER_ID, CHANNEL, TIMESTAMP, DIRECTION, TEXT];

// E-mail columns (`ingest::email`), between the canonical and the provenance columns.
pub const TEXT_RAW: &str = "text_raw";
pub const MESSAGE_ID: &str = "message_id";
pub const IN_REPLY_TO: &str = "in_reply_to";
pub const REFERENCES: &str = "references";
pub const CONVERSATION_ID: &str = "conversation_id";
pub const SUBJECT: &str = "subject";
pub const FROM: &str = "from";
pub const TO: &str = "to";
pub const ATTACHMENTS: &str = "attachments";

// Chat and call transcript columns (`ingest::transcript`), between the canonical and the provenance columns.
// `text_raw` (above) holds the whole transcript as `Speaker: text` lines; `text` only the customer's turns.
pub const TURNS: &str = "turns";
pub const DURATION_SECONDS: &str = "duration_seconds";
pub const CUSTOMER_TALK_RATIO: &str = "customer_talk_ratio";
pub const LONGEST_SILENCE_SECONDS: &str = "longest_silence_seconds";
// Fields of one entry of `turns`.
pub const TURN_SPEAKER: &str = "speaker";
pub const TURN_ROLE: &str = "role";
pub const TURN_START_SECONDS: &str = "start_seconds";
pub const TURN_END_SECONDS: &str = "end_seconds";
pub const TURN_TEXT: &str = "text";

/// Values of a turn's `role`: who spoke, seen from the organisation.
pub const ROLES: [&str; 3] = ["customer", "agent", "other"];

// Provenance: where each row came from, so any output row can be traced back to its input.
pub const SOURCE_FILE: &str = "source_file";
pub const SOURCE_ROW: &str = "source_row";

// Enrichment columns, appended by the stages after ingest.
pub const LANGUAGE: &str = "language";
pub const LANGUAGE_CONFIDENCE: &str = "language_confidence";
pub const N_TOKENS: &str = "n_tokens";
pub const CONTACT_REASON: &str = "contact_reason";
pub const CONTACT_REASON_SCORE: &str = "contact_reason_score";
pub const CONTACT_REASON_TOP3: &str = "contact_reason_top3";
/// `head` when a trained head decided the reason, `zero_shot` when similarity to the pipeline's anchors did.
pub const CONTACT_REASON_SOURCE: &str = "contact_reason_source";
pub const LIFECYCLE_PHASE: &str = "lifecycle_phase";
/// The interaction's sentiment (`SENTIMENTS`), and its score in -1 (negative) ..= 1 (positive).
pub const SENTIMENT: &str = "sentiment";
pub const SENTIMENT_SCORE: &str = "sentiment_score";
/// Sentiment values; `mixed` is a text with both clearly positive and clearly negative parts.
pub const SENTIMENTS: [&str; 4] = ["negative", "neutral", "positive", "mixed"];
/// How many windows of the model's length the text was read in (long texts are chunked, not cut).
pub const N_CHUNKS: &str = "n_chunks";
/// Per customer turn of a chat or call: the turn's position in `turns` (or in the text's speaker lines),
/// its sentiment and score.
pub const CUSTOMER_TURN_SENTIMENT: &str = "customer_turn_sentiment";
pub const TURN_INDEX: &str = "turn";
/// The sentiment of the conversation's first and last customer turn, and the trend between them.
pub const SENTIMENT_START: &str = "sentiment_start";
pub const SENTIMENT_END: &str = "sentiment_end";
pub const SENTIMENT_TREND: &str = "sentiment_trend";
/// Trend values (`classify::sentiment::trend`).
pub const TRENDS: [&str; 3] = ["improving", "worsening", "flat"];
/// Per-row counts of the personal data redacted from the text, one `UInt32` field per kind.
pub const REDACTIONS: &str = "redactions";

/// The fields of `redactions`, one per kind of personal data, in the order of `normalize::PiiKind::ALL`.
pub const REDACTION_KINDS: [&str; 6] = ["email", "phone", "iban", "card", "bsn", "address"];

// Journey columns (`journey`), appended to interactions when the pipeline defines journeys. Null for
// interactions without a customer id or a timestamp, which cannot be placed in a customer's history.
/// The journey (type) the interaction belongs to; null for an `unknown` interaction with no open journey.
pub const JOURNEY_ID: &str = "journey_id";
/// The journey instance: `customer:journey:start` (start in UTC, `YYYYMMDDTHHMMSSZ`), stable across runs.
pub const JOURNEY_INSTANCE_ID: &str = "journey_instance_id";
/// 1 for the instance's first touchpoint, then 2, 3, ...
pub const JOURNEY_STEP: &str = "journey_step";
/// Seconds since the previous touchpoint of the same journey instance (null for the first).
pub const SECONDS_SINCE_PREVIOUS: &str = "seconds_since_previous";
/// The channel differs from the previous touchpoint's in the same journey instance.
pub const CHANNEL_SWITCH: &str = "channel_switch";
/// The same customer contacted about the same reason within the pipeline's repeat window before.
pub const REPEAT_CONTACT: &str = "repeat_contact";
/// Inbound messages: working hours until the first outbound reply (same conversation, else same journey).
pub const RESPONSE_WORKING_HOURS: &str = "response_working_hours";
/// Inbound messages under an SLA rule: answered later than the rule allows (or not at all once that is
/// certain); null while it is still open.
pub const SLA_BREACHED: &str = "sla_breached";

// Survey scores joined from `enrich --scores`: NPS 0..=10, CES 1..=7 (higher = more effort), CSAT 1..=5.
pub const NPS: &str = "nps";
pub const CES: &str = "ces";
pub const CSAT: &str = "csat";
/// The score columns, in output order.
pub const SCORES: [&str; 3] = [NPS, CES, CSAT];

// journeys.parquet: one row per journey instance.
pub const JOURNEY_START: &str = "start";
pub const JOURNEY_END: &str = "end";
pub const JOURNEY_DURATION_SECONDS: &str = "duration_seconds";
pub const TOUCHPOINTS: &str = "touchpoints";
/// The channels of the touchpoints, in time order (touchpoints without a channel left out).
pub const CHANNELS_IN_ORDER: &str = "channels";
/// The contact reasons of the touchpoints, in time order (`unknown` included).
pub const REASONS_IN_ORDER: &str = "contact_reasons";
pub const FIRST_SENTIMENT: &str = "first_sentiment_score";
pub const LAST_SENTIMENT: &str = "last_sentiment_score";
pub const LOWEST_SENTIMENT: &str = "lowest_sentiment_score";
pub const SLA_BREACHES: &str = "sla_breaches";
pub const REPEAT_CONTACTS: &str = "repeat_contacts";
/// `open` while a later touchpoint can still join, `closed` once the journey's gap has passed.
pub const JOURNEY_STATUS: &str = "status";
pub const JOURNEY_STATUSES: [&str; 2] = ["open", "closed"];
pub const MEAN_NPS: &str = "mean_nps";
pub const MEAN_CES: &str = "mean_ces";
pub const MEAN_CSAT: &str = "mean_csat";

// lifecycle.parquet: one row per phase and contact reason, and one per journey.
/// `reason` rows are the Life Cycle Model (phase, contact reason); `journey` rows roll up a journey.
pub const LEVEL: &str = "level";
pub const LEVELS: [&str; 2] = ["reason", "journey"];
pub const NAME: &str = "name";
pub const OWNER: &str = "owner";
pub const PROCESSES: &str = "processes";
pub const SYSTEMS: &str = "systems";
pub const COST_PER_CONTACT: &str = "cost_per_contact";
/// Interactions (reason rows) or touchpoints (journey rows) in this run.
pub const VOLUME: &str = "volume";
/// Journey rows: journey instances with a touchpoint in this run.
pub const INSTANCES: &str = "instances";
/// Share of the volume per canonical channel, a struct with one field per channel.
pub const CHANNEL_SHARE: &str = "channel_share";
pub const MEAN_SENTIMENT: &str = "mean_sentiment_score";
pub const SHARE_NEGATIVE: &str = "share_negative";
pub const REPEAT_CONTACT_RATE: &str = "repeat_contact_rate";
pub const SLA_BREACH_RATE: &str = "sla_breach_rate";
pub const MEDIAN_RESPONSE_WORKING_HOURS: &str = "median_response_working_hours";
/// Reason rows: the journeys the reason occurs in this run; journey rows: the journey's reasons.
pub const JOURNEYS: &str = "journeys";
pub const SCORED: &str = "scored";
pub const LOW_SCORE_SHARE: &str = "low_score_share";
pub const PRIORITY_SCORE: &str = "priority_score";
pub const PRIORITY_RANK: &str = "priority_rank";

// Event log (events.csv, events.parquet, events.xes): one event per journey touchpoint.
pub const CASE_ID: &str = "case_id";
pub const ACTIVITY: &str = "activity";
pub const RESOURCE: &str = "resource";
pub const INTERACTION_ID: &str = "interaction_id";

/// The contact reason given when no reason scores above the pipeline's threshold.
pub const UNKNOWN_REASON: &str = "unknown";

// Rejects file columns.
pub const REJECT_REASON: &str = "reject_reason";
pub const REJECT_COLUMN: &str = "reject_column";
pub const REJECT_RECORD: &str = "record";

/// Timestamps are normalised to microseconds in UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from("UTC")))
}

/// The canonical fields, in order. Only `id` and `text` are never null.
pub fn canonical_fields() -> Vec<Field> {
    vec![
        Field::new(ID, DataType::Utf8, false),
        Field::new(CUSTOMER_ID, DataType::Utf8, true),
        Field::new(CHANNEL, DataType::Utf8, true),
        Field::new(TIMESTAMP, timestamp_type(), true),
        Field::new(DIRECTION, DataType::Utf8, true),
        Field::new(TEXT, DataType::Utf8, false),
    ]
}

/// Provenance fields, appended after the pass-through columns.
pub fn provenance_fields() -> Vec<Field> {
    vec![
        Field::new(SOURCE_FILE, DataType::Utf8, false),
        Field::new(SOURCE_ROW, DataType::UInt64, false),
    ]
}

/// One entry of `attachments`: file name (null when the part has none), MIME type, decoded size in bytes.
pub fn attachment_fields() -> Fields {
    Fields::from(vec![
        Field::new("name", DataType::Utf8, true),
        Field::new("type", DataType::Utf8, false),
        Field::new("size", DataType::UInt64, false),
    ])
}

/// The element field of every list column: items are never null. One definition, so the list types built
/// by the readers and heads are exactly the ones the schemas declare.
pub fn list_item(data_type: DataType) -> FieldRef {
    Arc::new(Field::new("item", data_type, false))
}

/// A list of non-null `data_type` items.
pub fn list_of(data_type: DataType) -> DataType {
    DataType::List(list_item(data_type))
}

/// The e-mail fields, in order, that e-mail ingest puts between the canonical and the provenance fields.
/// `text_raw` is the whole text body; `text` is that body with quotes, history and signatures stripped.
pub fn email_fields() -> Vec<Field> {
    let utf8_list = || list_of(DataType::Utf8);
    vec![
        Field::new(TEXT_RAW, DataType::Utf8, false),
        Field::new(MESSAGE_ID, DataType::Utf8, true),
        Field::new(IN_REPLY_TO, DataType::Utf8, true),
        Field::new(REFERENCES, utf8_list(), false),
        Field::new(CONVERSATION_ID, DataType::Utf8, false),
        Field::new(SUBJECT, DataType::Utf8, true),
        Field::new(FROM, DataType::Utf8, true),
        Field::new(TO, utf8_list(), false),
        Field::new(
            ATTACHMENTS,
            list_of(DataType::Struct(attachment_fields())),
            false,
        ),
    ]
}

/// One entry of `turns`: the speaker's label as written, its role (`ROLES`), start and end in seconds (from
/// the start of the call, or of the chat's first message; null where the source has no times), the text.
pub fn turn_fields() -> Fields {
    Fields::from(vec![
        Field::new(TURN_SPEAKER, DataType::Utf8, false),
        Field::new(TURN_ROLE, DataType::Utf8, false),
        Field::new(TURN_START_SECONDS, DataType::Float64, true),
        Field::new(TURN_END_SECONDS, DataType::Float64, true),
        Field::new(TURN_TEXT, DataType::Utf8, false),
    ])
}

fn turns_field() -> Field {
    Field::new(TURNS, list_of(DataType::Struct(turn_fields())), false)
}

/// The chat fields, in order, that transcript ingest puts between the canonical and the provenance fields.
pub fn chat_fields() -> Vec<Field> {
    vec![Field::new(TEXT_RAW, DataType::Utf8, false), turns_field()]
}

/// The call fields: the chat fields plus the call metrics, null where the transcript has no times.
pub fn call_fields() -> Vec<Field> {
    let mut fields = chat_fields();
    fields.extend([
        Field::new(DURATION_SECONDS, DataType::Float64, true),
        Field::new(CUSTOMER_TALK_RATIO, DataType::Float64, true),
        Field::new(LONGEST_SILENCE_SECONDS, DataType::Float64, true),
    ]);
    fields
}

/// One entry of `contact_reason_top3`.
pub fn ranked_reason_fields() -> Fields {
    Fields::from(vec![
        Field::new("reason", DataType::Utf8, false),
        Field::new("score", DataType::Float32, false),
    ])
}

/// The enrichment fields `enrich` appends, in order.
pub fn enrichment_fields() -> Vec<Field> {
    vec![
        Field::new(LANGUAGE, DataType::Utf8, true),
        Field::new(LANGUAGE_CONFIDENCE, DataType::Float32, true),
        Field::new(N_TOKENS, DataType::UInt32, false),
        Field::new(N_CHUNKS, DataType::UInt32, false),
        Field::new(CONTACT_REASON, DataType::Utf8, false),
        Field::new(CONTACT_REASON_SCORE, DataType::Float32, false),
        Field::new(
            CONTACT_REASON_TOP3,
            list_of(DataType::Struct(ranked_reason_fields())),
            false,
        ),
        Field::new(LIFECYCLE_PHASE, DataType::Utf8, true),
        Field::new(CONTACT_REASON_SOURCE, DataType::Utf8, false),
    ]
}

/// One entry of `customer_turn_sentiment`.
pub fn turn_sentiment_fields() -> Fields {
    Fields::from(vec![
        Field::new(TURN_INDEX, DataType::UInt32, false),
        Field::new(SENTIMENT, DataType::Utf8, false),
        Field::new(SENTIMENT_SCORE, DataType::Float32, false),
    ])
}

/// The sentiment fields `enrich` appends after the enrichment fields when sentiment is on; the turn fields
/// only when turns are scored. All are null where there is nothing to score (no customer turns).
pub fn sentiment_fields(turns: bool) -> Vec<Field> {
    let mut fields = vec![
        Field::new(SENTIMENT, DataType::Utf8, false),
        Field::new(SENTIMENT_SCORE, DataType::Float32, false),
    ];
    if turns {
        fields.extend([
            Field::new(
                CUSTOMER_TURN_SENTIMENT,
                list_of(DataType::Struct(turn_sentiment_fields())),
                true,
            ),
            Field::new(SENTIMENT_START, DataType::Utf8, true),
            Field::new(SENTIMENT_END, DataType::Utf8, true),
            Field::new(SENTIMENT_TREND, DataType::Utf8, true),
        ]);
    }
    fields
}

/// The fields of the `redactions` struct: how many of each kind were redacted from the row's text.
pub fn redaction_fields() -> Fields {
    REDACTION_KINDS
        .iter()
        .map(|kind| Field::new(*kind, DataType::UInt32, false))
        .collect()
}

/// The `redactions` column: never null, a row without text has zero counts.
pub fn redactions_field() -> Field {
    Field::new(REDACTIONS, DataType::Struct(redaction_fields()), false)
}

/// The journey columns appended to interactions, in order.
pub fn journey_fields() -> Vec<Field> {
    vec![
        Field::new(JOURNEY_ID, DataType::Utf8, true),
        Field::new(JOURNEY_INSTANCE_ID, DataType::Utf8, true),
        Field::new(JOURNEY_STEP, DataType::UInt32, true),
        Field::new(SECONDS_SINCE_PREVIOUS, DataType::Int64, true),
        Field::new(CHANNEL_SWITCH, DataType::Boolean, true),
        Field::new(REPEAT_CONTACT, DataType::Boolean, true),
        Field::new(RESPONSE_WORKING_HOURS, DataType::Float64, true),
        Field::new(SLA_BREACHED, DataType::Boolean, true),
    ]
}

/// The survey score columns appended to interactions with `enrich --scores`: null where no score applies.
pub fn score_fields() -> Vec<Field> {
    SCORES
        .iter()
        .map(|name| Field::new(*name, DataType::Float32, true))
        .collect()
}

/// journeys.parquet. Sentiment and score columns are null when the run has none.
pub fn journeys_fields() -> Vec<Field> {
    vec![
        Field::new(JOURNEY_INSTANCE_ID, DataType::Utf8, false),
        Field::new(JOURNEY_ID, DataType::Utf8, false),
        Field::new(CUSTOMER_ID, DataType::Utf8, false),
        Field::new(JOURNEY_START, timestamp_type(), false),
        Field::new(JOURNEY_END, timestamp_type(), false),
        Field::new(JOURNEY_DURATION_SECONDS, DataType::Int64, false),
        Field::new(TOUCHPOINTS, DataType::UInt32, false),
        Field::new(CHANNELS_IN_ORDER, list_of(DataType::Utf8), false),
        Field::new(REASONS_IN_ORDER, list_of(DataType::Utf8), false),
        Field::new(FIRST_SENTIMENT, DataType::Float32, true),
        Field::new(LAST_SENTIMENT, DataType::Float32, true),
        Field::new(LOWEST_SENTIMENT, DataType::Float32, true),
        Field::new(SLA_BREACHES, DataType::UInt32, false),
        Field::new(REPEAT_CONTACTS, DataType::UInt32, false),
        Field::new(MEAN_NPS, DataType::Float64, true),
        Field::new(MEAN_CES, DataType::Float64, true),
        Field::new(MEAN_CSAT, DataType::Float64, true),
        Field::new(JOURNEY_STATUS, DataType::Utf8, false),
    ]
}

/// The fields of `channel_share`: one share (0..1) per canonical channel.
pub fn channel_share_fields() -> Fields {
    CHANNELS
        .iter()
        .map(|channel| Field::new(*channel, DataType::Float64, false))
        .collect()
}

/// lifecycle.parquet. Rates are null where nothing was measured (no inbound contact, no SLA rule, no
/// sentiment, no score); the reason metadata is null on journey rows.
pub fn lifecycle_fields() -> Vec<Field> {
    vec![
        Field::new(LEVEL, DataType::Utf8, false),
        Field::new(LIFECYCLE_PHASE, DataType::Utf8, true),
        Field::new(CONTACT_REASON, DataType::Utf8, true),
        Field::new(JOURNEY_ID, DataType::Utf8, true),
        Field::new(NAME, DataType::Utf8, true),
        Field::new(OWNER, DataType::Utf8, true),
        Field::new(PROCESSES, list_of(DataType::Utf8), true),
        Field::new(SYSTEMS, list_of(DataType::Utf8), true),
        Field::new(COST_PER_CONTACT, DataType::Float64, true),
        Field::new(VOLUME, DataType::UInt64, false),
        Field::new(INSTANCES, DataType::UInt64, true),
        Field::new(
            CHANNEL_SHARE,
            DataType::Struct(channel_share_fields()),
            true,
        ),
        Field::new(MEAN_SENTIMENT, DataType::Float64, true),
        Field::new(SHARE_NEGATIVE, DataType::Float64, true),
        Field::new(REPEAT_CONTACT_RATE, DataType::Float64, true),
        Field::new(SLA_BREACH_RATE, DataType::Float64, true),
        Field::new(MEDIAN_RESPONSE_WORKING_HOURS, DataType::Float64, true),
        Field::new(JOURNEYS, list_of(DataType::Utf8), false),
        Field::new(SCORED, DataType::UInt64, false),
        Field::new(MEAN_NPS, DataType::Float64, true),
        Field::new(MEAN_CES, DataType::Float64, true),
        Field::new(MEAN_CSAT, DataType::Float64, true),
        Field::new(LOW_SCORE_SHARE, DataType::Float64, true),
        Field::new(PRIORITY_SCORE, DataType::Float64, true),
        Field::new(PRIORITY_RANK, DataType::UInt32, true),
    ]
}

/// The event log, as Parquet (the CSV has the same columns): `case_id` is the journey instance, `activity` the
/// contact reason (optionally with the channel), `resource` the channel.
pub fn event_log_fields() -> Vec<Field> {
    vec![
        Field::new(CASE_ID, DataType::Utf8, false),
        Field::new(ACTIVITY, DataType::Utf8, false),
        Field::new(TIMESTAMP, timestamp_type(), false),
        Field::new(RESOURCE, DataType::Utf8, true),
        Field::new(CUSTOMER_ID, DataType::Utf8, false),
        Field::new(JOURNEY_ID, DataType::Utf8, false),
        Field::new(INTERACTION_ID, DataType::Utf8, false),
        Field::new(DIRECTION, DataType::Utf8, true),
        Field::new(CONTACT_REASON, DataType::Utf8, false),
        Field::new(LIFECYCLE_PHASE, DataType::Utf8, true),
    ]
}

/// The rejects file: provenance, why the row was rejected, which column, and the raw record as JSON text
/// (so that nothing of the row is lost, whatever its shape).
pub fn reject_fields() -> Vec<Field> {
    vec![
        Field::new(SOURCE_FILE, DataType::Utf8, false),
        Field::new(SOURCE_ROW, DataType::UInt64, false),
        Field::new(REJECT_COLUMN, DataType::Utf8, true),
        Field::new(REJECT_REASON, DataType::Utf8, false),
        Field::new(REJECT_RECORD, DataType::Utf8, false),
    ]
}

/// Columns whose few distinct values make dictionary encoding pay off in Parquet.
pub const LOW_CARDINALITY: [&str; 14] = [
    CHANNEL,
    DIRECTION,
    LANGUAGE,
    CONTACT_REASON,
    LIFECYCLE_PHASE,
    CONTACT_REASON_SOURCE,
    SOURCE_FILE,
    REJECT_REASON,
    JOURNEY_ID,
    JOURNEY_STATUS,
    ACTIVITY,
    RESOURCE,
    LEVEL,
    SENTIMENT,
];
