//! One run's journey pass: from the enriched interactions of a run to interactions with journey columns,
//! journeys.parquet, lifecycle.parquet, the event log and the next nightly state, all staged for one commit.
//!
//! Contract of [`link_run`]:
//! - Reads the enriched file twice, never whole: first only the key columns, partitioned by a hash of the
//!   customer id (spilled to hidden temporary files when the run has more than `partition_rows` rows); each
//!   partition is sorted by customer, time and id and linked customer by customer. Then the file is streamed
//!   once more and the journey columns are put back in its original row order by merging the partitions'
//!   results, which are sorted by row. Memory is bounded by one partition, one batch and the previous run's
//!   saved state; the next state is streamed to its file customer by customer.
//! - Rows without a customer id or a timestamp are written with null journey columns: they cannot be placed
//!   in any customer's history.
//! - Nothing is visible until the caller commits what it returns; the state file must be committed last.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, UInt32Builder,
};
use arrow_array::{Array, ArrayRef, Float32Array, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use arrow_select::concat::concat_batches;
use arrow_select::interleave::interleave;
use arrow_select::take::take_record_batch;

use super::eventlog::{Case, EventLog};
use super::keys::{key_batch, key_schema, row_scores, KeyColumns, KEY_SOURCE_COLUMNS};
use super::linker::{CustomerOutcome, CustomerState, JourneyLinker, Link, Touch};
use super::rollup::{write_lifecycle, JourneysWriter, Lifecycle, Priority};
use super::scores::SurveyScores;
use super::sla::SlaPolicy;
use super::state::{SavedState, StateWriter};
use super::taxonomy::Taxonomy;
use crate::error::{Error, Result};
use crate::output::{ParquetBatches, ParquetSink, Spill, SpillReader, StagedFile};
use crate::pipeline::Pipeline;
use crate::schema;

/// Rows sorted in memory at once: about 40 MB of keys per partition.
pub const DEFAULT_PARTITION_ROWS: u64 = 250_000;

/// What the journey pass needs.
pub struct LinkRequest<'a> {
    pub pipeline: &'a Pipeline,
    /// The enriched interactions of this run (a staged file, not yet committed).
    pub enriched: &'a Path,
    /// Where the interactions with journey columns go (final path; staged beside it).
    pub interactions: &'a Path,
    /// The output folder for journeys, lifecycle and event-log files.
    pub out: &'a Path,
    /// Key-value metadata for every Parquet file written.
    pub metadata: Vec<(String, String)>,
    pub scores: Option<&'a SurveyScores>,
    /// The state the previous run left (empty on a first run or without a state folder).
    pub previous: SavedState,
    /// Where the next state is written; `None` runs without state.
    pub state_folder: Option<&'a Path>,
    pub batch_rows: usize,
    pub partition_rows: u64,
}

/// What the journey pass did.
#[derive(Debug, Clone, Default)]
pub struct JourneySummary {
    /// Interactions placed in a customer's history.
    pub linked_rows: u64,
    /// Interactions without a customer id or a timestamp.
    pub unlinked_rows: u64,
    /// Interactions older than their customer's latest one of an earlier run.
    pub late_rows: u64,
    pub open_journeys: u64,
    pub closed_journeys: u64,
    pub events: u64,
    pub partitions: usize,
    /// Interactions with a survey score.
    pub scored_rows: u64,
    /// Journeys first, then contact reasons, each by rank.
    pub priorities: Vec<Priority>,
}

/// The staged outputs of the journey pass.
pub struct LinkOutcome {
    pub interactions: StagedFile,
    /// journeys.parquet, lifecycle.parquet, events.csv, events.parquet, events.xes.
    pub outputs: Vec<StagedFile>,
    /// The next state, to be committed after everything else.
    pub state: Option<StagedFile>,
    pub summary: JourneySummary,
}

/// Key rows of one partition: in memory, or spilled.
enum KeyPartition {
    Memory(Vec<RecordBatch>),
    Spilled(Box<Spill>),
}

/// One partition's links, sorted by row.
enum LinkStream {
    Memory(std::vec::IntoIter<RecordBatch>),
    Spilled(SpillReader),
}

impl Iterator for LinkStream {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            LinkStream::Memory(batches) => batches.next().map(Ok),
            LinkStream::Spilled(reader) => reader.next(),
        }
    }
}

/// Links the run and stages every journey output. See the module documentation.
pub fn link_run(request: LinkRequest<'_>) -> Result<LinkOutcome> {
    let pipeline = request.pipeline;
    let taxonomy = Taxonomy::new(pipeline);
    let sla = SlaPolicy::new(pipeline);
    let batch_rows = request.batch_rows.max(1);
    let mut summary = JourneySummary::default();

    // Pass 1: the key columns, partitioned by customer.
    let source = ParquetBatches::open(request.enriched, Some(&KEY_SOURCE_COLUMNS), batch_rows)?;
    let partition_rows = request.partition_rows.max(1);
    let parts = source.rows().div_ceil(partition_rows).max(1) as usize;
    summary.partitions = parts;
    let spill_near = request.out.join("journey-keys");
    let mut partitions: Vec<KeyPartition> = (0..parts)
        .map(|_| {
            Ok(if parts == 1 {
                KeyPartition::Memory(Vec::new())
            } else {
                KeyPartition::Spilled(Box::new(Spill::create(&spill_near, key_schema())?))
            })
        })
        .collect::<Result<_>>()?;
    let mut horizon = request.previous.horizon;
    let mut row = 0u64;
    for batch in source {
        let batch = batch?;
        let (keys, latest) = key_batch(&batch, row, request.scores)?;
        row += batch.num_rows() as u64;
        summary.linked_rows += keys.num_rows() as u64;
        horizon = horizon.max(latest);
        split_by_customer(&keys, &mut partitions)?;
    }
    summary.unlinked_rows = row - summary.linked_rows;

    // Link partition by partition.
    let horizon_value = horizon.unwrap_or(i64::MIN);
    let linker = JourneyLinker::new(&taxonomy, &sla, &pipeline.linking, horizon_value);
    let mut sinks = Sinks {
        journeys: JourneysWriter::create(request.out, request.metadata.clone())?,
        events: EventLog::create(
            request.out,
            request.metadata.clone(),
            pipeline.linking.activity,
        )?,
        next_state: match request.state_folder {
            Some(folder) => Some(StateWriter::create(folder, horizon)?),
            None => None,
        },
        late: 0,
    };
    let mut previous = request.previous.customers;
    let mut streams = Vec::with_capacity(parts);
    for partition in partitions {
        let batches: Vec<RecordBatch> = match partition {
            KeyPartition::Memory(batches) => batches,
            KeyPartition::Spilled(spill) => {
                (*spill).read_back(batch_rows)?.collect::<Result<_>>()?
            }
        };
        let keys = concat_batches(&key_schema(), &batches)?;
        drop(batches);
        let links = link_partition(&keys, &linker, &mut previous, &mut sinks)?;
        drop(keys);
        let links = links_batch(&links)?;
        streams.push(if parts == 1 {
            LinkStream::Memory(vec![links].into_iter())
        } else {
            let mut spill = Spill::create(&spill_near, links.schema())?;
            for start in (0..links.num_rows()).step_by(batch_rows) {
                spill.write(&links.slice(start, batch_rows.min(links.num_rows() - start)))?;
            }
            LinkStream::Spilled(spill.read_back(batch_rows)?)
        });
    }
    // Customers of the state without interactions in this run: their journeys may close now.
    let mut rest: Vec<CustomerState> = previous.into_values().collect();
    rest.sort_by(|a, b| a.customer_id.cmp(&b.customer_id));
    for customer in rest {
        let id = customer.customer_id.clone();
        let outcome = linker.link_customer(&id, Some(customer), &[]);
        sinks.take(outcome, &[])?;
    }

    // Pass 2: the interactions again, with the journey columns in their original order.
    let enriched = ParquetBatches::open(request.enriched, None, batch_rows)?;
    let mut fields: Vec<Field> = enriched
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.extend(schema::journey_fields());
    if request.scores.is_some() {
        fields.extend(schema::score_fields());
    }
    let out_schema: SchemaRef = Arc::new(Schema::new(fields));
    let mut sink = ParquetSink::create(
        request.interactions,
        out_schema.clone(),
        request.metadata.clone(),
    )?;
    let mut merge = Merge::new(streams)?;
    let mut lifecycle = Lifecycle::default();
    let mut first_row = 0u64;
    for batch in enriched {
        let batch = batch?;
        let mut columns = batch.columns().to_vec();
        columns.extend(merge.take(first_row, batch.num_rows())?);
        if request.scores.is_some() {
            let scores = row_scores(&batch, request.scores)?;
            summary.scored_rows += scores.iter().filter(|s| s.any()).count() as u64;
            columns.push(Arc::new(
                scores.iter().map(|s| s.nps).collect::<Float32Array>(),
            ));
            columns.push(Arc::new(
                scores.iter().map(|s| s.ces).collect::<Float32Array>(),
            ));
            columns.push(Arc::new(
                scores.iter().map(|s| s.csat).collect::<Float32Array>(),
            ));
        }
        first_row += batch.num_rows() as u64;
        let out = RecordBatch::try_new(out_schema.clone(), columns)?;
        lifecycle.add(&out)?;
        sink.write(&out)?;
    }
    let interactions = sink.finish()?;

    let (lifecycle_batch, priorities) = lifecycle.finish(pipeline, &taxonomy)?;
    summary.priorities = priorities;
    summary.late_rows = sinks.late;
    (summary.open_journeys, summary.closed_journeys) = sinks.journeys.counts();
    summary.events = sinks.events.events();
    let mut outputs = vec![
        sinks.journeys.finish()?,
        write_lifecycle(request.out, &lifecycle_batch, request.metadata)?,
    ];
    outputs.extend(sinks.events.finish()?);
    let state = match sinks.next_state {
        Some(writer) => Some(writer.finish()?),
        None => None,
    };
    Ok(LinkOutcome {
        interactions,
        outputs,
        state,
        summary,
    })
}

/// Where a customer's rows go; the same customer always lands in the same partition.
fn partition_of(customer: &str, parts: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    customer.hash(&mut hasher);
    (hasher.finish() % parts as u64) as usize
}

fn split_by_customer(keys: &RecordBatch, partitions: &mut [KeyPartition]) -> Result<()> {
    if keys.num_rows() == 0 {
        return Ok(());
    }
    let parts = partitions.len();
    let columns = KeyColumns::new(keys)?;
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); parts];
    for i in 0..columns.len() {
        rows[partition_of(columns.customer(i), parts)].push(i as u32);
    }
    for (partition, rows) in partitions.iter_mut().zip(rows) {
        if rows.is_empty() {
            continue;
        }
        let part = if parts == 1 {
            keys.clone()
        } else {
            take_record_batch(keys, &arrow_array::UInt32Array::from(rows))?
        };
        match partition {
            KeyPartition::Memory(batches) => batches.push(part),
            KeyPartition::Spilled(spill) => spill.write(&part)?,
        }
    }
    Ok(())
}

/// Links every customer of one partition; returns the links sorted by row.
fn link_partition(
    keys: &RecordBatch,
    linker: &JourneyLinker<'_>,
    previous: &mut HashMap<String, CustomerState>,
    sinks: &mut Sinks,
) -> Result<Vec<Link>> {
    let columns = KeyColumns::new(keys)?;
    let mut order: Vec<usize> = (0..columns.len()).collect();
    order.sort_unstable_by(|&a, &b| {
        columns
            .customer(a)
            .cmp(columns.customer(b))
            .then(columns.at(a).cmp(&columns.at(b)))
            .then_with(|| columns.id(a).cmp(columns.id(b)))
    });
    let touches: Vec<Touch<'_>> = order.iter().map(|&i| columns.touch(i)).collect();
    let mut links = Vec::with_capacity(touches.len());
    let mut start = 0;
    while start < touches.len() {
        let customer = columns.customer(order[start]);
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&i| columns.customer(i) == customer)
                .count();
        let group = &touches[start..end];
        let outcome = linker.link_customer(customer, previous.remove(customer), group);
        links.extend(sinks.take(outcome, group)?);
        start = end;
    }
    links.sort_unstable_by_key(|link| link.row);
    Ok(links)
}

/// Where each customer's outcome goes.
struct Sinks {
    journeys: JourneysWriter,
    events: EventLog,
    /// Streams the customers a later run needs; `None` when the run keeps no state.
    next_state: Option<StateWriter>,
    late: u64,
}

impl Sinks {
    /// Writes a customer's journeys and events, keeps its state; returns its links.
    fn take(&mut self, outcome: CustomerOutcome, touches: &[Touch<'_>]) -> Result<Vec<Link>> {
        let CustomerOutcome {
            links,
            closed,
            state,
            late,
        } = outcome;
        self.late += late;
        let mut cases: Vec<Case<'_, '_>> = Vec::new();
        let mut case_of: HashMap<&str, usize> = HashMap::new();
        for (touch, link) in touches.iter().zip(&links) {
            let (Some(instance), Some(journey)) = (&link.instance_id, &link.journey_id) else {
                continue;
            };
            let index = *case_of.entry(instance.as_str()).or_insert_with(|| {
                cases.push(Case {
                    case_id: instance,
                    journey_id: journey,
                    customer_id: &state.customer_id,
                    touches: Vec::new(),
                });
                cases.len() - 1
            });
            cases[index].touches.push(touch);
        }
        for case in &cases {
            self.events.write_case(case)?;
        }
        drop(cases);
        for journey in &closed {
            self.journeys.write(journey, false)?;
        }
        for journey in &state.open {
            self.journeys.write(journey, true)?;
        }
        if let Some(writer) = &mut self.next_state {
            if !state.is_spent() {
                writer.add(&state)?;
            }
        }
        Ok(links)
    }
}

/// The row of each link and the journey columns, as a batch.
fn links_batch(links: &[Link]) -> Result<RecordBatch> {
    let mut journey = StringBuilder::new();
    let mut instance = StringBuilder::new();
    let mut step = UInt32Builder::new();
    let mut since = Int64Builder::new();
    let mut switch = BooleanBuilder::new();
    let mut repeat = BooleanBuilder::new();
    let mut response = Float64Builder::new();
    let mut breached = BooleanBuilder::new();
    for link in links {
        journey.append_option(link.journey_id.as_deref());
        instance.append_option(link.instance_id.as_deref());
        step.append_option(link.step);
        since.append_option(link.seconds_since_previous);
        switch.append_option(link.channel_switch);
        repeat.append_option(link.repeat_contact);
        response.append_option(link.response_working_hours);
        breached.append_option(link.sla_breached);
    }
    let rows: ArrayRef = Arc::new(links.iter().map(|l| l.row).collect::<UInt64Array>());
    let columns: Vec<ArrayRef> = vec![
        rows,
        Arc::new(journey.finish()),
        Arc::new(instance.finish()),
        Arc::new(step.finish()),
        Arc::new(since.finish()),
        Arc::new(switch.finish()),
        Arc::new(repeat.finish()),
        Arc::new(response.finish()),
        Arc::new(breached.finish()),
    ];
    Ok(RecordBatch::try_new(links_schema(), columns)?)
}

fn links_schema() -> SchemaRef {
    let mut fields = vec![Field::new("row", DataType::UInt64, false)];
    fields.extend(schema::journey_fields());
    Arc::new(Schema::new(fields))
}

/// Merges the partitions' link streams (each sorted by row) back into the run's row order.
struct Merge {
    streams: Vec<LinkStream>,
    /// Per stream: its current batch and the position in it.
    current: Vec<Option<(RecordBatch, usize)>>,
    /// (next row, stream), smallest first.
    heads: BinaryHeap<Reverse<(u64, usize)>>,
    /// One row of nulls, for rows no partition has.
    nulls: RecordBatch,
}

fn row_at(batch: &RecordBatch, offset: usize) -> Result<u64> {
    batch
        .column(0)
        .as_any()
        .downcast_ref::<UInt64Array>()
        .map(|rows| rows.value(offset))
        .ok_or_else(|| Error::Usage("journey link batch without its row column".to_string()))
}

impl Merge {
    fn new(streams: Vec<LinkStream>) -> Result<Merge> {
        let schema = links_schema();
        let nulls: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| arrow_array::new_null_array(f.data_type(), 1))
            .collect();
        let nulls = RecordBatch::try_new_with_options(
            Arc::new(Schema::new(
                schema
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone().with_nullable(true))
                    .collect::<Vec<_>>(),
            )),
            nulls,
            &Default::default(),
        )?;
        let mut merge = Merge {
            current: (0..streams.len()).map(|_| None).collect(),
            streams,
            heads: BinaryHeap::new(),
            nulls,
        };
        for stream in 0..merge.streams.len() {
            merge.advance_batch(stream)?;
        }
        Ok(merge)
    }

    /// Loads the next non-empty batch of `stream` and queues its first row.
    fn advance_batch(&mut self, stream: usize) -> Result<()> {
        self.current[stream] = None;
        for batch in self.streams[stream].by_ref() {
            let batch = batch?;
            if batch.num_rows() > 0 {
                self.heads.push(Reverse((row_at(&batch, 0)?, stream)));
                self.current[stream] = Some((batch, 0));
                break;
            }
        }
        Ok(())
    }

    /// The journey columns of rows `first .. first + rows`.
    fn take(&mut self, first: u64, rows: usize) -> Result<Vec<ArrayRef>> {
        // Source 0 is the null row; each batch a stream is in gets a source index as it is used.
        let mut sources: Vec<RecordBatch> = vec![self.nulls.clone()];
        let mut source_of: Vec<Option<usize>> = vec![None; self.streams.len()];
        let mut indices: Vec<(usize, usize)> = Vec::with_capacity(rows);
        for row in first..first + rows as u64 {
            let hit = matches!(self.heads.peek(), Some(Reverse((next, _))) if *next == row);
            if !hit {
                indices.push((0, 0));
                continue;
            }
            let Some(Reverse((_, stream))) = self.heads.pop() else {
                continue;
            };
            let Some((batch, offset)) = self.current[stream].as_mut() else {
                continue;
            };
            let source = *source_of[stream].get_or_insert_with(|| {
                sources.push(batch.clone());
                sources.len() - 1
            });
            indices.push((source, *offset));
            *offset += 1;
            if *offset < batch.num_rows() {
                let next = row_at(batch, *offset)?;
                self.heads.push(Reverse((next, stream)));
            } else {
                source_of[stream] = None;
                self.advance_batch(stream)?;
            }
        }
        (1..links_schema().fields().len())
            .map(|column| {
                let arrays: Vec<&dyn Array> =
                    sources.iter().map(|b| b.column(column).as_ref()).collect();
                interleave(&arrays, &indices).map_err(Error::from)
            })
            .collect()
    }
}
