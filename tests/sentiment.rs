//! Sentiment with the built-in head (`models/sentiment-multiemo/`) on the default model:
//! - it reproduces the accuracy recorded in its provenance note on the held-out 20% of MultiEmo nl and en
//!   (the split `touchpoint split --fraction 0.8 --seed 42` makes), within one point;
//! - clear Dutch, English, German and French customer messages get the obvious polarity;
//! - `enrich` on the shipped chats writes per-turn sentiment, start, end and trend.

mod common;

use std::path::PathBuf;

use arrow_array::{Array, Float32Array, ListArray, StructArray};
use touchpoint::classify::evaluate::{evaluate, Classifier, EvalRequest};
use touchpoint::classify::labelled::LabelledColumns;
use touchpoint::classify::labelled::LabelledData;
use touchpoint::classify::sentiment::SentimentModel;
use touchpoint::classify::split::stratified_split;
use touchpoint::model::Precision;
use touchpoint::output::read_parquet;
use touchpoint::pipeline::runner::{enrich, EnrichOptions};
use touchpoint::schema;

use common::{default_encoder, root};

fn column<'a, T: 'static>(batch: &'a arrow_array::RecordBatch, name: &str) -> &'a T {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .unwrap_or_else(|| panic!("column {name}"))
}

/// The figures recorded in models/sentiment-multiemo/README.md, per language: (4-class, 3-class, binary).
fn recorded() -> Vec<(String, [f64; 3])> {
    let note = std::fs::read_to_string(root().join("models/sentiment-multiemo/README.md")).unwrap();
    // The note's table rows read `| nl | 4-class % | 3-class % | binary % |`.
    note.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let language = *cells.get(1)?;
            if !["nl", "en"].contains(&language) {
                return None;
            }
            let figure = |i: usize| -> Option<f64> {
                cells.get(i)?.trim_end_matches('%').trim().parse().ok()
            };
            Some((language.to_string(), [figure(2)?, figure(3)?, figure(4)?]))
        })
        .collect()
}

#[test]
fn the_shipped_head_reproduces_its_recorded_accuracy() {
    let recorded = recorded();
    assert_eq!(recorded.len(), 2, "the note records nl and en");
    let dir = tempfile::tempdir().unwrap();
    // The shipped head as a folder, for `eval --head`.
    let head_dir = root().join("models/sentiment-multiemo");
    for (language, [four, three, binary]) in recorded {
        let source = root().join(format!(
            "../shared/data/sentiment/multiemo/{language}/dev.csv"
        ));
        let data = LabelledData::read(&source, &LabelledColumns::default()).unwrap();
        let split = stratified_split(&data.labels, 0.8, 42);
        let test: PathBuf = dir.path().join(format!("{language}-test.csv"));
        let mut writer = String::from("text,label\n");
        for &i in &split.second {
            let text = data.texts[i].replace('"', "\"\"");
            writer.push_str(&format!("\"{text}\",{}\n", data.labels[i]));
        }
        std::fs::write(&test, writer).unwrap();
        let eval = |merge: Vec<(String, String)>, only: Vec<String>| {
            evaluate(&EvalRequest {
                data: test.clone(),
                columns: LabelledColumns::default(),
                classifier: Classifier::Head(head_dir.clone()),
                model: None,
                offline: false,
                precision: Some(Precision::F32),
                token_budget: 1024,
                cache_dir: Some(touchpoint::classify::cache::default_dir()),
                oos_label: None,
                merge,
                only,
            })
            .unwrap()
            .report
            .accuracy
                * 100.0
        };
        let got_four = eval(Vec::new(), Vec::new());
        let got_three = eval(vec![("ambivalent".into(), "neutral".into())], Vec::new());
        let got_binary = eval(Vec::new(), vec!["positive".into(), "negative".into()]);
        eprintln!(
            "{language}: 4-class {got_four:.2}, 3-class {got_three:.2}, binary {got_binary:.2}"
        );
        for (name, got, want) in [
            ("4-class", got_four, four),
            ("3-class", got_three, three),
            ("binary", got_binary, binary),
        ] {
            assert!(
                (got - want).abs() <= 1.0,
                "{language} {name}: {got:.2} vs recorded {want:.2}"
            );
        }
    }
}

#[test]
fn clear_messages_get_the_obvious_polarity() {
    let encoder = default_encoder();
    let model = SentimentModel::builtin().unwrap();
    let prefix = encoder.query_prefix().to_string();
    let negative = [
        "Dit is de derde keer dat mijn factuur niet klopt en niemand belt me terug. Ik ben het spuugzat.",
        "Your service is terrible, I have been waiting for two weeks and nobody helps me.",
        "Ich bin sehr verärgert, die Rechnung ist falsch und niemand antwortet.",
        "Je suis très déçu, personne ne répond et la facture est fausse.",
    ];
    let positive = [
        "Hartelijk dank, de monteur was snel en heel vriendelijk. Top geholpen!",
        "Thank you so much, the engineer was quick and very friendly. Great service!",
        "Vielen Dank, der Techniker war schnell und sehr freundlich. Super Service!",
        "Merci beaucoup, le technicien était rapide et très aimable. Excellent service !",
    ];
    let scores = model
        .score_texts(&encoder, &prefix, &negative, 1024)
        .unwrap();
    for (text, s) in negative.iter().zip(&scores) {
        assert_eq!(s.sentiment, "negative", "{text}: {s:?}");
        assert!(s.score < -0.3, "{text}: {s:?}");
    }
    let scores = model
        .score_texts(&encoder, &prefix, &positive, 1024)
        .unwrap();
    for (text, s) in positive.iter().zip(&scores) {
        assert_eq!(s.sentiment, "positive", "{text}: {s:?}");
        assert!(s.score > 0.3, "{text}: {s:?}");
    }
}

#[test]
fn enrich_writes_turn_sentiment_for_chats() {
    let out = tempfile::tempdir().unwrap();
    let mut options = EnrichOptions::new(
        vec![root()
            .join("testdata/chat/webchat.json")
            .display()
            .to_string()],
        root().join("pipelines/default.toml"),
        out.path().to_path_buf(),
    );
    options.format = touchpoint::ingest::InputFormat::Chat;
    enrich(&options).expect("enrich");
    let batches = read_parquet(&out.path().join("interactions.parquet")).unwrap();
    let batch = &batches[0];
    let sentiments = common::strings(&batches, schema::SENTIMENT);
    assert!(sentiments
        .iter()
        .all(|s| schema::SENTIMENTS.contains(&s.as_deref().unwrap())));
    let scores: &Float32Array = column(batch, schema::SENTIMENT_SCORE);
    assert!(scores.values().iter().all(|s| (-1.0..=1.0).contains(s)));
    let turns: &ListArray = column(batch, schema::CUSTOMER_TURN_SENTIMENT);
    let all_turns: &ListArray = column(batch, schema::TURNS);
    let starts = common::strings(&batches, schema::SENTIMENT_START);
    let trends = common::strings(&batches, schema::SENTIMENT_TREND);
    for row in 0..batch.num_rows() {
        // One entry per customer turn, pointing at a customer turn of `turns`.
        let scored = turns.value(row);
        let scored = scored.as_any().downcast_ref::<StructArray>().unwrap();
        let conversation = all_turns.value(row);
        let conversation = conversation.as_any().downcast_ref::<StructArray>().unwrap();
        let roles = conversation
            .column_by_name(schema::TURN_ROLE)
            .and_then(|c| c.as_any().downcast_ref::<arrow_array::StringArray>())
            .unwrap();
        let customer_turns = (0..roles.len())
            .filter(|&i| roles.value(i) == "customer")
            .count();
        assert_eq!(scored.len(), customer_turns, "row {row}");
        let index = scored
            .column_by_name(schema::TURN_INDEX)
            .and_then(|c| c.as_any().downcast_ref::<arrow_array::UInt32Array>())
            .unwrap();
        for i in 0..index.len() {
            assert_eq!(roles.value(index.value(i) as usize), "customer");
        }
        assert!(starts[row].is_some());
        if customer_turns >= 2 {
            assert!(schema::TRENDS.contains(&trends[row].as_deref().unwrap()));
        }
    }
}
