//! `metrics::Report` against figures computed by hand on tiny examples.

use touchpoint::classify::evaluate::category_report;
use touchpoint::classify::metrics::{Confusion, Report};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn figures_match_hand_computed_values() {
    // gold:      a a a b b c
    // predicted: a a b b unknown a
    let gold = ["a", "a", "a", "b", "b", "c"];
    let predicted = ["a", "a", "b", "b", "unknown", "a"];
    let r = Report::compute(&gold, &predicted, None);
    assert_eq!(r.n, 6);
    // Correct: rows 0, 1, 3.
    assert!(close(r.accuracy, 3.0 / 6.0));
    // Answered: every row but row 4.
    assert!(close(r.coverage, 5.0 / 6.0));
    let a = &r.labels[0];
    let b = &r.labels[1];
    let c = &r.labels[2];
    assert_eq!(
        (a.label.as_str(), b.label.as_str(), c.label.as_str()),
        ("a", "b", "c")
    );
    // a: predicted 3 times (rows 0, 1, 5), 2 right; support 3.
    assert!(close(a.precision, 2.0 / 3.0) && close(a.recall, 2.0 / 3.0));
    assert!(close(a.f1, 2.0 / 3.0));
    assert_eq!((a.support, a.predicted), (3, 3));
    // b: predicted twice (rows 2, 3), 1 right; support 2 (row 4 abstained).
    assert!(close(b.precision, 0.5) && close(b.recall, 0.5) && close(b.f1, 0.5));
    // c: never predicted.
    assert!(close(c.precision, 0.0) && close(c.recall, 0.0) && close(c.f1, 0.0));
    assert!(close(r.macro_f1, (2.0 / 3.0 + 0.5 + 0.0) / 3.0));
    // Abstentions are not confusions; ties in label order.
    assert_eq!(
        r.confused,
        vec![
            Confusion {
                gold: "a".into(),
                predicted: "b".into(),
                count: 1
            },
            Confusion {
                gold: "c".into(),
                predicted: "a".into(),
                count: 1
            },
        ]
    );
    assert!(r.oos.is_none());
}

#[test]
fn out_of_scope_figures_match_hand_computed_values() {
    // Two oos rows: one abstained (caught), one answered "a" (missed). One in-scope row abstained.
    let gold = ["a", "a", "b", "oos", "oos"];
    let predicted = ["a", "unknown", "b", "unknown", "a"];
    let r = Report::compute(&gold, &predicted, Some("oos"));
    let oos = r.oos.as_ref().unwrap();
    // Correct: row 0, row 2, row 3 (abstaining on oos is right).
    assert!(close(r.accuracy, 3.0 / 5.0));
    // In scope: rows 0-2, of which 0 and 2 are right.
    assert!(close(oos.in_scope_accuracy, 2.0 / 3.0));
    // Predicted oos (abstained): rows 1 and 3; only row 3 is oos.
    assert!(close(oos.oos_precision, 0.5));
    assert!(close(oos.oos_recall, 0.5));
    assert_eq!(oos.oos_support, 2);
    // Answered: rows 0, 2, 4.
    assert!(close(r.coverage, 3.0 / 5.0));
    let json = serde_json::to_value(&r).unwrap();
    for key in [
        "accuracy",
        "macro_f1",
        "coverage",
        "n",
        "in_scope_accuracy",
        "oos_recall",
        "oos_precision",
    ] {
        assert!(json.get(key).is_some(), "{key} missing from {json}");
    }
}

#[test]
fn empty_input_gives_zeros_not_nan() {
    let r = Report::compute::<&str, &str>(&[], &[], Some("oos"));
    assert_eq!(r.n, 0);
    assert_eq!((r.accuracy, r.macro_f1, r.coverage), (0.0, 0.0, 0.0));
    assert!(r.labels.is_empty());
}

#[test]
fn categories_roll_labels_up() {
    let gold: Vec<String> = ["refund", "refund", "track", "cancel"]
        .map(String::from)
        .to_vec();
    let categories: Vec<String> = ["MONEY", "MONEY", "ORDER", "ORDER"]
        .map(String::from)
        .to_vec();
    // "track" predicted as "cancel": wrong label, right category.
    let predicted: Vec<String> = ["refund", "unknown", "cancel", "refund"]
        .map(String::from)
        .to_vec();
    let r = category_report(&gold, &categories, &predicted);
    // Rows 0 and 2 right at category level.
    assert!(close(r.accuracy, 0.5));
    assert!(close(r.coverage, 0.75));
}
