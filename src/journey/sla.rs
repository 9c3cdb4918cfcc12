//! Service levels: which inbound messages get a measured response time, and within how many working hours they
//! must be answered.
//!
//! Contract: [`SlaPolicy::measures_response`] is true for inbound contacts on channels that are not live (a call
//! or chat is answered within the contact itself). [`SlaPolicy::limit_hours`] picks the most specific rule for a
//! channel and reason: channel and reason, then reason only, then channel only, then a rule for everything;
//! `None` when no rule applies. Working days are converted to hours with the calendar's working-day length.

use super::calendar::WorkingCalendar;
use crate::pipeline::{Pipeline, SlaLimit};

#[derive(Debug, Clone)]
struct Rule {
    channel: Option<String>,
    reasons: Vec<String>,
    hours: f64,
}

#[derive(Debug, Clone)]
pub struct SlaPolicy {
    calendar: WorkingCalendar,
    live_channels: Vec<String>,
    rules: Vec<Rule>,
}

impl SlaPolicy {
    pub fn new(pipeline: &Pipeline) -> SlaPolicy {
        let calendar = WorkingCalendar::new(&pipeline.calendar);
        let rules = pipeline
            .sla
            .rules
            .iter()
            .map(|rule| Rule {
                channel: rule.channel.clone(),
                reasons: rule.reasons.clone(),
                hours: match rule.limit {
                    SlaLimit::WorkingHours(hours) => hours,
                    SlaLimit::WorkingDays(days) => days * calendar.hours_per_day(),
                },
            })
            .collect();
        SlaPolicy {
            calendar,
            live_channels: pipeline.sla.live_channels.clone(),
            rules,
        }
    }

    pub fn calendar(&self) -> &WorkingCalendar {
        &self.calendar
    }

    /// Whether an inbound contact on `channel` waits for a reply whose response time is measured. Contacts
    /// without a channel are measured: nothing says they were answered live.
    pub fn measures_response(&self, channel: Option<&str>) -> bool {
        channel.is_none_or(|c| !self.live_channels.iter().any(|live| live == c))
    }

    /// The working hours within which an inbound message on `channel` about `reason` must be answered.
    pub fn limit_hours(&self, channel: Option<&str>, reason: &str) -> Option<f64> {
        let matches = |rule: &&Rule| {
            rule.channel.as_deref().is_none_or(|c| Some(c) == channel)
                && (rule.reasons.is_empty() || rule.reasons.iter().any(|r| r == reason))
        };
        // Specificity: a reason match weighs more than a channel match.
        let specificity = |rule: &Rule| {
            2 * usize::from(!rule.reasons.is_empty()) + usize::from(rule.channel.is_some())
        };
        // Reversed so that among equally specific rules the first in the file wins (`max_by_key` keeps the last).
        self.rules
            .iter()
            .rev()
            .filter(matches)
            .max_by_key(|rule| specificity(rule))
            .map(|rule| rule.hours)
    }
}
