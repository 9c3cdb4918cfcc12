//! The event log for process-mining tools: one event per journey touchpoint, the journey instance as the case.
//!
//! Contract: [`EventLog`] writes the same events three ways, each staged for the run's commit:
//! `events.csv` and `events.parquet` (columns of `schema::event_log_fields`, timestamps in UTC) and `events.xes`
//! (IEEE XES 1849-2016: a trace per case with `concept:name`, `time:timestamp`, `org:resource` and
//! `lifecycle:transition`). Cases come whole and in time order within a run; a journey spanning several nightly
//! runs has its events of each run in that run's log, under the same case id.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Schema, SchemaRef};
use chrono::{DateTime, SecondsFormat, Utc};

use super::linker::Touch;
use crate::error::{Error, Result};
use crate::output::{ParquetSink, StagedFile, StagedWriter};
use crate::pipeline::EventActivity;
use crate::schema;

pub const EVENTS_CSV: &str = "events.csv";
pub const EVENTS_PARQUET: &str = "events.parquet";
pub const EVENTS_XES: &str = "events.xes";

/// Events buffered before a Parquet batch is written.
const BATCH_EVENTS: usize = 8192;

const XES_HEADER: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1849-2016" xes.features="" xmlns="http://www.xes-standard.org/">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
  <extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>
  <extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>
  <global scope="trace">
    <string key="concept:name" value="__INVALID__"/>
  </global>
  <global scope="event">
    <string key="concept:name" value="__INVALID__"/>
    <date key="time:timestamp" value="1970-01-01T00:00:00.000Z"/>
  </global>
  <classifier name="Activity" keys="concept:name"/>
  <classifier name="Activity and resource" keys="concept:name org:resource"/>
  <string key="concept:name" value="touchpoint journeys"/>
"#;

/// The events of one case (journey instance) in one run, in time order.
pub struct Case<'a, 't> {
    pub case_id: &'a str,
    pub journey_id: &'a str,
    pub customer_id: &'a str,
    pub touches: Vec<&'a Touch<'t>>,
}

pub struct EventLog {
    activity: EventActivity,
    csv: csv::Writer<StagedWriter>,
    csv_path: std::path::PathBuf,
    xes: StagedWriter,
    parquet: ParquetSink,
    schema: SchemaRef,
    buffer: Columns,
    events: u64,
}

struct Columns {
    case_id: StringBuilder,
    activity: StringBuilder,
    timestamp: TimestampMicrosecondBuilder,
    resource: StringBuilder,
    customer: StringBuilder,
    journey: StringBuilder,
    interaction: StringBuilder,
    direction: StringBuilder,
    reason: StringBuilder,
    phase: StringBuilder,
    len: usize,
}

impl Columns {
    fn new() -> Columns {
        Columns {
            case_id: StringBuilder::new(),
            activity: StringBuilder::new(),
            timestamp: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            resource: StringBuilder::new(),
            customer: StringBuilder::new(),
            journey: StringBuilder::new(),
            interaction: StringBuilder::new(),
            direction: StringBuilder::new(),
            reason: StringBuilder::new(),
            phase: StringBuilder::new(),
            len: 0,
        }
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.case_id.finish()),
            Arc::new(self.activity.finish()),
            Arc::new(self.timestamp.finish()),
            Arc::new(self.resource.finish()),
            Arc::new(self.customer.finish()),
            Arc::new(self.journey.finish()),
            Arc::new(self.interaction.finish()),
            Arc::new(self.direction.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.phase.finish()),
        ];
        self.len = 0;
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

/// RFC 3339 in UTC with milliseconds, as XES and pandas read it.
fn utc(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot hold at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

impl EventLog {
    pub fn create(
        out: &Path,
        metadata: Vec<(String, String)>,
        activity: EventActivity,
    ) -> Result<EventLog> {
        let schema: SchemaRef = Arc::new(Schema::new(schema::event_log_fields()));
        let csv_path = out.join(EVENTS_CSV);
        let mut csv = csv::Writer::from_writer(StagedWriter::create(&csv_path)?);
        let header: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        csv.write_record(&header)
            .map_err(|e| csv_error(&csv_path, e))?;
        let mut xes = StagedWriter::create(&out.join(EVENTS_XES))?;
        let xes_path = xes.final_path().to_path_buf();
        xes.write_all(XES_HEADER.as_bytes())
            .map_err(|e| Error::io(&xes_path, e))?;
        let parquet = ParquetSink::create(&out.join(EVENTS_PARQUET), schema.clone(), metadata)?;
        Ok(EventLog {
            activity,
            csv,
            csv_path,
            xes,
            parquet,
            schema,
            buffer: Columns::new(),
            events: 0,
        })
    }

    fn activity_of(&self, touch: &Touch<'_>) -> String {
        match (self.activity, touch.channel) {
            (EventActivity::ReasonAndChannel, Some(channel)) => {
                format!("{} @ {channel}", touch.reason)
            }
            _ => touch.reason.to_string(),
        }
    }

    /// Writes one case's events of this run.
    pub fn write_case(&mut self, case: &Case<'_, '_>) -> Result<()> {
        let xes_path = self.xes.final_path().to_path_buf();
        let mut trace = String::new();
        trace.push_str("  <trace>\n");
        trace.push_str(&format!(
            "    <string key=\"concept:name\" value=\"{}\"/>\n    <string key=\"journey_id\" value=\"{}\"/>\n    <string key=\"customer_id\" value=\"{}\"/>\n",
            xml_escape(case.case_id),
            xml_escape(case.journey_id),
            xml_escape(case.customer_id)
        ));
        for touch in &case.touches {
            let activity = self.activity_of(touch);
            let time = utc(touch.at);
            trace.push_str("    <event>\n");
            trace.push_str(&format!(
                "      <string key=\"concept:name\" value=\"{}\"/>\n      <date key=\"time:timestamp\" value=\"{time}\"/>\n      <string key=\"lifecycle:transition\" value=\"complete\"/>\n      <string key=\"interaction_id\" value=\"{}\"/>\n",
                xml_escape(&activity),
                xml_escape(touch.id)
            ));
            if let Some(channel) = touch.channel {
                trace.push_str(&format!(
                    "      <string key=\"org:resource\" value=\"{}\"/>\n",
                    xml_escape(channel)
                ));
            }
            if let Some(direction) = touch.direction {
                trace.push_str(&format!(
                    "      <string key=\"direction\" value=\"{}\"/>\n",
                    xml_escape(direction)
                ));
            }
            trace.push_str("    </event>\n");

            self.csv
                .write_record([
                    case.case_id,
                    &activity,
                    &time,
                    touch.channel.unwrap_or(""),
                    case.customer_id,
                    case.journey_id,
                    touch.id,
                    touch.direction.unwrap_or(""),
                    touch.reason,
                    touch.phase.unwrap_or(""),
                ])
                .map_err(|e| csv_error(&self.csv_path, e))?;

            let b = &mut self.buffer;
            b.case_id.append_value(case.case_id);
            b.activity.append_value(&activity);
            b.timestamp.append_value(touch.at);
            b.resource.append_option(touch.channel);
            b.customer.append_value(case.customer_id);
            b.journey.append_value(case.journey_id);
            b.interaction.append_value(touch.id);
            b.direction.append_option(touch.direction);
            b.reason.append_value(touch.reason);
            b.phase.append_option(touch.phase);
            b.len += 1;
            self.events += 1;
        }
        trace.push_str("  </trace>\n");
        self.xes
            .write_all(trace.as_bytes())
            .map_err(|e| Error::io(&xes_path, e))?;
        if self.buffer.len >= BATCH_EVENTS {
            let batch = self.buffer.finish(&self.schema)?;
            self.parquet.write(&batch)?;
        }
        Ok(())
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    /// Finishes the three files: CSV, Parquet, XES.
    pub fn finish(mut self) -> Result<Vec<StagedFile>> {
        if self.buffer.len > 0 {
            let batch = self.buffer.finish(&self.schema)?;
            self.parquet.write(&batch)?;
        }
        let events = self.events;
        let csv = self
            .csv
            .into_inner()
            .map_err(|e| Error::io(&self.csv_path, e.into_error()))?;
        let xes_path = self.xes.final_path().to_path_buf();
        self.xes
            .write_all(b"</log>\n")
            .map_err(|e| Error::io(&xes_path, e))?;
        Ok(vec![
            csv.finish(events)?,
            self.parquet.finish()?,
            self.xes.finish(events)?,
        ])
    }
}

fn csv_error(path: &Path, error: csv::Error) -> Error {
    Error::io(path, std::io::Error::other(error))
}
