//! Roll-ups: journeys.parquet (one row per journey instance) and lifecycle.parquet (the Life Cycle Model view per
//! phase and contact reason, and per journey), with the priority ranking.
//!
//! Contract:
//! - [`JourneysWriter`] streams journey instances into journeys.parquet: those closed in this run and those still
//!   open at its end (the latest version of a journey is in the latest run that mentions it).
//! - [`Lifecycle`] is fed every interaction batch the run writes (with the journey columns) and builds one row per
//!   contact reason of the pipeline (phase order, then file order, then `unknown`) and one per journey. Rates are
//!   shares of the rows where the measure exists; `None` where it exists nowhere.
//! - [`rank`] scores each reason and journey with volume: a weighted mean of measures scaled to 0..1 (volume
//!   relative to the largest, share negative, repeat-contact rate, SLA breach rate, share of low survey scores);
//!   a measure that could not be taken counts as 0. Rank 1 is where to improve first; `unknown` is not ranked.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    Float32Builder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder, UInt32Builder, UInt64Builder,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float32Array, Float64Array, RecordBatch, StructArray,
};
use arrow_schema::{DataType, Schema, SchemaRef};

use super::keys::{float_column, string_column, value};
use super::linker::{JourneyInstance, MeanSum};
use super::taxonomy::Taxonomy;
use crate::error::{Error, Result};
use crate::output::{ParquetSink, StagedFile};
use crate::pipeline::{Localized, Pipeline, PriorityWeights};
use crate::schema;

pub const JOURNEYS_FILE: &str = "journeys.parquet";
pub const LIFECYCLE_FILE: &str = "lifecycle.parquet";

const BATCH_ROWS: usize = 8192;

fn utf8_list() -> ListBuilder<StringBuilder> {
    ListBuilder::new(StringBuilder::new()).with_field(schema::list_item(DataType::Utf8))
}

/// Streams journey instances into journeys.parquet.
pub struct JourneysWriter {
    sink: ParquetSink,
    schema: SchemaRef,
    b: JourneyColumns,
    open: u64,
    closed: u64,
}

struct JourneyColumns {
    instance: StringBuilder,
    journey: StringBuilder,
    customer: StringBuilder,
    start: TimestampMicrosecondBuilder,
    end: TimestampMicrosecondBuilder,
    duration: Int64Builder,
    touchpoints: UInt32Builder,
    channels: ListBuilder<StringBuilder>,
    reasons: ListBuilder<StringBuilder>,
    first: Float32Builder,
    last: Float32Builder,
    lowest: Float32Builder,
    breaches: UInt32Builder,
    repeats: UInt32Builder,
    nps: Float64Builder,
    ces: Float64Builder,
    csat: Float64Builder,
    status: StringBuilder,
    len: usize,
}

impl JourneyColumns {
    fn new() -> JourneyColumns {
        JourneyColumns {
            instance: StringBuilder::new(),
            journey: StringBuilder::new(),
            customer: StringBuilder::new(),
            start: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            end: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            duration: Int64Builder::new(),
            touchpoints: UInt32Builder::new(),
            channels: utf8_list(),
            reasons: utf8_list(),
            first: Float32Builder::new(),
            last: Float32Builder::new(),
            lowest: Float32Builder::new(),
            breaches: UInt32Builder::new(),
            repeats: UInt32Builder::new(),
            nps: Float64Builder::new(),
            ces: Float64Builder::new(),
            csat: Float64Builder::new(),
            status: StringBuilder::new(),
            len: 0,
        }
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.instance.finish()),
            Arc::new(self.journey.finish()),
            Arc::new(self.customer.finish()),
            Arc::new(self.start.finish()),
            Arc::new(self.end.finish()),
            Arc::new(self.duration.finish()),
            Arc::new(self.touchpoints.finish()),
            Arc::new(self.channels.finish()),
            Arc::new(self.reasons.finish()),
            Arc::new(self.first.finish()),
            Arc::new(self.last.finish()),
            Arc::new(self.lowest.finish()),
            Arc::new(self.breaches.finish()),
            Arc::new(self.repeats.finish()),
            Arc::new(self.nps.finish()),
            Arc::new(self.ces.finish()),
            Arc::new(self.csat.finish()),
            Arc::new(self.status.finish()),
        ];
        self.len = 0;
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

impl JourneysWriter {
    pub fn create(out: &Path, metadata: Vec<(String, String)>) -> Result<JourneysWriter> {
        let schema: SchemaRef = Arc::new(Schema::new(schema::journeys_fields()));
        Ok(JourneysWriter {
            sink: ParquetSink::create(&out.join(JOURNEYS_FILE), schema.clone(), metadata)?,
            schema,
            b: JourneyColumns::new(),
            open: 0,
            closed: 0,
        })
    }

    pub fn write(&mut self, journey: &JourneyInstance, open: bool) -> Result<()> {
        let b = &mut self.b;
        b.instance.append_value(&journey.instance_id);
        b.journey.append_value(&journey.journey_id);
        b.customer.append_value(&journey.customer_id);
        b.start.append_value(journey.start);
        b.end.append_value(journey.end);
        b.duration
            .append_value((journey.end - journey.start) / 1_000_000);
        b.touchpoints.append_value(journey.touchpoints);
        for channel in &journey.channels {
            b.channels.values().append_value(channel);
        }
        b.channels.append(true);
        for reason in &journey.reasons {
            b.reasons.values().append_value(reason);
        }
        b.reasons.append(true);
        b.first.append_option(journey.first_sentiment);
        b.last.append_option(journey.last_sentiment);
        b.lowest.append_option(journey.lowest_sentiment);
        b.breaches.append_value(journey.sla_breaches);
        b.repeats.append_value(journey.repeat_contacts);
        b.nps.append_option(journey.nps.mean());
        b.ces.append_option(journey.ces.mean());
        b.csat.append_option(journey.csat.mean());
        b.status
            .append_value(schema::JOURNEY_STATUSES[usize::from(!open)]);
        b.len += 1;
        if open {
            self.open += 1;
        } else {
            self.closed += 1;
        }
        if b.len >= BATCH_ROWS {
            let batch = b.finish(&self.schema)?;
            self.sink.write(&batch)?;
        }
        Ok(())
    }

    /// Journeys written (open, closed).
    pub fn counts(&self) -> (u64, u64) {
        (self.open, self.closed)
    }

    pub fn finish(mut self) -> Result<StagedFile> {
        if self.b.len > 0 {
            let batch = self.b.finish(&self.schema)?;
            self.sink.write(&batch)?;
        }
        self.sink.finish()
    }
}

/// The measures of one contact reason or journey over the run's interactions.
#[derive(Debug, Default)]
struct Measures {
    volume: u64,
    per_channel: [u64; schema::CHANNELS.len()],
    sentiment: MeanSum,
    negative: u64,
    with_sentiment_label: u64,
    customer_contacts: u64,
    repeats: u64,
    sla_known: u64,
    sla_breached: u64,
    responses: Vec<f64>,
    journeys: BTreeSet<String>,
    /// Hashes of the journey instances seen (journey rows).
    instances: HashSet<u64>,
    nps: MeanSum,
    ces: MeanSum,
    csat: MeanSum,
    scored: u64,
    low_scores: u64,
    scores_given: u64,
}

/// What one interaction row adds to the measures of its reason and its journey.
struct Observed<'a> {
    reason: &'a str,
    /// Index into `schema::CHANNELS`.
    channel: Option<usize>,
    outbound: bool,
    sentiment: Option<&'a str>,
    sentiment_score: Option<f32>,
    repeat: Option<bool>,
    breached: Option<bool>,
    response: Option<f64>,
    scores: super::scores::Scores,
}

/// The measures under `key`, created on first use without allocating for keys already there.
fn entry<'m>(map: &'m mut BTreeMap<String, Measures>, key: &str) -> &'m mut Measures {
    if !map.contains_key(key) {
        map.insert(key.to_string(), Measures::default());
    }
    map.get_mut(key).expect("inserted above")
}

fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl Measures {
    fn add(&mut self, o: &Observed<'_>) {
        self.volume += 1;
        if let Some(channel) = o.channel {
            self.per_channel[channel] += 1;
        }
        self.sentiment.add(o.sentiment_score);
        if let Some(label) = o.sentiment {
            self.with_sentiment_label += 1;
            self.negative += u64::from(label == "negative");
        }
        // Repeat contacts are measured on the customer's own contacts with a known reason.
        if let (false, Some(repeat)) = (o.outbound, o.repeat) {
            if o.reason != schema::UNKNOWN_REASON {
                self.customer_contacts += 1;
                self.repeats += u64::from(repeat);
            }
        }
        if let Some(breached) = o.breached {
            self.sla_known += 1;
            self.sla_breached += u64::from(breached);
        }
        if let Some(hours) = o.response {
            self.responses.push(hours);
        }
        self.nps.add(o.scores.nps);
        self.ces.add(o.scores.ces);
        self.csat.add(o.scores.csat);
        self.scored += u64::from(o.scores.any());
        let (low, given) = o.scores.low_of_given();
        self.low_scores += u64::from(low);
        self.scores_given += u64::from(given);
    }

    fn share_negative(&self) -> Option<f64> {
        share(self.negative, self.with_sentiment_label)
    }
    fn repeat_rate(&self) -> Option<f64> {
        share(self.repeats, self.customer_contacts)
    }
    fn sla_breach_rate(&self) -> Option<f64> {
        share(self.sla_breached, self.sla_known)
    }
    fn low_score_share(&self) -> Option<f64> {
        share(self.low_scores, self.scores_given)
    }
    fn median_response(&mut self) -> Option<f64> {
        if self.responses.is_empty() {
            return None;
        }
        self.responses.sort_by(f64::total_cmp);
        let n = self.responses.len();
        Some(if n % 2 == 1 {
            self.responses[n / 2]
        } else {
            (self.responses[n / 2 - 1] + self.responses[n / 2]) / 2.0
        })
    }
}

/// One ranked contact reason or journey.
#[derive(Debug, Clone, PartialEq)]
pub struct Priority {
    /// `reason` or `journey` (`schema::LEVELS`).
    pub level: &'static str,
    pub id: String,
    pub name: String,
    /// Interactions (reasons) or journey instances (journeys).
    pub volume: u64,
    pub share_negative: Option<f64>,
    pub repeat_contact_rate: Option<f64>,
    pub sla_breach_rate: Option<f64>,
    pub low_score_share: Option<f64>,
    pub score: f64,
    pub rank: u32,
}

/// The Life Cycle Model view, accumulated over the run's interaction batches.
#[derive(Debug, Default)]
pub struct Lifecycle {
    reasons: BTreeMap<String, Measures>,
    journeys: BTreeMap<String, Measures>,
}

fn bool_column<'a>(batch: &'a RecordBatch, name: &str) -> Option<&'a BooleanArray> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<BooleanArray>())
}

fn bool_value(column: Option<&BooleanArray>, row: usize) -> Option<bool> {
    column.filter(|c| c.is_valid(row)).map(|c| c.value(row))
}

fn f32_value(column: Option<&Float32Array>, row: usize) -> Option<f32> {
    column.filter(|c| c.is_valid(row)).map(|c| c.value(row))
}

fn instance_hash(instance: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    instance.hash(&mut hasher);
    hasher.finish()
}

impl Lifecycle {
    /// Adds one batch of written interactions (enrichment and journey columns).
    pub fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let reasons = string_column(batch, schema::CONTACT_REASON)?;
        let channels = string_column(batch, schema::CHANNEL)?;
        let directions = string_column(batch, schema::DIRECTION)?;
        let sentiments = string_column(batch, schema::SENTIMENT)?;
        let sentiment_scores = float_column(batch, schema::SENTIMENT_SCORE)?;
        let journeys = string_column(batch, schema::JOURNEY_ID)?;
        let instances = string_column(batch, schema::JOURNEY_INSTANCE_ID)?;
        let repeats = bool_column(batch, schema::REPEAT_CONTACT);
        let breaches = bool_column(batch, schema::SLA_BREACHED);
        let responses = batch
            .column_by_name(schema::RESPONSE_WORKING_HOURS)
            .and_then(|c| c.as_any().downcast_ref::<Float64Array>());
        let scores: Vec<Option<&Float32Array>> = schema::SCORES
            .iter()
            .map(|name| float_column(batch, name))
            .collect::<Result<_>>()?;
        for row in 0..batch.num_rows() {
            let reason = value(reasons, row).unwrap_or(schema::UNKNOWN_REASON);
            let observed = Observed {
                reason,
                channel: value(channels, row)
                    .and_then(|c| schema::CHANNELS.iter().position(|k| *k == c)),
                outbound: value(directions, row) == Some("outbound"),
                sentiment: value(sentiments, row),
                sentiment_score: f32_value(sentiment_scores, row),
                repeat: bool_value(repeats, row),
                breached: bool_value(breaches, row),
                response: responses.filter(|r| r.is_valid(row)).map(|r| r.value(row)),
                scores: super::scores::Scores {
                    nps: f32_value(scores[0], row),
                    ces: f32_value(scores[1], row),
                    csat: f32_value(scores[2], row),
                },
            };
            let journey = value(journeys, row);
            let measures = entry(&mut self.reasons, reason);
            measures.add(&observed);
            if let Some(journey) = journey {
                if !measures.journeys.contains(journey) {
                    measures.journeys.insert(journey.to_string());
                }
                let measures = entry(&mut self.journeys, journey);
                measures.add(&observed);
                if let Some(instance) = value(instances, row) {
                    measures.instances.insert(instance_hash(instance));
                }
            }
        }
        Ok(())
    }

    /// The lifecycle.parquet rows and the priority ranking.
    pub fn finish(
        mut self,
        pipeline: &Pipeline,
        taxonomy: &Taxonomy,
    ) -> Result<(RecordBatch, Vec<Priority>)> {
        let language = pipeline.languages.first().cloned().unwrap_or_default();
        let name_of = |name: &Localized| {
            name.get(&language)
                .or_else(|| name.values().next())
                .cloned()
        };
        let mut rows = Rows::new();

        let mut reason_ids: Vec<(&str, Option<&str>)> = Vec::new();
        for phase in &pipeline.phases {
            for reason in pipeline
                .contact_reasons
                .iter()
                .filter(|r| r.phase == phase.id)
            {
                reason_ids.push((&reason.id, Some(&phase.id)));
            }
        }
        reason_ids.push((schema::UNKNOWN_REASON, None));
        let mut reason_measures: Vec<(String, Measures)> = Vec::new();
        for (id, _) in &reason_ids {
            let m = self.reasons.remove(*id).unwrap_or_default();
            reason_measures.push((id.to_string(), m));
        }
        let mut journey_measures: Vec<(String, Measures)> = taxonomy
            .kinds()
            .iter()
            .map(|k| {
                (
                    k.id.clone(),
                    self.journeys.remove(&k.id).unwrap_or_default(),
                )
            })
            .collect();
        // Journeys of an earlier pipeline may still appear through the state; keep their rows.
        journey_measures.extend(std::mem::take(&mut self.journeys));

        let reason_priorities = rank(
            "reason",
            reason_measures
                .iter()
                .filter(|(id, _)| id != schema::UNKNOWN_REASON)
                .map(|(id, m)| {
                    let name = pipeline
                        .reason(id)
                        .and_then(|r| name_of(&r.name))
                        .unwrap_or_else(|| id.clone());
                    (id.clone(), name, m.volume, m)
                }),
            &pipeline.priorities,
        );
        let journey_priorities = rank(
            "journey",
            journey_measures.iter().map(|(id, m)| {
                let name = taxonomy
                    .index_of(id)
                    .and_then(|k| name_of(&taxonomy.kind(k).name))
                    .unwrap_or_else(|| id.clone());
                (id.clone(), name, m.instances.len() as u64, m)
            }),
            &pipeline.priorities,
        );
        let find = |list: &[Priority], id: &str| list.iter().find(|p| p.id == id).cloned();

        for ((id, phase), (_, mut m)) in reason_ids.iter().zip(reason_measures) {
            let reason = pipeline.reason(id);
            rows.level.append_value(schema::LEVELS[0]);
            rows.phase.append_option(*phase);
            rows.reason.append_value(id);
            rows.journey.append_null();
            rows.name
                .append_option(reason.and_then(|r| name_of(&r.name)));
            rows.owner
                .append_option(reason.and_then(|r| r.owner.as_deref()));
            append_list(&mut rows.processes, reason.map(|r| r.processes.as_slice()));
            append_list(&mut rows.systems, reason.map(|r| r.systems.as_slice()));
            rows.cost
                .append_option(reason.and_then(|r| r.cost_per_contact));
            rows.instances.append_null();
            rows.measures(&mut m, find(&reason_priorities, id));
        }
        for (id, mut m) in journey_measures {
            let kind = taxonomy.index_of(&id).map(|k| taxonomy.kind(k));
            rows.level.append_value(schema::LEVELS[1]);
            rows.phase.append_null();
            rows.reason.append_null();
            rows.journey.append_value(&id);
            rows.name.append_option(kind.and_then(|k| name_of(&k.name)));
            rows.owner.append_null();
            append_list(&mut rows.processes, None);
            append_list(&mut rows.systems, None);
            rows.cost.append_null();
            rows.instances.append_value(m.instances.len() as u64);
            // A journey row lists its own reasons.
            m.journeys = kind
                .map(|k| k.reasons.iter().cloned().collect())
                .unwrap_or_default();
            let priority = find(&journey_priorities, &id);
            rows.measures(&mut m, priority);
        }
        let batch = rows.finish()?;
        let mut priorities = journey_priorities;
        priorities.extend(reason_priorities);
        Ok((batch, priorities))
    }
}

fn append_list(builder: &mut ListBuilder<StringBuilder>, values: Option<&[String]>) {
    match values {
        Some(values) => {
            for v in values {
                builder.values().append_value(v);
            }
            builder.append(true);
        }
        None => builder.append(false),
    }
}

/// Scores and ranks `(id, name, volume, measures)`; entities without volume are left out.
fn rank<'m>(
    level: &'static str,
    entities: impl Iterator<Item = (String, String, u64, &'m Measures)>,
    weights: &PriorityWeights,
) -> Vec<Priority> {
    let entities: Vec<_> = entities.filter(|(_, _, volume, _)| *volume > 0).collect();
    let largest = entities.iter().map(|e| e.2).max().unwrap_or(0).max(1);
    let total_weight = weights.volume
        + weights.share_negative
        + weights.repeat_contact_rate
        + weights.sla_breach_rate
        + weights.low_score_share;
    let mut ranked: Vec<Priority> = entities
        .into_iter()
        .map(|(id, name, volume, m)| {
            let share_negative = m.share_negative();
            let repeat_contact_rate = m.repeat_rate();
            let sla_breach_rate = m.sla_breach_rate();
            let low_score_share = m.low_score_share();
            let weighted = weights.volume * volume as f64 / largest as f64
                + weights.share_negative * share_negative.unwrap_or(0.0)
                + weights.repeat_contact_rate * repeat_contact_rate.unwrap_or(0.0)
                + weights.sla_breach_rate * sla_breach_rate.unwrap_or(0.0)
                + weights.low_score_share * low_score_share.unwrap_or(0.0);
            Priority {
                level,
                id,
                name,
                volume,
                share_negative,
                repeat_contact_rate,
                sla_breach_rate,
                low_score_share,
                score: if total_weight > 0.0 {
                    weighted / total_weight
                } else {
                    0.0
                },
                rank: 0,
            }
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.volume.cmp(&a.volume))
            .then_with(|| a.id.cmp(&b.id))
    });
    for (i, p) in ranked.iter_mut().enumerate() {
        p.rank = i as u32 + 1;
    }
    ranked
}

/// The builders of lifecycle.parquet.
struct Rows {
    level: StringBuilder,
    phase: StringBuilder,
    reason: StringBuilder,
    journey: StringBuilder,
    name: StringBuilder,
    owner: StringBuilder,
    processes: ListBuilder<StringBuilder>,
    systems: ListBuilder<StringBuilder>,
    cost: Float64Builder,
    volume: UInt64Builder,
    instances: UInt64Builder,
    channel_share: Vec<Float64Builder>,
    channel_share_valid: Vec<bool>,
    mean_sentiment: Float64Builder,
    share_negative: Float64Builder,
    repeat_rate: Float64Builder,
    sla_rate: Float64Builder,
    median_response: Float64Builder,
    journeys: ListBuilder<StringBuilder>,
    scored: UInt64Builder,
    nps: Float64Builder,
    ces: Float64Builder,
    csat: Float64Builder,
    low_share: Float64Builder,
    priority_score: Float64Builder,
    priority_rank: UInt32Builder,
}

impl Rows {
    fn new() -> Rows {
        Rows {
            level: StringBuilder::new(),
            phase: StringBuilder::new(),
            reason: StringBuilder::new(),
            journey: StringBuilder::new(),
            name: StringBuilder::new(),
            owner: StringBuilder::new(),
            processes: utf8_list(),
            systems: utf8_list(),
            cost: Float64Builder::new(),
            volume: UInt64Builder::new(),
            instances: UInt64Builder::new(),
            channel_share: schema::CHANNELS
                .iter()
                .map(|_| Float64Builder::new())
                .collect(),
            channel_share_valid: Vec::new(),
            mean_sentiment: Float64Builder::new(),
            share_negative: Float64Builder::new(),
            repeat_rate: Float64Builder::new(),
            sla_rate: Float64Builder::new(),
            median_response: Float64Builder::new(),
            journeys: utf8_list(),
            scored: UInt64Builder::new(),
            nps: Float64Builder::new(),
            ces: Float64Builder::new(),
            csat: Float64Builder::new(),
            low_share: Float64Builder::new(),
            priority_score: Float64Builder::new(),
            priority_rank: UInt32Builder::new(),
        }
    }

    fn measures(&mut self, m: &mut Measures, priority: Option<Priority>) {
        self.volume.append_value(m.volume);
        // Shares of the rows with a channel; null when none has one.
        let with_channel: u64 = m.per_channel.iter().sum();
        for (builder, count) in self.channel_share.iter_mut().zip(m.per_channel) {
            builder.append_value(share(count, with_channel).unwrap_or(0.0));
        }
        self.channel_share_valid.push(with_channel > 0);
        self.mean_sentiment.append_option(m.sentiment.mean());
        self.share_negative.append_option(m.share_negative());
        self.repeat_rate.append_option(m.repeat_rate());
        self.sla_rate.append_option(m.sla_breach_rate());
        self.median_response.append_option(m.median_response());
        for journey in &m.journeys {
            self.journeys.values().append_value(journey);
        }
        self.journeys.append(true);
        self.scored.append_value(m.scored);
        self.nps.append_option(m.nps.mean());
        self.ces.append_option(m.ces.mean());
        self.csat.append_option(m.csat.mean());
        self.low_share.append_option(m.low_score_share());
        self.priority_score
            .append_option(priority.as_ref().map(|p| p.score));
        self.priority_rank.append_option(priority.map(|p| p.rank));
    }

    fn finish(mut self) -> Result<RecordBatch> {
        let share_fields = schema::channel_share_fields();
        let share_columns: Vec<ArrayRef> = self
            .channel_share
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        let channel_share = StructArray::try_new(
            share_fields,
            share_columns,
            Some(self.channel_share_valid.iter().copied().collect()),
        )?;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.level.finish()),
            Arc::new(self.phase.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.journey.finish()),
            Arc::new(self.name.finish()),
            Arc::new(self.owner.finish()),
            Arc::new(self.processes.finish()),
            Arc::new(self.systems.finish()),
            Arc::new(self.cost.finish()),
            Arc::new(self.volume.finish()),
            Arc::new(self.instances.finish()),
            Arc::new(channel_share),
            Arc::new(self.mean_sentiment.finish()),
            Arc::new(self.share_negative.finish()),
            Arc::new(self.repeat_rate.finish()),
            Arc::new(self.sla_rate.finish()),
            Arc::new(self.median_response.finish()),
            Arc::new(self.journeys.finish()),
            Arc::new(self.scored.finish()),
            Arc::new(self.nps.finish()),
            Arc::new(self.ces.finish()),
            Arc::new(self.csat.finish()),
            Arc::new(self.low_share.finish()),
            Arc::new(self.priority_score.finish()),
            Arc::new(self.priority_rank.finish()),
        ];
        let schema = Arc::new(Schema::new(schema::lifecycle_fields()));
        RecordBatch::try_new(schema, columns).map_err(Error::from)
    }
}

/// Writes lifecycle.parquet.
pub fn write_lifecycle(
    out: &Path,
    batch: &RecordBatch,
    metadata: Vec<(String, String)>,
) -> Result<StagedFile> {
    let mut sink = ParquetSink::create(&out.join(LIFECYCLE_FILE), batch.schema(), metadata)?;
    sink.write(batch)?;
    sink.finish()
}

/// The priorities as a plain-text table: the `top` first journeys and contact reasons.
pub fn priorities_table(priorities: &[Priority], top: usize) -> String {
    let percent =
        |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{:.0}%", v * 100.0));
    let mut out = String::new();
    for level in schema::LEVELS.iter().rev() {
        let rows: Vec<&Priority> = priorities
            .iter()
            .filter(|p| p.level == *level)
            .take(top)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let unit = if *level == "journey" {
            "journeys"
        } else {
            "contacts"
        };
        out.push_str(&format!(
            "priorities: {level}s\n{:>4}  {:<28} {:>8}  {:>8}  {:>7}  {:>7}  {:>9}  {:>5}\n",
            "rank", level, unit, "negative", "repeat", "sla", "low score", "score"
        ));
        for p in rows {
            out.push_str(&format!(
                "{:>4}  {:<28} {:>8}  {:>8}  {:>7}  {:>7}  {:>9}  {:>5.2}\n",
                p.rank,
                p.id,
                p.volume,
                percent(p.share_negative),
                percent(p.repeat_contact_rate),
                percent(p.sla_breach_rate),
                percent(p.low_score_share),
                p.score
            ));
        }
    }
    out
}
