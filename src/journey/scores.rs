//! Survey scores (NPS, CES, CSAT) from a separate CSV file, joined onto interactions.
//!
//! Contract: the file has a header with at least one key column (`interaction_id`, `conversation_id`,
//! `customer_id`) and at least one score column (`nps` 0..=10, `ces` 1..=7, `csat` 1..=5). Each row is keyed by
//! its most specific non-empty key. An interaction gets, per score, the value given for its own id, else for its
//! conversation, else for its customer; several rows for the same key are averaged. A bad value fails the load
//! with file, row and column, before any model work: scores are few, and a silently dropped one would bias a
//! mean. The whole file is held in memory (survey responses are a small fraction of the interactions).

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Location, Result};
use crate::schema;

pub const KEY_INTERACTION: &str = "interaction_id";
pub const KEY_CONVERSATION: &str = "conversation_id";
pub const KEY_CUSTOMER: &str = "customer_id";
const KEYS: [&str; 3] = [KEY_INTERACTION, KEY_CONVERSATION, KEY_CUSTOMER];

/// The scale of each score and what counts as a low score on it: NPS detractors (0..=6), CES of 5 or more (high
/// effort on a 1..=7 scale), CSAT of 1 or 2 (on 1..=5).
const SCALES: [(&str, f32, f32); 3] = [
    (schema::NPS, 0.0, 10.0),
    (schema::CES, 1.0, 7.0),
    (schema::CSAT, 1.0, 5.0),
];

/// One interaction's scores; `None` where none was given.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Scores {
    pub nps: Option<f32>,
    pub ces: Option<f32>,
    pub csat: Option<f32>,
}

impl Scores {
    pub fn any(&self) -> bool {
        self.nps.is_some() || self.ces.is_some() || self.csat.is_some()
    }

    /// How many of the given scores are low, and how many were given.
    pub fn low_of_given(&self) -> (u32, u32) {
        let flags = [
            self.nps.map(|v| v <= 6.0),
            self.ces.map(|v| v >= 5.0),
            self.csat.map(|v| v <= 2.0),
        ];
        flags
            .iter()
            .flatten()
            .fold((0, 0), |(low, given), &is_low| {
                (low + u32::from(is_low), given + 1)
            })
    }

    fn or(self, fallback: Scores) -> Scores {
        Scores {
            nps: self.nps.or(fallback.nps),
            ces: self.ces.or(fallback.ces),
            csat: self.csat.or(fallback.csat),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    sum: [f64; 3],
    n: [u32; 3],
}

impl Sums {
    fn scores(&self) -> Scores {
        let mean = |i: usize| (self.n[i] > 0).then(|| (self.sum[i] / f64::from(self.n[i])) as f32);
        Scores {
            nps: mean(0),
            ces: mean(1),
            csat: mean(2),
        }
    }
}

/// The survey scores of one file, by key.
#[derive(Debug, Clone, Default)]
pub struct SurveyScores {
    by_key: [HashMap<String, Scores>; 3],
    rows: u64,
}

impl SurveyScores {
    /// Reads and checks a scores CSV file.
    pub fn load(path: &Path) -> Result<SurveyScores> {
        let location = || Location::file(path);
        let mut reader = csv::ReaderBuilder::new()
            .flexible(false)
            .from_path(path)
            .map_err(|e| Error::input(location(), format!("cannot read the scores file: {e}")))?;
        let headers = reader
            .headers()
            .map_err(|e| Error::input(location(), format!("cannot read the header: {e}")))?
            .clone();
        let position = |name: &str| headers.iter().position(|h| h.trim() == name);
        let keys: Vec<Option<usize>> = KEYS.iter().map(|k| position(k)).collect();
        let scales: Vec<Option<usize>> = SCALES.iter().map(|(name, _, _)| position(name)).collect();
        if keys.iter().all(Option::is_none) {
            return Err(Error::input(
                location(),
                format!(
                    "the scores file needs a key column: one of {}",
                    KEYS.join(", ")
                ),
            ));
        }
        if scales.iter().all(Option::is_none) {
            return Err(Error::input(
                location(),
                format!(
                    "the scores file needs a score column: one of {}, {}, {}",
                    schema::NPS,
                    schema::CES,
                    schema::CSAT
                ),
            ));
        }
        let mut sums: [HashMap<String, Sums>; 3] = Default::default();
        let mut rows = 0u64;
        for (index, record) in reader.records().enumerate() {
            let row = index as u64 + 1;
            let at = |column: &str| location().row(row).column(column);
            let record = record
                .map_err(|e| Error::input(location().row(row), format!("unreadable row: {e}")))?;
            let field = |i: Option<usize>| {
                i.and_then(|i| record.get(i))
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
            };
            let Some((key_kind, key)) = keys
                .iter()
                .enumerate()
                .find_map(|(kind, &i)| field(i).map(|v| (kind, v)))
            else {
                return Err(Error::input(
                    location().row(row),
                    format!("the row has no key (fill one of {})", KEYS.join(", ")),
                ));
            };
            let entry = sums[key_kind].entry(key.to_string()).or_default();
            let mut given = 0;
            for (score, (&column, (name, low, high))) in scales.iter().zip(SCALES).enumerate() {
                let Some(text) = field(column) else { continue };
                let value: f32 = text
                    .parse()
                    .map_err(|_| Error::input(at(name), format!("'{text}' is not a number")))?;
                if !(low..=high).contains(&value) {
                    return Err(Error::input(
                        at(name),
                        format!("{value} is outside the {name} scale {low}..={high}"),
                    ));
                }
                entry.sum[score] += f64::from(value);
                entry.n[score] += 1;
                given += 1;
            }
            if given == 0 {
                return Err(Error::input(location().row(row), "the row has no score"));
            }
            rows += 1;
        }
        let by_key = sums.map(|by| by.into_iter().map(|(k, s)| (k, s.scores())).collect());
        Ok(SurveyScores { by_key, rows })
    }

    /// Survey responses read.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The scores of an interaction: per score, its own, else its conversation's, else its customer's.
    pub fn lookup(
        &self,
        id: Option<&str>,
        conversation: Option<&str>,
        customer: Option<&str>,
    ) -> Scores {
        let get = |kind: usize, key: Option<&str>| {
            key.and_then(|k| self.by_key[kind].get(k))
                .copied()
                .unwrap_or_default()
        };
        get(0, id).or(get(1, conversation)).or(get(2, customer))
    }
}
