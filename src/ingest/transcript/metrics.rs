//! Call metrics from timed turns.
//!
//! Contract: only turns with both a start and an end (end >= start) count; with none, every metric is null.
//! - `duration_seconds`: the last end minus the first start.
//! - `customer_talk_ratio`: the customer's speech time over everyone's (the sum of turn lengths; overlapping
//!   speech counts for each speaker), null when nobody speaks for any time.
//! - `longest_silence_seconds`: the longest stretch between the first start and the last end in which nobody
//!   speaks; 0 when the turns leave no gap.

use super::{Role, Turn};

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CallMetrics {
    pub duration_seconds: Option<f64>,
    pub customer_talk_ratio: Option<f64>,
    pub longest_silence_seconds: Option<f64>,
}

impl CallMetrics {
    pub fn of(turns: &[Turn]) -> CallMetrics {
        let mut timed: Vec<(f64, f64, Role)> = turns
            .iter()
            .filter_map(|t| match (t.start_seconds, t.end_seconds) {
                (Some(start), Some(end)) if end >= start => Some((start, end, t.role)),
                _ => None,
            })
            .collect();
        if timed.is_empty() {
            return CallMetrics::default();
        }
        timed.sort_by(|a, b| a.0.total_cmp(&b.0));
        let first_start = timed.iter().map(|t| t.0).fold(f64::INFINITY, f64::min);
        let last_end = timed.iter().map(|t| t.1).fold(f64::NEG_INFINITY, f64::max);
        let speech: f64 = timed.iter().map(|t| t.1 - t.0).sum();
        let customer: f64 = timed
            .iter()
            .filter(|t| t.2 == Role::Customer)
            .map(|t| t.1 - t.0)
            .sum();
        let mut longest_silence = 0.0_f64;
        let mut spoken_until = first_start;
        for (start, end, _) in &timed {
            longest_silence = longest_silence.max(start - spoken_until);
            spoken_until = spoken_until.max(*end);
        }
        CallMetrics {
            duration_seconds: Some(last_end - first_start),
            customer_talk_ratio: (speech > 0.0).then(|| customer / speech),
            longest_silence_seconds: Some(longest_silence),
        }
    }
}
