//! `touchpoint impact --system NAME`: the contact reasons and journeys an IT system touches, with their volumes
//! from a previous run, so a team replacing the system knows whom it affects.
//!
//! Contract: a reason is affected when its `systems` name the system (compared case-insensitively, ignoring
//! surrounding spaces); a journey when one of its reasons is affected. Volumes come from the run folder's
//! lifecycle.parquet when one is given (`None` otherwise, or when the run did not see the reason or journey).

use std::collections::HashMap;
use std::path::Path;

use arrow_array::{Array, StringArray, UInt64Array};

use super::rollup::LIFECYCLE_FILE;
use super::taxonomy::Taxonomy;
use crate::error::{Error, Result};
use crate::output::read_parquet;
use crate::pipeline::Pipeline;
use crate::schema;

#[derive(Debug, Clone, PartialEq)]
pub struct AffectedReason {
    pub id: String,
    pub phase: String,
    pub owner: Option<String>,
    pub processes: Vec<String>,
    /// Interactions with this reason in the run.
    pub volume: Option<u64>,
    pub cost_per_contact: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AffectedJourney {
    pub id: String,
    /// The journey's reasons that the system touches.
    pub via: Vec<String>,
    /// Journey instances and touchpoints in the run.
    pub instances: Option<u64>,
    pub touchpoints: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Impact {
    pub system: String,
    pub reasons: Vec<AffectedReason>,
    pub journeys: Vec<AffectedJourney>,
}

/// Volumes per reason and per journey from a run's lifecycle.parquet: reason -> volume, journey -> (instances,
/// touchpoints).
type Volumes = (HashMap<String, u64>, HashMap<String, (u64, u64)>);

fn read_volumes(run: &Path) -> Result<Volumes> {
    let path = run.join(LIFECYCLE_FILE);
    if !path.exists() {
        return Err(Error::Usage(format!(
            "{} not found: give the output folder of an enrich run whose pipeline has journeys",
            path.display()
        )));
    }
    let mut reasons = HashMap::new();
    let mut journeys = HashMap::new();
    for batch in read_parquet(&path)? {
        let strings = |name: &str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned())
        };
        let numbers = |name: &str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<UInt64Array>().cloned())
        };
        let (Some(levels), Some(reason_ids), Some(journey_ids), Some(volume), Some(instances)) = (
            strings(schema::LEVEL),
            strings(schema::CONTACT_REASON),
            strings(schema::JOURNEY_ID),
            numbers(schema::VOLUME),
            numbers(schema::INSTANCES),
        ) else {
            return Err(Error::Usage(format!(
                "{} is not a touchpoint lifecycle file",
                path.display()
            )));
        };
        for row in 0..batch.num_rows() {
            if levels.value(row) == schema::LEVELS[0] && reason_ids.is_valid(row) {
                reasons.insert(reason_ids.value(row).to_string(), volume.value(row));
            } else if journey_ids.is_valid(row) {
                let count = if instances.is_valid(row) {
                    instances.value(row)
                } else {
                    0
                };
                journeys.insert(
                    journey_ids.value(row).to_string(),
                    (count, volume.value(row)),
                );
            }
        }
    }
    Ok((reasons, journeys))
}

/// What `system` touches in `pipeline`, with the volumes of the run in `run` when given.
pub fn impact(pipeline: &Pipeline, system: &str, run: Option<&Path>) -> Result<Impact> {
    let wanted = system.trim().to_lowercase();
    let affected: Vec<_> = pipeline
        .contact_reasons
        .iter()
        .filter(|r| r.systems.iter().any(|s| s.trim().to_lowercase() == wanted))
        .collect();
    if affected.is_empty() {
        let mut known: Vec<&str> = pipeline
            .contact_reasons
            .iter()
            .flat_map(|r| r.systems.iter().map(String::as_str))
            .collect();
        known.sort_unstable();
        known.dedup();
        let known = if known.is_empty() {
            "the pipeline names no systems ([[contact_reasons]] systems = [...])".to_string()
        } else {
            format!("systems in the pipeline: {}", known.join(", "))
        };
        return Err(Error::Usage(format!(
            "no contact reason names the system '{system}'; {known}"
        )));
    }
    let (reason_volumes, journey_volumes) = match run {
        Some(run) => {
            let (r, j) = read_volumes(run)?;
            (Some(r), Some(j))
        }
        None => (None, None),
    };
    let reasons = affected
        .iter()
        .map(|r| AffectedReason {
            id: r.id.clone(),
            phase: r.phase.clone(),
            owner: r.owner.clone(),
            processes: r.processes.clone(),
            volume: reason_volumes
                .as_ref()
                .map(|v| v.get(&r.id).copied().unwrap_or(0)),
            cost_per_contact: r.cost_per_contact,
        })
        .collect();
    let taxonomy = Taxonomy::new(pipeline);
    let journeys = taxonomy
        .kinds()
        .iter()
        .filter_map(|kind| {
            let via: Vec<String> = kind
                .reasons
                .iter()
                .filter(|r| affected.iter().any(|a| &a.id == *r))
                .cloned()
                .collect();
            (!via.is_empty()).then(|| {
                let volumes = journey_volumes
                    .as_ref()
                    .map(|v| v.get(&kind.id).copied().unwrap_or((0, 0)));
                AffectedJourney {
                    id: kind.id.clone(),
                    via,
                    instances: volumes.map(|v| v.0),
                    touchpoints: volumes.map(|v| v.1),
                }
            })
        })
        .collect();
    Ok(Impact {
        system: system.to_string(),
        reasons,
        journeys,
    })
}

impl Impact {
    /// A plain-text report.
    pub fn to_text(&self) -> String {
        let number = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
        let mut out = format!(
            "system '{}' touches {} contact reasons and {} journeys\n\ncontact reasons\n",
            self.system,
            self.reasons.len(),
            self.journeys.len()
        );
        out.push_str(&format!(
            "{:<28} {:<18} {:>8} {:>9}  {:<22} processes\n",
            "reason", "phase", "contacts", "cost", "owner"
        ));
        for r in &self.reasons {
            let cost = match (r.volume, r.cost_per_contact) {
                (Some(v), Some(c)) => format!("{:.0}", v as f64 * c),
                _ => "-".to_string(),
            };
            out.push_str(&format!(
                "{:<28} {:<18} {:>8} {:>9}  {:<22} {}\n",
                r.id,
                r.phase,
                number(r.volume),
                cost,
                r.owner.as_deref().unwrap_or("-"),
                r.processes.join("; ")
            ));
        }
        out.push_str(&format!(
            "\njourneys\n{:<28} {:>9} {:>11}  via\n",
            "journey", "instances", "touchpoints"
        ));
        for j in &self.journeys {
            out.push_str(&format!(
                "{:<28} {:>9} {:>11}  {}\n",
                j.id,
                number(j.instances),
                number(j.touchpoints),
                j.via.join(", ")
            ));
        }
        out
    }
}
