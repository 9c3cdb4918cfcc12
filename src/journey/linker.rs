//! The linker: one customer's interactions, in time order, grouped into journey instances.
//!
//! Contract of [`JourneyLinker::link_customer`], for touchpoints given in time order (timestamp, then id):
//! - An instance is open while the time since its last touchpoint is at most its journey's gap; it is closed
//!   for good once a later touchpoint (or the run's horizon, the latest timestamp seen) is further away.
//! - A touchpoint with a known reason joins an open instance whose journey contains the reason; among several,
//!   the most recently active one, then the more specific journey, then the smaller instance id. When no open
//!   instance fits, it starts an instance of the most specific journey of the reason (fewest reasons; the one
//!   defined first on a tie).
//! - An `unknown` touchpoint joins the most recently active open instance, else it has no journey.
//! - Repeat contact: an inbound (or direction-less) touchpoint whose reason the same customer contacted about at
//!   most the repeat window before. Outbound touchpoints and `unknown` are never repeats.
//! - Response time: an inbound touchpoint on a non-live channel waits for the first later outbound touchpoint in
//!   the same conversation (when it has a conversation id) or else in the same journey instance; the working
//!   hours in between are its response time, and the SLA is breached when they exceed its rule's limit. An
//!   unanswered message breaches once the horizon is past its limit or its instance closes; until then it is
//!   pending and carried in the state.
//! - Everything a later run needs (open instances, pending messages, recent reasons) is in [`CustomerState`],
//!   so that linking data in several runs gives the same journeys as linking it at once (see `state`).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::DateTime;
use serde::{Deserialize, Serialize};

use super::calendar::MICROS_PER_SECOND;
use super::scores::Scores;
use super::sla::SlaPolicy;
use super::taxonomy::{Taxonomy, MICROS_PER_DAY};
use crate::pipeline::LinkingSection;
use crate::schema;

const INBOUND: &str = "inbound";
const OUTBOUND: &str = "outbound";

/// One interaction as the linker sees it.
#[derive(Debug, Clone, Default)]
pub struct Touch<'a> {
    /// Position of the interaction in the run's output, to put the results back in place.
    pub row: u64,
    pub id: &'a str,
    /// UTC microseconds.
    pub at: i64,
    pub channel: Option<&'a str>,
    pub direction: Option<&'a str>,
    pub reason: &'a str,
    pub phase: Option<&'a str>,
    pub conversation: Option<&'a str>,
    pub sentiment: Option<&'a str>,
    pub sentiment_score: Option<f32>,
    pub scores: Scores,
}

/// What linking adds to one interaction (the journey columns of `schema::journey_fields`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Link {
    pub row: u64,
    pub journey_id: Option<String>,
    pub instance_id: Option<String>,
    pub step: Option<u32>,
    pub seconds_since_previous: Option<i64>,
    pub channel_switch: Option<bool>,
    pub repeat_contact: Option<bool>,
    pub response_working_hours: Option<f64>,
    pub sla_breached: Option<bool>,
}

/// A running sum for a mean.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MeanSum {
    pub sum: f64,
    pub n: u64,
}

impl MeanSum {
    pub fn add(&mut self, value: Option<f32>) {
        if let Some(v) = value {
            self.sum += f64::from(v);
            self.n += 1;
        }
    }

    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }
}

/// One journey instance: a row of journeys.parquet, and while open, part of the nightly state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JourneyInstance {
    pub instance_id: String,
    pub journey_id: String,
    pub customer_id: String,
    pub start: i64,
    pub end: i64,
    pub touchpoints: u32,
    pub channels: Vec<String>,
    pub reasons: Vec<String>,
    pub first_sentiment: Option<f32>,
    pub last_sentiment: Option<f32>,
    pub lowest_sentiment: Option<f32>,
    pub sla_breaches: u32,
    pub repeat_contacts: u32,
    #[serde(default)]
    pub nps: MeanSum,
    #[serde(default)]
    pub ces: MeanSum,
    #[serde(default)]
    pub csat: MeanSum,
    pub last_channel: Option<String>,
}

/// An inbound message still waiting for its reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub instance_id: Option<String>,
    pub at: i64,
    pub conversation: Option<String>,
    pub limit_hours: Option<f64>,
    /// Index of the message's link in this run's outcome; none for a message of an earlier run.
    #[serde(skip)]
    link: Option<usize>,
}

/// What linking remembers of one customer between runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerState {
    pub customer_id: String,
    #[serde(default)]
    pub open: Vec<JourneyInstance>,
    #[serde(default)]
    pub pending: Vec<Pending>,
    /// Reason -> the customer's last contact about it, within the repeat window of the horizon.
    #[serde(default)]
    pub recent_reasons: BTreeMap<String, i64>,
    /// The customer's latest touchpoint.
    pub last_at: Option<i64>,
}

impl CustomerState {
    fn new(customer: &str) -> CustomerState {
        CustomerState {
            customer_id: customer.to_string(),
            ..CustomerState::default()
        }
    }

    /// Nothing a later run needs: the customer can be forgotten.
    pub fn is_spent(&self) -> bool {
        self.open.is_empty() && self.pending.is_empty() && self.recent_reasons.is_empty()
    }
}

/// The result of linking one customer's touchpoints of a run.
#[derive(Debug, Clone, Default)]
pub struct CustomerOutcome {
    /// One per touchpoint, in the order given.
    pub links: Vec<Link>,
    /// Instances closed during this run, final.
    pub closed: Vec<JourneyInstance>,
    /// What carries over to the next run; its `open` instances are this run's open journeys.
    pub state: CustomerState,
    /// Touchpoints older than the customer's latest touchpoint of an earlier run.
    pub late: u64,
}

/// Links customers' touchpoints into journey instances; see the module documentation for the rules.
#[derive(Debug, Clone)]
pub struct JourneyLinker<'p> {
    taxonomy: &'p Taxonomy,
    sla: &'p SlaPolicy,
    repeat_window: i64,
    /// How long a message that no journey and no reply can claim is remembered.
    stale_after: i64,
    horizon: i64,
}

enum Choice {
    Join(usize),
    Start(usize),
    NoJourney,
}

impl<'p> JourneyLinker<'p> {
    /// `horizon` is the latest timestamp known (this run's and earlier runs'): instances whose gap has passed
    /// by then are closed, and pending messages past their limit are breaches.
    pub fn new(
        taxonomy: &'p Taxonomy,
        sla: &'p SlaPolicy,
        linking: &LinkingSection,
        horizon: i64,
    ) -> JourneyLinker<'p> {
        JourneyLinker {
            taxonomy,
            sla,
            repeat_window: (linking.repeat_window_days * MICROS_PER_DAY).round() as i64,
            stale_after: (linking.max_gap_days * MICROS_PER_DAY).round() as i64,
            horizon,
        }
    }

    pub fn horizon(&self) -> i64 {
        self.horizon
    }

    /// Links `touches` (one customer's, in time order) onto `state` (the customer's state from the previous
    /// run, if any).
    pub fn link_customer(
        &self,
        customer: &str,
        state: Option<CustomerState>,
        touches: &[Touch<'_>],
    ) -> CustomerOutcome {
        let mut state = state.unwrap_or_else(|| CustomerState::new(customer));
        for pending in &mut state.pending {
            pending.link = None;
        }
        let previous_last = state.last_at;
        let mut out = CustomerOutcome {
            links: Vec::with_capacity(touches.len()),
            ..CustomerOutcome::default()
        };
        for touch in touches {
            let late = previous_last.is_some_and(|last| touch.at < last);
            out.late += u64::from(late);
            self.close_expired(&mut state, touch.at, &mut out);
            self.link_touch(&mut state, touch, late, &mut out);
            state.last_at = Some(state.last_at.map_or(touch.at, |last| last.max(touch.at)));
        }
        self.close_expired(&mut state, self.horizon, &mut out);
        self.settle_pending(&mut state, &mut out);
        let window = self.repeat_window;
        let horizon = self.horizon;
        state
            .recent_reasons
            .retain(|_, at| horizon.saturating_sub(*at) <= window);
        out.state = state;
        out
    }

    fn gap_of(&self, instance: &JourneyInstance) -> Option<i64> {
        self.taxonomy
            .index_of(&instance.journey_id)
            .map(|k| self.taxonomy.kind(k).max_gap)
    }

    /// An instance whose journey the pipeline no longer has is closed at once.
    fn expired(&self, instance: &JourneyInstance, at: i64) -> bool {
        self.gap_of(instance)
            .is_none_or(|gap| at.saturating_sub(instance.end) > gap)
    }

    fn close_expired(&self, state: &mut CustomerState, at: i64, out: &mut CustomerOutcome) {
        let mut index = 0;
        while index < state.open.len() {
            if self.expired(&state.open[index], at) {
                self.close(state, index, out);
            } else {
                index += 1;
            }
        }
    }

    /// Closes an open instance; its unanswered messages under an SLA rule are breaches.
    fn close(&self, state: &mut CustomerState, index: usize, out: &mut CustomerOutcome) {
        let mut instance = state.open.remove(index);
        let id = Some(instance.instance_id.as_str());
        let mut kept = Vec::with_capacity(state.pending.len());
        for pending in state.pending.drain(..) {
            if pending.instance_id.as_deref() != id {
                kept.push(pending);
                continue;
            }
            if pending.limit_hours.is_some() {
                instance.sla_breaches += 1;
                if let Some(link) = pending.link {
                    out.links[link].sla_breached = Some(true);
                }
            }
        }
        state.pending = kept;
        out.closed.push(instance);
    }

    fn choose(&self, open: &[JourneyInstance], reason: &str) -> Choice {
        if reason == schema::UNKNOWN_REASON {
            let specificity = |j: &JourneyInstance| {
                self.taxonomy
                    .index_of(&j.journey_id)
                    .map_or(usize::MAX, |k| self.taxonomy.kind(k).reasons.len())
            };
            return best(open, |a, b| specificity(b).cmp(&specificity(a)))
                .map_or(Choice::NoJourney, Choice::Join);
        }
        let kinds = self.taxonomy.journeys_of(reason);
        let rank = |j: &JourneyInstance| {
            self.taxonomy
                .index_of(&j.journey_id)
                .and_then(|k| kinds.iter().position(|&c| c == k))
        };
        let fitting: Vec<(usize, &JourneyInstance)> = open
            .iter()
            .enumerate()
            .filter(|(_, j)| rank(j).is_some())
            .collect();
        let joined = fitting
            .iter()
            .max_by(|(_, a), (_, b)| {
                a.end
                    .cmp(&b.end)
                    .then_with(|| rank(b).cmp(&rank(a)))
                    .then_with(|| b.instance_id.cmp(&a.instance_id))
            })
            .map(|(i, _)| *i);
        match (joined, kinds.first()) {
            (Some(index), _) => Choice::Join(index),
            (None, Some(&kind)) => Choice::Start(kind),
            (None, None) => Choice::NoJourney,
        }
    }

    fn link_touch(
        &self,
        state: &mut CustomerState,
        touch: &Touch<'_>,
        late: bool,
        out: &mut CustomerOutcome,
    ) {
        let instance = match self.choose(&state.open, touch.reason) {
            Choice::Join(index) => Some(index),
            Choice::Start(kind) => {
                let journey_id = self.taxonomy.kind(kind).id.clone();
                state.open.push(JourneyInstance {
                    instance_id: instance_id(&state.customer_id, &journey_id, touch.at),
                    journey_id,
                    customer_id: state.customer_id.clone(),
                    start: touch.at,
                    end: touch.at,
                    touchpoints: 0,
                    channels: Vec::new(),
                    reasons: Vec::new(),
                    first_sentiment: None,
                    last_sentiment: None,
                    lowest_sentiment: None,
                    sla_breaches: 0,
                    repeat_contacts: 0,
                    nps: MeanSum::default(),
                    ces: MeanSum::default(),
                    csat: MeanSum::default(),
                    last_channel: None,
                });
                Some(state.open.len() - 1)
            }
            Choice::NoJourney => None,
        };

        let outbound = touch.direction == Some(OUTBOUND);
        let repeat = if outbound || touch.reason == schema::UNKNOWN_REASON {
            false
        } else {
            let previous = state.recent_reasons.get(touch.reason).copied();
            let within =
                previous.is_some_and(|p| touch.at >= p && touch.at - p <= self.repeat_window);
            let latest = previous.map_or(touch.at, |p| p.max(touch.at));
            state
                .recent_reasons
                .insert(touch.reason.to_string(), latest);
            within
        };

        let mut link = Link {
            row: touch.row,
            repeat_contact: Some(repeat),
            ..Link::default()
        };
        if let Some(index) = instance {
            let journey = &mut state.open[index];
            let first = journey.touchpoints == 0;
            journey.touchpoints += 1;
            link.journey_id = Some(journey.journey_id.clone());
            link.instance_id = Some(journey.instance_id.clone());
            link.step = Some(journey.touchpoints);
            link.channel_switch = Some(match (&journey.last_channel, touch.channel) {
                (Some(previous), Some(channel)) => !first && previous != channel,
                _ => false,
            });
            if !first && !late {
                link.seconds_since_previous = Some((touch.at - journey.end) / MICROS_PER_SECOND);
            }
            journey.start = journey.start.min(touch.at);
            journey.end = journey.end.max(touch.at);
            if let Some(channel) = touch.channel {
                journey.channels.push(channel.to_string());
                journey.last_channel = Some(channel.to_string());
            }
            journey.reasons.push(touch.reason.to_string());
            if let Some(score) = touch.sentiment_score {
                journey.first_sentiment.get_or_insert(score);
                journey.last_sentiment = Some(score);
                journey.lowest_sentiment =
                    Some(journey.lowest_sentiment.map_or(score, |low| low.min(score)));
            }
            journey.repeat_contacts += u32::from(repeat);
            journey.nps.add(touch.scores.nps);
            journey.ces.add(touch.scores.ces);
            journey.csat.add(touch.scores.csat);
        }
        out.links.push(link);
        let link_index = out.links.len() - 1;
        let instance_id = instance.map(|i| state.open[i].instance_id.clone());

        if outbound {
            self.answer(state, touch, instance_id.as_deref(), out);
        } else if touch.direction == Some(INBOUND)
            && self.sla.measures_response(touch.channel)
            && (instance_id.is_some() || touch.conversation.is_some())
        {
            state.pending.push(Pending {
                instance_id,
                at: touch.at,
                conversation: touch.conversation.map(str::to_string),
                limit_hours: self.sla.limit_hours(touch.channel, touch.reason),
                link: Some(link_index),
            });
        }
    }

    /// An outbound touchpoint answers the earlier pending messages of its conversation, and those without a
    /// conversation in its journey instance.
    fn answer(
        &self,
        state: &mut CustomerState,
        reply: &Touch<'_>,
        instance_id: Option<&str>,
        out: &mut CustomerOutcome,
    ) {
        let mut kept = Vec::with_capacity(state.pending.len());
        for pending in std::mem::take(&mut state.pending) {
            let answers = match &pending.conversation {
                Some(conversation) => reply.conversation == Some(conversation.as_str()),
                None => {
                    pending.instance_id.is_some() && pending.instance_id.as_deref() == instance_id
                }
            };
            if !answers || reply.at < pending.at {
                kept.push(pending);
                continue;
            }
            let hours = self.sla.calendar().working_hours(pending.at, reply.at);
            let breached = pending.limit_hours.map(|limit| hours > limit);
            if let Some(link) = pending.link {
                out.links[link].response_working_hours = Some(hours);
                out.links[link].sla_breached = breached;
            }
            if breached == Some(true) {
                if let Some(journey) = state
                    .open
                    .iter_mut()
                    .find(|j| Some(j.instance_id.as_str()) == pending.instance_id.as_deref())
                {
                    journey.sla_breaches += 1;
                }
            }
        }
        state.pending = kept;
    }

    /// Messages whose limit has passed by the horizon are breaches now, whatever comes later; messages no reply
    /// can reach any more are forgotten.
    fn settle_pending(&self, state: &mut CustomerState, out: &mut CustomerOutcome) {
        let mut kept = Vec::with_capacity(state.pending.len());
        for pending in std::mem::take(&mut state.pending) {
            let overdue = pending.limit_hours.is_some_and(|limit| {
                self.sla.calendar().working_hours(pending.at, self.horizon) > limit
            });
            if overdue {
                if let Some(link) = pending.link {
                    out.links[link].sla_breached = Some(true);
                }
                if let Some(journey) = state
                    .open
                    .iter_mut()
                    .find(|j| Some(j.instance_id.as_str()) == pending.instance_id.as_deref())
                {
                    journey.sla_breaches += 1;
                }
            } else if pending.instance_id.is_some()
                || self.horizon.saturating_sub(pending.at) <= self.stale_after
            {
                kept.push(pending);
            }
        }
        state.pending = kept;
    }
}

/// The index of the best instance: the most recently active, then by `tie` (greater is better), then the
/// smaller instance id.
fn best(
    open: &[JourneyInstance],
    tie: impl Fn(&JourneyInstance, &JourneyInstance) -> Ordering,
) -> Option<usize> {
    open.iter()
        .enumerate()
        .max_by(|(_, a), (_, b)| {
            a.end
                .cmp(&b.end)
                .then_with(|| tie(a, b))
                .then_with(|| b.instance_id.cmp(&a.instance_id))
        })
        .map(|(i, _)| i)
}

/// `customer:journey:start`, the start in UTC as `YYYYMMDDTHHMMSSZ`: the same whichever run links it.
pub fn instance_id(customer: &str, journey: &str, start: i64) -> String {
    let start = DateTime::from_timestamp_micros(start)
        .map(|t| t.format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_else(|| start.to_string());
    format!("{customer}:{journey}:{start}")
}
