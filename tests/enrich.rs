//! `enrich` end to end on the real default model: the shipped sample, the rejects path, atomic output.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use arrow_array::{Array, ListArray, RecordBatch, StructArray};
use touchpoint::output::{file_metadata, read_parquet};
use touchpoint::pipeline::runner::{enrich, EnrichOptions};
use touchpoint::schema;

mod common;
use common::{root, rows, strings};

fn options(inputs: &[&Path], out: &Path) -> EnrichOptions {
    EnrichOptions::new(
        inputs.iter().map(|p| p.display().to_string()).collect(),
        root().join("pipelines/default.toml"),
        out.to_path_buf(),
    )
}

#[test]
fn enriches_the_shipped_sample() {
    let out = tempfile::tempdir().unwrap();
    let input = root().join("testdata/interactions.csv");
    let summary = enrich(&options(&[&input], out.path())).expect("enrich");
    assert_eq!(summary.rows_rejected, 0);
    assert!(!out.path().join("rejects.parquet").exists());

    let batches = read_parquet(&out.path().join("interactions.parquet")).unwrap();
    assert_eq!(rows(&batches) as u64, summary.rows_written);
    let schema = batches[0].schema();
    for column in schema::CANONICAL.iter().chain(&[
        "label",
        schema::LANGUAGE,
        schema::CONTACT_REASON,
        schema::CONTACT_REASON_SCORE,
        schema::CONTACT_REASON_TOP3,
        schema::LIFECYCLE_PHASE,
        schema::N_CHUNKS,
        schema::SENTIMENT,
        schema::SENTIMENT_SCORE,
        schema::CUSTOMER_TURN_SENTIMENT,
        schema::SENTIMENT_TREND,
    ]) {
        assert!(
            schema.column_with_name(column).is_some(),
            "missing column {column}"
        );
    }

    // Every row has a sentiment from the built-in head.
    let sentiments = strings(&batches, schema::SENTIMENT);
    assert!(sentiments
        .iter()
        .all(|s| schema::SENTIMENTS.contains(&s.as_deref().unwrap())));

    // Every reason is a pipeline reason or unknown; the phase follows from the reason.
    let pipeline =
        touchpoint::pipeline::Pipeline::load(&root().join("pipelines/default.toml")).unwrap();
    let reasons = strings(&batches, schema::CONTACT_REASON);
    let phases = strings(&batches, schema::LIFECYCLE_PHASE);
    for (reason, phase) in reasons.iter().zip(&phases) {
        let reason = reason.as_deref().unwrap();
        match pipeline.phase_of(reason) {
            Some(p) => assert_eq!(phase.as_deref(), Some(p)),
            None => assert!(
                reason == schema::UNKNOWN_REASON && phase.is_none(),
                "{reason}"
            ),
        }
    }

    // top-3 is ranked and starts with the best reason's score.
    let top = batches[0]
        .column_by_name(schema::CONTACT_REASON_TOP3)
        .unwrap();
    let top = top.as_any().downcast_ref::<ListArray>().unwrap();
    let first = top.value(0);
    let first = first.as_any().downcast_ref::<StructArray>().unwrap();
    assert_eq!(first.len(), 3);

    // Mostly Dutch, with English too.
    let languages = strings(&batches, schema::LANGUAGE);
    let dutch = languages
        .iter()
        .filter(|l| l.as_deref() == Some("nl"))
        .count();
    let english = languages
        .iter()
        .filter(|l| l.as_deref() == Some("en"))
        .count();
    assert!(
        dutch > rows(&batches) / 2 && english > 10,
        "nl {dutch}, en {english}"
    );

    // The sample's labels double as a smoke test of zero-shot accuracy on inbound messages.
    let labels = strings(&batches, "label");
    let directions = strings(&batches, schema::DIRECTION);
    let inbound: Vec<usize> = (0..labels.len())
        .filter(|&i| directions[i].as_deref() == Some("inbound"))
        .collect();
    let correct = inbound.iter().filter(|&&i| labels[i] == reasons[i]).count();
    let accuracy = correct as f64 / inbound.len() as f64;
    eprintln!(
        "zero-shot accuracy on the sample's inbound rows: {accuracy:.3} ({correct}/{})",
        inbound.len()
    );
    assert!(accuracy >= 0.5, "accuracy {accuracy}");

    let metadata: std::collections::HashMap<String, String> =
        file_metadata(&out.path().join("interactions.parquet"))
            .unwrap()
            .into_iter()
            .collect();
    assert_eq!(metadata["touchpoint.model"], "multilingual-e5-small");
    assert_eq!(
        metadata["touchpoint.model_sha256"],
        "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
    );
    assert_eq!(metadata["touchpoint.pipeline_sha256"], pipeline.hash);
    assert_eq!(metadata["touchpoint.model_precision"], "f32");
    assert!(
        metadata.contains_key("touchpoint.version")
            && metadata.contains_key("touchpoint.run_started")
    );
}

/// `precision = "int8"` in the pipeline runs the encoder on 8-bit integer products: the same rows come out, with
/// the same contact reasons and sentiments but for the odd borderline row, and the file says how it was made.
#[test]
fn an_int8_pipeline_agrees_with_f32_on_the_sample() {
    let input = root().join("testdata/interactions.csv");
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(root().join("pipelines/default.toml")).unwrap();
    assert!(text.contains("max_tokens = 512\n"));
    let int8_pipeline = dir.path().join("int8.toml");
    fs::write(
        &int8_pipeline,
        text.replace(
            "max_tokens = 512\n",
            "max_tokens = 512\nprecision = \"int8\"\n",
        ),
    )
    .unwrap();
    let run = |pipeline: &Path, out: &Path| {
        let mut options = options(&[&input], out);
        options.pipeline = pipeline.to_path_buf();
        enrich(&options).expect("enrich");
        read_parquet(&out.join("interactions.parquet")).unwrap()
    };
    let f32_out = dir.path().join("f32");
    let int8_out = dir.path().join("int8");
    let reference = run(&root().join("pipelines/default.toml"), &f32_out);
    let int8 = run(&int8_pipeline, &int8_out);
    assert_eq!(rows(&int8), rows(&reference));
    for column in [schema::CONTACT_REASON, schema::SENTIMENT] {
        let (a, b) = (strings(&reference, column), strings(&int8, column));
        let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
        eprintln!(
            "{column}: int8 agrees with f32 on {same} of {} rows",
            a.len()
        );
        assert!(
            same as f64 >= 0.9 * a.len() as f64,
            "{column}: {same} of {}",
            a.len()
        );
    }
    let metadata: std::collections::HashMap<String, String> =
        file_metadata(&int8_out.join("interactions.parquet"))
            .unwrap()
            .into_iter()
            .collect();
    assert_eq!(metadata["touchpoint.model_precision"], "int8");
}

#[test]
fn every_row_is_written_or_rejected_and_reruns_stay_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let messy = dir.path().join("messy.csv");
    let mut csv = String::from("id,customer_id,channel,timestamp,direction,text,note\n");
    csv.push_str(
        "a1,C1,email,2026-10-01T09:00:00+02:00,inbound,Ik wil mijn meterstand doorgeven,x\n",
    );
    csv.push_str(
        "a2,C1,fax,2026-10-01T09:00:00+02:00,inbound,Mijn factuur klopt niet,unknown channel\n",
    );
    csv.push_str("a3,C2,chat,yesterday,inbound,Hoe betaal ik mijn rekening?,bad timestamp\n");
    csv.push_str("a4,C2,chat,2026-10-02T10:00:00Z,inbound,   ,blank text\n");
    csv.push_str(
        "a1,C3,voice,2026-10-03T11:00:00Z,inbound,I am moving house next month,duplicate id\n",
    );
    csv.push_str(&format!(
        "a6,C3,email,2026-10-03T11:00:00Z,inbound,{},too long\n",
        "lang ".repeat(300_000)
    ));
    csv.push_str(
        "a7,C4,e-mail,2026-10-04,outbound,We hebben uw opzegging ontvangen,synonym channel\n",
    );
    let mut bytes = csv.into_bytes();
    bytes.extend_from_slice(
        b"a8,C5,chat,2026-10-05,inbound,Ik wil opzeggen \xff\xfe,invalid utf-8\n",
    );
    fs::write(&messy, bytes).unwrap();

    let out = dir.path().join("out");
    let summary = enrich(&options(&[&messy], &out)).expect("enrich");
    let written = read_parquet(&out.join("interactions.parquet")).unwrap();
    let rejected = read_parquet(&out.join("rejects.parquet")).unwrap();
    assert_eq!(rows(&written), 2);
    assert_eq!(rows(&rejected), 6);
    assert_eq!(summary.rows_written + summary.rows_rejected, 8);
    let ids: HashSet<String> = strings(&written, schema::ID)
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(ids, HashSet::from(["a1".to_string(), "a7".to_string()]));
    let columns = strings(&rejected, schema::REJECT_COLUMN);
    for expected in ["channel", "timestamp", "text", "id"] {
        assert!(
            columns.iter().any(|c| c.as_deref() == Some(expected)),
            "no reject on {expected}: {columns:?}"
        );
    }

    // A re-run on clean input into the same folder removes the earlier rejects file.
    let clean = dir.path().join("clean.csv");
    fs::write(&clean, "text\nIk wil mijn contract opzeggen\n").unwrap();
    enrich(&options(&[&clean], &out)).expect("rerun");
    assert!(!out.join("rejects.parquet").exists());
    assert_eq!(
        rows(&read_parquet(&out.join("interactions.parquet")).unwrap()),
        1
    );
}

#[test]
fn a_failed_run_leaves_the_previous_output_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    fs::write(&input, "text\nMijn slimme meter geeft geen standen door\n").unwrap();
    let out = dir.path().join("out");
    enrich(&options(&[&input], &out)).expect("first run");
    let before = fs::read(out.join("interactions.parquet")).unwrap();
    let names = |folder: &Path| {
        let mut names: Vec<_> = fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let files_before = names(&out);

    // The model cannot be found: the run fails after reading the input, before anything is committed.
    let mut failing = options(&[&input], &out);
    failing.model = Some(dir.path().join("no-such-model").display().to_string());
    failing.offline = true;
    let err = enrich(&failing).unwrap_err();
    assert_eq!(err.exit_code(), 4, "{err}");
    assert_eq!(fs::read(out.join("interactions.parquet")).unwrap(), before);
    // No temporary file left behind, nothing removed.
    assert_eq!(names(&out), files_before);
}

#[test]
fn a_missing_text_column_names_the_file_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("no_text.csv");
    fs::write(&input, "id,body\n1,hallo\n").unwrap();
    let err = enrich(&options(&[&input], &dir.path().join("out"))).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("no_text.csv") && message.contains("text"),
        "{message}"
    );
    assert_eq!(err.exit_code(), 3);
    assert!(!dir.path().join("out/interactions.parquet").exists());
}

#[test]
fn personal_data_is_redacted_in_the_output_but_classified_from_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pii.csv");
    fs::write(
        &input,
        "id,text,note\n\
         p1,\"Graag mijn incasso omzetten naar NL91 ABNA 0417 1643 00, mail me op jan.jansen@example.nl\",bel 06-12345678\n\
         p2,Wanneer komt mijn jaarafrekening?,geen\n",
    )
    .unwrap();
    let redacted_out = dir.path().join("redacted");
    enrich(&options(&[&input], &redacted_out)).expect("redacted run");
    let mut plain = options(&[&input], &dir.path().join("plain"));
    plain.redact = false;
    enrich(&plain).expect("plain run");

    let redacted = read_parquet(&redacted_out.join("interactions.parquet")).unwrap();
    let original = read_parquet(&dir.path().join("plain/interactions.parquet")).unwrap();
    let texts = strings(&redacted, schema::TEXT);
    assert_eq!(
        texts[0].as_deref(),
        Some("Graag mijn incasso omzetten naar [IBAN], mail me op [EMAIL]")
    );
    assert_eq!(
        strings(&redacted, "note")[0].as_deref(),
        Some("bel [PHONE]")
    );
    assert_eq!(
        texts[1].as_deref(),
        Some("Wanneer komt mijn jaarafrekening?")
    );
    let counts = redacted[0].column_by_name(schema::REDACTIONS).unwrap();
    let counts = counts.as_any().downcast_ref::<StructArray>().unwrap();
    let count = |kind: &str, row: usize| {
        let c = counts.column_by_name(kind).unwrap();
        c.as_any()
            .downcast_ref::<arrow_array::UInt32Array>()
            .unwrap()
            .value(row)
    };
    assert_eq!(
        (count("iban", 0), count("email", 0), count("phone", 0)),
        (1, 1, 1)
    );
    assert_eq!(count("iban", 1) + count("email", 1) + count("phone", 1), 0);

    // The unredacted run writes the original text and no counts; the classification is the same in both.
    assert!(strings(&original, schema::TEXT)[0]
        .as_deref()
        .unwrap()
        .contains("NL91 ABNA"));
    assert!(original[0].column_by_name(schema::REDACTIONS).is_none());
    assert_eq!(
        strings(&redacted, schema::CONTACT_REASON),
        strings(&original, schema::CONTACT_REASON)
    );
    let score = |b: &[RecordBatch]| {
        let s = b[0].column_by_name(schema::CONTACT_REASON_SCORE).unwrap();
        s.as_any()
            .downcast_ref::<arrow_array::Float32Array>()
            .unwrap()
            .values()
            .to_vec()
    };
    assert_eq!(score(&redacted), score(&original));
}
