//! Reproducible stratified splits of labelled rows.
//!
//! Contract: `stratified_split(labels, fraction, seed)` puts about `fraction` of each label's rows in the
//! first part and the rest in the second, each part in input order. The same labels, fraction and seed
//! always give the same split, on every platform (the shuffle uses its own fixed generator, not the
//! system's). A label with at least two rows keeps at least one row in each part, so a validation or test
//! part sees every label that can spare a row; a label with one row goes to the first part.
//! `grouped_split` does the same with groups of rows as the unit (translations of one text, messages of one
//! conversation), so that no group has rows on both sides.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use arrow_array::{Array, StringArray, UInt64Array};
use arrow_cast::display::{ArrayFormatter, FormatOptions};

use super::labelled::LabelledData;
use crate::error::{Error, IoContext, Result};
use crate::schema;

/// Row indices of the two parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub first: Vec<usize>,
    pub second: Vec<usize>,
}

/// Splits rows by label: about `fraction` (0..=1) of each label's rows into `first`.
pub fn stratified_split<S: AsRef<str>>(labels: &[S], fraction: f64, seed: u64) -> Split {
    let fraction = fraction.clamp(0.0, 1.0);
    let mut by_label: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, label) in labels.iter().enumerate() {
        by_label.entry(label.as_ref()).or_default().push(i);
    }
    let mut rng = SplitMix64::new(seed);
    let mut in_first = vec![false; labels.len()];
    for rows in by_label.values_mut() {
        rng.shuffle(rows);
        let n = rows.len();
        let mut take = (fraction * n as f64).round() as usize;
        if n >= 2 {
            take = take.clamp(1, n - 1);
        } else {
            take = n;
        }
        for &i in rows.iter().take(take) {
            in_first[i] = true;
        }
    }
    let (first, second): (Vec<usize>, Vec<usize>) = (0..labels.len()).partition(|&i| in_first[i]);
    Split { first, second }
}

/// As `stratified_split`, but rows that share a non-empty group go to the same part; each group counts once,
/// under the label of its first row. Rows with an empty group, or all rows without groups, stand alone (the
/// split is then `stratified_split`'s).
pub fn grouped_split<S: AsRef<str>, G: AsRef<str>>(
    labels: &[S],
    groups: Option<&[G]>,
    fraction: f64,
    seed: u64,
) -> Split {
    let members = group_members(labels.len(), groups);
    let unit_labels: Vec<&str> = members
        .iter()
        .map(|rows| labels[rows[0]].as_ref())
        .collect();
    let units = stratified_split(&unit_labels, fraction, seed);
    let mut in_first = vec![false; labels.len()];
    for unit in units.first {
        for &i in &members[unit] {
            in_first[i] = true;
        }
    }
    let (first, second): (Vec<usize>, Vec<usize>) = (0..labels.len()).partition(|&i| in_first[i]);
    Split { first, second }
}

/// Each row's fold (0..k) for k-fold cross-validation: each label's rows (or groups) are shuffled with `seed`
/// and dealt out in turn, so every fold holds about 1/k of every label, and a group's rows share a fold.
pub fn folds<S: AsRef<str>, G: AsRef<str>>(
    labels: &[S],
    groups: Option<&[G]>,
    k: usize,
    seed: u64,
) -> Vec<usize> {
    let k = k.max(1);
    let members = group_members(labels.len(), groups);
    let mut by_label: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (unit, rows) in members.iter().enumerate() {
        by_label
            .entry(labels[rows[0]].as_ref())
            .or_default()
            .push(unit);
    }
    let mut rng = SplitMix64::new(seed);
    let mut fold = vec![0; labels.len()];
    // Carried from label to label, so labels with fewer rows than folds do not all start at fold 0.
    let mut next = 0;
    for units in by_label.values_mut() {
        rng.shuffle(units);
        for &unit in units.iter() {
            for &i in &members[unit] {
                fold[i] = next % k;
            }
            next += 1;
        }
    }
    fold
}

/// Rows grouped by their non-empty group, groups in order of first appearance (so results do not depend on
/// how group names sort); rows with an empty group, or all rows without groups, stand alone.
fn group_members<G: AsRef<str>>(rows: usize, groups: Option<&[G]>) -> Vec<Vec<usize>> {
    let Some(groups) = groups else {
        return (0..rows).map(|i| vec![i]).collect();
    };
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, group) in groups.iter().enumerate().take(rows) {
        let group = group.as_ref();
        match index.get(group) {
            Some(&unit) if !group.is_empty() => members[unit].push(i),
            _ => {
                if !group.is_empty() {
                    index.insert(group, members.len());
                }
                members.push(vec![i]);
            }
        }
    }
    members
}

/// Writes rows `rows` of `data` to a CSV file at `out` (atomically): the text under its source column name,
/// the pass-through columns (label, category, ...), and those canonical columns that hold values in the
/// input. Ids that `ingest` generated (`<file>:<row>`) and the provenance columns are not written, so a
/// split of a `text,label` file is again a `text,label` file.
pub fn write_rows_csv(
    data: &LabelledData,
    text_column: &str,
    rows: &[usize],
    out: &Path,
) -> Result<()> {
    let table = &data.table;
    let schema = table.schema();
    let file_name = data
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let generated_ids = generated_ids(data, &file_name);
    let mut columns: Vec<(String, usize)> = Vec::new();
    for (index, field) in schema.fields().iter().enumerate() {
        let name = field.name().as_str();
        let column = table.column(index);
        let keep = match name {
            schema::TEXT => true,
            schema::SOURCE_FILE | schema::SOURCE_ROW => false,
            schema::ID => !generated_ids,
            _ if schema::CANONICAL.contains(&name) => column.null_count() < column.len(),
            _ => true,
        };
        if keep {
            let header = if name == schema::TEXT {
                text_column
            } else {
                name
            };
            columns.push((header.to_string(), index));
        }
    }
    let options = FormatOptions::default().with_null("");
    let formatters = columns
        .iter()
        .map(|(_, index)| ArrayFormatter::try_new(table.column(*index).as_ref(), &options))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let tmp = PathBuf::from(format!("{}.{}.tmp", out.display(), std::process::id()));
    let mut writer = csv::Writer::from_path(&tmp).map_err(|e| csv_error(&tmp, e))?;
    writer
        .write_record(columns.iter().map(|(name, _)| name.as_str()))
        .map_err(|e| csv_error(&tmp, e))?;
    for &row in rows {
        let record: Vec<String> = formatters
            .iter()
            .map(|f| f.value(row).to_string())
            .collect();
        writer
            .write_record(&record)
            .map_err(|e| csv_error(&tmp, e))?;
    }
    writer.flush().at(&tmp)?;
    drop(writer);
    fs::rename(&tmp, out).at(out)
}

/// Whether every id is the one `ingest` generates when the input has no id column.
fn generated_ids(data: &LabelledData, file_name: &str) -> bool {
    let table = &data.table;
    let ids = table
        .column_by_name(schema::ID)
        .and_then(|a| a.as_any().downcast_ref::<StringArray>().cloned());
    let rows = table
        .column_by_name(schema::SOURCE_ROW)
        .and_then(|a| a.as_any().downcast_ref::<UInt64Array>().cloned());
    match (ids, rows) {
        (Some(ids), Some(rows)) => (0..ids.len())
            .all(|i| ids.is_valid(i) && ids.value(i) == format!("{file_name}:{}", rows.value(i))),
        _ => true,
    }
}

fn csv_error(path: &Path, error: csv::Error) -> Error {
    Error::io(path, std::io::Error::other(error.to_string()))
}

/// SplitMix64 (Steele, Lea and Flood): a small, well-mixed generator with a fixed definition, so splits
/// and training order do not depend on a crate's version.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index below `bound` (> 0); the modulo bias is negligible for the sizes used here.
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound.max(1) as u64) as usize
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_stratified_deterministic_and_complete() {
        let labels: Vec<String> = (0..103)
            .map(|i| if i % 10 < 7 { "a" } else { "b" }.to_string())
            .chain(["lonely".to_string()])
            .collect();
        let split = stratified_split(&labels, 0.8, 42);
        assert_eq!(split, stratified_split(&labels, 0.8, 42));
        assert_ne!(split, stratified_split(&labels, 0.8, 43));
        let mut all: Vec<usize> = split.first.iter().chain(&split.second).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..labels.len()).collect::<Vec<_>>());
        let count =
            |rows: &[usize], label: &str| rows.iter().filter(|&&i| labels[i] == label).count();
        // 73 a's and 30 b's: 80% of each, rounded.
        assert_eq!(count(&split.first, "a"), 58);
        assert_eq!(count(&split.first, "b"), 24);
        assert_eq!(count(&split.first, "lonely"), 1);
    }

    #[test]
    fn grouped_split_keeps_each_group_on_one_side() {
        // 40 reviews in two languages: the same review id twice, in a row.
        let labels: Vec<&str> = (0..80)
            .map(|i| if (i / 2) % 3 == 0 { "neg" } else { "pos" })
            .collect();
        let groups: Vec<String> = (0..80).map(|i| format!("review-{}", i / 2)).collect();
        let split = grouped_split(&labels, Some(&groups), 0.8, 7);
        assert_eq!(split.first.len() + split.second.len(), 80);
        for pair in 0..40 {
            let a = split.first.contains(&(2 * pair));
            let b = split.first.contains(&(2 * pair + 1));
            assert_eq!(a, b, "review {pair} split across the parts");
        }
        // Both labels on both sides, about 80 % of the reviews first.
        for label in ["neg", "pos"] {
            assert!(split.first.iter().any(|&i| labels[i] == label));
            assert!(split.second.iter().any(|&i| labels[i] == label));
        }
        assert!(
            (60..=68).contains(&split.first.len()),
            "{}",
            split.first.len()
        );
        assert_eq!(split, grouped_split(&labels, Some(&groups), 0.8, 7));
        // With every group empty, or without groups, it is the plain stratified split.
        let none = vec![""; 80];
        assert_eq!(
            grouped_split(&labels, Some(&none), 0.8, 7),
            stratified_split(&labels, 0.8, 7)
        );
        assert_eq!(
            grouped_split::<_, &str>(&labels, None, 0.8, 7),
            stratified_split(&labels, 0.8, 7)
        );
    }

    #[test]
    fn folds_are_stratified_balanced_and_keep_groups_together() {
        let labels: Vec<&str> = (0..100)
            .map(|i| if i % 10 == 0 { "oos" } else { "in" })
            .collect();
        let fold = folds::<_, &str>(&labels, None, 5, 3);
        for f in 0..5 {
            let rows: Vec<usize> = (0..100).filter(|&i| fold[i] == f).collect();
            assert_eq!(rows.len(), 20, "fold {f}");
            assert_eq!(
                rows.iter().filter(|&&i| labels[i] == "oos").count(),
                2,
                "fold {f}"
            );
        }
        let groups: Vec<String> = (0..100).map(|i| format!("g{}", i / 4)).collect();
        let fold = folds(&labels, Some(&groups), 5, 3);
        for i in 0..100 {
            assert_eq!(fold[i], fold[i - i % 4], "row {i}");
        }
        assert_eq!(fold, folds(&labels, Some(&groups), 5, 3));
    }
}
