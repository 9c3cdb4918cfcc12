//! Taxonomy lookups: which journeys a contact reason belongs to, most specific first.
//!
//! Contract: every contact reason of the pipeline belongs to at least one journey. A reason the pipeline lists in
//! no `[[journeys]]` entry forms a journey of its own, with the reason's id and name ("implicit" journeys), so
//! that every interaction with a known reason has a journey. `unknown` belongs to none. A journey is more
//! specific than another when it has fewer reasons; ties go to the journey defined first in the pipeline file.

use std::collections::HashMap;

use crate::pipeline::{Localized, Pipeline};

/// Microseconds in a day, the unit pipeline gaps and windows are given in.
pub const MICROS_PER_DAY: f64 = 86_400.0 * 1_000_000.0;

#[derive(Debug, Clone)]
pub struct JourneyKind {
    pub id: String,
    pub name: Localized,
    pub reasons: Vec<String>,
    /// The longest time between two touchpoints of one instance, in microseconds.
    pub max_gap: i64,
    /// Formed by a reason listed in no journey.
    pub implicit: bool,
}

#[derive(Debug, Clone)]
pub struct Taxonomy {
    kinds: Vec<JourneyKind>,
    by_id: HashMap<String, usize>,
    /// Reason id -> journey indices, most specific first.
    by_reason: HashMap<String, Vec<usize>>,
}

impl Taxonomy {
    pub fn new(pipeline: &Pipeline) -> Taxonomy {
        let days = |d: f64| (d * MICROS_PER_DAY).round() as i64;
        let mut kinds: Vec<JourneyKind> = pipeline
            .journeys
            .iter()
            .map(|j| JourneyKind {
                id: j.id.clone(),
                name: j.name.clone(),
                reasons: j.reasons.clone(),
                max_gap: days(j.max_gap_days),
                implicit: false,
            })
            .collect();
        for reason in &pipeline.contact_reasons {
            if !kinds
                .iter()
                .any(|k| !k.implicit && k.reasons.contains(&reason.id))
            {
                kinds.push(JourneyKind {
                    id: reason.id.clone(),
                    name: reason.name.clone(),
                    reasons: vec![reason.id.clone()],
                    max_gap: days(pipeline.linking.max_gap_days),
                    implicit: true,
                });
            }
        }
        let mut by_reason: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, kind) in kinds.iter().enumerate() {
            for reason in &kind.reasons {
                by_reason.entry(reason.clone()).or_default().push(index);
            }
        }
        for indices in by_reason.values_mut() {
            // Stable: equally specific journeys keep file order.
            indices.sort_by_key(|&i| kinds[i].reasons.len());
        }
        let by_id = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| (k.id.clone(), i))
            .collect();
        Taxonomy {
            kinds,
            by_id,
            by_reason,
        }
    }

    /// Every journey, the pipeline's in file order, then the implicit ones.
    pub fn kinds(&self) -> &[JourneyKind] {
        &self.kinds
    }

    pub fn kind(&self, index: usize) -> &JourneyKind {
        &self.kinds[index]
    }

    pub fn index_of(&self, journey_id: &str) -> Option<usize> {
        self.by_id.get(journey_id).copied()
    }

    /// The journeys `reason` belongs to, most specific first; empty for `unknown` and unknown ids.
    pub fn journeys_of(&self, reason: &str) -> &[usize] {
        self.by_reason.get(reason).map_or(&[], Vec::as_slice)
    }

    /// The contact reasons that the pipeline lists in no journey.
    pub fn reasons_without_journey(&self) -> Vec<&str> {
        self.kinds
            .iter()
            .filter(|k| k.implicit)
            .map(|k| k.id.as_str())
            .collect()
    }
}
