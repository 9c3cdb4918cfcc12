//! Chat and call transcript ingest on hand-written Dutch and English examples of every format
//! (`testdata/chat`, `testdata/calls`; `testdata/calls/invalid` holds files that must be rejected). Expected
//! turns and call metrics were worked out by hand from the files.

use std::path::PathBuf;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampMicrosecondType, UInt64Type};
use arrow_array::{Array, RecordBatch};
use touchpoint::ingest::transcript::{read_transcripts, Role, TranscriptKind, TranscriptOptions};
use touchpoint::schema;

fn read(path: &str, kind: TranscriptKind) -> (RecordBatch, RecordBatch) {
    read_with(path, kind, &TranscriptOptions::default())
}

fn read_with(
    path: &str,
    kind: TranscriptKind,
    options: &TranscriptOptions,
) -> (RecordBatch, RecordBatch) {
    read_transcripts(&[PathBuf::from(path)], kind, options).expect("readable test data")
}

fn string(batch: &RecordBatch, column: &str, row: usize) -> Option<String> {
    let values = batch
        .column_by_name(column)
        .unwrap_or_else(|| panic!("column {column}"))
        .as_string::<i32>();
    (!values.is_null(row)).then(|| values.value(row).to_string())
}

fn strings(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    (0..batch.num_rows())
        .map(|row| string(batch, column, row))
        .collect()
}

fn float(batch: &RecordBatch, column: &str, row: usize) -> Option<f64> {
    let values = batch
        .column_by_name(column)
        .unwrap_or_else(|| panic!("column {column}"))
        .as_primitive::<Float64Type>();
    (!values.is_null(row)).then(|| values.value(row))
}

fn u64s(batch: &RecordBatch, column: &str) -> Vec<u64> {
    let values = batch
        .column_by_name(column)
        .unwrap_or_else(|| panic!("column {column}"))
        .as_primitive::<UInt64Type>();
    values.values().to_vec()
}

fn timestamp(batch: &RecordBatch, row: usize) -> Option<i64> {
    let values = batch
        .column_by_name(schema::TIMESTAMP)
        .expect("timestamp")
        .as_primitive::<TimestampMicrosecondType>();
    (!values.is_null(row)).then(|| values.value(row))
}

/// One turn: speaker, role, start, end, text.
type TurnRow = (String, String, Option<f64>, Option<f64>, String);

fn turns(batch: &RecordBatch, row: usize) -> Vec<TurnRow> {
    let lists = batch
        .column_by_name(schema::TURNS)
        .expect("turns")
        .as_list::<i32>();
    let entries = lists.value(row);
    let entries = entries.as_struct();
    let text = |name: &str, i: usize| {
        entries
            .column_by_name(name)
            .expect("turn field")
            .as_string::<i32>()
            .value(i)
            .to_string()
    };
    let time = |name: &str, i: usize| {
        let values = entries
            .column_by_name(name)
            .expect("turn field")
            .as_primitive::<Float64Type>();
        (!values.is_null(i)).then(|| values.value(i))
    };
    (0..entries.len())
        .map(|i| {
            (
                text(schema::TURN_SPEAKER, i),
                text(schema::TURN_ROLE, i),
                time(schema::TURN_START_SECONDS, i),
                time(schema::TURN_END_SECONDS, i),
                text(schema::TURN_TEXT, i),
            )
        })
        .collect()
}

fn turn(speaker: &str, role: &str, start: Option<f64>, end: Option<f64>, text: &str) -> TurnRow {
    (
        speaker.to_string(),
        role.to_string(),
        start,
        end,
        text.to_string(),
    )
}

fn assert_close(actual: Option<f64>, expected: f64) {
    let actual = actual.expect("a value");
    assert!(
        (actual - expected).abs() < 1e-9,
        "{actual} is not {expected}"
    );
}

fn micros(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .expect("valid time")
        .timestamp_micros()
}

#[test]
fn chat_json_keeps_turns_and_marks_the_customer() {
    let (chats, rejects) = read("testdata/chat/webchat.json", TranscriptKind::Chat);
    assert_eq!(chats.num_rows(), 2);
    let mut expected: Vec<&str> = schema::CANONICAL.to_vec();
    expected.extend([
        schema::TEXT_RAW,
        schema::TURNS,
        schema::SOURCE_FILE,
        schema::SOURCE_ROW,
    ]);
    let names: Vec<String> = chats
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, expected);

    assert_eq!(
        strings(&chats, schema::ID),
        [Some("chat-1001".into()), Some("1002".into())]
    );
    assert_eq!(
        string(&chats, schema::CUSTOMER_ID, 0).as_deref(),
        Some("K-1001")
    );
    assert_eq!(string(&chats, schema::CUSTOMER_ID, 1), None);
    assert_eq!(string(&chats, schema::CHANNEL, 0).as_deref(), Some("chat"));
    assert_eq!(
        string(&chats, schema::DIRECTION, 0).as_deref(),
        Some("inbound")
    );
    assert_eq!(timestamp(&chats, 0), Some(micros("2024-03-01T09:00:00Z")));
    // No started_at: the first message's epoch seconds.
    assert_eq!(timestamp(&chats, 1), Some(1_709_290_800_000_000));

    // The typing event without text is skipped.
    assert_eq!(
        turns(&chats, 0),
        [
            turn(
                "agent",
                "agent",
                Some(0.0),
                None,
                "Welkom bij de chat van Energie Direct! Waarmee kan ik u helpen?"
            ),
            turn(
                "customer",
                "customer",
                Some(30.0),
                None,
                "Mijn termijnbedrag is verhoogd, waarom?"
            ),
            turn(
                "agent",
                "agent",
                Some(70.0),
                None,
                "Dat komt door de nieuwe tarieven per 1 maart."
            ),
            turn(
                "customer",
                "customer",
                Some(120.0),
                None,
                "Kan ik het bedrag zelf aanpassen?"
            ),
        ]
    );
    assert_eq!(
        string(&chats, schema::TEXT, 0).as_deref(),
        Some("Mijn termijnbedrag is verhoogd, waarom?\nKan ik het bedrag zelf aanpassen?")
    );
    assert_eq!(
        turns(&chats, 1),
        [
            turn(
                "bot",
                "agent",
                Some(0.0),
                None,
                "Hi! How can I help you today?"
            ),
            turn(
                "user",
                "customer",
                Some(12.0),
                None,
                "I want to cancel my subscription."
            ),
        ]
    );
    assert_eq!(
        string(&chats, schema::TEXT_RAW, 1).as_deref(),
        Some("bot: Hi! How can I help you today?\nuser: I want to cancel my subscription.")
    );
    assert_eq!(u64s(&chats, schema::SOURCE_ROW), [1, 2]);

    assert_eq!(rejects.num_rows(), 1);
    assert_eq!(u64s(&rejects, schema::SOURCE_ROW), [3]);
    assert_eq!(
        string(&rejects, schema::REJECT_COLUMN, 0).as_deref(),
        Some(schema::TEXT)
    );
    let reason = string(&rejects, schema::REJECT_REASON, 0).unwrap_or_default();
    assert!(reason.contains("no customer turns"), "{reason}");
    let record = string(&rejects, schema::REJECT_RECORD, 0).unwrap_or_default();
    let record: serde_json::Value = serde_json::from_str(&record).expect("the record is JSON");
    assert_eq!(record["id"], "chat-1003");
}

#[test]
fn chat_jsonl_groups_messages_by_conversation() {
    let (chats, rejects) = read("testdata/chat/messages.jsonl", TranscriptKind::Chat);
    assert_eq!(
        strings(&chats, schema::ID),
        [Some("wa-77".into()), Some("web-5".into())]
    );
    assert_eq!(u64s(&chats, schema::SOURCE_ROW), [1, 5]);
    assert_eq!(
        string(&chats, schema::CUSTOMER_ID, 0).as_deref(),
        Some("K-77")
    );
    assert_eq!(timestamp(&chats, 0), Some(micros("2024-03-02T09:00:00Z")));
    assert_eq!(
        turns(&chats, 0),
        [
            turn(
                "customer",
                "customer",
                Some(0.0),
                None,
                "Goedemiddag, mijn pakket is niet aangekomen."
            ),
            turn(
                "agent",
                "agent",
                Some(60.0),
                None,
                "Wat vervelend! Wat is uw ordernummer?"
            ),
            turn("customer", "customer", Some(180.0), None, "Het is 4455-12."),
        ]
    );
    assert_eq!(
        string(&chats, schema::TEXT, 0).as_deref(),
        Some("Goedemiddag, mijn pakket is niet aangekomen.\nHet is 4455-12.")
    );
    // A conversation per line, messages without times.
    assert_eq!(timestamp(&chats, 1), Some(micros("2024-03-02T11:00:00Z")));
    assert_eq!(
        turns(&chats, 1),
        [
            turn("user", "customer", None, None, "Do you ship to Belgium?"),
            turn("assistant", "agent", None, None, "Yes, we do."),
        ]
    );

    // wa-78 (from line 2) has an unparseable time on line 8; line 6 is not JSON; line 7 has no conversation.
    assert_eq!(u64s(&rejects, schema::SOURCE_ROW), [2, 6, 7]);
    let reasons = strings(&rejects, schema::REJECT_REASON);
    let reason = |i: usize| reasons[i].clone().unwrap_or_default();
    assert!(
        reason(0).contains("message 2: unparseable timestamp"),
        "{}",
        reason(0)
    );
    assert!(reason(1).starts_with("not valid JSON"), "{}", reason(1));
    assert!(
        reason(2).contains("without a conversation id"),
        "{}",
        reason(2)
    );
    assert_eq!(
        strings(&rejects, schema::REJECT_COLUMN),
        [
            Some(schema::TIMESTAMP.into()),
            None,
            Some(schema::CONVERSATION_ID.into())
        ]
    );
}

#[test]
fn invalid_chat_json_is_rejected_at_its_line() {
    let (chats, rejects) = read("testdata/chat/broken.json", TranscriptKind::Chat);
    assert_eq!(chats.num_rows(), 0);
    assert_eq!(u64s(&rejects, schema::SOURCE_ROW), [3]);
    let reason = string(&rejects, schema::REJECT_REASON, 0).unwrap_or_default();
    assert!(
        reason.starts_with("not valid JSON") && reason.contains("line 3"),
        "{reason}"
    );
    let record = string(&rejects, schema::REJECT_RECORD, 0).unwrap_or_default();
    let record: String = serde_json::from_str(&record).expect("the file text as a JSON string");
    assert!(record.contains("Goedendag"));
}

#[test]
fn labelled_text_call_joins_continuation_lines() {
    let (calls, rejects) = read("testdata/calls/factuur.txt", TranscriptKind::Call);
    assert_eq!(rejects.num_rows(), 0);
    assert_eq!(
        string(&calls, schema::ID, 0).as_deref(),
        Some("factuur.txt:1")
    );
    assert_eq!(string(&calls, schema::CHANNEL, 0).as_deref(), Some("voice"));
    assert_eq!(timestamp(&calls, 0), None);
    let klant_text =
        "Ja hallo, ik heb een vraag over mijn factuur. Er staat een bedrag van 89 euro op: dat klopt niet.";
    assert_eq!(
        turns(&calls, 0),
        [
            turn("", "other", None, None, "Gesprek 8812 - 5 maart 2024"),
            turn(
                "Agent",
                "agent",
                Some(2.0),
                None,
                "Goedemiddag, u spreekt met Lisa."
            ),
            turn("Klant", "customer", Some(5.0), None, klant_text),
            turn(
                "Agent",
                "agent",
                Some(15.0),
                None,
                "Ik kijk even met u mee."
            ),
            turn("Klant", "customer", Some(40.0), None, "Dank u."),
        ]
    );
    assert_eq!(
        string(&calls, schema::TEXT, 0),
        Some(format!("{klant_text}\nDank u."))
    );
    let raw = string(&calls, schema::TEXT_RAW, 0).unwrap_or_default();
    assert!(
        raw.starts_with("Gesprek 8812 - 5 maart 2024\nAgent: Goedemiddag"),
        "{raw}"
    );
    // Start times only: no metric can be computed.
    for metric in [
        schema::DURATION_SECONDS,
        schema::CUSTOMER_TALK_RATIO,
        schema::LONGEST_SILENCE_SECONDS,
    ] {
        assert_eq!(float(&calls, metric, 0), None, "{metric}");
    }
}

#[test]
fn webvtt_call_has_voices_and_metrics() {
    let (calls, rejects) = read("testdata/calls/verhuizing.vtt", TranscriptKind::Call);
    assert_eq!(rejects.num_rows(), 0);
    assert_eq!(
        turns(&calls, 0),
        [
            turn(
                "Medewerker",
                "agent",
                Some(0.0),
                Some(4.0),
                "Goedemorgen, u spreekt met Sanne van Energie Direct."
            ),
            turn(
                "Klant",
                "customer",
                Some(5.0),
                Some(11.0),
                "Hallo, ik ga verhuizen en wil mijn contract meenemen naar mijn nieuwe adres."
            ),
            turn(
                "Medewerker",
                "agent",
                Some(11.5),
                Some(14.0),
                "Dat kan. Wat is de verhuisdatum?"
            ),
            turn(
                "Klant",
                "customer",
                Some(20.0),
                Some(23.0),
                "Op 1 april. Het nieuwe adres is Dorpsstraat 12."
            ),
            turn(
                "Medewerker",
                "agent",
                Some(23.0),
                Some(26.0),
                "Ik zet het voor u door."
            ),
        ]
    );
    assert_eq!(
        string(&calls, schema::TEXT, 0).as_deref(),
        Some("Hallo, ik ga verhuizen en wil mijn contract meenemen naar mijn nieuwe adres.\nOp 1 april. Het nieuwe adres is Dorpsstraat 12.")
    );
    // 0 s to 26 s; customer 6 + 3 of 4 + 6 + 2.5 + 3 + 3 spoken seconds; nobody speaks from 14 s to 20 s.
    assert_close(float(&calls, schema::DURATION_SECONDS, 0), 26.0);
    assert_close(float(&calls, schema::CUSTOMER_TALK_RATIO, 0), 9.0 / 18.5);
    assert_close(float(&calls, schema::LONGEST_SILENCE_SECONDS, 0), 6.0);
}

#[test]
fn srt_call_reads_prefixes_and_continues_unlabelled_cues() {
    let (calls, rejects) = read("testdata/calls/refund.srt", TranscriptKind::Call);
    assert_eq!(rejects.num_rows(), 0);
    assert_eq!(
        turns(&calls, 0),
        [
            turn(
                "Agent",
                "agent",
                Some(0.5),
                Some(3.0),
                "Thanks for calling, this is Mark."
            ),
            turn(
                "Customer",
                "customer",
                Some(3.5),
                Some(9.5),
                "Hi, I was charged twice for my order and I would like a refund."
            ),
            turn(
                "Agent",
                "agent",
                Some(10.0),
                Some(12.0),
                "I am sorry to hear that."
            ),
            turn(
                "Agent",
                "agent",
                Some(12.0),
                Some(15.0),
                "Let me check your order."
            ),
            turn(
                "Customer",
                "customer",
                Some(18.0),
                Some(20.0),
                "Order number 55012."
            ),
        ]
    );
    // 0.5 s to 20 s; customer 6 + 2 of 2.5 + 6 + 2 + 3 + 2 spoken seconds; silence 15 s to 18 s.
    assert_close(float(&calls, schema::DURATION_SECONDS, 0), 19.5);
    assert_close(float(&calls, schema::CUSTOMER_TALK_RATIO, 0), 8.0 / 15.5);
    assert_close(float(&calls, schema::LONGEST_SILENCE_SECONDS, 0), 3.0);
}

#[test]
fn json_segments_resolve_diarised_speakers() {
    let (calls, rejects) = read("testdata/calls/storing.json", TranscriptKind::Call);
    assert_eq!(rejects.num_rows(), 0);
    assert_eq!(
        string(&calls, schema::ID, 0).as_deref(),
        Some("call-2024-0311-017")
    );
    assert_eq!(
        string(&calls, schema::CUSTOMER_ID, 0).as_deref(),
        Some("K-20431")
    );
    assert_eq!(timestamp(&calls, 0), Some(micros("2024-03-11T14:02:00Z")));
    // The first speaker answers the call: the agent. The empty segment is skipped.
    assert_eq!(
        turns(&calls, 0),
        [
            turn(
                "SPEAKER_01",
                "agent",
                Some(0.0),
                Some(3.2),
                "Goedemiddag, klantenservice, met Ahmed."
            ),
            turn(
                "SPEAKER_00",
                "customer",
                Some(3.8),
                Some(9.0),
                "Hallo, mijn internet valt steeds weg sinds gisteren."
            ),
            turn(
                "SPEAKER_01",
                "agent",
                Some(9.0),
                Some(12.0),
                "Vervelend. Ik doe even een storingscheck."
            ),
            turn(
                "SPEAKER_00",
                "customer",
                Some(19.0),
                Some(22.5),
                "Ja, hij doet het weer."
            ),
        ]
    );
    assert_close(float(&calls, schema::DURATION_SECONDS, 0), 22.5);
    assert_close(
        float(&calls, schema::CUSTOMER_TALK_RATIO, 0),
        (5.2 + 3.5) / (3.2 + 5.2 + 3.0 + 3.5),
    );
    assert_close(float(&calls, schema::LONGEST_SILENCE_SECONDS, 0), 7.0);
}

#[test]
fn json_segment_array_with_string_times() {
    let (calls, _) = read("testdata/calls/opening-hours.json", TranscriptKind::Call);
    assert_eq!(
        turns(&calls, 0),
        [
            turn(
                "Operator",
                "agent",
                Some(0.0),
                Some(2.0),
                "Good morning, how can I help?"
            ),
            turn(
                "Caller",
                "customer",
                Some(2.5),
                Some(6.0),
                "Are you open on Sunday?"
            ),
            turn(
                "Caller",
                "customer",
                Some(6.0),
                Some(8.0),
                "Or only on weekdays?"
            ),
        ]
    );
    assert_close(float(&calls, schema::CUSTOMER_TALK_RATIO, 0), 5.5 / 7.5);
    assert_close(float(&calls, schema::LONGEST_SILENCE_SECONDS, 0), 0.5);
}

#[test]
fn configured_speaker_roles_override_the_built_in_ones() {
    let options = TranscriptOptions {
        speaker_roles: [
            ("SPEAKER_00".to_string(), Role::Agent),
            ("speaker_01".to_string(), Role::Customer),
        ]
        .into_iter()
        .collect(),
    };
    let (calls, _) = read_with(
        "testdata/calls/storing.json",
        TranscriptKind::Call,
        &options,
    );
    assert_eq!(
        string(&calls, schema::TEXT, 0).as_deref(),
        Some("Goedemiddag, klantenservice, met Ahmed.\nVervelend. Ik doe even een storingscheck.")
    );
}

#[test]
fn invalid_call_files_are_rejected_with_file_and_line() {
    let (calls, rejects) = read("testdata/calls/invalid", TranscriptKind::Call);
    assert_eq!(calls.num_rows(), 0);
    let files: Vec<String> = strings(&rejects, schema::SOURCE_FILE)
        .into_iter()
        .map(|f| {
            PathBuf::from(f.unwrap_or_default())
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        files,
        [
            "agent-only.vtt",
            "bad-timing.srt",
            "broken.json",
            "no-header.vtt",
            "notes.txt"
        ]
    );
    assert_eq!(u64s(&rejects, schema::SOURCE_ROW), [1, 5, 1, 1, 1]);
    let reasons: Vec<String> = strings(&rejects, schema::REJECT_REASON)
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    let expected = [
        "no customer turns with text (speakers: Agent)",
        "not valid SRT: line 5:",
        "segment 2: end -1 is not a time in seconds",
        "not WebVTT",
        "no speaker-labelled lines",
    ];
    for (reason, expected) in reasons.iter().zip(expected) {
        assert!(
            reason.starts_with(expected),
            "{reason:?} does not start with {expected:?}"
        );
    }
}

#[test]
fn a_folder_of_calls_reads_every_format() {
    let (calls, rejects) = read("testdata/calls", TranscriptKind::Call);
    assert_eq!(calls.num_rows(), 5);
    assert_eq!(rejects.num_rows(), 5);
    let names: Vec<String> = calls
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut expected: Vec<&str> = schema::CANONICAL.to_vec();
    expected.extend([
        schema::TEXT_RAW,
        schema::TURNS,
        schema::DURATION_SECONDS,
        schema::CUSTOMER_TALK_RATIO,
        schema::LONGEST_SILENCE_SECONDS,
        schema::SOURCE_FILE,
        schema::SOURCE_ROW,
    ]);
    assert_eq!(names, expected);
    let texts = strings(&calls, schema::TEXT);
    assert!(texts
        .iter()
        .all(|t| t.as_ref().is_some_and(|t| !t.is_empty())));
}
