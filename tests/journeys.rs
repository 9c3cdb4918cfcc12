//! Journeys: each linking rule on hand-built cases, working-day SLAs across weekends, public holidays and a DST
//! change, the repeat window, nightly runs against one run on generated data, the event log read by PM4Py, and
//! `enrich` on the shipped sample with survey scores and priorities.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, Float32Array, Float64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, UInt32Array,
};
use arrow_cast::display::array_value_to_string;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use touchpoint::journey::scores::Scores;
use touchpoint::journey::state::{self, SavedState};
use touchpoint::journey::{
    self, link_run, CustomerState, JourneyLinker, LinkRequest, SlaPolicy, SurveyScores, Taxonomy,
    Touch,
};
use touchpoint::output::{commit, read_parquet, ParquetSink};
use touchpoint::pipeline::Pipeline;
use touchpoint::schema;

mod common;
use common::{root, rows as count_rows, strings};

/// A small Life Cycle Model: `meter` is shared by `moving` (3 reasons) and `billing` (4), `final_invoice` by those
/// and `payback` (2); `refund` by `billing`, `complaint` and `payback` (2 each, `complaint` first); `product_info`
/// and `feedback` are in no journey. Calendar: the default (Amsterdam, Monday to Friday 09:00-17:00, Dutch holidays).
const PIPELINE: &str = r#"
[pipeline]
name = "journeys-test"
languages = ["en"]

[model]
encoder = "multilingual-e5-small"

[classify]
unknown_below = 0.5

[linking]
max_gap_days = 10
repeat_window_days = 7

[sla]
live_channels = ["voice", "chat"]

[[sla.rules]]
channel = "email"
within_working_days = 2

[[sla.rules]]
channel = "email"
reasons = ["complaint"]
within_working_hours = 4

[[phases]]
id = "not_yet_customer"
name = { en = "Not yet a customer" }
[[phases]]
id = "becoming_customer"
name = { en = "Becoming a customer" }
[[phases]]
id = "being_customer"
name = { en = "Being a customer" }
[[phases]]
id = "staying_customer"
name = { en = "Staying a customer" }
[[phases]]
id = "leaving"
name = { en = "Leaving" }

[[contact_reasons]]
id = "move"
phase = "being_customer"
name = { en = "I am moving house" }
description = { en = "Moving." }
owner = "Moves"
systems = ["CRM", "Billing"]

[[contact_reasons]]
id = "meter"
phase = "being_customer"
name = { en = "I give my meter reading" }
description = { en = "Meter readings." }
systems = ["Meter hub"]

[[contact_reasons]]
id = "final_invoice"
phase = "leaving"
name = { en = "I receive my final invoice" }
description = { en = "Final invoice." }
systems = ["billing"]

[[contact_reasons]]
id = "payment"
phase = "being_customer"
name = { en = "I pay my invoice" }
description = { en = "Payments." }

[[contact_reasons]]
id = "refund"
phase = "being_customer"
name = { en = "I get money back" }
description = { en = "Refunds." }

[[contact_reasons]]
id = "complaint"
phase = "being_customer"
name = { en = "I complain" }
description = { en = "Complaints." }

[[contact_reasons]]
id = "product_info"
phase = "not_yet_customer"
name = { en = "I want to know your products" }
description = { en = "Products." }

[[contact_reasons]]
id = "feedback"
phase = "staying_customer"
name = { en = "I give feedback" }
description = { en = "Feedback." }

[[journeys]]
id = "moving"
name = { en = "Moving house" }
reasons = ["move", "meter", "final_invoice"]
max_gap_days = 30

[[journeys]]
id = "billing"
name = { en = "Billing" }
reasons = ["payment", "refund", "meter", "final_invoice"]
max_gap_days = 14

[[journeys]]
id = "complaint"
name = { en = "Complaint" }
reasons = ["complaint", "refund"]

[[journeys]]
id = "payback"
name = { en = "Payback" }
reasons = ["refund", "final_invoice"]
"#;

fn pipeline() -> Pipeline {
    Pipeline::parse(PIPELINE, Path::new("journeys-test.toml")).expect("test pipeline is valid")
}

fn micros(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339}: {e}"))
        .timestamp_micros()
}

/// An interaction at `at` (RFC 3339) on `channel` in `direction` about `reason`.
fn touch(
    row: u64,
    at: &str,
    channel: &'static str,
    direction: &'static str,
    reason: &'static str,
) -> Touch<'static> {
    Touch {
        row,
        id: Box::leak(format!("i{row}").into_boxed_str()),
        at: micros(at),
        channel: Some(channel),
        direction: Some(direction),
        reason,
        ..Touch::default()
    }
}

/// Links one customer's touches with the test pipeline, the horizon at `horizon`.
struct Harness {
    pipeline: Pipeline,
    taxonomy: Taxonomy,
    sla: SlaPolicy,
}

impl Harness {
    fn new() -> Harness {
        let pipeline = pipeline();
        Harness {
            taxonomy: Taxonomy::new(&pipeline),
            sla: SlaPolicy::new(&pipeline),
            pipeline,
        }
    }

    fn link(
        &self,
        touches: &[Touch<'_>],
        horizon: &str,
        state: Option<CustomerState>,
    ) -> journey::CustomerOutcome {
        let linker = JourneyLinker::new(
            &self.taxonomy,
            &self.sla,
            &self.pipeline.linking,
            micros(horizon),
        );
        linker.link_customer("C1", state, touches)
    }
}

fn journeys_of(outcome: &journey::CustomerOutcome) -> Vec<Option<&str>> {
    outcome
        .links
        .iter()
        .map(|l| l.journey_id.as_deref())
        .collect()
}

fn instances_of(outcome: &journey::CustomerOutcome) -> Vec<Option<&str>> {
    outcome
        .links
        .iter()
        .map(|l| l.instance_id.as_deref())
        .collect()
}

// ---- Linking rules ------------------------------------------------------------------------------------------

#[test]
fn a_reason_of_no_open_journey_starts_its_most_specific_journey() {
    let h = Harness::new();
    let out = h.link(
        &[
            touch(0, "2026-03-02T10:00:00Z", "email", "inbound", "meter"),
            touch(1, "2026-03-03T10:00:00Z", "email", "inbound", "complaint"),
        ],
        "2026-03-04T10:00:00Z",
        None,
    );
    // meter: moving (3 reasons) is more specific than billing (4). complaint fits no open journey.
    assert_eq!(journeys_of(&out), [Some("moving"), Some("complaint")]);
    assert_eq!(
        instances_of(&out),
        [
            Some("C1:moving:20260302T100000Z"),
            Some("C1:complaint:20260303T100000Z")
        ]
    );
    assert_eq!(
        out.links.iter().map(|l| l.step).collect::<Vec<_>>(),
        [Some(1), Some(1)]
    );
}

#[test]
fn a_shared_reason_joins_the_open_journey_rather_than_the_most_specific() {
    let h = Harness::new();
    let out = h.link(
        &[
            touch(0, "2026-03-02T10:00:00Z", "email", "inbound", "payment"),
            touch(1, "2026-03-05T10:00:00Z", "chat", "inbound", "meter"),
            touch(
                2,
                "2026-03-06T10:00:00Z",
                "voice",
                "inbound",
                "final_invoice",
            ),
        ],
        "2026-03-07T10:00:00Z",
        None,
    );
    assert_eq!(journeys_of(&out), [Some("billing"); 3]);
    assert_eq!(instances_of(&out), [Some("C1:billing:20260302T100000Z"); 3]);
    assert_eq!(
        out.links.iter().map(|l| l.step).collect::<Vec<_>>(),
        [Some(1), Some(2), Some(3)]
    );
    // Three days, then one day since the previous touchpoint; every touchpoint switched channel.
    assert_eq!(
        out.links
            .iter()
            .map(|l| l.seconds_since_previous)
            .collect::<Vec<_>>(),
        [None, Some(3 * 86_400), Some(86_400)]
    );
    assert_eq!(
        out.links
            .iter()
            .map(|l| l.channel_switch)
            .collect::<Vec<_>>(),
        [Some(false), Some(true), Some(true)]
    );
    let open = &out.state.open[0];
    assert_eq!(open.channels, ["email", "chat", "voice"]);
    assert_eq!(open.reasons, ["payment", "meter", "final_invoice"]);
    assert!(out.closed.is_empty());
}

#[test]
fn a_gap_longer_than_the_journeys_closes_it_and_the_next_contact_starts_anew() {
    let h = Harness::new();
    let out = h.link(
        &[
            touch(0, "2026-03-02T10:00:00Z", "email", "inbound", "payment"),
            // billing's gap is 14 days: 15 days later the instance is closed.
            touch(1, "2026-03-17T10:00:01Z", "email", "inbound", "payment"),
        ],
        "2026-03-18T10:00:00Z",
        None,
    );
    assert_eq!(
        instances_of(&out),
        [
            Some("C1:billing:20260302T100000Z"),
            Some("C1:billing:20260317T100001Z")
        ]
    );
    assert_eq!(out.closed.len(), 1);
    assert_eq!(out.closed[0].instance_id, "C1:billing:20260302T100000Z");
    assert_eq!(out.state.open.len(), 1);

    // Exactly the gap still joins.
    let out = h.link(
        &[
            touch(0, "2026-03-02T10:00:00Z", "email", "inbound", "payment"),
            touch(1, "2026-03-16T10:00:00Z", "email", "inbound", "payment"),
        ],
        "2026-03-16T10:00:00Z",
        None,
    );
    assert_eq!(instances_of(&out)[0], instances_of(&out)[1]);
}

#[test]
fn equally_specific_journeys_go_to_the_one_defined_first() {
    let h = Harness::new();
    // refund: complaint and payback both have 2 reasons; complaint is defined first.
    let out = h.link(
        &[touch(
            0,
            "2026-03-02T10:00:00Z",
            "email",
            "inbound",
            "refund",
        )],
        "2026-03-02T10:00:00Z",
        None,
    );
    assert_eq!(journeys_of(&out), [Some("complaint")]);
}

#[test]
fn of_several_fitting_open_journeys_the_most_recently_active_is_joined() {
    let h = Harness::new();
    let out = h.link(
        &[
            touch(0, "2026-03-02T10:00:00Z", "email", "inbound", "complaint"),
            touch(1, "2026-03-03T10:00:00Z", "email", "inbound", "payment"),
            // Both `complaint` and `billing` are open and hold refunds: billing was active last.
            touch(2, "2026-03-04T10:00:00Z", "email", "inbound", "refund"),
            touch(3, "2026-03-05T10:00:00Z", "email", "inbound", "complaint"),
            // Now complaint was active last.
            touch(4, "2026-03-06T10:00:00Z", "email", "inbound", "refund"),
        ],
        "2026-03-06T10:00:00Z",
        None,
    );
    assert_eq!(
        journeys_of(&out),
        [
            Some("complaint"),
            Some("billing"),
            Some("billing"),
            Some("complaint"),
            Some("complaint")
        ]
    );
}

#[test]
fn unknown_joins_the_open_journey_within_its_gap_and_otherwise_none() {
    let h = Harness::new();
    let out = h.link(
        &[
            touch(0, "2026-03-02T10:00:00Z", "email", "inbound", "unknown"),
            touch(1, "2026-03-03T10:00:00Z", "email", "inbound", "move"),
            touch(2, "2026-03-04T10:00:00Z", "email", "inbound", "complaint"),
            // Two open journeys: unknown joins the most recently active one.
            touch(3, "2026-03-05T10:00:00Z", "chat", "inbound", "unknown"),
            // complaint's gap (10 days) has passed, moving's (30) has not.
            touch(4, "2026-03-20T10:00:00Z", "chat", "inbound", "unknown"),
            // 31 days after the last moving touchpoint: nothing is open any more.
            touch(5, "2026-04-21T10:00:00Z", "chat", "inbound", "unknown"),
        ],
        "2026-04-21T10:00:00Z",
        None,
    );
    assert_eq!(
        journeys_of(&out),
        [
            None,
            Some("moving"),
            Some("complaint"),
            Some("complaint"),
            Some("moving"),
            None
        ]
    );
    let unlinked = &out.links[5];
    assert_eq!(
        (
            unlinked.instance_id.as_deref(),
            unlinked.step,
            unlinked.repeat_contact
        ),
        (None, None, Some(false))
    );
    assert_eq!(out.closed.len(), 2);
}

#[test]
fn a_reason_in_no_journey_forms_a_journey_of_its_own() {
    let h = Harness::new();
    assert_eq!(
        h.taxonomy.reasons_without_journey(),
        ["product_info", "feedback"]
    );
    let out = h.link(
        &[
            touch(0, "2026-03-02T10:00:00Z", "chat", "inbound", "product_info"),
            touch(
                1,
                "2026-03-03T10:00:00Z",
                "email",
                "inbound",
                "product_info",
            ),
        ],
        "2026-03-03T10:00:00Z",
        None,
    );
    assert_eq!(journeys_of(&out), [Some("product_info"); 2]);
    assert_eq!(out.state.open.len(), 1);
}

#[test]
fn ties_in_time_are_broken_by_id_whatever_the_input_order() {
    // Within a run the journey pass sorts by customer, timestamp, id; the linker's result only depends on that
    // order. Two contacts in the same second with different reasons of one journey join one instance.
    let h = Harness::new();
    let a = touch(0, "2026-03-02T10:00:00Z", "email", "inbound", "move");
    let b = touch(1, "2026-03-02T10:00:00Z", "chat", "inbound", "meter");
    let out = h.link(&[a, b], "2026-03-02T10:00:00Z", None);
    assert_eq!(instances_of(&out)[0], instances_of(&out)[1]);
}

// ---- Repeat contacts ----------------------------------------------------------------------------------------

#[test]
fn repeat_contacts_are_the_same_reason_within_the_window() {
    let h = Harness::new();
    let out = h.link(
        &[
            touch(0, "2026-03-02T10:00:00Z", "email", "inbound", "payment"),
            // The reply is no repeat, and does not restart the window.
            touch(1, "2026-03-03T10:00:00Z", "email", "outbound", "payment"),
            // 5 days after the first contact: a repeat.
            touch(2, "2026-03-07T10:00:00Z", "chat", "inbound", "payment"),
            // 7 days after the previous contact, to the second: still within the window.
            touch(3, "2026-03-14T10:00:00Z", "chat", "inbound", "payment"),
            // 8 days later: outside.
            touch(4, "2026-03-22T10:00:00Z", "chat", "inbound", "payment"),
            // Another reason is never a repeat of this one.
            touch(5, "2026-03-22T11:00:00Z", "chat", "inbound", "refund"),
        ],
        "2026-03-22T11:00:00Z",
        None,
    );
    assert_eq!(
        out.links
            .iter()
            .map(|l| l.repeat_contact)
            .collect::<Vec<_>>(),
        [
            Some(false),
            Some(false),
            Some(true),
            Some(true),
            Some(false),
            Some(false)
        ]
    );
    let repeats: u32 = out
        .closed
        .iter()
        .chain(&out.state.open)
        .map(|j| j.repeat_contacts)
        .sum();
    assert_eq!(repeats, 2);
}

// ---- Response times and SLA ---------------------------------------------------------------------------------

fn response(out: &journey::CustomerOutcome, row: usize) -> (Option<f64>, Option<bool>) {
    let link = &out.links[row];
    (link.response_working_hours, link.sla_breached)
}

#[test]
fn working_days_skip_the_weekend() {
    let h = Harness::new();
    // Friday 16:00 -> Tuesday 16:00 local: 1 h Friday + 8 h Monday + 7 h Tuesday = 16 h = 2 working days.
    let out = h.link(
        &[
            touch(
                0,
                "2026-03-13T16:00:00+01:00",
                "email",
                "inbound",
                "payment",
            ),
            touch(
                1,
                "2026-03-17T16:00:00+01:00",
                "email",
                "outbound",
                "payment",
            ),
        ],
        "2026-03-18T10:00:00Z",
        None,
    );
    assert_eq!(response(&out, 0), (Some(16.0), Some(false)));
    // The reply itself has no response time.
    assert_eq!(response(&out, 1), (None, None));

    // A minute later breaches.
    let out = h.link(
        &[
            touch(
                0,
                "2026-03-13T16:00:00+01:00",
                "email",
                "inbound",
                "payment",
            ),
            touch(
                1,
                "2026-03-17T16:01:00+01:00",
                "email",
                "outbound",
                "payment",
            ),
        ],
        "2026-03-18T10:00:00Z",
        None,
    );
    let (hours, breached) = response(&out, 0);
    assert!((hours.unwrap() - (16.0 + 1.0 / 60.0)).abs() < 1e-9);
    assert_eq!(breached, Some(true));
    assert_eq!(out.state.open[0].sla_breaches, 1);
}

#[test]
fn working_days_skip_public_holidays() {
    let h = Harness::new();
    // Thursday 2 April 2026 16:00 -> Tuesday 7 April 16:00: Thursday 1 h, Good Friday 8 h (open by default),
    // Easter Monday closed, Tuesday 7 h: 16 h, within 2 working days. Without the holiday it would be 24 h.
    let out = h.link(
        &[
            touch(
                0,
                "2026-04-02T16:00:00+02:00",
                "email",
                "inbound",
                "payment",
            ),
            touch(
                1,
                "2026-04-07T16:00:00+02:00",
                "email",
                "outbound",
                "payment",
            ),
        ],
        "2026-04-08T10:00:00Z",
        None,
    );
    assert_eq!(response(&out, 0), (Some(16.0), Some(false)));

    // King's Day (Monday 27 April 2026) and Ascension Day (Thursday 14 May) are closed too.
    let out = h.link(
        &[
            touch(
                0,
                "2026-04-24T16:00:00+02:00",
                "email",
                "inbound",
                "payment",
            ),
            touch(
                1,
                "2026-04-28T17:00:00+02:00",
                "email",
                "outbound",
                "payment",
            ),
        ],
        "2026-04-29T10:00:00Z",
        None,
    );
    assert_eq!(response(&out, 0), (Some(9.0), Some(false)));
}

#[test]
fn working_hours_stay_local_across_the_dst_change() {
    let h = Harness::new();
    // Summer time starts Sunday 29 March 2026. Friday 27 March 16:00 CET (15:00 UTC) -> Monday 30 March 10:00 CEST
    // (08:00 UTC): 1 h on Friday and 1 h on Monday, counted on the local clock.
    let out = h.link(
        &[
            touch(
                0,
                "2026-03-27T16:00:00+01:00",
                "email",
                "inbound",
                "complaint",
            ),
            touch(
                1,
                "2026-03-30T10:00:00+02:00",
                "email",
                "outbound",
                "complaint",
            ),
        ],
        "2026-03-31T10:00:00Z",
        None,
    );
    // Complaints by e-mail have a 4-working-hour rule, more specific than the e-mail rule.
    assert_eq!(response(&out, 0), (Some(2.0), Some(false)));
}

#[test]
fn a_reply_in_the_same_conversation_answers_before_the_journey_fallback() {
    let h = Harness::new();
    let with_conversation = |mut t: Touch<'static>, conversation: &'static str| {
        t.conversation = Some(conversation);
        t
    };
    let out = h.link(
        &[
            with_conversation(
                touch(
                    0,
                    "2026-03-02T10:00:00+01:00",
                    "email",
                    "inbound",
                    "payment",
                ),
                "thread-a",
            ),
            // Same journey, other conversation: no answer to thread-a.
            with_conversation(
                touch(
                    1,
                    "2026-03-02T11:00:00+01:00",
                    "email",
                    "outbound",
                    "payment",
                ),
                "thread-b",
            ),
            // Another journey (complaint), same conversation: the answer.
            with_conversation(
                touch(
                    2,
                    "2026-03-02T13:00:00+01:00",
                    "email",
                    "outbound",
                    "complaint",
                ),
                "thread-a",
            ),
            // No conversation: answered by the next outbound of its journey.
            touch(
                3,
                "2026-03-03T09:00:00+01:00",
                "email",
                "inbound",
                "payment",
            ),
            touch(
                4,
                "2026-03-03T09:30:00+01:00",
                "email",
                "outbound",
                "payment",
            ),
        ],
        "2026-03-04T10:00:00Z",
        None,
    );
    assert_eq!(response(&out, 0), (Some(3.0), Some(false)));
    assert_eq!(response(&out, 3), (Some(0.5), Some(false)));
}

#[test]
fn unanswered_messages_breach_once_their_limit_passes_or_their_journey_closes() {
    let h = Harness::new();
    let inbound = [touch(
        0,
        "2026-03-02T10:00:00+01:00",
        "email",
        "inbound",
        "payment",
    )];
    // One working day later the message is still within its limit: pending, carried in the state.
    let out = h.link(&inbound, "2026-03-03T10:00:00+01:00", None);
    assert_eq!(response(&out, 0), (None, None));
    assert_eq!(out.state.pending.len(), 1);

    // Three working days later it has breached, whatever reply comes later.
    let out = h.link(&inbound, "2026-03-05T10:00:00+01:00", None);
    assert_eq!(response(&out, 0), (None, Some(true)));
    assert!(out.state.pending.is_empty());
    assert_eq!(out.state.open[0].sla_breaches, 1);

    // A message on a channel without a rule gets a response time but no SLA verdict.
    let out = h.link(
        &[
            touch(
                0,
                "2026-03-02T10:00:00+01:00",
                "letter",
                "inbound",
                "payment",
            ),
            touch(
                1,
                "2026-03-02T12:00:00+01:00",
                "email",
                "outbound",
                "payment",
            ),
        ],
        "2026-03-05T10:00:00+01:00",
        None,
    );
    assert_eq!(response(&out, 0), (Some(2.0), None));
}

#[test]
fn live_channels_have_no_response_time() {
    let h = Harness::new();
    let out = h.link(
        &[
            touch(
                0,
                "2026-03-02T10:00:00+01:00",
                "voice",
                "inbound",
                "payment",
            ),
            touch(
                1,
                "2026-03-02T12:00:00+01:00",
                "email",
                "outbound",
                "payment",
            ),
        ],
        "2026-03-09T10:00:00+01:00",
        None,
    );
    assert_eq!(response(&out, 0), (None, None));
}

#[test]
fn a_previous_runs_state_continues_the_journey() {
    let h = Harness::new();
    let first = h.link(
        &[touch(
            0,
            "2026-03-02T10:00:00+01:00",
            "email",
            "inbound",
            "move",
        )],
        "2026-03-02T10:00:00+01:00",
        None,
    );
    assert_eq!(first.state.pending.len(), 1);
    let second = h.link(
        &[
            touch(1, "2026-03-03T10:00:00+01:00", "email", "outbound", "move"),
            touch(2, "2026-03-04T10:00:00+01:00", "chat", "inbound", "meter"),
        ],
        "2026-03-04T10:00:00+01:00",
        Some(first.state),
    );
    assert_eq!(
        instances_of(&second),
        [Some("C1:moving:20260302T090000Z"); 2]
    );
    assert_eq!(
        second.links.iter().map(|l| l.step).collect::<Vec<_>>(),
        [Some(2), Some(3)]
    );
    assert_eq!(second.links[0].seconds_since_previous, Some(86_400));
    // The message of the first run was answered in time; its row is already written, so only the journey knows.
    assert!(second.state.pending.is_empty());
    assert_eq!(second.state.open[0].sla_breaches, 0);
    // A late arrival, older than the state: linked to the open journey, with no gap measured.
    let third = h.link(
        &[touch(
            3,
            "2026-03-01T10:00:00+01:00",
            "email",
            "inbound",
            "meter",
        )],
        "2026-03-04T10:00:00+01:00",
        Some(second.state),
    );
    assert_eq!(third.late, 1);
    assert_eq!(third.links[0].step, Some(4));
    assert_eq!(third.links[0].seconds_since_previous, None);
    assert_eq!(
        third.state.open[0].start,
        micros("2026-03-01T10:00:00+01:00")
    );
}

// ---- The journey pass over files: generated data ------------------------------------------------------------

/// Enriched-like interactions, as the journey pass reads them (with sentiment columns, as the sentiment head
/// adds them).
fn enriched_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(schema::ID, DataType::Utf8, false),
        Field::new(schema::CUSTOMER_ID, DataType::Utf8, true),
        Field::new(schema::CHANNEL, DataType::Utf8, true),
        Field::new(schema::TIMESTAMP, schema::timestamp_type(), true),
        Field::new(schema::DIRECTION, DataType::Utf8, true),
        Field::new(schema::TEXT, DataType::Utf8, false),
        Field::new(schema::CONVERSATION_ID, DataType::Utf8, true),
        Field::new(schema::CONTACT_REASON, DataType::Utf8, false),
        Field::new(schema::LIFECYCLE_PHASE, DataType::Utf8, true),
        Field::new(schema::SENTIMENT, DataType::Utf8, true),
        Field::new(schema::SENTIMENT_SCORE, DataType::Float32, true),
    ]))
}

#[derive(Debug, Clone)]
struct Row {
    id: String,
    customer: Option<String>,
    channel: &'static str,
    at: Option<i64>,
    direction: &'static str,
    conversation: Option<String>,
    reason: &'static str,
    sentiment: f32,
}

fn phase_of(pipeline: &Pipeline, reason: &str) -> Option<String> {
    pipeline.phase_of(reason).map(str::to_string)
}

fn write_enriched(path: &Path, rows: &[Row], pipeline: &Pipeline) -> PathBuf {
    let text: StringArray = rows
        .iter()
        .map(|r| Some(format!("text of {}", r.id)))
        .collect();
    let label = |s: f32| {
        if s < -0.3 {
            "negative"
        } else if s > 0.3 {
            "positive"
        } else {
            "neutral"
        }
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            rows.iter()
                .map(|r| Some(r.id.as_str()))
                .collect::<StringArray>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| r.customer.as_deref())
                .collect::<StringArray>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| Some(r.channel))
                .collect::<StringArray>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| r.at)
                .collect::<TimestampMicrosecondArray>()
                .with_timezone("UTC"),
        ),
        Arc::new(
            rows.iter()
                .map(|r| Some(r.direction))
                .collect::<StringArray>(),
        ),
        Arc::new(text),
        Arc::new(
            rows.iter()
                .map(|r| r.conversation.as_deref())
                .collect::<StringArray>(),
        ),
        Arc::new(rows.iter().map(|r| Some(r.reason)).collect::<StringArray>()),
        Arc::new(
            rows.iter()
                .map(|r| phase_of(pipeline, r.reason))
                .collect::<StringArray>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| Some(label(r.sentiment)))
                .collect::<StringArray>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| Some(r.sentiment))
                .collect::<Float32Array>(),
        ),
    ];
    let batch = RecordBatch::try_new(enriched_schema(), columns).unwrap();
    let mut sink = ParquetSink::create(path, enriched_schema(), vec![]).unwrap();
    for start in (0..batch.num_rows()).step_by(1000) {
        sink.write(&batch.slice(start, 1000.min(batch.num_rows() - start)))
            .unwrap();
    }
    commit(vec![sink.finish().unwrap()], &[]).unwrap();
    path.to_path_buf()
}

/// A small deterministic generator (a 64-bit LCG), so the test needs no random-number crate.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

const START: &str = "2026-03-01T00:00:00Z";

/// Customers with journeys: scenarios of the test pipeline's reasons, replies in the same conversation, noise
/// (unknown, other reasons), gaps from minutes to weeks, over 120 days (across Easter, King's Day, a DST change).
fn generate(customers: usize, seed: u64) -> Vec<Row> {
    let scenarios: [&[&str]; 5] = [
        &["move", "meter", "final_invoice"],
        &["payment", "refund"],
        &["complaint", "refund", "complaint"],
        &["product_info"],
        &["payment", "meter", "payment"],
    ];
    let mut rng = Lcg(seed);
    let start = micros(START);
    let hour = 3_600_000_000i64;
    let mut rows = Vec::new();
    for c in 0..customers {
        let customer = format!("C{c:05}");
        let mut at = start + rng.below(60 * 24) as i64 * hour;
        for _ in 0..1 + rng.below(4) {
            let scenario = rng.pick(&scenarios);
            for (step, &reason) in scenario.iter().enumerate() {
                let reason = match rng.below(12) {
                    0 => "unknown",
                    1 => "feedback",
                    _ => reason,
                };
                let channel = rng.pick(&["email", "email", "chat", "voice", "letter"]);
                let conversation = (channel == "email" && rng.below(2) == 0)
                    .then(|| format!("{customer}-t{}-{step}", rows.len()));
                rows.push(Row {
                    id: format!("{customer}-{}", rows.len()),
                    customer: Some(customer.clone()),
                    channel,
                    at: Some(at),
                    direction: "inbound",
                    conversation: conversation.clone(),
                    reason,
                    sentiment: (rng.below(201) as f32 - 100.0) / 100.0,
                });
                if channel == "email" && rng.below(3) > 0 {
                    // A reply after 10 minutes to 4 days.
                    let reply_at = at + (rng.below(96 * 6) as i64 + 1) * hour / 6;
                    rows.push(Row {
                        id: format!("{customer}-{}", rows.len()),
                        customer: Some(customer.clone()),
                        channel: "email",
                        at: Some(reply_at),
                        direction: "outbound",
                        conversation,
                        reason,
                        sentiment: 0.2,
                    });
                }
                at += (rng.below(24 * 12) as i64 + 1) * hour;
            }
            at += rng.below(24 * 40) as i64 * hour;
        }
    }
    rows
}

fn shuffle(rows: &mut [Row], seed: u64) {
    let mut rng = Lcg(seed);
    for i in (1..rows.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        rows.swap(i, j);
    }
}

struct RunResult {
    interactions: Vec<RecordBatch>,
    journeys: Vec<RecordBatch>,
    events: Vec<RecordBatch>,
    summary: journey::JourneySummary,
}

/// Runs the journey pass over `enriched` into `out`, with state in `state_folder`.
fn run_pass(
    pipeline: &Pipeline,
    enriched: &Path,
    out: &Path,
    state_folder: Option<&Path>,
    partition_rows: u64,
    scores: Option<&SurveyScores>,
) -> RunResult {
    let previous = match state_folder {
        Some(folder) => state::load(folder).unwrap(),
        None => SavedState::default(),
    };
    let interactions = out.join("interactions.parquet");
    let linked = link_run(LinkRequest {
        pipeline,
        enriched,
        interactions: &interactions,
        out,
        metadata: vec![],
        scores,
        previous,
        state_folder,
        batch_rows: 700,
        partition_rows,
    })
    .expect("journey pass");
    let mut staged = vec![linked.interactions];
    staged.extend(linked.outputs);
    staged.extend(linked.state);
    commit(staged, &[]).unwrap();
    RunResult {
        interactions: read_parquet(&interactions).unwrap(),
        journeys: read_parquet(&out.join("journeys.parquet")).unwrap(),
        events: read_parquet(&out.join("events.parquet")).unwrap(),
        summary: linked.summary,
    }
}

/// A column as text-formattable values; timestamps as their microseconds (arrow formats a named time zone
/// only with its chrono-tz feature).
fn displayable(batch: &RecordBatch, name: &str) -> ArrayRef {
    let column = batch.column_by_name(name).unwrap();
    match column.data_type() {
        DataType::Timestamp(..) => arrow_cast::cast(column, &DataType::Int64).unwrap(),
        _ => column.clone(),
    }
}

/// Every row of `batches` as `key -> all values joined`, keyed by the column `key`.
fn rows_by(batches: &[RecordBatch], key: &str, columns: &[&str]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for batch in batches {
        let keys = batch.column_by_name(key).unwrap();
        let arrays: Vec<ArrayRef> = columns.iter().map(|c| displayable(batch, c)).collect();
        for row in 0..batch.num_rows() {
            let values: Vec<String> = arrays
                .iter()
                .map(|a| array_value_to_string(a, row).unwrap())
                .collect();
            out.insert(
                array_value_to_string(keys, row).unwrap(),
                values.join(" | "),
            );
        }
    }
    out
}

fn column_names(fields: Vec<Field>) -> Vec<String> {
    fields.iter().map(|f| f.name().clone()).collect()
}

#[test]
fn nightly_runs_link_like_one_run_on_all_the_data() {
    let pipeline = pipeline();
    let dir = tempfile::tempdir().unwrap();
    let mut all = generate(3000, 7);
    assert!(all.len() > 15_000, "{} rows", all.len());

    // One run: every row in one unordered file, linked in several spilled partitions.
    shuffle(&mut all, 1);
    let single_in = write_enriched(&dir.path().join("all.parquet"), &all, &pipeline);
    let single = run_pass(
        &pipeline,
        &single_in,
        &dir.path().join("single"),
        Some(&dir.path().join("single-state")),
        4_000,
        None,
    );
    assert!(single.summary.partitions > 1);

    // Eight nightly runs of 15 days each, each file unordered, in memory, continuing from the state.
    let state_folder = dir.path().join("state");
    let start = micros(START);
    let day = 86_400_000_000i64;
    let mut nightly = Vec::new();
    for night in 0..8 {
        let (from, to) = (start + night * 15 * day, start + (night + 1) * 15 * day);
        let chunk: Vec<Row> = all
            .iter()
            .filter(|r| {
                r.at.is_some_and(|at| (from..to).contains(&at))
                    || (night == 7 && r.at.is_some_and(|at| at >= to))
            })
            .cloned()
            .collect();
        let input = write_enriched(
            &dir.path().join(format!("night{night}.parquet")),
            &chunk,
            &pipeline,
        );
        let out = dir.path().join(format!("night{night}"));
        nightly.push(run_pass(
            &pipeline,
            &input,
            &out,
            Some(&state_folder),
            1_000_000,
            None,
        ));
    }
    let nightly_rows: usize = nightly.iter().map(|n| count_rows(&n.interactions)).sum();
    assert_eq!(nightly_rows, all.len());

    // journeys.parquet: the latest version of each journey over the nights equals the single run's.
    let journey_columns = column_names(schema::journeys_fields());
    let journey_columns: Vec<&str> = journey_columns.iter().map(String::as_str).collect();
    let mut latest = BTreeMap::new();
    for night in &nightly {
        latest.extend(rows_by(
            &night.journeys,
            schema::JOURNEY_INSTANCE_ID,
            &journey_columns,
        ));
    }
    let once = rows_by(
        &single.journeys,
        schema::JOURNEY_INSTANCE_ID,
        &journey_columns,
    );
    assert!(once.len() > 5_000, "{} journeys", once.len());
    assert_eq!(latest.len(), once.len());
    for (id, row) in &once {
        assert_eq!(latest.get(id), Some(row), "journey {id}");
    }
    let statuses: BTreeSet<&str> = once
        .values()
        .map(|r| r.rsplit(" | ").next().unwrap())
        .collect();
    assert_eq!(statuses, BTreeSet::from(["closed", "open"]));

    // Interactions: what linking knows when a row is written is the same.
    let known = [
        schema::JOURNEY_ID,
        schema::JOURNEY_INSTANCE_ID,
        schema::JOURNEY_STEP,
        schema::SECONDS_SINCE_PREVIOUS,
        schema::CHANNEL_SWITCH,
        schema::REPEAT_CONTACT,
    ];
    let once = rows_by(&single.interactions, schema::ID, &known);
    let mut nights = BTreeMap::new();
    for night in &nightly {
        nights.extend(rows_by(&night.interactions, schema::ID, &known));
    }
    assert_eq!(nights, once);
    // Response times and SLA verdicts a night could give agree with the single run; those it could not (the
    // reply came in a later night) are null there.
    let verdicts = [schema::RESPONSE_WORKING_HOURS, schema::SLA_BREACHED];
    let once = rows_by(&single.interactions, schema::ID, &verdicts);
    let mut decided = 0;
    for night in &nightly {
        for (id, row) in rows_by(&night.interactions, schema::ID, &verdicts) {
            let (response, breached) = row.split_once(" | ").unwrap();
            let (once_response, once_breached) = once[&id].split_once(" | ").unwrap();
            if !response.is_empty() {
                assert_eq!(response, once_response, "{id}");
                decided += 1;
            }
            if !breached.is_empty() {
                assert_eq!(breached, once_breached, "{id}");
            }
        }
    }
    assert!(decided > 3_000, "{decided} response times");

    // The event log: the nights' logs together are the single run's log.
    let event_columns = column_names(schema::event_log_fields());
    let event_columns: Vec<&str> = event_columns.iter().map(String::as_str).collect();
    let mut events = BTreeMap::new();
    for night in &nightly {
        events.extend(rows_by(
            &night.events,
            schema::INTERACTION_ID,
            &event_columns,
        ));
    }
    assert_eq!(
        events,
        rows_by(&single.events, schema::INTERACTION_ID, &event_columns)
    );

    // The states left behind hold the same customers.
    let a = state::load(&dir.path().join("single-state")).unwrap();
    let b = state::load(&state_folder).unwrap();
    assert_eq!(a.horizon, b.horizon);
    assert_eq!(a.customers, b.customers);
}

#[test]
fn rows_without_customer_or_timestamp_are_written_without_journey() {
    let pipeline = pipeline();
    let dir = tempfile::tempdir().unwrap();
    let mut rows = generate(20, 3);
    rows[0].customer = None;
    rows[1].at = None;
    let input = write_enriched(&dir.path().join("in.parquet"), &rows, &pipeline);
    let result = run_pass(
        &pipeline,
        &input,
        &dir.path().join("out"),
        None,
        1_000_000,
        None,
    );
    assert_eq!(count_rows(&result.interactions), rows.len());
    assert_eq!(result.summary.unlinked_rows, 2);
    let ids = strings(&result.interactions, schema::ID);
    let journeys = strings(&result.interactions, schema::JOURNEY_ID);
    // Written in input order, the two rows with null journey columns.
    assert_eq!(ids[0].as_deref(), Some(rows[0].id.as_str()));
    assert_eq!(
        (journeys[0].as_deref(), journeys[1].as_deref()),
        (None, None)
    );
    let linked = journeys[2..].iter().filter(|j| j.is_some()).count();
    assert!(
        linked > (rows.len() - 2) * 3 / 4,
        "{linked} of {}",
        rows.len()
    );
    assert!(!dir.path().join("out/journey_state.jsonl").exists());
}

#[test]
fn sentiment_is_rolled_up_when_the_interactions_have_it() {
    let pipeline = pipeline();
    let dir = tempfile::tempdir().unwrap();
    let at = |s: &str| Some(micros(s));
    let row =
        |id: &str, when: &str, direction: &'static str, reason: &'static str, sentiment: f32| Row {
            id: id.to_string(),
            customer: Some("C1".to_string()),
            channel: "email",
            at: at(when),
            direction,
            conversation: None,
            reason,
            sentiment,
        };
    let rows = vec![
        row("a", "2026-03-02T10:00:00Z", "inbound", "payment", -0.8),
        row("b", "2026-03-02T12:00:00Z", "outbound", "payment", 0.2),
        row("c", "2026-03-03T10:00:00Z", "inbound", "refund", 0.6),
    ];
    let input = write_enriched(&dir.path().join("in.parquet"), &rows, &pipeline);
    let out = dir.path().join("out");
    let result = run_pass(&pipeline, &input, &out, None, 1_000_000, None);
    let journeys = &result.journeys[0];
    let float = |name: &str| {
        journeys
            .column_by_name(name)
            .unwrap()
            .as_any()
            .downcast_ref::<Float32Array>()
            .unwrap()
            .value(0)
    };
    assert_eq!(count_rows(&result.journeys), 1);
    assert_eq!(
        (
            float(schema::FIRST_SENTIMENT),
            float(schema::LAST_SENTIMENT),
            float(schema::LOWEST_SENTIMENT)
        ),
        (-0.8, 0.6, -0.8)
    );
    let lifecycle = read_parquet(&out.join("lifecycle.parquet")).unwrap();
    let reasons = strings(&lifecycle, schema::CONTACT_REASON);
    let payment = reasons
        .iter()
        .position(|r| r.as_deref() == Some("payment"))
        .unwrap();
    let number = |name: &str| {
        lifecycle[0]
            .column_by_name(name)
            .unwrap()
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .value(payment)
    };
    assert!((number(schema::MEAN_SENTIMENT) - (-0.3)).abs() < 1e-6);
    assert_eq!(number(schema::SHARE_NEGATIVE), 0.5);
    // Answered after 2 working hours: not breached; the payment row's median response time is 2 h.
    assert_eq!(number(schema::SLA_BREACH_RATE), 0.0);
    assert_eq!(number(schema::MEDIAN_RESPONSE_WORKING_HOURS), 2.0);
}

// ---- Survey scores and priorities --------------------------------------------------------------------------

#[test]
fn scores_join_by_interaction_then_conversation_then_customer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scores.csv");
    fs::write(
        &path,
        "interaction_id,conversation_id,customer_id,nps,ces,csat\n\
         i1,,,,2,5\n\
         ,t1,,,6,\n\
         ,,C1,3,,\n\
         ,,C1,5,,1\n",
    )
    .unwrap();
    let scores = SurveyScores::load(&path).unwrap();
    assert_eq!(scores.rows(), 4);
    // Own scores first, each score falling back on its own.
    assert_eq!(
        scores.lookup(Some("i1"), Some("t1"), Some("C1")),
        Scores {
            nps: Some(4.0),
            ces: Some(2.0),
            csat: Some(5.0)
        }
    );
    assert_eq!(
        scores.lookup(Some("i2"), Some("t1"), Some("C1")),
        Scores {
            nps: Some(4.0),
            ces: Some(6.0),
            csat: Some(1.0)
        }
    );
    assert_eq!(
        scores.lookup(Some("i3"), None, Some("C2")),
        Scores::default()
    );
    assert_eq!(
        Scores {
            nps: Some(4.0),
            ces: Some(6.0),
            csat: Some(1.0)
        }
        .low_of_given(),
        (3, 3)
    );
}

#[test]
fn a_bad_score_names_the_file_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scores.csv");
    fs::write(&path, "customer_id,nps,csat\nC1,9,4\nC2,11,3\n").unwrap();
    let err = SurveyScores::load(&path).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("scores.csv") && message.contains("row 2") && message.contains("'nps'"),
        "{message}"
    );
    assert_eq!(err.exit_code(), 3);
    fs::write(&path, "customer_id,csat\nC1,good\n").unwrap();
    assert!(SurveyScores::load(&path)
        .unwrap_err()
        .to_string()
        .contains("'good' is not a number"));
    fs::write(&path, "name,csat\nx,3\n").unwrap();
    assert!(SurveyScores::load(&path)
        .unwrap_err()
        .to_string()
        .contains("key column"));
}

#[test]
fn a_damaged_state_file_fails_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    assert!(state::load(&dir.path().join("none"))
        .unwrap()
        .customers
        .is_empty());
    let file = dir.path().join(state::STATE_FILE);
    fs::write(
        &file,
        "{\"format\":\"touchpoint-journey-state\",\"version\":1,\"horizon\":0,\"customers\":1,\"written_by\":\"t\",\"written_at\":\"t\"}\n{\"customer_id\": 5}\n",
    )
    .unwrap();
    let message = state::load(dir.path()).unwrap_err().to_string();
    assert!(message.contains("row 2"), "{message}");
}

#[test]
fn a_state_file_without_its_closing_line_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(state::STATE_FILE);
    let header = "{\"format\":\"touchpoint-journey-state\",\"version\":2,\"horizon\":0,\"written_by\":\"t\",\"written_at\":\"t\"}\n";
    let customer = "{\"customer_id\":\"c1\",\"last_at\":0}\n";
    fs::write(&file, format!("{header}{customer}")).unwrap();
    let message = state::load(dir.path()).unwrap_err().to_string();
    assert!(message.contains("closing line"), "{message}");
    fs::write(
        &file,
        format!("{header}{customer}{{\"end\":true,\"customers\":2}}\n"),
    )
    .unwrap();
    let message = state::load(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains("row 3") && message.contains("truncated"),
        "{message}"
    );
    fs::write(
        &file,
        format!("{header}{customer}{{\"end\":true,\"customers\":1}}\n"),
    )
    .unwrap();
    assert_eq!(state::load(dir.path()).unwrap().customers.len(), 1);
}

#[test]
fn priorities_rank_by_weighted_measures_and_skip_unknown() {
    let pipeline = pipeline();
    let dir = tempfile::tempdir().unwrap();
    let scores_path = dir.path().join("scores.csv");
    let mut rows = generate(300, 11);
    // Every complaint is scored low.
    let mut csv = String::from("interaction_id,csat\n");
    for row in rows.iter().filter(|r| r.reason == "complaint") {
        csv.push_str(&format!("{},1\n", row.id));
    }
    fs::write(&scores_path, csv).unwrap();
    let scores = SurveyScores::load(&scores_path).unwrap();
    shuffle(&mut rows, 5);
    let input = write_enriched(&dir.path().join("in.parquet"), &rows, &pipeline);
    let out = dir.path().join("out");
    let result = run_pass(&pipeline, &input, &out, None, 1_000_000, Some(&scores));
    let reasons: Vec<&journey::Priority> = result
        .summary
        .priorities
        .iter()
        .filter(|p| p.level == "reason")
        .collect();
    assert!(reasons.iter().all(|p| p.id != "unknown"));
    assert_eq!(
        reasons.iter().map(|p| p.rank).collect::<Vec<_>>(),
        (1..=reasons.len() as u32).collect::<Vec<_>>()
    );
    assert!(reasons.windows(2).all(|w| w[0].score >= w[1].score));
    let complaint = reasons.iter().find(|p| p.id == "complaint").unwrap();
    assert_eq!(complaint.low_score_share, Some(1.0));
    // The scores are in the interactions, lifecycle.parquet carries the ranks.
    let csat = result.interactions.iter().flat_map(|b| {
        let c = b
            .column_by_name(schema::CSAT)
            .unwrap()
            .as_any()
            .downcast_ref::<Float32Array>()
            .unwrap()
            .clone();
        (0..c.len()).map(move |i| c.is_valid(i)).collect::<Vec<_>>()
    });
    assert_eq!(
        csat.filter(|v| *v).count() as u64,
        result.summary.scored_rows
    );
    let lifecycle = read_parquet(&out.join("lifecycle.parquet")).unwrap();
    let ranks = lifecycle[0]
        .column_by_name(schema::PRIORITY_RANK)
        .unwrap()
        .as_any()
        .downcast_ref::<UInt32Array>()
        .unwrap()
        .clone();
    let levels = strings(&lifecycle, schema::LEVEL);
    let ranked_reasons = (0..ranks.len())
        .filter(|&i| ranks.is_valid(i) && levels[i].as_deref() == Some("reason"))
        .count();
    assert_eq!(ranked_reasons, reasons.len());
    let breaches = lifecycle[0]
        .column_by_name(schema::SLA_BREACH_RATE)
        .unwrap();
    assert!(breaches.null_count() < breaches.len());
}

// ---- The default pipeline's journeys -------------------------------------------------------------------------

#[test]
fn the_shipped_pipeline_starts_shared_reasons_in_their_natural_journey() {
    let pipeline = Pipeline::load(&root().join("pipelines/default.toml")).unwrap();
    let taxonomy = Taxonomy::new(&pipeline);
    assert!(taxonomy.reasons_without_journey().is_empty());
    let first = |reason: &str| taxonomy.kind(taxonomy.journeys_of(reason)[0]).id.clone();
    for (reason, journey) in [
        ("final_invoice", "moving_house"),
        ("direct_debit", "billing"),
        ("invoice_payment", "billing"),
        ("cancel_contract", "leaving"),
        ("change_details", "details_and_privacy"),
        ("meter_reading", "meter_and_usage"),
        ("smart_meter", "meter_and_usage"),
        ("advance_amount_change", "annual_settlement"),
        ("sign_up", "orientation"),
        ("refund", "billing"),
        ("dispute_escalation", "complaint"),
    ] {
        assert_eq!(first(reason), journey, "{reason}");
    }
    assert!(pipeline
        .contact_reasons
        .iter()
        .all(|r| r.owner.is_some() && !r.systems.is_empty()));
}

// ---- PM4Py reads the event log ------------------------------------------------------------------------------

fn python_has(modules: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn pm4py_discovers_the_journeys_process_from_the_event_log() {
    let pipeline = pipeline();
    let dir = tempfile::tempdir().unwrap();
    // A clean process: moving journeys go move -> meter -> final_invoice, billing journeys payment -> refund.
    let mut rows = Vec::new();
    let start = micros(START);
    let day = 86_400_000_000i64;
    for c in 0..120 {
        let customer = format!("C{c:04}");
        let steps: &[&'static str] = if c % 3 == 0 {
            &["payment", "refund"]
        } else {
            &["move", "meter", "final_invoice"]
        };
        for (i, reason) in steps.iter().enumerate() {
            rows.push(Row {
                id: format!("{customer}-{i}"),
                customer: Some(customer.clone()),
                channel: ["email", "chat", "voice"][(c + i) % 3],
                at: Some(start + (c as i64 % 20) * day + i as i64 * 2 * day),
                direction: "inbound",
                conversation: None,
                reason,
                sentiment: 0.0,
            });
        }
    }
    shuffle(&mut rows, 9);
    let input = write_enriched(&dir.path().join("in.parquet"), &rows, &pipeline);
    let out = dir.path().join("out");
    let result = run_pass(&pipeline, &input, &out, None, 1_000_000, None);
    assert_eq!(result.summary.events, 320);
    assert_eq!(
        result.summary.open_journeys + result.summary.closed_journeys,
        120
    );

    if !python_has("pm4py, pandas") {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have pm4py (see .ci/run)"
        );
        eprintln!("pm4py not installed: process discovery not run here (CI runs it)");
        return;
    }
    let script = format!(
        r#"
import pm4py, pandas as pd
log = pm4py.read_xes({xes:?}, return_legacy_log_object=False)
assert log["case:concept:name"].nunique() == 120, log["case:concept:name"].nunique()
assert set(pm4py.get_start_activities(log)) == {{"move", "payment"}}, pm4py.get_start_activities(log)
assert set(pm4py.get_end_activities(log)) == {{"final_invoice", "refund"}}, pm4py.get_end_activities(log)
net, im, fm = pm4py.discover_petri_net_inductive(log)
labels = {{t.label for t in net.transitions if t.label}}
assert labels == {{"move", "meter", "final_invoice", "payment", "refund"}}, labels
fitness = pm4py.fitness_token_based_replay(log, net, im, fm)
assert fitness["log_fitness"] > 0.999, fitness
dfg, starts, ends = pm4py.discover_dfg(log)
assert dfg[("move", "meter")] == 80 and dfg[("meter", "final_invoice")] == 80 and dfg[("payment", "refund")] == 40, dfg
assert ("move", "refund") not in dfg
# The CSV and Parquet logs are the same events.
csv = pm4py.format_dataframe(pd.read_csv({csv:?}), case_id="case_id", activity_key="activity", timestamp_key="timestamp")
parquet = pd.read_parquet({parquet:?})
assert len(csv) == len(parquet) == 320, (len(csv), len(parquet))
assert pm4py.discover_dfg(csv)[0] == dfg
print("ok", len(log))
"#,
        xes = out.join("events.xes").display().to_string(),
        csv = out.join("events.csv").display().to_string(),
        parquet = out.join("events.parquet").display().to_string(),
    );
    let run = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "pm4py: {}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

// ---- enrich on the shipped sample (real model) --------------------------------------------------------------

#[test]
fn enrich_on_the_sample_writes_every_journey_output_with_scores_and_priorities() {
    use touchpoint::pipeline::runner::{enrich, EnrichOptions};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let state_folder = dir.path().join("state");
    let mut options = EnrichOptions::new(
        vec![root()
            .join("testdata/interactions.csv")
            .display()
            .to_string()],
        root().join("pipelines/default.toml"),
        out.clone(),
    );
    options.scores = Some(root().join("testdata/survey_scores.csv"));
    options.state = Some(state_folder.clone());
    let summary = enrich(&options).expect("enrich");
    let journeys = summary.journeys.expect("the shipped pipeline has journeys");
    assert_eq!((journeys.linked_rows, journeys.unlinked_rows), (300, 0));
    let names: Vec<String> = summary
        .outputs
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "interactions.parquet",
            "journeys.parquet",
            "lifecycle.parquet",
            "events.csv",
            "events.parquet",
            "events.xes",
            "journey_state.jsonl"
        ]
    );

    // Interactions carry the journey columns and the joined scores.
    let interactions = read_parquet(&out.join("interactions.parquet")).unwrap();
    assert_eq!(count_rows(&interactions), 300);
    let ids = strings(&interactions, schema::ID);
    let customers = strings(&interactions, schema::CUSTOMER_ID);
    let column = |name: &str| -> Vec<Option<f32>> {
        interactions
            .iter()
            .flat_map(|b| {
                let c = b
                    .column_by_name(name)
                    .unwrap()
                    .as_any()
                    .downcast_ref::<Float32Array>()
                    .unwrap()
                    .clone();
                (0..c.len())
                    .map(move |i| c.is_valid(i).then(|| c.value(i)))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let (csat, nps) = (column(schema::CSAT), column(schema::NPS));
    let survey = fs::read_to_string(root().join("testdata/survey_scores.csv")).unwrap();
    let mut checked = (0, 0);
    for line in survey.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        if !fields[0].is_empty() && !fields[5].is_empty() {
            let row = ids
                .iter()
                .position(|id| id.as_deref() == Some(fields[0]))
                .unwrap();
            assert_eq!(csat[row], Some(fields[5].parse().unwrap()), "{line}");
            checked.0 += 1;
        }
        if !fields[2].is_empty() {
            for row in (0..ids.len()).filter(|&r| customers[r].as_deref() == Some(fields[2])) {
                assert_eq!(nps[row], Some(fields[3].parse().unwrap()), "{line}");
            }
            checked.1 += 1;
        }
    }
    assert!(checked.0 > 50 && checked.1 > 20, "{checked:?}");

    // journeys.parquet: every instance of the interactions, with multi-step journeys across channels.
    let journey_rows = read_parquet(&out.join("journeys.parquet")).unwrap();
    let instances: BTreeSet<String> = strings(&journey_rows, schema::JOURNEY_INSTANCE_ID)
        .into_iter()
        .flatten()
        .collect();
    let linked: BTreeSet<String> = strings(&interactions, schema::JOURNEY_INSTANCE_ID)
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(linked, instances);
    let touchpoints: Vec<u32> = journey_rows
        .iter()
        .flat_map(|b| {
            b.column_by_name(schema::TOUCHPOINTS)
                .unwrap()
                .as_any()
                .downcast_ref::<UInt32Array>()
                .unwrap()
                .values()
                .to_vec()
        })
        .collect();
    assert_eq!(touchpoints.iter().sum::<u32>() as u64, journeys.events);
    assert!(
        touchpoints.iter().filter(|&&t| t >= 3).count() >= 15,
        "{touchpoints:?}"
    );

    // lifecycle.parquet: every reason (and unknown) and every journey, with owners, systems and ranks.
    let lifecycle = read_parquet(&out.join("lifecycle.parquet")).unwrap();
    let levels = strings(&lifecycle, schema::LEVEL);
    let reason_rows = levels
        .iter()
        .filter(|l| l.as_deref() == Some("reason"))
        .count();
    assert_eq!((reason_rows, levels.len() - reason_rows), (43, 14));
    let owners = strings(&lifecycle, schema::OWNER);
    assert_eq!(owners.iter().filter(|o| o.is_some()).count(), 42);
    let ranked = journeys
        .priorities
        .iter()
        .filter(|p| p.level == "reason")
        .count();
    assert!(ranked > 30, "{ranked} reasons ranked");
    assert!(journeys
        .priorities
        .iter()
        .any(|p| p.level == "journey" && p.rank == 1));
    assert!(journeys
        .priorities
        .iter()
        .any(|p| p.low_score_share.is_some()));

    // The event log and the state.
    let csv_lines = fs::read_to_string(out.join("events.csv"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(csv_lines as u64, journeys.events + 1);
    assert!(fs::read_to_string(out.join("events.xes"))
        .unwrap()
        .ends_with("</log>\n"));
    let saved = state::load(&state_folder).unwrap();
    assert_eq!(saved.horizon, Some(micros("2026-10-31T12:40:00+01:00")));
    assert_eq!(saved.open_journeys() as u64, journeys.open_journeys);

    // impact: the billing system touches reasons and journeys with the run's volumes.
    let pipeline = Pipeline::load(&root().join("pipelines/default.toml")).unwrap();
    let impact = journey::impact::impact(&pipeline, "sap is-u", Some(&out)).unwrap();
    let final_invoice = impact
        .reasons
        .iter()
        .find(|r| r.id == "final_invoice")
        .unwrap();
    let reasons = strings(&interactions, schema::CONTACT_REASON);
    let volume = reasons
        .iter()
        .filter(|r| r.as_deref() == Some("final_invoice"))
        .count() as u64;
    assert_eq!(final_invoice.volume, Some(volume));
    assert!(impact
        .journeys
        .iter()
        .any(|j| j.id == "moving_house" && j.via.contains(&"final_invoice".to_string())));
    assert!(impact.to_text().contains("final_invoice"));
    let unknown = journey::impact::impact(&pipeline, "mainframe", None).unwrap_err();
    assert!(unknown.to_string().contains("SAP IS-U"), "{unknown}");
}

// ---- Scale: the journey pass on a million interactions (a measurement, run by hand) -------------------------

/// Writes `customers` customers' generated interactions with e-mail-sized texts, streaming, and returns the row
/// count. Run with `/usr/bin/time -v` to see the pass's peak memory; see BENCHMARKS.md.
fn write_large(path: &Path, customers: usize, pipeline: &Pipeline) -> usize {
    let body =
        "Geachte heer, mevrouw, ik heb een vraag over mijn jaarafrekening en het termijnbedrag. "
            .repeat(7);
    let mut sink = ParquetSink::create(path, enriched_schema(), vec![]).unwrap();
    let mut written = 0;
    for chunk in 0..customers.div_ceil(5_000) {
        let mut rows = generate(5_000.min(customers - chunk * 5_000), 1000 + chunk as u64);
        for row in &mut rows {
            row.id = format!("{chunk}-{}", row.id);
            row.customer = row.customer.as_ref().map(|c| format!("{chunk}-{c}"));
        }
        shuffle(&mut rows, chunk as u64);
        let file = path.with_extension(format!("chunk{chunk}"));
        write_enriched(&file, &rows, pipeline);
        for batch in read_parquet(&file).unwrap() {
            let text: StringArray = (0..batch.num_rows())
                .map(|i| Some(format!("{i} {body}")))
                .collect();
            let mut columns = batch.columns().to_vec();
            columns[5] = Arc::new(text);
            sink.write(&RecordBatch::try_new(enriched_schema(), columns).unwrap())
                .unwrap();
        }
        fs::remove_file(&file).unwrap();
        written += rows.len();
    }
    commit(vec![sink.finish().unwrap()], &[]).unwrap();
    written
}

#[test]
#[ignore = "a measurement: about a million interactions; run by hand with /usr/bin/time -v"]
fn journey_pass_on_a_million_interactions() {
    let pipeline = pipeline();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("large.parquet");
    let generated = write_large(&input, 200_000, &pipeline);
    eprintln!(
        "generated {generated} interactions ({} MB)",
        fs::metadata(&input).unwrap().len() / 1_000_000
    );
    let summary = measured_pass(
        &pipeline,
        &input,
        &dir.path().join("out"),
        SavedState::default(),
        Some(&dir.path().join("state")),
    );
    assert_eq!(summary.linked_rows as usize, generated);
}

/// The journey pass alone over the interactions an `enrich` run wrote (`TOUCHPOINT_ENRICHED`, its journey
/// columns dropped first) with the pipeline it ran (`TOUCHPOINT_PIPELINE`), keeping state when
/// `TOUCHPOINT_STATE` names a folder. Run with `/usr/bin/time -v`; see BENCHMARKS.md ("1,000,000 generated
/// interactions").
#[test]
#[ignore = "a measurement over a file you name; run by hand"]
fn journey_pass_over_an_enrich_output() {
    let (Ok(enriched), Ok(pipeline)) = (
        std::env::var("TOUCHPOINT_ENRICHED"),
        std::env::var("TOUCHPOINT_PIPELINE"),
    ) else {
        panic!("set TOUCHPOINT_ENRICHED (an enrich output's interactions.parquet) and TOUCHPOINT_PIPELINE");
    };
    let pipeline = Pipeline::load(Path::new(&pipeline)).unwrap();
    let state_folder = std::env::var("TOUCHPOINT_STATE").ok().map(PathBuf::from);
    let dir = tempfile::tempdir().unwrap();

    let journey_columns: BTreeSet<String> = schema::journey_fields()
        .iter()
        .chain(schema::score_fields().iter())
        .map(|f| f.name().clone())
        .collect();
    let all = touchpoint::output::ParquetBatches::open(Path::new(&enriched), None, 1).unwrap();
    let keep: Vec<String> = all
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|name| !journey_columns.contains(name))
        .collect();
    drop(all);
    let keep: Vec<&str> = keep.iter().map(String::as_str).collect();
    let input = dir.path().join("enriched.parquet");
    let mut sink = None;
    for batch in touchpoint::output::ParquetBatches::open(
        Path::new(&enriched),
        Some(&keep),
        touchpoint::ingest::DEFAULT_BATCH_ROWS,
    )
    .unwrap()
    {
        let batch = batch.unwrap();
        sink.get_or_insert_with(|| ParquetSink::create(&input, batch.schema(), vec![]).unwrap())
            .write(&batch)
            .unwrap();
    }
    commit(vec![sink.unwrap().finish().unwrap()], &[]).unwrap();

    let previous = match &state_folder {
        Some(folder) => state::load(folder).unwrap(),
        None => SavedState::default(),
    };
    measured_pass(
        &pipeline,
        &input,
        &dir.path().join("out"),
        previous,
        state_folder.as_deref(),
    );
}

/// Runs and commits the journey pass over `input` into `out` with the default partitions, printing its time and
/// counts; returns its summary.
fn measured_pass(
    pipeline: &Pipeline,
    input: &Path,
    out: &Path,
    previous: SavedState,
    state_folder: Option<&Path>,
) -> journey::JourneySummary {
    let started = std::time::Instant::now();
    let linked = link_run(LinkRequest {
        pipeline,
        enriched: input,
        interactions: &out.join("interactions.parquet"),
        out,
        metadata: vec![],
        scores: None,
        previous,
        state_folder,
        batch_rows: touchpoint::ingest::DEFAULT_BATCH_ROWS,
        partition_rows: journey::DEFAULT_PARTITION_ROWS,
    })
    .expect("journey pass");
    let summary = linked.summary.clone();
    let mut staged = vec![linked.interactions];
    staged.extend(linked.outputs);
    staged.extend(linked.state);
    commit(staged, &[]).unwrap();
    eprintln!(
        "journey pass: {} rows in {:.1}s, {} partitions, {} journeys open, {} closed",
        summary.linked_rows,
        started.elapsed().as_secs_f64(),
        summary.partitions,
        summary.open_journeys,
        summary.closed_journeys
    );
    summary
}
