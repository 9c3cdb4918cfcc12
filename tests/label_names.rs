//! Zero-shot from label names on the real default model and real Banking77 queries (all 77 intents, a few
//! queries each): adapting the label centres to the unlabelled texts beats comparing each text with the bare
//! phrases once, and both are far above chance.

mod common;

use std::collections::BTreeMap;

use common::banking77::{banking77, eval_request, write_csv};
use touchpoint::classify::evaluate::{evaluate, Classifier};
use touchpoint::classify::label_names::DEFAULT_TEMPLATE;

const PER_LABEL: usize = 16;

#[test]
fn adapting_to_the_texts_beats_the_bare_label_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut by_label: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (text, label) in banking77() {
        by_label.entry(label).or_default().push(text);
    }
    // The last queries of each intent: the other tests train on the first ones.
    let rows: Vec<(String, String)> = by_label
        .iter()
        .flat_map(|(label, texts)| {
            texts
                .iter()
                .rev()
                .take(PER_LABEL)
                .map(move |t| (t.clone(), label.clone()))
        })
        .collect();
    assert_eq!(rows.len(), 77 * PER_LABEL);
    let data = dir.path().join("test.csv");
    write_csv(&data, &rows);
    let cache = dir.path().join("cache");

    let eval = |adapt: bool| {
        let classifier = Classifier::LabelNames {
            template: DEFAULT_TEMPLATE.to_string(),
            adapt,
        };
        evaluate(&eval_request(data.clone(), classifier, cache.clone()))
            .unwrap()
            .report
    };
    let adapted = eval(true);
    let plain = eval(false);
    eprintln!(
        "label names: adapted accuracy {:.3} (macro-F1 {:.3}), plain {:.3} (macro-F1 {:.3})",
        adapted.accuracy, adapted.macro_f1, plain.accuracy, plain.macro_f1
    );
    assert_eq!(adapted.n, rows.len());
    assert_eq!(adapted.coverage, 1.0);
    // Chance is 1.3 %.
    assert!(plain.accuracy > 0.4, "plain {:.3}", plain.accuracy);
    assert!(
        adapted.accuracy > plain.accuracy + 0.02,
        "adapted {:.3} vs plain {:.3}",
        adapted.accuracy,
        plain.accuracy
    );
}
