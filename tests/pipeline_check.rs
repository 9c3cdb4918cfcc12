//! The pipeline file: a valid file loads with the right values; every check reports its problem on the right
//! line, and all problems of a file are reported at once.

use std::path::Path;

use sha2::{Digest, Sha256};
use touchpoint::model::Precision;
use touchpoint::pipeline::{Diagnostic, Pipeline, LIFECYCLE_PHASES};
use touchpoint::Error;

const SMALL: &str = "tests/fixtures/pipelines/small.toml";

/// A valid pipeline without contact reasons, 25 lines long: text appended by `with` starts on line 26.
const BASE: &str = r#"[pipeline]
name = "test"
languages = ["nl", "en"]

[model]
encoder = "multilingual-e5-small"

[classify]
unknown_below = 0.5

[[phases]]
id = "not_yet_customer"
name = { nl = "Nog geen klant", en = "Not yet a customer" }
[[phases]]
id = "becoming_customer"
name = { nl = "Klant worden", en = "Becoming a customer" }
[[phases]]
id = "being_customer"
name = { nl = "Klant zijn", en = "Being a customer" }
[[phases]]
id = "staying_customer"
name = { nl = "Klant blijven", en = "Staying a customer" }
[[phases]]
id = "leaving"
name = { nl = "Vertrekken", en = "Leaving" }
"#;

/// A valid contact reason, 5 lines long.
const REASON: &str = r#"[[contact_reasons]]
id = "invoice_payment"
phase = "being_customer"
name = { nl = "Ik betaal mijn factuur", en = "I pay my invoice" }
description = { nl = "Factuur betalen.", en = "Paying the invoice." }
"#;

fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

fn parse(text: &str) -> touchpoint::Result<Pipeline> {
    Pipeline::parse(text, Path::new("test.toml"))
}

/// The problems of an invalid pipeline text.
fn problems_of(text: &str) -> Vec<Diagnostic> {
    match parse(text) {
        Ok(_) => panic!("expected problems, the pipeline is valid:\n{text}"),
        Err(Error::Pipeline { file, problems }) => {
            assert_eq!(file, Path::new("test.toml"));
            assert!(
                !problems.is_empty(),
                "an invalid pipeline lists its problems"
            );
            problems
        }
        Err(other) => panic!("expected Error::Pipeline, got {other:?}"),
    }
}

/// Asserts that exactly one problem is reported on `line` and that it mentions `fragment`.
fn assert_problem(problems: &[Diagnostic], line: usize, fragment: &str) {
    let matching: Vec<_> = problems
        .iter()
        .filter(|p| p.line == line && p.message.contains(fragment))
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "expected one problem on line {line} mentioning {fragment:?}, got {problems:#?}"
    );
}

fn assert_only_problem(text: &str, line: usize, fragment: &str) {
    let problems = problems_of(text);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_problem(&problems, line, fragment);
}

#[test]
fn the_base_texts_are_valid_and_as_long_as_the_tests_assume() {
    assert_eq!(BASE.lines().count(), 25);
    assert_eq!(REASON.lines().count(), 5);
    let pipeline = parse(&with(REASON)).unwrap();
    assert_eq!(pipeline.contact_reasons.len(), 1);
}

#[test]
fn small_pipeline_loads_with_its_values() {
    let pipeline = Pipeline::load(Path::new(SMALL)).unwrap();
    assert_eq!(pipeline.path, Path::new(SMALL));
    assert_eq!(pipeline.name, "energy-nl");
    assert_eq!(
        pipeline.description.as_deref(),
        Some("Life Cycle Model of a Dutch energy supplier")
    );
    assert_eq!(pipeline.languages(), ["nl", "en"]);

    assert_eq!(pipeline.model.encoder, "multilingual-e5-small");
    assert_eq!(pipeline.model.query_prefix, "query: ");
    assert_eq!(pipeline.model.max_tokens, 512);
    assert_eq!(pipeline.model.precision, Precision::F32);
    assert_eq!(pipeline.classify.unknown_below, 0.8);
    assert_eq!(pipeline.classify.top_k, 3);

    assert_eq!(pipeline.input.max_text_bytes, Some(100_000));
    assert_eq!(pipeline.input.columns["text"], "body");
    assert_eq!(pipeline.input.columns["customer_id"], "klantnummer");
    assert_eq!(pipeline.input.channels["telefoon"], "voice");
    assert_eq!(pipeline.input.directions["binnenkomend"], "inbound");

    // The file lists `leaving` before `staying_customer`; the pipeline keeps the lifecycle order.
    let phase_ids: Vec<&str> = pipeline.phases.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(phase_ids, LIFECYCLE_PHASES);
    assert_eq!(pipeline.phases[4].name["en"], "Leaving");

    let reason_ids: Vec<&str> = pipeline
        .contact_reasons
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(
        reason_ids,
        ["invoice_payment", "move_house", "end_contract"]
    );
    let invoice = pipeline.reason("invoice_payment").unwrap();
    assert_eq!(invoice.name["nl"], "Ik ontvang en betaal mijn factuur");
    assert_eq!(invoice.examples["nl"].len(), 2);
    assert_eq!(invoice.examples["en"], ["How can I pay my bill?"]);
    // Dotted keys (`description.nl = ...`) read the same as inline tables.
    let moving = pipeline.reason("move_house").unwrap();
    assert_eq!(
        moving.description["en"],
        "The customer moves and wants to take the supply along."
    );
    assert!(moving.examples.is_empty());
    assert_eq!(
        pipeline.reason("end_contract").unwrap().examples["de"],
        ["Ich möchte meinen Vertrag kündigen"]
    );

    assert_eq!(pipeline.phase_of("move_house"), Some("staying_customer"));
    assert_eq!(pipeline.phase_of("end_contract"), Some("leaving"));
    assert_eq!(pipeline.phase_of("no_such_reason"), None);
    assert!(pipeline.reason("unknown").is_none());
}

#[test]
fn hash_is_the_sha256_of_the_file_bytes() {
    let bytes = std::fs::read(SMALL).unwrap();
    let expected: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let pipeline = Pipeline::load(Path::new(SMALL)).unwrap();
    assert_eq!(pipeline.hash, expected);
    assert_eq!(pipeline.hash.len(), 64);

    // Any change to the file, even a comment, changes the hash.
    let text = String::from_utf8(bytes).unwrap() + "# edited\n";
    let edited = Pipeline::parse(&text, Path::new(SMALL)).unwrap();
    assert_ne!(edited.hash, pipeline.hash);
}

#[test]
fn optional_settings_override_the_defaults() {
    let text = with(REASON)
        .replace(
            "encoder = \"multilingual-e5-small\"",
            "encoder = \"hf:owner/name\"\nquery_prefix = \"\"\nmax_tokens = 256\nprecision = \"int8\"",
        )
        .replace("unknown_below = 0.5", "unknown_below = -1\ntop_k = 5");
    let pipeline = parse(&text).unwrap();
    assert_eq!(pipeline.model.encoder, "hf:owner/name");
    assert_eq!(pipeline.model.query_prefix, "");
    assert_eq!(pipeline.model.max_tokens, 256);
    assert_eq!(pipeline.model.precision, Precision::Int8);
    assert_eq!(pipeline.classify.unknown_below, -1.0);
    assert_eq!(pipeline.classify.top_k, 5);
    assert!(pipeline.input.columns.is_empty());
    assert_eq!(pipeline.description, None);
}

#[test]
fn toml_syntax_errors_are_reported_on_their_line() {
    assert_only_problem(
        &BASE.replace("unknown_below = 0.5", "unknown_below = "),
        9,
        "invalid TOML",
    );
    // Every syntax error the parser can recover from is reported, not only the first.
    let two_broken = BASE
        .replace("name = \"test\"", "name = \"test")
        .replace("unknown_below = 0.5", "unknown_below = 0..5");
    let problems = problems_of(&two_broken);
    assert!(problems
        .iter()
        .all(|p| p.message.starts_with("invalid TOML")));
    let lines: std::collections::BTreeSet<usize> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [2, 9].into(), "{problems:#?}");
    // A key defined twice is a syntax error too.
    assert_only_problem(
        &BASE.replace("encoder = ", "encoder = \"a\"\nencoder = "),
        7,
        "invalid TOML",
    );
}

#[test]
fn unknown_keys_are_reported_wherever_they_are() {
    let reason_with_typo = REASON.replace("description =", "descripton =");
    assert_only_problem(&with(&reason_with_typo), 30, "unknown field `descripton`");

    let text = BASE
        .replace("languages =", "langauges =")
        .replace("unknown_below", "unknown_below = 0.5\nthreshold");
    let problems = problems_of(&text);
    assert_problem(&problems, 3, "unknown field `langauges`");
    assert_problem(&problems, 10, "unknown field `threshold`");
    assert_eq!(problems.len(), 2, "{problems:#?}");

    assert_only_problem(
        &with("[outputs]\ndir = \"out\"\n"),
        26,
        "unknown key 'outputs'",
    );
    assert_only_problem(
        &with("[input.columns]\ntext = \"body\"\n[input.colours]\n"),
        28,
        "unknown field `colours`",
    );
    // The malformed phase is still defined: it is not also reported missing, nor unknown to its reasons.
    let leaving_reason = REASON.replace("being_customer", "leaving");
    assert_only_problem(
        &with(&leaving_reason).replace("id = \"leaving\"", "id = \"leaving\"\nlabel = \"x\""),
        25,
        "phase 'leaving': unknown field `label`",
    );
}

#[test]
fn missing_sections_have_no_single_line() {
    let text = BASE.replace("[model]\nencoder = \"multilingual-e5-small\"\n", "");
    assert_only_problem(&text, 0, "missing section [model]");
}

#[test]
fn duplicate_reason_ids_name_the_first_occurrence() {
    let text = with(&format!("{REASON}{REASON}"));
    assert_only_problem(
        &text,
        32,
        "contact reason 'invoice_payment' is defined twice (first on line 27)",
    );
}

#[test]
fn phases_must_be_the_five_lifecycle_phases_each_once() {
    let renamed = BASE.replace("id = \"leaving\"", "id = \"leavin\"");
    let problems = problems_of(&renamed);
    assert_problem(&problems, 24, "unknown phase 'leavin'");
    assert_problem(&problems, 0, "missing phase 'leaving'");
    assert_eq!(problems.len(), 2, "{problems:#?}");

    let twice =
        with("[[phases]]\nid = \"being_customer\"\nname = { nl = \"Klant\", en = \"Customer\" }\n");
    assert_only_problem(
        &twice,
        27,
        "phase 'being_customer' is defined twice (first on line 18)",
    );

    let none = with("").lines().take(9).collect::<Vec<_>>().join("\n");
    let missing_all = problems_of(&none);
    assert_eq!(missing_all.len(), 5, "{missing_all:#?}");
    assert!(missing_all
        .iter()
        .all(|p| p.line == 0 && p.message.starts_with("missing phase")));
}

#[test]
fn a_reason_must_belong_to_a_defined_phase() {
    let text = with(&REASON.replace("being_customer", "paying"));
    assert_only_problem(
        &text,
        28,
        "contact reason 'invoice_payment': unknown phase 'paying'",
    );
}

#[test]
fn a_reason_needs_a_description_with_text() {
    let missing = REASON.replace(
        "description = { nl = \"Factuur betalen.\", en = \"Paying the invoice.\" }\n",
        "",
    );
    assert_only_problem(&with(&missing), 26, "'invoice_payment' has no description");

    let empty = REASON.replace(
        "{ nl = \"Factuur betalen.\", en = \"Paying the invoice.\" }",
        "{}",
    );
    assert_only_problem(&with(&empty), 26, "'invoice_payment' has no description");

    let blank = REASON.replace("\"Paying the invoice.\"", "\"  \"");
    assert_only_problem(&with(&blank), 30, "description.en is blank");
}

#[test]
fn names_and_descriptions_cover_every_pipeline_language() {
    let no_english_name = REASON.replace(", en = \"I pay my invoice\"", "");
    assert_only_problem(&with(&no_english_name), 29, "name has no 'en' text");

    let dotted_description = REASON.replace(
        "description = { nl = \"Factuur betalen.\", en = \"Paying the invoice.\" }",
        "description.de = \"Rechnung bezahlen.\"\ndescription.en = \"Paying the invoice.\"",
    );
    assert_only_problem(
        &with(&dotted_description),
        30,
        "'invoice_payment': description has no 'nl' text",
    );

    let phase_name = BASE.replace(", en = \"Leaving\"", "");
    assert_only_problem(&phase_name, 25, "phase 'leaving': name has no 'en' text");
}

#[test]
fn reason_ids_are_snake_case_and_not_reserved() {
    for bad_id in [
        "InvoicePayment",
        "invoice-payment",
        "invoice__payment",
        "_invoice",
        "2nd_invoice",
        "",
    ] {
        let text = with(&REASON.replace("invoice_payment", bad_id));
        assert_only_problem(&text, 27, "is not snake_case");
    }
    assert!(parse(&with(&REASON.replace("invoice_payment", "invoice_2nd"))).is_ok());
    assert_only_problem(
        &with(&REASON.replace("invoice_payment", "unknown")),
        27,
        "'unknown' is reserved",
    );
}

#[test]
fn classify_settings_must_be_in_range() {
    for bad in ["1.5", "-1.01", "nan"] {
        let text = with(REASON).replace("unknown_below = 0.5", &format!("unknown_below = {bad}"));
        assert_only_problem(&text, 9, "unknown_below must be between -1 and 1");
    }
    assert!(parse(&with(REASON).replace("0.5", "1.0")).is_ok());

    let text = with(REASON).replace("unknown_below = 0.5", "unknown_below = 0.5\ntop_k = 0");
    assert_only_problem(&text, 10, "top_k must be at least 1");
}

#[test]
fn the_encoder_and_the_pipeline_must_be_named() {
    let text = with(REASON).replace("\"multilingual-e5-small\"", "\" \"");
    assert_only_problem(&text, 6, "[model]: encoder is empty");
    let text = with(REASON).replace("name = \"test\"", "name = \"\"");
    assert_only_problem(&text, 2, "[pipeline]: name is empty");
}

#[test]
fn max_tokens_must_be_positive() {
    let text = with(REASON).replace(
        "encoder = \"multilingual-e5-small\"",
        "encoder = \"multilingual-e5-small\"\nmax_tokens = 0",
    );
    assert_only_problem(&text, 7, "[model]: max_tokens must be at least 1");
}

#[test]
fn precision_must_be_one_the_encoder_has() {
    let text = with(REASON).replace(
        "encoder = \"multilingual-e5-small\"",
        "encoder = \"multilingual-e5-small\"\nprecision = \"fp16\"",
    );
    assert_only_problem(
        &text,
        7,
        "[model]: precision must be \"f32\", \"int8\" or \"q4\", not \"fp16\"",
    );
}

#[test]
fn values_of_the_wrong_type_are_reported_on_their_line() {
    let text = with(REASON).replace("unknown_below = 0.5", "unknown_below = \"high\"");
    assert_only_problem(&text, 9, "[classify]: invalid type: string \"high\"");
    assert_only_problem(
        &format!("contact_reasons = \"none\"\n{BASE}"),
        1,
        "'contact_reasons' must be an array of tables",
    );
}

#[test]
fn input_mappings_use_canonical_names_and_values() {
    let input = "[input]\n\
                 [input.columns]\n\
                 text = \"body\"\n\
                 body = \"text\"\n\
                 [input.channels]\n\
                 telefoon = \"voice\"\n\
                 brief = \"post\"\n\
                 [input.directions]\n\
                 uit = \"out\"\n";
    let problems = problems_of(&with(&format!("{REASON}{input}")));
    assert_problem(
        &problems,
        34,
        "[input.columns]: 'body' is not a canonical column",
    );
    assert_problem(&problems, 37, "[input.channels]: 'brief' maps to 'post'");
    assert_problem(&problems, 39, "[input.directions]: 'uit' maps to 'out'");
    assert_eq!(problems.len(), 3, "{problems:#?}");
}

#[test]
fn example_utterances_must_not_be_blank() {
    let text = with(&format!(
        "{REASON}examples.nl = [\"Factuur betalen\", \"\"]\nexamples.en = [\n  \"Pay my bill\",\n  \"   \",\n]\n"
    ));
    let problems = problems_of(&text);
    assert_problem(&problems, 31, "blank example in examples.nl");
    assert_problem(&problems, 34, "blank example in examples.en");
    assert_eq!(problems.len(), 2, "{problems:#?}");
}

#[test]
fn every_problem_is_reported_at_once_in_line_order() {
    let reasons = format!(
        "{}{}{}",
        REASON.replace("invoice_payment", "Invoice"),
        REASON.replace("being_customer", "paying"),
        REASON.replace("description", "descripton"),
    );
    let text = with(&reasons)
        .replace("unknown_below = 0.5", "unknown_below = 2")
        .replace("id = \"staying_customer\"", "id = \"staying\"");
    let problems = problems_of(&text);
    assert_problem(&problems, 0, "missing phase 'staying_customer'");
    assert_problem(&problems, 9, "unknown_below must be between -1 and 1");
    assert_problem(&problems, 21, "unknown phase 'staying'");
    assert_problem(&problems, 27, "'Invoice' is not snake_case");
    assert_problem(&problems, 33, "unknown phase 'paying'");
    assert_problem(&problems, 40, "unknown field `descripton`");
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [0, 9, 21, 27, 33, 40]);
}

#[test]
fn the_error_shows_file_line_and_message() {
    let text = with(REASON).replace("unknown_below = 0.5", "unknown_below = 2");
    let error = Pipeline::parse(&text, Path::new("pipelines/energy.toml")).unwrap_err();
    assert_eq!(error.exit_code(), 2);
    assert_eq!(
        error.to_string(),
        "pipelines/energy.toml is not a valid pipeline:\n  \
         pipelines/energy.toml:9: [classify]: unknown_below must be between -1 and 1, not 2"
    );
}

#[test]
fn load_reports_unreadable_files() {
    let missing = Path::new("tests/fixtures/pipelines/no_such_file.toml");
    match Pipeline::load(missing) {
        Err(Error::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected Error::Io, got {other:?}"),
    }

    let dir = tempfile::tempdir().unwrap();
    let latin1 = dir.path().join("latin1.toml");
    std::fs::write(&latin1, b"[pipeline]\nname = \"caf\xe9\"\n").unwrap();
    match Pipeline::load(&latin1) {
        Err(Error::Pipeline { file, problems }) => {
            assert_eq!(file, latin1);
            assert_eq!(problems.len(), 1);
            assert_eq!(problems[0].line, 2);
            assert!(problems[0].message.contains("UTF-8"));
        }
        other => panic!("expected Error::Pipeline, got {other:?}"),
    }
}

#[test]
fn sentiment_settings_are_read_and_checked() {
    use touchpoint::pipeline::SentimentSource;
    // No section: the built-in head, turns scored.
    let pipeline = parse(&with(REASON)).unwrap();
    assert_eq!(pipeline.sentiment.source, SentimentSource::Builtin);
    assert!(pipeline.sentiment.turns);

    let off = parse(&with(&format!("{REASON}[sentiment]\nenabled = false\n"))).unwrap();
    assert_eq!(off.sentiment.source, SentimentSource::Off);
    let head = parse(&with(&format!(
        "{REASON}[sentiment]\nhead = \"heads/sentiment\"\nturns = false\n"
    )))
    .unwrap();
    assert_eq!(
        head.sentiment.source,
        SentimentSource::Head(Path::new("heads/sentiment").to_path_buf())
    );
    assert!(!head.sentiment.turns);
    let hub = parse(&with(&format!(
        "{REASON}[sentiment]\nmodel = \"hf:org/sentiment\"\nlabels = {{ LABEL_0 = \"negative\", LABEL_1 = \"positive\" }}\n"
    )))
    .unwrap();
    assert_eq!(
        hub.sentiment.source,
        SentimentSource::Classifier("hf:org/sentiment".into())
    );
    assert_eq!(hub.sentiment.labels["LABEL_1"], "positive");

    // Both a head and a model; a label mapped to something that is not a sentiment.
    let base_lines = with(REASON).lines().count();
    let text = with(&format!(
        "{REASON}[sentiment]\nhead = \"h\"\nmodel = \"hf:o/m\"\nlabels = {{ LABEL_0 = \"angry\" }}\n"
    ));
    let problems = problems_of(&text);
    assert_problem(&problems, base_lines + 1, "give either head");
    assert_problem(
        &problems,
        base_lines + 4,
        "labels.LABEL_0 = 'angry' is not a sentiment",
    );
    assert_only_problem(
        &with(&format!("{REASON}[sentiment]\nmodle = \"x\"\n")),
        base_lines + 2,
        "unknown field `modle`",
    );
}

#[test]
fn journeys_name_known_reasons_with_a_positive_gap() {
    let journeys = "[[journeys]]\n\
                    id = \"Billing\"\n\
                    name = { nl = \"Factuur\" }\n\
                    reasons = [\"invoice_payment\", \"unknown\", \"nope\", \"invoice_payment\"]\n\
                    max_gap_days = 0\n\
                    [[journeys]]\n\
                    id = \"empty\"\n\
                    name = { nl = \"Leeg\", en = \"Empty\" }\n\
                    reasons = []\n";
    let problems = problems_of(&with(&format!("{REASON}{journeys}")));
    assert_problem(&problems, 32, "journey id 'Billing' is not snake_case");
    assert_problem(&problems, 33, "journey 'Billing': name has no 'en' text");
    assert_problem(&problems, 34, "'unknown' cannot be listed");
    assert_problem(&problems, 34, "unknown contact reason 'nope'");
    assert_problem(&problems, 34, "'invoice_payment' is listed twice");
    assert_problem(&problems, 35, "max_gap_days must be more than 0, not 0");
    assert_problem(&problems, 39, "journey 'empty' has no reasons");
    assert_eq!(problems.len(), 7, "{problems:#?}");

    // A reason in no journey forms a journey under its own id, so no journey may take that id.
    let clash = "[[journeys]]\nid = \"invoice_payment\"\nname = { nl = \"B\", en = \"B\" }\nreasons = [\"other\"]\n";
    let other = REASON.replace("invoice_payment", "other");
    let problems = problems_of(&with(&format!("{REASON}{other}{clash}")));
    assert_problem(
        &problems,
        37,
        "is the id of contact reason 'invoice_payment'",
    );
    assert_eq!(problems.len(), 1, "{problems:#?}");
}

#[test]
fn calendar_sla_and_priorities_are_checked_value_by_value() {
    let settings = "[calendar]\n\
                    time_zone = \"Europe/Amsterdm\"\n\
                    working_days = [\"mon\", \"funday\", \"mon\"]\n\
                    opens = \"17:00\"\n\
                    closes = \"9am\"\n\
                    public_holidays = [\"kings_day\", \"sinterklaas\"]\n\
                    liberation_day = \"sometimes\"\n\
                    closed_dates = [\"2026-13-01\"]\n\
                    [sla]\n\
                    live_channels = [\"phone\"]\n\
                    [[sla.rules]]\n\
                    channel = \"fax\"\n\
                    reasons = [\"nope\"]\n\
                    within_working_hours = 4\n\
                    within_working_days = 1\n\
                    [priorities]\n\
                    volume = -1\n\
                    [linking]\n\
                    repeat_window_days = 0\n";
    let problems = problems_of(&with(&format!("{REASON}{settings}")));
    assert_problem(&problems, 32, "unknown time zone 'Europe/Amsterdm'");
    assert_problem(&problems, 33, "'funday' is not a weekday");
    assert_problem(&problems, 33, "'mon' is listed twice");
    assert_problem(&problems, 35, "closes '9am' is not a time written HH:MM");
    assert_problem(&problems, 36, "unknown public holiday 'sinterklaas'");
    assert_problem(
        &problems,
        37,
        "liberation_day must be one of: every_year, every_5_years",
    );
    assert_problem(&problems, 38, "closed date '2026-13-01' is not a date");
    assert_problem(&problems, 40, "live channel 'phone' is not one of");
    assert_problem(&problems, 42, "channel 'fax' is not one of");
    assert_problem(&problems, 43, "unknown contact reason 'nope'");
    assert!(
        problems
            .iter()
            .any(|p| (41..=45).contains(&p.line) && p.message.contains("exactly one of")),
        "{problems:#?}"
    );
    assert_problem(
        &problems,
        47,
        "[priorities]: volume must be at least 0, not -1",
    );
    assert_problem(&problems, 49, "repeat_window_days must be more than 0");
    assert_eq!(problems.len(), 13, "{problems:#?}");

    // Opening after closing, two rules for the same thing.
    let settings = "[calendar]\nopens = \"18:00\"\ncloses = \"09:00\"\n\
                    [[sla.rules]]\nchannel = \"email\"\nwithin_working_days = 2\n\
                    [[sla.rules]]\nchannel = \"email\"\nwithin_working_hours = 8\n";
    let problems = problems_of(&with(&format!("{REASON}{settings}")));
    assert_problem(
        &problems,
        33,
        "closes (09:00:00) must be after opens (18:00:00)",
    );
    assert!(
        problems.iter().any(|p| p
            .message
            .contains("a rule for the same channel and reasons")),
        "{problems:#?}"
    );
    assert_eq!(problems.len(), 2, "{problems:#?}");
}

#[test]
fn reason_metadata_must_not_be_blank_or_negative() {
    let reason =
        format!("{REASON}owner = \" \"\nsystems = [\"CRM\", \"\"]\ncost_per_contact = -2.5\n");
    let problems = problems_of(&with(&reason));
    assert_problem(&problems, 31, "owner is blank");
    assert_problem(&problems, 32, "blank entry in systems");
    assert_problem(
        &problems,
        33,
        "cost_per_contact must be at least 0, not -2.5",
    );
    assert_eq!(problems.len(), 3, "{problems:#?}");
}

#[test]
fn journey_settings_load_with_their_defaults() {
    use touchpoint::pipeline::SlaLimit;
    let text = format!(
        "{REASON}owner = \"Billing\"\nprocesses = [\"Payments\"]\nsystems = [\"SAP IS-U\"]\ncost_per_contact = 4.5\n\
         [linking]\nmax_gap_days = 21\n\
         [[journeys]]\nid = \"billing\"\nname = {{ nl = \"Factuur\", en = \"Billing\" }}\nreasons = [\"invoice_payment\"]\n\
         [[sla.rules]]\nchannel = \"email\"\nwithin_working_days = 2\n\
         [calendar]\nliberation_day = \"every_year\"\npublic_holidays = [\"good_friday\"]\n"
    );
    let pipeline = parse(&with(&text)).unwrap();
    let reason = &pipeline.contact_reasons[0];
    assert_eq!(reason.owner.as_deref(), Some("Billing"));
    assert_eq!(
        (reason.processes.len(), reason.systems[0].as_str()),
        (1, "SAP IS-U")
    );
    assert_eq!(reason.cost_per_contact, Some(4.5));
    assert_eq!(pipeline.journeys[0].max_gap_days, 21.0);
    assert_eq!(pipeline.linking.repeat_window_days, 7.0);
    assert_eq!(pipeline.sla.rules[0].limit, SlaLimit::WorkingDays(2.0));
    assert_eq!(pipeline.sla.live_channels, ["voice", "chat"]);
    assert_eq!(pipeline.calendar.time_zone, chrono_tz::Europe::Amsterdam);
    assert_eq!(pipeline.calendar.public_holidays.len(), 1);
    assert_eq!(
        pipeline.priorities,
        touchpoint::pipeline::PriorityWeights::default()
    );

    // Without journeys nothing changes for older pipeline files.
    assert!(parse(&with(REASON)).unwrap().journeys.is_empty());
}
