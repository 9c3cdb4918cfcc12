//! Ingest end to end: real files in a temporary folder, read through the public API.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type, TimestampMicrosecondType, UInt64Type};
use arrow_array::{
    Array, ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use arrow_select::concat::concat_batches;
use parquet::arrow::ArrowWriter;
use touchpoint::ingest::{
    discover, ColumnMapping, IngestBatch, IngestOptions, Interactions, DEFAULT_MAX_TEXT_BYTES,
};
use touchpoint::schema;
use touchpoint::Error;

/// All batches of a run, concatenated, plus the run's counters.
struct Run {
    interactions: RecordBatch,
    rejects: RecordBatch,
    batches: Vec<IngestBatch>,
    rows_read: u64,
    rows_rejected: u64,
    rows_hint: Option<u64>,
}

fn run(files: &[PathBuf], options: IngestOptions) -> Run {
    let mut interactions = Interactions::open(files.to_vec(), options).expect("open");
    let schema = interactions.schema();
    let rows_hint = interactions.rows_hint();
    let batches: Vec<IngestBatch> = interactions
        .by_ref()
        .collect::<Result<_, _>>()
        .expect("read");
    let reject_schema = Arc::new(Schema::new(schema::reject_fields()));
    let all = concat_batches(&schema, batches.iter().map(|b| &b.interactions)).unwrap();
    let rejects = concat_batches(&reject_schema, batches.iter().map(|b| &b.rejects)).unwrap();
    Run {
        interactions: all,
        rejects,
        batches,
        rows_read: interactions.rows_read(),
        rows_rejected: interactions.rows_rejected(),
        rows_hint,
    }
}

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&path, content).unwrap();
    path
}

fn strings(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    let array = batch
        .column_by_name(column)
        .unwrap_or_else(|| panic!("no column {column}"));
    array
        .as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

fn text_values(batch: &RecordBatch, column: &str) -> Vec<String> {
    strings(batch, column)
        .into_iter()
        .map(|v| v.unwrap_or_else(|| "<null>".to_string()))
        .collect()
}

fn rows(batch: &RecordBatch, column: &str) -> Vec<u64> {
    batch
        .column_by_name(column)
        .unwrap()
        .as_primitive::<UInt64Type>()
        .values()
        .to_vec()
}

fn timestamps(batch: &RecordBatch) -> Vec<Option<i64>> {
    batch
        .column_by_name(schema::TIMESTAMP)
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>()
        .iter()
        .collect()
}

/// (row, column, reason) of every reject, in order.
fn reject_list(rejects: &RecordBatch) -> Vec<(u64, Option<String>, String)> {
    let rows = rows(rejects, schema::SOURCE_ROW);
    let columns = strings(rejects, schema::REJECT_COLUMN);
    let reasons = text_values(rejects, schema::REJECT_REASON);
    rows.into_iter()
        .zip(columns)
        .zip(reasons)
        .map(|((row, column), reason)| (row, column, reason))
        .collect()
}

const JAN_31_NOON: i64 = 1_706_702_400_000_000;

#[test]
fn csv_round_trips_canonical_and_pass_through_columns() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "mails.csv",
        "id;customer_id;channel;timestamp;direction;text;product\n\
         a1;c1;email;2024-01-31T12:00:00Z;inbound;Mijn factuur klopt niet;energie\n\
         a2;;chat;;outbound;\"Hallo; hoe kan ik helpen?\nNieuwe regel\";\n",
    );
    let run = run(std::slice::from_ref(&file), IngestOptions::default());
    let out = &run.interactions;
    let names: Vec<_> = out
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "id",
            "customer_id",
            "channel",
            "timestamp",
            "direction",
            "text",
            "product",
            "source_file",
            "source_row"
        ]
    );
    assert_eq!(
        out.schema()
            .field_with_name("timestamp")
            .unwrap()
            .data_type(),
        &schema::timestamp_type()
    );
    assert_eq!(text_values(out, schema::ID), ["a1", "a2"]);
    assert_eq!(strings(out, schema::CUSTOMER_ID), [Some("c1".into()), None]);
    assert_eq!(text_values(out, schema::CHANNEL), ["email", "chat"]);
    assert_eq!(text_values(out, schema::DIRECTION), ["inbound", "outbound"]);
    assert_eq!(timestamps(out), [Some(JAN_31_NOON), None]);
    assert_eq!(
        text_values(out, schema::TEXT),
        [
            "Mijn factuur klopt niet",
            "Hallo; hoe kan ik helpen?\nNieuwe regel"
        ]
    );
    assert_eq!(text_values(out, "product"), ["energie", ""]);
    assert_eq!(
        text_values(out, schema::SOURCE_FILE),
        vec![file.display().to_string(); 2]
    );
    assert_eq!(rows(out, schema::SOURCE_ROW), [1, 2]);
    assert_eq!(run.rejects.num_rows(), 0);
    assert_eq!(run.rows_hint, Some(2));
}

#[test]
fn jsonl_keeps_inferred_types_and_nested_values() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "chats.jsonl",
        concat!(
            r#"{"id": 1, "text": "Ik wil opzeggen", "score": 4, "vip": true, "meta": {"agent": "x"}, "timestamp": 1706702400}"#,
            "\n\n",
            r#"{"id": 2, "text": "Where is my parcel?", "score": 2.5, "vip": false, "tags": ["a", "b"], "timestamp": "2024-01-31 12:00"}"#,
            "\n",
        ),
    );
    let run = run(&[file], IngestOptions::default());
    let out = &run.interactions;
    let schema = out.schema();
    assert_eq!(
        schema.field_with_name("score").unwrap().data_type(),
        &DataType::Float64
    );
    assert_eq!(
        schema.field_with_name("vip").unwrap().data_type(),
        &DataType::Boolean
    );
    assert!(matches!(
        schema.field_with_name("meta").unwrap().data_type(),
        DataType::Struct(_)
    ));
    assert!(matches!(
        schema.field_with_name("tags").unwrap().data_type(),
        DataType::List(_)
    ));
    // Numeric ids become text ids.
    assert_eq!(text_values(out, schema::ID), ["1", "2"]);
    let scores = out
        .column_by_name("score")
        .unwrap()
        .as_primitive::<Float64Type>();
    assert_eq!(scores.values().to_vec(), [4.0, 2.5]);
    assert_eq!(timestamps(out), [Some(JAN_31_NOON), Some(JAN_31_NOON)]);
    // Row numbers are line numbers; the blank line is not a row.
    assert_eq!(rows(out, schema::SOURCE_ROW), [1, 3]);
    assert_eq!(run.rows_read, 2);
    assert_eq!(run.rows_hint, Some(2));
    assert!(out.column_by_name("tags").unwrap().is_null(0));
}

fn write_parquet(path: &Path, batch: &RecordBatch) {
    let file = fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

#[test]
fn parquet_keeps_native_types_and_converts_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calls.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        Field::new("text", DataType::Utf8, false),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            true,
        ),
        Field::new("duration", DataType::Float64, true),
        Field::new("agent", DataType::Int32, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(vec![7, 8, 9])),
        Arc::new(StringArray::from(vec![
            "Ik ga verhuizen",
            "   ",
            "Nieuwe klant",
        ])),
        Arc::new(TimestampMillisecondArray::from(vec![
            Some(JAN_31_NOON / 1000),
            None,
            None,
        ])),
        Arc::new(Float64Array::from(vec![Some(12.5), None, Some(3.0)])),
        Arc::new(Int32Array::from(vec![Some(1), Some(2), None])),
    ];
    write_parquet(&path, &RecordBatch::try_new(schema, columns).unwrap());

    let run = run(&[path], IngestOptions::default());
    let out = &run.interactions;
    assert_eq!(run.rows_hint, Some(3));
    assert_eq!(text_values(out, schema::ID), ["7", "9"]);
    assert_eq!(timestamps(out), [Some(JAN_31_NOON), None]);
    assert_eq!(
        out.schema()
            .field_with_name("duration")
            .unwrap()
            .data_type(),
        &DataType::Float64
    );
    let agents = out
        .column_by_name("agent")
        .unwrap()
        .as_primitive::<Int32Type>();
    assert_eq!(agents.iter().collect::<Vec<_>>(), [Some(1), None]);
    assert_eq!(rows(out, schema::SOURCE_ROW), [1, 3]);
    assert_eq!(
        reject_list(&run.rejects),
        [(2, Some("text".to_string()), "empty text".to_string())]
    );
    let record = text_values(&run.rejects, schema::REJECT_RECORD).remove(0);
    let record: serde_json::Value = serde_json::from_str(&record).unwrap();
    assert_eq!(record["id"], 8);
    assert_eq!(record["agent"], 2);
}

#[test]
fn mapping_renames_columns_and_maps_channel_and_direction_values() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "export.csv",
        "ticket,body,medium,richting\n\
         t1,Factuur te hoog,E-Mail,IN\n\
         t2,Monteur komt niet,telefoon,Uitgaand\n\
         t3,Via de balie,Balie,inkomend\n\
         t4,Via de fax,fax,in\n",
    );
    let mut options = IngestOptions::default();
    options
        .mapping
        .apply_overrides(&[
            "text=body".to_string(),
            "id=ticket".to_string(),
            "channel=medium".to_string(),
            "direction=richting".to_string(),
            "channel:balie=other".to_string(),
        ])
        .unwrap();
    let run = run(&[file], options);
    let out = &run.interactions;
    assert_eq!(text_values(out, schema::ID), ["t1", "t2", "t3"]);
    assert_eq!(text_values(out, schema::TEXT)[0], "Factuur te hoog");
    assert_eq!(
        text_values(out, schema::CHANNEL),
        ["email", "voice", "other"]
    );
    assert_eq!(
        text_values(out, schema::DIRECTION),
        ["inbound", "outbound", "inbound"]
    );
    // Mapped source columns are consumed, not passed through.
    assert!(out.column_by_name("body").is_none());
    assert!(out.column_by_name("medium").is_none());
    assert_eq!(
        reject_list(&run.rejects),
        [(
            4,
            Some("medium".to_string()),
            "unknown channel 'fax'; map it in [input.channels] or with --map channel:fax=<channel>"
                .to_string()
        )]
    );
}

#[test]
fn mapping_from_pipeline_and_bad_overrides() {
    let mut input = touchpoint::pipeline::InputSection::default();
    input.columns.insert("text".into(), "bericht".into());
    input.channels.insert("Loket".into(), "other".into());
    let mapping = ColumnMapping::from_pipeline(&input).unwrap();
    assert_eq!(mapping.source_column("text"), "bericht");
    assert_eq!(mapping.source_column("id"), "id");

    input.channels.insert("Duif".into(), "pigeon".into());
    assert!(matches!(
        ColumnMapping::from_pipeline(&input),
        Err(Error::Usage(_))
    ));

    let mut mapping = ColumnMapping::default();
    for bad in [
        "textbody",
        "body=text",
        "channel:x=fax",
        "direction:IN=sideways",
    ] {
        let err = mapping.apply_overrides(&[bad.to_string()]).unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "{bad} gave {err}");
    }
}

#[test]
fn missing_ids_are_generated_from_file_name_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "sub/notes.csv", "text\neen\ntwee\n");
    let first = run(std::slice::from_ref(&file), IngestOptions::default());
    let second = run(&[file], IngestOptions::default());
    assert_eq!(
        text_values(&first.interactions, schema::ID),
        ["notes.csv:1", "notes.csv:2"]
    );
    assert_eq!(
        text_values(&first.interactions, schema::ID),
        text_values(&second.interactions, schema::ID)
    );
}

#[test]
fn discover_expands_folders_and_globs_sorted_and_deduplicated() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let b = write(root, "in/b.csv", "text\nx\n");
    let a = write(root, "in/nested/a.jsonl", "{\"text\": \"x\"}\n");
    let c = write(root, "in/c.parquet", "");
    let d = write(root, "in/d.ndjson", "");
    write(root, "in/readme.txt", "not data");
    write(root, "in/.hidden.csv", "text\nx\n");
    let folder = root.join("in").display().to_string();
    let found = discover(std::slice::from_ref(&folder)).unwrap();
    let mut expected = vec![a.clone(), b.clone(), c.clone(), d.clone()];
    expected.sort();
    assert_eq!(found, expected);

    let pattern = root.join("in/*.csv").display().to_string();
    let found = discover(&[pattern, b.display().to_string(), folder]).unwrap();
    assert_eq!(found, expected, "duplicates removed");

    let nothing = root.join("in/*.xlsx").display().to_string();
    match discover(std::slice::from_ref(&nothing)) {
        Err(Error::Input { location, .. }) => assert_eq!(location.file, PathBuf::from(nothing)),
        other => panic!("expected an input error, got {other:?}"),
    }
    let missing = root.join("nope").display().to_string();
    assert!(matches!(discover(&[missing]), Err(Error::Input { .. })));
}

#[test]
fn every_bad_row_is_rejected_with_its_column_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let mut messy = b"id,channel,timestamp,direction,text\n".to_vec();
    messy.extend_from_slice(b"1,email,2024-01-31 12:00,inbound,Goed\n"); // 1 ok
    messy.extend_from_slice(b"2,email,,inbound,\n"); // 2 empty text
    messy.extend_from_slice(b"3,email,,inbound,   \n"); // 3 blank text
    messy.extend_from_slice(b"4,email,,inbound\n"); // 4 too few fields
    messy.extend_from_slice(b"5,email,,inbound,caf\xe9\n"); // 5 invalid UTF-8
    messy.extend_from_slice(b"6,email,gisteren,inbound,Wanneer?\n"); // 6 bad timestamp
    messy.extend_from_slice(b"7,fax,,inbound,Per fax\n"); // 7 unknown channel
    messy.extend_from_slice(b"8,email,,sideways,Hmm\n"); // 8 unknown direction
    messy.extend_from_slice(b"1,chat,,outbound,Dubbel\n"); // 9 duplicate id
    messy.extend_from_slice(b"10,web,31-01-2024 12:00,out,Ook goed\n"); // 10 ok
    let csv = write(dir.path(), "messy.csv", &messy);
    let mut lines = b"{\"id\": \"j1\", \"text\": \"ok\"}\n[1, 2]\n{not json\n".to_vec();
    lines.extend_from_slice(b"{\"id\": \"j4\", \"text\": \"caf\xe9\"}\n");
    lines.extend_from_slice(b"{\"id\": \"1\", \"text\": \"weer id 1\"}\n");
    let jsonl = write(dir.path(), "messy.jsonl", &lines);

    let run = run(&[csv.clone(), jsonl], IngestOptions::default());
    assert_eq!(
        text_values(&run.interactions, schema::ID),
        ["1", "10", "j1"]
    );
    assert_eq!(timestamps(&run.interactions)[1], Some(JAN_31_NOON));
    let rejects = reject_list(&run.rejects);
    let expect = |row: u64, column: Option<&str>, reason: &str| {
        (row, column.map(str::to_string), reason.to_string())
    };
    let csv_name = csv.display().to_string();
    assert_eq!(
        rejects,
        [
            expect(2, Some("text"), "empty text"),
            expect(3, Some("text"), "empty text"),
            expect(4, None, "expected 5 fields, found 4"),
            expect(5, Some("text"), "invalid UTF-8 in column 'text'"),
            expect(6, Some("timestamp"), "unparseable timestamp 'gisteren'"),
            expect(
                7,
                Some("channel"),
                "unknown channel 'fax'; map it in [input.channels] or with --map channel:fax=<channel>"
            ),
            expect(
                8,
                Some("direction"),
                "unknown direction 'sideways'; map it in [input.directions] or with --map direction:sideways=<direction>"
            ),
            expect(9, Some("id"), &format!("duplicate id '1', first seen in {csv_name} row 1")),
            expect(2, None, "not a JSON object (found an array)"),
            expect(3, None, &rejects[9].2),
            expect(4, None, "invalid UTF-8"),
            expect(5, Some("id"), &format!("duplicate id '1', first seen in {csv_name} row 1")),
        ]
    );
    assert!(rejects[9].2.starts_with("invalid JSON"), "{}", rejects[9].2);
    // The raw record of a rejected row is kept as a JSON object.
    let records = text_values(&run.rejects, schema::REJECT_RECORD);
    for record in &records {
        let value: serde_json::Value = serde_json::from_str(record).unwrap();
        assert!(value.is_object(), "{record}");
    }
    let short_row: serde_json::Value = serde_json::from_str(&records[2]).unwrap();
    assert_eq!(short_row["direction"], "inbound");
    let bad_utf8: serde_json::Value = serde_json::from_str(&records[3]).unwrap();
    assert_eq!(bad_utf8["text"], "caf\u{fffd}");
    // rows in = interactions + rejects
    assert_eq!(run.rows_hint, Some(15));
    assert_eq!(run.rows_read, 15);
    assert_eq!(run.rows_rejected, 12);
    assert_eq!(
        run.interactions.num_rows() + run.rejects.num_rows(),
        run.rows_read as usize
    );
}

#[test]
fn over_long_text_is_rejected_unless_the_limit_is_raised() {
    let dir = tempfile::tempdir().unwrap();
    let long = "a".repeat(1_000_000);
    assert!(long.len() > DEFAULT_MAX_TEXT_BYTES);
    let file = write(dir.path(), "long.csv", format!("text\nkort\n{long}\n"));

    let strict = run(std::slice::from_ref(&file), IngestOptions::default());
    assert_eq!(strict.interactions.num_rows(), 1);
    let rejects = reject_list(&strict.rejects);
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0].0, 2);
    assert_eq!(rejects[0].1.as_deref(), Some("text"));
    assert!(rejects[0].2.contains("1000000 bytes"), "{}", rejects[0].2);

    let options = IngestOptions {
        max_text_bytes: 2_000_000,
        ..IngestOptions::default()
    };
    let relaxed = run(&[file], options);
    assert_eq!(relaxed.interactions.num_rows(), 2);
    assert_eq!(relaxed.rejects.num_rows(), 0);
}

#[test]
fn missing_text_column_names_file_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.csv", "text\nhallo\n");
    let bad = write(dir.path(), "bad.csv", "id,message\n1,hallo\n");
    let result = Interactions::open(vec![good, bad.clone()], IngestOptions::default());
    match result {
        Err(Error::Input { location, message }) => {
            assert_eq!(location.file, bad);
            assert_eq!(location.column.as_deref(), Some("text"));
            assert!(message.contains("text"), "{message}");
        }
        Err(other) => panic!("expected an input error, got {other}"),
        Ok(_) => panic!("expected an input error"),
    }
}

#[test]
fn undecodable_parquet_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let broken = write(dir.path(), "broken.parquet", "this is not parquet");
    match Interactions::open(vec![broken.clone()], IngestOptions::default()) {
        Err(Error::Input { location, .. }) => assert_eq!(location.file, broken),
        Err(other) => panic!("expected an input error, got {other}"),
        Ok(_) => panic!("expected an input error"),
    }
}

#[test]
fn batches_respect_batch_rows_and_stay_within_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = String::from("id,text\n");
    for row in 1..=25 {
        first.push_str(&format!("a{row},bericht {row}\n"));
    }
    first.push_str("a1,dubbel\n");
    let a = write(dir.path(), "a.csv", first);
    let b = write(
        dir.path(),
        "b.jsonl",
        "{\"id\": \"b1\", \"text\": \"x\"}\n{\"id\": \"b2\", \"text\": \"y\"}\n",
    );
    let options = IngestOptions {
        batch_rows: 10,
        ..IngestOptions::default()
    };
    let run = run(&[a.clone(), b.clone()], options);
    let sizes: Vec<(usize, usize)> = run
        .batches
        .iter()
        .map(|batch| (batch.interactions.num_rows(), batch.rejects.num_rows()))
        .collect();
    assert_eq!(sizes, [(10, 0), (10, 0), (5, 1), (2, 0)]);
    for batch in &run.batches {
        let mut files = text_values(&batch.interactions, schema::SOURCE_FILE);
        files.extend(text_values(&batch.rejects, schema::SOURCE_FILE));
        files.dedup();
        assert_eq!(files.len(), 1, "{files:?}");
    }
    assert_eq!(run.rows_read, 28);
}

#[test]
fn pass_through_columns_are_unified_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.jsonl",
        "{\"text\": \"x\", \"score\": 3, \"only_a\": 1}\n",
    );
    let b = write(dir.path(), "b.csv", "text,score,only_b\ny,hoog,z\n");
    let run = run(&[a, b], IngestOptions::default());
    let out = &run.interactions;
    let schema = out.schema();
    assert_eq!(
        schema.field_with_name("score").unwrap().data_type(),
        &DataType::Utf8
    );
    assert_eq!(
        schema.field_with_name("only_a").unwrap().data_type(),
        &DataType::Int64
    );
    assert_eq!(text_values(out, "score"), ["3", "hoog"]);
    let only_a = out
        .column_by_name("only_a")
        .unwrap()
        .as_primitive::<Int64Type>();
    assert_eq!(only_a.iter().collect::<Vec<_>>(), [Some(1), None]);
    assert_eq!(strings(out, "only_b"), [None, Some("z".to_string())]);
}

#[test]
fn jsonl_with_conflicting_nested_types_keeps_them_as_json_text() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "mixed.jsonl",
        "{\"text\": \"a\", \"meta\": {\"agent\": \"x\"}}\n{\"text\": \"b\", \"meta\": 5}\n",
    );
    let run = run(std::slice::from_ref(&file), IngestOptions::default());
    let out = &run.interactions;
    assert_eq!(
        out.schema().field_with_name("meta").unwrap().data_type(),
        &DataType::Utf8
    );
    assert_eq!(text_values(out, "meta"), ["{\"agent\":\"x\"}", "5"]);
}
