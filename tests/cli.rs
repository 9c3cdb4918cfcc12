//! The `touchpoint` binary as a user runs it: the README's main command on the shipped sample, exit codes, and
//! the written Parquet read by pyarrow and DuckDB (installed by `.ci/run`; required when `CI` is set).

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{root, rows, strings};

fn touchpoint(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_touchpoint"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run touchpoint")
}

/// Runs the binary and requires success, showing its log when it fails.
fn touchpoint_ok(args: &[&str]) -> Output {
    let output = touchpoint(args);
    assert!(
        output.status.success(),
        "touchpoint {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn python_has(modules: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn readme_main_command_writes_parquet_that_pyarrow_and_duckdb_read() {
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().to_str().unwrap();
    let run = touchpoint_ok(&[
        "enrich",
        "testdata/interactions.csv",
        "--pipeline",
        "pipelines/default.toml",
        "--out",
        out_dir,
    ]);
    let file = Path::new(out_dir).join("interactions.parquet");
    // The written files, one per line, the interactions first; then the priorities (the shipped pipeline has
    // journeys).
    let stdout = String::from_utf8_lossy(&run.stdout);
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some(file.display().to_string().as_str()));
    for name in [
        "journeys.parquet",
        "lifecycle.parquet",
        "events.csv",
        "events.parquet",
        "events.xes",
    ] {
        let path = Path::new(out_dir).join(name);
        assert_eq!(lines.next(), Some(path.display().to_string().as_str()));
    }
    assert!(
        stdout.contains("priorities: journeys") && stdout.contains("priorities: reasons"),
        "{stdout}"
    );
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(
        log.contains("300 rows") && log.contains("0 rejected"),
        "{log}"
    );

    if !python_has("pyarrow, duckdb") {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have pyarrow and duckdb (see .ci/run)"
        );
        eprintln!("pyarrow/duckdb not installed: reader check not run here (CI runs it)");
        return;
    }
    let script = format!(
        r#"
import pyarrow.parquet as pq, duckdb
path = {path:?}
t = pq.read_table(path)
assert t.num_rows == 300, t.num_rows
meta = pq.read_metadata(path).metadata
assert meta[b"touchpoint.model"] == b"multilingual-e5-small", meta
top = t.column("contact_reason_top3").to_pylist()[0]
assert len(top) == 3 and top[0]["score"] >= top[2]["score"], top
n, phases = duckdb.sql(f"select count(*), count(distinct lifecycle_phase) from '{{path}}'").fetchall()[0]
assert n == 300 and phases == 5, (n, phases)
print("ok", t.num_rows)
"#,
        path = file.display().to_string()
    );
    let check = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn exit_codes_tell_usage_input_and_pipeline_errors_apart() {
    let dir = tempfile::tempdir().unwrap();
    let bad_pipeline = dir.path().join("bad.toml");
    std::fs::write(
        &bad_pipeline,
        "[pipeline]\nname = \"x\"\nlanguages = [\"nl\"]\n",
    )
    .unwrap();
    let check = touchpoint(&["pipeline", "check", bad_pipeline.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&check.stderr).contains("bad.toml"));

    let ok = touchpoint_ok(&["pipeline", "check", "pipelines/default.toml"]);
    assert!(String::from_utf8_lossy(&ok.stdout).contains("42 contact reasons"));
    // Label names with nothing in scope: an input error naming the file, not a panic.
    let all_oos = dir.path().join("all_oos.csv");
    std::fs::write(&all_oos, "text,label\nhello,oos\nbye,oos\n").unwrap();
    let names = touchpoint(&[
        "eval",
        "--data",
        all_oos.to_str().unwrap(),
        "--label-names",
        "--oos-label",
        "oos",
    ]);
    assert_eq!(names.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&names.stderr).contains("all_oos.csv"));

    let webshop = touchpoint_ok(&["pipeline", "check", "pipelines/webshop.toml"]);
    assert!(String::from_utf8_lossy(&webshop.stdout).contains("27 contact reasons"));

    let missing = touchpoint(&[
        "enrich",
        dir.path().join("nothing-here.csv").to_str().unwrap(),
        "--pipeline",
        "pipelines/default.toml",
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ]);
    assert_eq!(
        missing.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nothing-here.csv"));

    let usage = touchpoint(&["enrich", "--pipeline", "pipelines/default.toml"]);
    assert_eq!(usage.status.code(), Some(2));
}

/// Two fetches of one model into an empty store at the same time (a manual run beside a nightly job, or test
/// threads on a fresh machine) both succeed, and only one downloads: the other waits for the store's lock and
/// then finds the files installed. Before the lock, both extracted to the same temporary file and one failed.
#[test]
fn concurrent_fetches_take_turns_and_both_succeed() {
    let home = tempfile::tempdir().unwrap();
    let fetch = || {
        Command::new(env!("CARGO_BIN_EXE_touchpoint"))
            .args(["models", "fetch", "all-MiniLM-L6-v2"])
            .env("TOUCHPOINT_HOME", home.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run touchpoint")
    };
    let (first, second) = (fetch(), fetch());
    let logs: Vec<String> = [first, second]
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().unwrap();
            let log = String::from_utf8_lossy(&output.stderr).into_owned();
            assert!(output.status.success(), "{log}");
            log
        })
        .collect();
    let downloads = logs.iter().filter(|l| l.contains("downloading")).count();
    assert_eq!(downloads, 1, "{logs:#?}");
    assert!(
        logs.iter().any(|l| l.contains("already installed")),
        "{logs:#?}"
    );
    let list = Command::new(env!("CARGO_BIN_EXE_touchpoint"))
        .args(["models", "list"])
        .env("TOUCHPOINT_HOME", home.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("all-MiniLM-L6-v2: installed"), "{text}");
}

#[test]
fn models_list_names_the_packaged_models_and_the_store() {
    let list = touchpoint_ok(&["models", "list"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains("multilingual-e5-small (default)") && text.contains("all-MiniLM-L6-v2"),
        "{text}"
    );
    assert!(text.contains("model store:"), "{text}");
}

#[test]
fn a_trained_head_decides_where_it_is_confident_and_zero_shot_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let head = dir.path().join("head");
    // A customer's interactions stay on one side of the validation split.
    touchpoint_ok(&[
        "train",
        "--data",
        "testdata/interactions.csv",
        "--pipeline",
        "pipelines/default.toml",
        "--group-column",
        "customer_id",
        "--out",
        head.to_str().unwrap(),
    ]);
    let meta = std::fs::read_to_string(head.join("head.json")).unwrap();
    assert!(meta.contains("\"group_column\": \"customer_id\""), "{meta}");
    let missing = touchpoint(&[
        "train",
        "--data",
        "testdata/interactions.csv",
        "--group-column",
        "conversation",
        "--out",
        dir.path().join("never").to_str().unwrap(),
    ]);
    assert!(!missing.status.success());
    let message = String::from_utf8_lossy(&missing.stderr);
    assert!(
        message.contains("no group column 'conversation'") && message.contains("interactions.csv"),
        "{message}"
    );

    let out = dir.path().join("out");
    touchpoint_ok(&[
        "enrich",
        "testdata/labelled_sentences.csv",
        "--pipeline",
        "pipelines/default.toml",
        "--head",
        head.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let batches = touchpoint::output::read_parquet(&out.join("interactions.parquet")).unwrap();
    let column =
        |name: &str| -> Vec<String> { strings(&batches, name).into_iter().flatten().collect() };
    let sources = column(touchpoint::schema::CONTACT_REASON_SOURCE);
    let reasons = column(touchpoint::schema::CONTACT_REASON);
    let labels = column("label");
    assert!(
        sources.iter().all(|s| s == "head" || s == "zero_shot"),
        "{sources:?}"
    );
    let by_head = sources.iter().filter(|s| *s == "head").count();
    assert!(
        by_head * 2 >= sources.len(),
        "head decided only {by_head} of {}",
        sources.len()
    );
    let correct = reasons.iter().zip(&labels).filter(|(r, l)| r == l).count();
    assert!(
        correct as f64 >= 0.8 * labels.len() as f64,
        "{correct}/{}",
        labels.len()
    );

    // A head whose labels are not the pipeline's reasons is refused, naming the labels.
    let foreign = dir.path().join("foreign.csv");
    let mut csv = String::from("text,label\n");
    for i in 0..10 {
        csv.push_str(&format!(
            "I want to order pizza number {i},pizza\nThe weather is nice today {i},weather\n"
        ));
    }
    std::fs::write(&foreign, csv).unwrap();
    let foreign_head = dir.path().join("foreign_head");
    touchpoint_ok(&[
        "train",
        "--data",
        foreign.to_str().unwrap(),
        "--out",
        foreign_head.to_str().unwrap(),
    ]);
    let refused = touchpoint(&[
        "enrich",
        "testdata/labelled_sentences.csv",
        "--pipeline",
        "pipelines/default.toml",
        "--head",
        foreign_head.to_str().unwrap(),
        "--out",
        dir.path().join("out2").to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(2));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("pizza") && message.contains("weather"),
        "{message}"
    );
}

#[test]
fn raw_email_is_enriched_with_threads_directions_customers_and_redaction() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    touchpoint_ok(&[
        "enrich",
        "--format",
        "email",
        "testdata/email",
        "--pipeline",
        "pipelines/default.toml",
        "--own-domain",
        "bedrijf.nl",
        "--customer-map",
        "testdata/email/customers.csv",
        "--out",
        out.to_str().unwrap(),
    ]);
    let written = touchpoint::output::read_parquet(&out.join("interactions.parquet")).unwrap();
    let rejected = touchpoint::output::read_parquet(&out.join("rejects.parquet")).unwrap();
    let (rows, rejects) = (rows(&written), rows(&rejected));
    // Four .eml files and an mbox of three messages, one of which has no text body.
    assert_eq!((rows, rejects), (6, 1));
    let column = |name: &str| strings(&written, name);
    let directions = column(touchpoint::schema::DIRECTION);
    assert!(
        directions.contains(&Some("outbound".into()))
            && directions.contains(&Some("inbound".into()))
    );
    let customers = column(touchpoint::schema::CUSTOMER_ID);
    assert!(
        customers.contains(&Some("K-1001".into())) && customers.contains(&Some("K-2002".into()))
    );
    // Replies share their thread's conversation id; raw bodies are written redacted.
    let conversations = column(touchpoint::schema::CONVERSATION_ID);
    let distinct: std::collections::HashSet<_> = conversations.iter().collect();
    assert!(distinct.len() < rows, "{conversations:?}");
    for raw in column(touchpoint::schema::TEXT_RAW).into_iter().flatten() {
        assert!(!raw.contains("@example."), "{raw}");
    }
}

#[test]
fn chat_and_call_transcripts_are_enriched_with_their_turns() {
    let dir = tempfile::tempdir().unwrap();
    for (format, folder, conversations) in
        [("chat", "testdata/chat", 4), ("call", "testdata/calls", 5)]
    {
        let out = dir.path().join(format);
        touchpoint_ok(&[
            "enrich",
            "--format",
            format,
            folder,
            "--pipeline",
            "pipelines/default.toml",
            "--out",
            out.to_str().unwrap(),
        ]);
        let written = touchpoint::output::read_parquet(&out.join("interactions.parquet")).unwrap();
        // The folders also hold deliberately broken files: those land in rejects, never in the output.
        assert!(out.join("rejects.parquet").exists());
        assert_eq!(rows(&written), conversations, "{format}");
        let schema = written[0].schema();
        assert!(schema.column_with_name(touchpoint::schema::TURNS).is_some());
        assert_eq!(
            schema
                .column_with_name(touchpoint::schema::CUSTOMER_TALK_RATIO)
                .is_some(),
            format == "call"
        );
        let channel = if format == "chat" { "chat" } else { "voice" };
        assert!(strings(&written, touchpoint::schema::CHANNEL)
            .iter()
            .all(|c| c.as_deref() == Some(channel)));
        assert!(strings(&written, touchpoint::schema::CONTACT_REASON)
            .iter()
            .all(|r| r.is_some()));
    }
}

#[test]
fn personal_data_in_chat_turns_is_redacted_too() {
    let dir = tempfile::tempdir().unwrap();
    let chat = dir.path().join("chat.json");
    std::fs::write(
        &chat,
        r#"{"id": "c1", "customer_id": "K-9", "started_at": "2026-10-01T10:00:00+02:00", "messages": [
            {"role": "customer", "text": "Mijn nieuwe nummer is 06-12345678, mail naar piet@example.nl", "timestamp": "2026-10-01T10:00:05+02:00"},
            {"role": "agent", "text": "Dank u, ik pas uw gegevens aan.", "timestamp": "2026-10-01T10:01:00+02:00"}
        ]}"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    touchpoint_ok(&[
        "enrich",
        "--format",
        "chat",
        chat.to_str().unwrap(),
        "--pipeline",
        "pipelines/default.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    let written = touchpoint::output::read_parquet(&out.join("interactions.parquet")).unwrap();
    assert_eq!(rows(&written), 1);
    let turns = written[0]
        .column_by_name(touchpoint::schema::TURNS)
        .unwrap();
    let turns = turns
        .as_any()
        .downcast_ref::<arrow_array::ListArray>()
        .unwrap();
    let first = turns.value(0);
    let first = first
        .as_any()
        .downcast_ref::<arrow_array::StructArray>()
        .unwrap();
    let texts = first.column_by_name(touchpoint::schema::TURN_TEXT).unwrap();
    let texts = texts
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .unwrap();
    assert_eq!(
        texts.value(0),
        "Mijn nieuwe nummer is [PHONE], mail naar [EMAIL]"
    );
    for column in [touchpoint::schema::TEXT, touchpoint::schema::TEXT_RAW] {
        let value = strings(&written, column)[0].clone().unwrap();
        assert!(
            value.contains("[PHONE]") && !value.contains("piet@"),
            "{column}: {value}"
        );
    }
    assert_eq!(
        strings(&written, touchpoint::schema::CONTACT_REASON)[0].as_deref(),
        Some("change_details")
    );
}

#[test]
fn bench_reports_the_encoder_and_every_enrich_stage_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("intent/banking77");
    let long = dir.path().join("sentiment/multiemo/nl");
    std::fs::create_dir_all(&short).unwrap();
    std::fs::create_dir_all(&long).unwrap();
    std::fs::write(
        short.join("train.csv"),
        "text,label\nWhere is my new card?,card_arrival\nMy top-up failed twice,top_up_failed\n\
         Can I change my PIN at an ATM?,change_pin\n",
    )
    .unwrap();
    std::fs::write(
        long.join("dev.csv"),
        "text,label\n\"De monteur kwam te laat, maar de nieuwe meter werkt prima en de uitleg was duidelijk.\",\
         z_plus_m\n\"Ik wacht al drie weken op mijn eindafrekening en niemand belt terug.\",z_minus_m\n",
    )
    .unwrap();
    let output = touchpoint_ok(&[
        "-q",
        "bench",
        "--data",
        dir.path().to_str().unwrap(),
        "--limit",
        "2",
        "--json",
    ]);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let kinds: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["kind"].as_str().unwrap(), l["workload"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("encoder", "short"),
            ("encoder", "long"),
            ("enrich", "short"),
            ("enrich", "long")
        ]
    );
    for line in &lines[..2] {
        assert_eq!(line["texts"], 2);
        assert!(line["texts_per_second"].as_f64().unwrap() > 0.0);
        assert!(line["peak_rss_mb"].as_f64().unwrap() > 50.0);
    }
    for line in &lines[2..] {
        assert_eq!(line["rows"], 2);
        let stages = line["stages"].as_object().unwrap();
        for stage in [
            "load", "read", "prepare", "tokenise", "encode", "heads", "link", "write",
        ] {
            assert!(stages[stage].as_f64().unwrap() >= 0.0, "{stage}: {line}");
        }
        assert!(stages["encode"].as_f64().unwrap() > 0.0);
        assert!(stages["load"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn split_keeps_a_group_on_one_side_and_writes_the_group_column() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("pairs.csv");
    // 30 reviews, each in Dutch and English under the same review id, the pairs not adjacent.
    let mut csv = String::from("text,label,review\n");
    for language in ["nl", "en"] {
        for i in 0..30 {
            let label = ["positive", "negative", "neutral"][i % 3];
            csv.push_str(&format!("review {i} in {language},{label},r{i}\n"));
        }
    }
    std::fs::write(&data, csv).unwrap();
    let (train, test) = (dir.path().join("train.csv"), dir.path().join("test.csv"));
    touchpoint_ok(&[
        "split",
        "--data",
        data.to_str().unwrap(),
        "--train",
        train.to_str().unwrap(),
        "--test",
        test.to_str().unwrap(),
        "--group-column",
        "review",
    ]);
    let reviews = |path: &std::path::Path| -> Vec<String> {
        let text = std::fs::read_to_string(path).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let at = header
            .iter()
            .position(|c| *c == "review")
            .expect("review column kept");
        lines
            .map(|l| l.split(',').nth(at).unwrap().to_string())
            .collect()
    };
    let (first, second) = (reviews(&train), reviews(&test));
    assert_eq!(first.len() + second.len(), 60);
    assert_eq!(
        first.len(),
        48,
        "80 % of the 30 reviews, both languages of each"
    );
    for review in &second {
        assert!(!first.contains(review), "{review} on both sides");
        assert_eq!(second.iter().filter(|r| *r == review).count(), 2);
    }
}
