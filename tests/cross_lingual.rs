//! Across languages, on the real default model: a head trained on English Bitext queries answers the Dutch
//! queries of `testdata/intent/bitext_nl.csv` far better when training also takes in the multilingual example
//! utterances of `pipelines/webshop.toml`, whose contact reasons are the same 27 intents.

mod common;

use std::collections::BTreeMap;

use common::banking77::{eval_request, train_request, write_csv};
use common::root;
use touchpoint::classify::evaluate::{evaluate, Classifier};
use touchpoint::classify::train::train;

/// English queries per intent: enough for a good English head, few enough to embed quickly.
const ENGLISH_PER_LABEL: usize = 20;

#[test]
fn pipeline_examples_carry_an_english_head_into_dutch() {
    let dir = tempfile::tempdir().unwrap();
    let path = root().join("../shared/data/intent/bitext/dev.csv");
    let mut reader =
        csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut by_label: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for record in reader.records() {
        let record = record.unwrap();
        let texts = by_label.entry(record[1].to_string()).or_default();
        if texts.len() < ENGLISH_PER_LABEL {
            texts.push(record[0].to_string());
        }
    }
    assert_eq!(by_label.len(), 27);
    let rows: Vec<(String, String)> = by_label
        .iter()
        .flat_map(|(label, texts)| texts.iter().map(move |t| (t.clone(), label.clone())))
        .collect();
    let english = dir.path().join("english.csv");
    write_csv(&english, &rows);
    let cache = dir.path().join("cache");
    let dutch = root().join("testdata/intent/bitext_nl.csv");

    let score = |name: &str, pipeline: Option<&str>| {
        let out = dir.path().join(name);
        let mut request = train_request(english.clone(), out.clone(), cache.clone());
        request.pipeline = pipeline.map(|p| root().join(p));
        train(&request).unwrap();
        evaluate(&eval_request(
            dutch.clone(),
            Classifier::Head(out),
            cache.clone(),
        ))
        .unwrap()
        .report
    };
    let english_only = score("english-only", None);
    let with_anchors = score("with-anchors", Some("pipelines/webshop.toml"));
    eprintln!(
        "Dutch accuracy of an English head: {:.3} alone, {:.3} with the pipeline's examples",
        english_only.accuracy, with_anchors.accuracy
    );
    assert_eq!(with_anchors.n, 162);
    assert!(
        with_anchors.accuracy >= 0.85,
        "with anchors {:.3}",
        with_anchors.accuracy
    );
    assert!(
        with_anchors.accuracy > english_only.accuracy + 0.1,
        "with anchors {:.3} vs English only {:.3}",
        with_anchors.accuracy,
        english_only.accuracy
    );
}
