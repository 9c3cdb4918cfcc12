//! Classification metrics of predicted against gold labels, as `touchpoint eval` reports them.
//!
//! Contract: `Report::compute(gold, predicted, oos_label)` takes one gold and one predicted label per row.
//! A prediction of `unknown` (`schema::UNKNOWN_REASON`) is an abstention: it counts against coverage and
//! against the row's gold label's recall, and is never a class of its own. When `oos_label` is given, rows
//! whose gold label is that label are out of scope, and an abstention (or a prediction of the oos label) is
//! the right answer for them; `oos_precision` / `oos_recall` treat "abstained or predicted oos" as the
//! positive class. Definitions:
//! - `accuracy`: share of rows answered correctly (an abstention is correct only for an oos row);
//! - per label (every gold label, oos included): precision = correct / predicted as the label, recall =
//!   correct / support, F1 their harmonic mean, each 0 where undefined; `macro_f1` is the mean F1 over them;
//! - `coverage`: share of rows not abstained (and, with oos, not predicted as the oos label);
//! - `in_scope_accuracy`: accuracy over the rows whose gold label is not the oos label;
//! - `confused`: (gold, predicted) pairs with gold != predicted among answered rows, most frequent first.
//!
//! Empty input gives zeros, never NaN.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::schema;

/// How many confused pairs a report keeps.
pub const TOP_CONFUSED: usize = 10;

/// Precision, recall and F1 of one label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelScores {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Rows whose gold label this is.
    pub support: usize,
    /// Rows predicted as this label.
    pub predicted: usize,
}

/// A (gold, predicted) pair and how often it occurred.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confusion {
    pub gold: String,
    pub predicted: String,
    pub count: usize,
}

/// Out-of-scope detection figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OosScores {
    pub oos_label: String,
    pub in_scope_accuracy: f64,
    pub oos_precision: f64,
    pub oos_recall: f64,
    pub oos_support: usize,
}

/// Everything `eval` reports about one set of predictions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub n: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub coverage: f64,
    /// Per gold label, sorted by label.
    pub labels: Vec<LabelScores>,
    pub confused: Vec<Confusion>,
    #[serde(skip_serializing_if = "Option::is_none", flatten)]
    pub oos: Option<OosScores>,
}

impl Report {
    /// Metrics of `predicted` against `gold` (same length; extra rows of the longer one are ignored).
    pub fn compute<S: AsRef<str>, T: AsRef<str>>(
        gold: &[S],
        predicted: &[T],
        oos_label: Option<&str>,
    ) -> Report {
        let n = gold.len().min(predicted.len());
        let is_oos = |label: &str| oos_label == Some(label);
        // With an oos label, abstaining is predicting out of scope.
        let normalise = |p: &str| -> String {
            match oos_label {
                Some(oos) if p == schema::UNKNOWN_REASON => oos.to_string(),
                _ => p.to_string(),
            }
        };
        let mut support: BTreeMap<String, usize> = BTreeMap::new();
        let mut predicted_count: HashMap<String, usize> = HashMap::new();
        let mut correct_by_label: HashMap<String, usize> = HashMap::new();
        let mut confused: HashMap<(String, String), usize> = HashMap::new();
        let (mut correct, mut answered) = (0usize, 0usize);
        let (mut in_scope, mut in_scope_correct) = (0usize, 0usize);
        let (mut oos_gold, mut oos_predicted, mut oos_hit) = (0usize, 0usize, 0usize);
        for (g, p) in gold.iter().zip(predicted).take(n) {
            let g = g.as_ref();
            let p = normalise(p.as_ref());
            let abstained = p == schema::UNKNOWN_REASON || is_oos(&p);
            *support.entry(g.to_string()).or_default() += 1;
            if p != schema::UNKNOWN_REASON {
                *predicted_count.entry(p.clone()).or_default() += 1;
            }
            if !abstained {
                answered += 1;
            }
            let hit = g == p;
            if hit {
                correct += 1;
                *correct_by_label.entry(p.clone()).or_default() += 1;
            } else if p != schema::UNKNOWN_REASON {
                *confused.entry((g.to_string(), p.clone())).or_default() += 1;
            }
            if oos_label.is_some() {
                if is_oos(g) {
                    oos_gold += 1;
                } else {
                    in_scope += 1;
                    in_scope_correct += usize::from(hit);
                }
                if is_oos(&p) {
                    oos_predicted += 1;
                    oos_hit += usize::from(is_oos(g));
                }
            }
        }
        let labels: Vec<LabelScores> = support
            .iter()
            .map(|(label, &support)| {
                let tp = correct_by_label.get(label).copied().unwrap_or(0);
                let predicted = predicted_count.get(label).copied().unwrap_or(0);
                let precision = ratio(tp, predicted);
                let recall = ratio(tp, support);
                LabelScores {
                    label: label.clone(),
                    precision,
                    recall,
                    f1: harmonic_mean(precision, recall),
                    support,
                    predicted,
                }
            })
            .collect();
        let macro_f1 = if labels.is_empty() {
            0.0
        } else {
            labels.iter().map(|l| l.f1).sum::<f64>() / labels.len() as f64
        };
        let mut confused: Vec<Confusion> = confused
            .into_iter()
            .map(|((gold, predicted), count)| Confusion {
                gold,
                predicted,
                count,
            })
            .collect();
        // Ties in label order, so reports are stable between runs.
        confused.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.gold.cmp(&b.gold))
                .then_with(|| a.predicted.cmp(&b.predicted))
        });
        confused.truncate(TOP_CONFUSED);
        let oos = oos_label.map(|label| OosScores {
            oos_label: label.to_string(),
            in_scope_accuracy: ratio(in_scope_correct, in_scope),
            oos_precision: ratio(oos_hit, oos_predicted),
            oos_recall: ratio(oos_hit, oos_gold),
            oos_support: oos_gold,
        });
        Report {
            n,
            accuracy: ratio(correct, n),
            macro_f1,
            coverage: ratio(answered, n),
            labels,
            confused,
            oos,
        }
    }

    /// A plain-text report for the terminal.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "rows {}\naccuracy {:.4}\nmacro-F1 {:.4}\ncoverage {:.4}\n",
            self.n, self.accuracy, self.macro_f1, self.coverage
        );
        if let Some(oos) = &self.oos {
            out.push_str(&format!(
                "in-scope accuracy {:.4}\nout-of-scope ('{}', {} rows): precision {:.4}, recall {:.4}\n",
                oos.in_scope_accuracy, oos.oos_label, oos.oos_support, oos.oos_precision, oos.oos_recall
            ));
        }
        let width = self
            .labels
            .iter()
            .map(|l| l.label.chars().count())
            .max()
            .unwrap_or(5)
            .max(5);
        out.push_str(&format!(
            "\n{:width$}  precision  recall  f1      support\n",
            "label"
        ));
        for l in &self.labels {
            out.push_str(&format!(
                "{:width$}  {:<9.4}  {:<6.4}  {:<6.4}  {}\n",
                l.label, l.precision, l.recall, l.f1, l.support
            ));
        }
        if !self.confused.is_empty() {
            out.push_str("\nmost confused (gold -> predicted: rows)\n");
            for c in &self.confused {
                out.push_str(&format!("  {} -> {}: {}\n", c.gold, c.predicted, c.count));
            }
        }
        out
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn harmonic_mean(a: f64, b: f64) -> f64 {
    if a + b == 0.0 {
        0.0
    } else {
        2.0 * a * b / (a + b)
    }
}
