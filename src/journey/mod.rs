//! Journeys: from interactions to journey instances, measured against service levels and rolled up on the Life
//! Cycle Model.
//!
//! A journey is one customer's run of contacts around one need, across channels (the pipeline's `[[journeys]]`).
//! The pieces, each with one job:
//! - `taxonomy`: which journeys a contact reason belongs to, most specific first;
//! - `holidays`, `calendar`, `sla`: Dutch public holidays, working hours in the organisation's time zone, and
//!   the response-time limits of inbound messages;
//! - `linker`: one customer's interactions in time order -> journey instances (pure; the rules are there);
//! - `keys`: the columns linking reads from enriched interactions;
//! - `scores`: survey scores (NPS, CES, CSAT) joined by interaction, conversation or customer;
//! - `rollup`: journeys.parquet, lifecycle.parquet and the priority ranking;
//! - `eventlog`: the event log for process-mining tools (CSV, Parquet, XES);
//! - `state`: what a nightly run leaves for the next;
//! - `run`: one run's journey pass over the enriched file ([`link_run`]), bounded in memory;
//! - `impact`: which reasons and journeys an IT system touches.

pub mod calendar;
pub mod eventlog;
pub mod holidays;
pub mod impact;
pub mod keys;
pub mod linker;
pub mod rollup;
pub mod run;
pub mod scores;
pub mod sla;
pub mod state;
pub mod taxonomy;

pub use calendar::WorkingCalendar;
pub use linker::{CustomerOutcome, CustomerState, JourneyInstance, JourneyLinker, Link, Touch};
pub use rollup::{priorities_table, Priority, JOURNEYS_FILE, LIFECYCLE_FILE};
pub use run::{link_run, JourneySummary, LinkOutcome, LinkRequest, DEFAULT_PARTITION_ROWS};
pub use scores::{Scores, SurveyScores};
pub use sla::SlaPolicy;
pub use taxonomy::Taxonomy;

/// Every file the journey pass writes into the output folder, for a run to remove stale ones.
pub const OUTPUT_FILES: [&str; 5] = [
    rollup::JOURNEYS_FILE,
    rollup::LIFECYCLE_FILE,
    eventlog::EVENTS_CSV,
    eventlog::EVENTS_PARQUET,
    eventlog::EVENTS_XES,
];
