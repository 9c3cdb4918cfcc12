//! The output module: Parquet files written with the intended properties, staged, and committed atomically.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::basic::{Compression, Encoding};
use parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData};
use parquet::file::reader::{FileReader, SerializedFileReader};
use touchpoint::output::{commit, file_metadata, read_parquet, ParquetSink, MAX_ROW_GROUP_ROWS};
use touchpoint::schema;

fn interaction_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(schema::ID, DataType::Utf8, false),
        Field::new(schema::CHANNEL, DataType::Utf8, true),
        Field::new(schema::TEXT, DataType::Utf8, false),
        Field::new(schema::SOURCE_ROW, DataType::UInt64, false),
    ]))
}

/// `rows` interactions starting at row `first`: unique ids and texts, channels from a handful of values.
fn interactions(first: u64, rows: u64) -> RecordBatch {
    let range = first..first + rows;
    let ids: StringArray = range.clone().map(|r| Some(format!("msg-{r:08}"))).collect();
    let channels: StringArray = range
        .clone()
        .map(|r| (r % 7 != 0).then(|| schema::CHANNELS[(r % 3) as usize]))
        .collect();
    let texts: StringArray = range
        .clone()
        .map(|r| {
            Some(format!(
                "Mijn factuur {r} klopt niet, ik heb {} euro te veel betaald.",
                r * 13 % 997
            ))
        })
        .collect();
    let source_rows: UInt64Array = range.map(|r| r + 1).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(ids),
        Arc::new(channels),
        Arc::new(texts),
        Arc::new(source_rows),
    ];
    RecordBatch::try_new(interaction_schema(), columns).expect("test batch matches its schema")
}

fn run_metadata() -> Vec<(String, String)> {
    vec![
        (
            "touchpoint.version".to_string(),
            touchpoint::VERSION.to_string(),
        ),
        (
            "touchpoint.model_sha256".to_string(),
            "ab12cd34".to_string(),
        ),
        ("touchpoint.pipeline_hash".to_string(), "0f0f0f".to_string()),
    ]
}

fn write_file(path: &Path, batches: &[RecordBatch]) -> PathBuf {
    let mut sink =
        ParquetSink::create(path, interaction_schema(), run_metadata()).expect("create sink");
    for batch in batches {
        sink.write(batch).expect("write batch");
    }
    let staged = sink.finish().expect("finish");
    let committed = commit(vec![staged], &[]).expect("commit");
    assert_eq!(committed, vec![path.to_path_buf()]);
    path.to_path_buf()
}

fn footer(path: &Path) -> ParquetMetaData {
    let reader =
        SerializedFileReader::new(File::open(path).expect("open")).expect("parquet footer");
    reader.metadata().clone()
}

fn column<'a>(
    metadata: &'a ParquetMetaData,
    row_group: usize,
    name: &str,
) -> &'a ColumnChunkMetaData {
    metadata.row_groups()[row_group]
        .columns()
        .iter()
        .find(|c| c.column_path().string() == name)
        .expect("column in row group")
}

fn file_names(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(folder)
        .expect("read folder")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn written_file_reads_back_identically_with_its_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let batches = [
        interactions(0, 100),
        interactions(100, 250),
        interactions(350, 1),
    ];
    let path = write_file(&dir.path().join("interactions.parquet"), &batches);

    let read = read_parquet(&path).unwrap();
    let expected = arrow_select::concat::concat_batches(&interaction_schema(), &batches).unwrap();
    let actual = arrow_select::concat::concat_batches(&interaction_schema(), &read).unwrap();
    assert_eq!(actual, expected);

    let metadata = file_metadata(&path).unwrap();
    assert_eq!(
        metadata,
        run_metadata(),
        "caller's metadata, and only it, in the footer"
    );
    let created_by = footer(&path)
        .file_metadata()
        .created_by()
        .map(str::to_string);
    assert_eq!(
        created_by,
        Some(format!("touchpoint {}", touchpoint::VERSION))
    );
}

#[test]
fn low_cardinality_columns_are_dictionary_encoded_and_text_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        &dir.path().join("interactions.parquet"),
        &[interactions(0, 5_000)],
    );
    let metadata = footer(&path);

    let channel = column(&metadata, 0, schema::CHANNEL);
    assert!(channel.dictionary_page_offset().is_some());
    assert!(channel.encodings().any(|e| e == Encoding::RLE_DICTIONARY));

    for high_cardinality in [schema::ID, schema::TEXT] {
        let chunk = column(&metadata, 0, high_cardinality);
        assert_eq!(chunk.dictionary_page_offset(), None, "{high_cardinality}");
        assert!(
            chunk
                .encodings()
                .all(|e| e != Encoding::RLE_DICTIONARY && e != Encoding::PLAIN_DICTIONARY),
            "{high_cardinality}"
        );
    }
}

#[test]
fn every_column_is_zstd_compressed_with_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        &dir.path().join("interactions.parquet"),
        &[interactions(0, 1_000)],
    );
    let metadata = footer(&path);
    for chunk in metadata.row_groups()[0].columns() {
        assert!(
            matches!(chunk.compression(), Compression::ZSTD(_)),
            "{:?}",
            chunk.column_path()
        );
        assert!(chunk.statistics().is_some(), "{:?}", chunk.column_path());
    }
    let source_row = column(&metadata, 0, schema::SOURCE_ROW)
        .statistics()
        .unwrap();
    assert_eq!(source_row.min_bytes_opt(), Some(&1u64.to_le_bytes()[..]));
    assert_eq!(
        source_row.max_bytes_opt(),
        Some(&1_000u64.to_le_bytes()[..])
    );
}

#[test]
fn nothing_is_visible_under_the_final_name_before_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("interactions.parquet");
    let mut sink = ParquetSink::create(&path, interaction_schema(), run_metadata()).unwrap();
    sink.write(&interactions(0, 10)).unwrap();
    assert_eq!(sink.rows(), 10);
    assert!(!path.exists());

    let staged = sink.finish().unwrap();
    assert!(!path.exists());
    assert_eq!(staged.rows(), 10);
    assert_eq!(staged.final_path(), path);
    let temp = staged.temp_path().to_path_buf();
    assert_eq!(temp.parent(), path.parent(), "staged beside its final path");
    assert!(temp.exists());

    commit(vec![staged], &[]).unwrap();
    assert!(path.exists());
    assert!(!temp.exists());
    assert_eq!(file_names(dir.path()), vec!["interactions.parquet"]);
}

#[test]
fn temporary_file_is_removed_when_dropped_without_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("interactions.parquet");

    let mut sink = ParquetSink::create(&path, interaction_schema(), run_metadata()).unwrap();
    sink.write(&interactions(0, 10)).unwrap();
    let staged = sink.finish().unwrap();
    let temp = staged.temp_path().to_path_buf();
    assert!(temp.exists());
    drop(staged);
    assert!(!temp.exists());

    let mut unfinished = ParquetSink::create(&path, interaction_schema(), run_metadata()).unwrap();
    unfinished.write(&interactions(0, 10)).unwrap();
    drop(unfinished);

    assert!(
        file_names(dir.path()).is_empty(),
        "{:?}",
        file_names(dir.path())
    );
}

#[test]
fn rerun_replaces_the_file_and_removes_stale_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("interactions.parquet");
    let rejects = dir.path().join("rejects.parquet");
    write_file(&output, &[interactions(0, 30)]);
    write_file(&rejects, &[interactions(30, 2)]);

    let mut sink = ParquetSink::create(&output, interaction_schema(), run_metadata()).unwrap();
    sink.write(&interactions(100, 5)).unwrap();
    let staged = sink.finish().unwrap();
    // The file being written is listed as stale too: it must survive, only the other one goes.
    let committed = commit(vec![staged], &[rejects.clone(), output.clone()]).unwrap();

    assert_eq!(committed, vec![output.clone()]);
    assert_eq!(file_names(dir.path()), vec!["interactions.parquet"]);
    let read = read_parquet(&output).unwrap();
    let ids: Vec<&str> = read
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .iter()
                .flatten()
        })
        .collect();
    assert_eq!(
        ids,
        [
            "msg-00000100",
            "msg-00000101",
            "msg-00000102",
            "msg-00000103",
            "msg-00000104"
        ]
    );

    // A stale path that does not exist is not an error.
    commit(vec![], &[rejects]).unwrap();
}

#[test]
fn large_input_is_split_into_bounded_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("interactions.parquet");
    let total = 3 * MAX_ROW_GROUP_ROWS as u64 + 123;
    let mut sink = ParquetSink::create(&path, interaction_schema(), run_metadata()).unwrap();
    // Batches that do not line up with row group boundaries.
    let mut first = 0;
    while first < total {
        let rows = 40_000.min(total - first);
        sink.write(&interactions(first, rows)).unwrap();
        first += rows;
    }
    assert_eq!(sink.rows(), total);
    commit(vec![sink.finish().unwrap()], &[]).unwrap();

    let metadata = footer(&path);
    assert_eq!(metadata.num_row_groups(), 4);
    for row_group in metadata.row_groups() {
        assert!(row_group.num_rows() as usize <= MAX_ROW_GROUP_ROWS);
    }
    let rows: i64 = metadata.row_groups().iter().map(|g| g.num_rows()).sum();
    assert_eq!(rows as u64, total);
}

#[test]
fn missing_output_folder_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join("nightly")
        .join("2024-05-01")
        .join("interactions.parquet");
    write_file(&path, &[interactions(0, 3)]);
    assert_eq!(read_parquet(&path).unwrap()[0].num_rows(), 3);
}

#[test]
fn batch_with_another_schema_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("interactions.parquet");
    let mut sink = ParquetSink::create(&path, interaction_schema(), run_metadata()).unwrap();
    let other = RecordBatch::try_from_iter([(
        "something_else",
        Arc::new(StringArray::from(vec!["x"])) as ArrayRef,
    )])
    .unwrap();
    let error = sink.write(&other).unwrap_err();
    assert!(
        error.to_string().contains("interactions.parquet"),
        "{error}"
    );
}

#[test]
fn row_groups_are_bounded_in_bytes_as_well_as_rows() {
    let properties =
        touchpoint::output::writer_properties(&interaction_schema(), run_metadata()).unwrap();
    assert_eq!(
        properties.max_row_group_row_count(),
        Some(MAX_ROW_GROUP_ROWS)
    );
    assert_eq!(
        properties.max_row_group_bytes(),
        Some(touchpoint::output::MAX_ROW_GROUP_BYTES)
    );
}
