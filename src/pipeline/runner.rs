//! The `enrich` runner: streams record batches from `ingest` through language detection, the encoder and the
//! contact-reason head into `output`, with progress on a terminal and plain log lines elsewhere.
//!
//! Contract: every input row ends up in `interactions.parquet` or in `rejects.parquet`; both files appear
//! together at the end of a successful run (atomic rename), and a previous run's `rejects.parquet` is removed when
//! this run rejected nothing, so a re-run into the same folder leaves a consistent result. Memory is bounded by
//! one batch and one row group, whatever the input size. Errors propagate; nothing half-written stays visible.
//!
//! When the pipeline defines journeys, the enriched file is staged first and the journey pass
//! (`journey::link_run`, one call, the `link` stage) reads it back, adds the journey columns and writes
//! journeys.parquet, lifecycle.parquet and the event log; everything is committed together, the nightly state
//! (`--state`) last. Without journeys, journey files of an earlier run in the folder are removed.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, UInt32Array};
use arrow_schema::{Schema, SchemaRef};

use crate::classify::sentiment::{self, SentimentModel};
use crate::classify::{LinearHead, ReasonClassifier, ZeroShot};
use crate::error::{Error, Result};
use crate::ingest::email::EmailOptions;
use crate::ingest::transcript::TranscriptOptions;
use crate::ingest::{self, IngestOptions, InputFormat};
use crate::journey::{self, JourneySummary, LinkRequest, SurveyScores};
use crate::model::{store, Encoder, Precision, SequenceClassifier};
use crate::normalize;
use crate::output::{self, ParquetSink};
use crate::pipeline::timings::{Stage, StageTimings};
use crate::pipeline::{Pipeline, SentimentSource};
use crate::schema;

pub const INTERACTIONS_FILE: &str = "interactions.parquet";
pub const REJECTS_FILE: &str = "rejects.parquet";

/// Everything `enrich` needs besides the data.
#[derive(Debug, Clone)]
pub struct EnrichOptions {
    pub inputs: Vec<String>,
    pub pipeline: PathBuf,
    pub out: PathBuf,
    /// Tabular files or raw e-mail (see `ingest::InputFormat`).
    pub format: InputFormat,
    /// How e-mail is attributed to the organisation and to customers.
    pub email: EmailOptions,
    /// A head folder written by `touchpoint train`; overrides the pipeline's `[classify] head`.
    pub head: Option<PathBuf>,
    /// Overrides the pipeline's `[model] encoder`.
    pub model: Option<String>,
    pub offline: bool,
    /// How the encoder multiplies; `None`: as the pipeline's `[model] precision` says.
    pub precision: Option<Precision>,
    /// Padded tokens per forward pass.
    pub token_budget: usize,
    /// Rows per ingest batch (the unit of streaming).
    pub batch_rows: usize,
    /// Column-mapping overrides such as `text=body` or `channel:WhatsApp=chat`.
    pub column_overrides: Vec<String>,
    pub max_text_bytes: Option<usize>,
    pub progress: bool,
    /// Replace personal data in the written free-text columns by typed placeholders (on by default;
    /// classification always reads the original text).
    pub redact: bool,
    /// The nightly state folder: open journeys are read from it and the next state is written into it.
    pub state: Option<PathBuf>,
    /// A CSV of survey scores (NPS, CES, CSAT) per interaction, conversation or customer.
    pub scores: Option<PathBuf>,
    /// Interactions sorted in memory at once by the journey pass; larger runs spill to disk.
    pub partition_rows: u64,
}

impl EnrichOptions {
    pub fn new(inputs: Vec<String>, pipeline: PathBuf, out: PathBuf) -> Self {
        EnrichOptions {
            inputs,
            pipeline,
            out,
            format: InputFormat::Auto,
            email: EmailOptions::default(),
            head: None,
            model: None,
            offline: false,
            precision: None,
            token_budget: DEFAULT_TOKEN_BUDGET,
            batch_rows: ingest::DEFAULT_BATCH_ROWS,
            column_overrides: Vec::new(),
            max_text_bytes: None,
            progress: false,
            redact: true,
            state: None,
            scores: None,
            partition_rows: journey::DEFAULT_PARTITION_ROWS,
        }
    }
}

/// Measured on 2 cores: small batches keep activations in cache; 1024 was fastest for short and long texts.
pub const DEFAULT_TOKEN_BUDGET: usize = 1024;

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct EnrichSummary {
    pub rows_written: u64,
    pub rows_rejected: u64,
    pub reasons: BTreeMap<String, u64>,
    pub outputs: Vec<PathBuf>,
    pub elapsed: Duration,
    pub model: String,
    /// What the journey pass did, when the pipeline defines journeys.
    pub journeys: Option<JourneySummary>,
    /// Where the time went.
    pub timings: StageTimings,
}

/// Runs the pipeline over the inputs and writes the enriched files into `options.out`.
pub fn enrich(options: &EnrichOptions) -> Result<EnrichSummary> {
    let started = Instant::now();
    let pipeline = Pipeline::load(&options.pipeline)?;

    // Input problems (missing files, missing columns) surface before the model is loaded.
    let mut ingest_options = IngestOptions::from_pipeline(&pipeline.input)?;
    ingest_options
        .mapping
        .apply_overrides(&options.column_overrides)?;
    ingest_options.batch_rows = options.batch_rows.max(1);
    if let Some(max) = options.max_text_bytes {
        ingest_options.max_text_bytes = max;
    }
    let inputs = ingest::open_inputs(
        &options.inputs,
        options.format,
        ingest_options,
        &options.email,
        &TranscriptOptions::default(),
    )?;

    // Scores and state are checked before the model is loaded, so a bad file fails fast.
    let linking = !pipeline.journeys.is_empty();
    if !linking && (options.state.is_some() || options.scores.is_some()) {
        return Err(Error::Usage(format!(
            "--state and --scores need journeys: {} defines no [[journeys]]",
            options.pipeline.display()
        )));
    }
    let scores = match &options.scores {
        Some(path) => {
            let scores = SurveyScores::load(path)?;
            log::info!(
                "{} survey responses read from {}",
                scores.rows(),
                path.display()
            );
            Some(scores)
        }
        None => None,
    };
    let previous = match &options.state {
        Some(folder) => {
            let state = journey::state::load(folder)?;
            log::info!(
                "journey state: {} open journeys of {} customers from {}",
                state.open_journeys(),
                state.customers.len(),
                folder.display()
            );
            state
        }
        None => journey::state::SavedState::default(),
    };

    let spec = options
        .model
        .clone()
        .unwrap_or_else(|| pipeline.model.encoder.clone());
    let location = store::resolve(&spec, options.offline, &mut |m| log::info!("{m}"))?;
    let precision = options.precision.unwrap_or(pipeline.model.precision);
    let encoder = Encoder::load(location, precision, Some(pipeline.model.max_tokens))?;
    log::info!(
        "model {} ({}) loaded in {:.2}s",
        encoder.location().id,
        precision.name(),
        encoder.load_time().as_secs_f64()
    );
    let cache = store::home().join("cache");
    let zero_shot = ZeroShot::build(&pipeline, &encoder, Some(&cache), options.token_budget)?;
    let mut head_encoder = None;
    let head = match options.head.as_ref().or(pipeline.classify.head.as_ref()) {
        Some(dir) => {
            let trained = LinearHead::load(dir)?;
            if trained.meta().model.tuned.is_some() {
                // The head reads its own fine-tuned encoder; zero-shot and sentiment keep the base one.
                let location = trained.encoder_location(dir, options.offline)?;
                head_encoder = Some(Encoder::load(
                    location,
                    precision,
                    Some(trained.meta().model.max_tokens),
                )?);
                log::info!(
                    "contact reasons: trained head {} with its fine-tuned encoder in front of zero-shot",
                    dir.display()
                );
            } else {
                trained.ensure_model(encoder.location(), dir)?;
                log::info!(
                    "contact reasons: trained head {} in front of zero-shot",
                    dir.display()
                );
            }
            ReasonClassifier::with_head(zero_shot, trained, dir)?
        }
        None => ReasonClassifier::zero_shot(zero_shot),
    };

    let sentiment = load_sentiment(&pipeline, &encoder, options)?;
    let score_turns = sentiment.is_some() && pipeline.sentiment.turns;
    let out_schema = output_schema(
        &inputs.schema,
        options.redact,
        sentiment.as_ref().map(|_| score_turns),
    );
    let mut metadata = run_metadata(&pipeline, &encoder, options);
    metadata.push((
        "touchpoint.sentiment".into(),
        sentiment
            .as_ref()
            .map_or("off".to_string(), |s| s.name().to_string()),
    ));
    let interactions_path = options.out.join(INTERACTIONS_FILE);
    let rejects_path = options.out.join(REJECTS_FILE);
    let mut sink = ParquetSink::create(&interactions_path, out_schema.clone(), metadata.clone())?;
    let mut rejects: Option<ParquetSink> = None;

    let languages = normalize::detection_candidates(&pipeline.languages);
    // One pass gives the sentence embedding and whatever other layers the heads read.
    let pooled_layers: Vec<usize> = std::iter::once(encoder.final_layer())
        .chain(head.head_layers().iter().copied())
        .chain(sentiment.iter().flat_map(|m| m.layers().iter().copied()))
        .collect::<std::collections::BTreeSet<usize>>()
        .into_iter()
        .collect();
    let stages = Stages {
        out_schema: out_schema.clone(),
        encoder: &encoder,
        pooled_layers: &pooled_layers,
        head_encoder: head_encoder.as_ref(),
        reasons: &head,
        sentiment: sentiment.as_ref(),
        score_turns,
        pipeline: &pipeline,
        languages: &languages,
        options,
    };
    let mut progress = Progress::new(inputs.rows_hint, options.progress);
    let mut summary = EnrichSummary {
        model: encoder.location().id.clone(),
        ..Default::default()
    };
    // Everything so far (pipeline, model, zero-shot anchors, opening the inputs) is set-up.
    summary.timings.add(Stage::Load, started.elapsed());
    encoder.take_work_time();
    let mut batches = inputs.batches;
    while let Some(batch) = summary.timings.time(Stage::Read, || batches.next()) {
        let batch = batch?;
        let write_started = Instant::now();
        if batch.rejects.num_rows() > 0 {
            if rejects.is_none() {
                let schema = Arc::new(Schema::new(schema::reject_fields()));
                rejects = Some(ParquetSink::create(
                    &rejects_path,
                    schema,
                    metadata.clone(),
                )?);
            }
            if let Some(sink) = rejects.as_mut() {
                sink.write(&batch.rejects)?;
            }
            summary.rows_rejected += batch.rejects.num_rows() as u64;
        }
        summary.timings.add(Stage::Write, write_started.elapsed());
        let rows = batch.interactions.num_rows();
        if rows > 0 {
            let enriched = stages.enrich_batch(&batch.interactions, &mut summary.timings)?;
            count_reasons(&enriched, &mut summary.reasons);
            summary
                .timings
                .time(Stage::Write, || sink.write(&enriched))?;
            summary.rows_written += rows as u64;
        }
        progress.advance((rows + batch.rejects.num_rows()) as u64);
    }
    progress.finish();
    // The model is done: free its memory before the journey pass.
    drop(head);
    drop(head_encoder);
    drop(encoder);

    let write_started = Instant::now();
    let enriched = sink.finish()?;
    summary.timings.add(Stage::Write, write_started.elapsed());
    let mut stale = Vec::new();
    let (mut staged, state) = if linking {
        let link_started = Instant::now();
        let linked = journey::link_run(LinkRequest {
            pipeline: &pipeline,
            enriched: enriched.temp_path(),
            interactions: &interactions_path,
            out: &options.out,
            metadata,
            scores: scores.as_ref(),
            previous,
            state_folder: options.state.as_deref(),
            batch_rows: options.batch_rows.max(1),
            partition_rows: options.partition_rows,
        })?;
        summary.timings.add(Stage::Link, link_started.elapsed());
        summary.journeys = Some(linked.summary);
        let mut staged = vec![linked.interactions];
        staged.extend(linked.outputs);
        (staged, linked.state)
    } else {
        stale.extend(journey::OUTPUT_FILES.iter().map(|f| options.out.join(f)));
        (vec![enriched], None)
    };
    match rejects {
        Some(r) => staged.push(r.finish()?),
        None => stale.push(rejects_path),
    }
    // The state goes last: a crash before it leaves the previous state, which re-running the input repairs.
    staged.extend(state);
    let write_started = Instant::now();
    summary.outputs = output::commit(staged, &stale)?;
    summary.timings.add(Stage::Write, write_started.elapsed());
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The sentiment model the pipeline asks for. The built-in head belongs to the default encoder: with another
/// encoder it cannot run, so sentiment is switched off with a warning rather than failing a nightly run that
/// only changed the model; a head or classifier the pipeline names explicitly must load.
fn load_sentiment(
    pipeline: &Pipeline,
    encoder: &Encoder,
    options: &EnrichOptions,
) -> Result<Option<SentimentModel>> {
    let section = &pipeline.sentiment;
    let model = match &section.source {
        SentimentSource::Off => return Ok(None),
        SentimentSource::Builtin => {
            let model = SentimentModel::builtin()?;
            let head = model.head().expect("the built-in model is a head");
            if head
                .ensure_model(encoder.location(), Path::new(sentiment::BUILTIN))
                .is_err()
            {
                log::warn!(
                    "sentiment off: the built-in sentiment head belongs to {}, not {}; train one with \
                     `touchpoint train` and name it in the pipeline's [sentiment] head",
                    head.meta().model.id,
                    encoder.location().id
                );
                return Ok(None);
            }
            model
        }
        SentimentSource::Head(dir) => {
            let head = LinearHead::load(dir)?;
            if head.meta().model.tuned.is_some() {
                return Err(Error::Usage(format!(
                    "{}: a sentiment head with a fine-tuned encoder is not supported in [sentiment] yet \
                     (enrich scores sentiment with the pipeline's encoder); train it without --fine-tune",
                    dir.display()
                )));
            }
            head.ensure_model(encoder.location(), dir)?;
            SentimentModel::from_head(head, &section.labels, &dir.display().to_string())?
        }
        SentimentSource::Classifier(spec) => {
            let location = store::resolve(spec, options.offline, &mut |m| log::info!("{m}"))?;
            let classifier = SequenceClassifier::load(location, encoder.precision())?;
            SentimentModel::from_classifier(classifier, &section.labels)?
        }
    };
    log::info!("sentiment: {}", model.name());
    Ok(Some(model))
}

/// The output schema: the ingested columns followed by the enrichment columns, as `schema` defines them, the
/// sentiment columns when sentiment is on (`Some(score_turns)`), and the per-row redaction counts when
/// personal data is redacted.
pub fn output_schema(input: &SchemaRef, redact: bool, sentiment: Option<bool>) -> SchemaRef {
    let mut fields: Vec<arrow_schema::Field> =
        input.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(schema::enrichment_fields());
    if let Some(turns) = sentiment {
        fields.extend(schema::sentiment_fields(turns));
    }
    if redact {
        fields.push(schema::redactions_field());
    }
    Arc::new(Schema::new(fields))
}

/// The columns personal data is redacted from: the text and every string column passed through from the
/// source (notes, subjects, raw e-mail bodies, ...); the texts of chat and call `turns` are redacted too. Ids, channel, direction, provenance, e-mail message keys
/// and the sender are left as they are: they are the keys that threads and journeys link on, and
/// pseudonymising them is the source system's choice.
fn redactable_columns(schema: &Schema) -> Vec<usize> {
    let kept: Vec<&str> = schema::CANONICAL
        .iter()
        .copied()
        .filter(|c| *c != schema::TEXT)
        .chain([
            schema::SOURCE_FILE,
            schema::MESSAGE_ID,
            schema::IN_REPLY_TO,
            schema::CONVERSATION_ID,
            schema::FROM,
        ])
        .collect();
    schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            f.data_type() == &arrow_schema::DataType::Utf8 && !kept.contains(&f.name().as_str())
        })
        .map(|(i, _)| i)
        .collect()
}

fn run_metadata(
    pipeline: &Pipeline,
    encoder: &Encoder,
    options: &EnrichOptions,
) -> Vec<(String, String)> {
    let location = encoder.location();
    vec![
        ("touchpoint.version".into(), crate::VERSION.into()),
        ("touchpoint.model".into(), location.id.clone()),
        ("touchpoint.model_sha256".into(), location.sha256.clone()),
        (
            "touchpoint.model_precision".into(),
            encoder.precision().name().to_string(),
        ),
        ("touchpoint.pipeline".into(), pipeline.name.clone()),
        ("touchpoint.redacted".into(), options.redact.to_string()),
        ("touchpoint.pipeline_sha256".into(), pipeline.hash.clone()),
        (
            "touchpoint.run_started".into(),
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
    ]
}

/// The models and settings a run loads once and applies to every batch.
struct Stages<'a> {
    out_schema: SchemaRef,
    encoder: &'a Encoder,
    /// The encoder layers pooled for each text, ascending: the final one and those the heads read.
    pooled_layers: &'a [usize],
    /// The contact-reason head's fine-tuned encoder, when it has one.
    head_encoder: Option<&'a Encoder>,
    reasons: &'a ReasonClassifier,
    sentiment: Option<&'a SentimentModel>,
    /// Score each customer turn too (the pipeline's `[sentiment] turns`).
    score_turns: bool,
    pipeline: &'a Pipeline,
    languages: &'a [&'a str],
    options: &'a EnrichOptions,
}

impl Stages<'_> {
    /// Adds the enrichment columns to one ingested batch; the time of each stage goes to `timings`.
    fn enrich_batch(&self, batch: &RecordBatch, timings: &mut StageTimings) -> Result<RecordBatch> {
        let prepare_started = Instant::now();
        let Stages {
            ref out_schema,
            encoder,
            pooled_layers,
            head_encoder,
            reasons: head,
            sentiment,
            score_turns,
            pipeline,
            languages,
            options,
        } = *self;
        let texts = batch
            .column_by_name(schema::TEXT)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .ok_or_else(|| Error::model("ingest produced no text column of strings"))?;
        let (language, confidence) = normalize::language_columns(texts, languages);
        let cleaned: Vec<std::borrow::Cow<'_, str>> = (0..texts.len())
            .map(|i| normalize::clean_text(if texts.is_null(i) { "" } else { texts.value(i) }))
            .collect();
        let refs: Vec<&str> = cleaned.iter().map(|c| c.as_ref()).collect();
        timings.add(Stage::Prepare, prepare_started.elapsed());
        let embedded = encoder.embed_layers(
            &refs,
            &pipeline.model.query_prefix,
            options.token_budget,
            pooled_layers,
        )?;
        let embeddings = embedded.features(&[])?;
        let work = encoder.take_work_time();
        timings.add(Stage::Tokenise, work.tokenise);
        timings.add(Stage::Encode, work.encode);
        let head_embeddings = match head_encoder {
            Some(tuned) => {
                let embedded =
                    tuned.embed(&refs, &pipeline.model.query_prefix, options.token_budget)?;
                let work = tuned.take_work_time();
                timings.add(Stage::Tokenise, work.tokenise);
                timings.add(Stage::Encode, work.encode);
                Some(embedded)
            }
            None => None,
        };
        let heads_started = Instant::now();
        let reasons = head.classify(&embedded, head_embeddings.as_ref(), Some(&language))?;
        // Sentiment, like the contact reason, reads the original text and turns, before redaction.
        let sentiment_columns = match sentiment {
            Some(model) => {
                let turns = score_turns.then(|| normalize::customer_turns(batch));
                sentiment::columns(
                    model,
                    encoder,
                    &pipeline.model.query_prefix,
                    &refs,
                    &embedded,
                    turns.as_deref(),
                    options.token_budget,
                )?
            }
            None => Vec::new(),
        };
        // Turns embedded for sentiment count as encoder time, the rest as heads.
        let work = encoder.take_work_time();
        timings.add(Stage::Tokenise, work.tokenise);
        timings.add(Stage::Encode, work.encode);
        timings.add(
            Stage::Heads,
            heads_started
                .elapsed()
                .saturating_sub(work.tokenise + work.encode),
        );
        let prepare_started = Instant::now();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        // Classification above saw the original text; only what is written out is redacted.
        let redactions = if options.redact {
            let targets = redactable_columns(&batch.schema());
            let sources: Vec<&StringArray> = targets
                .iter()
                .filter_map(|&i| batch.column(i).as_any().downcast_ref::<StringArray>())
                .collect();
            let (redacted, counts) = normalize::redact_columns(&sources);
            for (&i, column) in targets.iter().zip(redacted) {
                columns[i] = Arc::new(column);
            }
            if let Some((i, _)) = batch.schema().column_with_name(schema::TURNS) {
                if let Some(turns) = batch
                    .column(i)
                    .as_any()
                    .downcast_ref::<arrow_array::ListArray>()
                {
                    columns[i] = Arc::new(normalize::redact_turns(turns)?);
                }
            }
            Some(counts)
        } else {
            None
        };
        columns.push(Arc::new(language));
        columns.push(Arc::new(confidence));
        columns.push(Arc::new(UInt32Array::from(embeddings.n_tokens.clone())));
        columns.push(Arc::new(UInt32Array::from(embeddings.n_chunks.clone())));
        columns.push(reasons.reason);
        columns.push(reasons.score);
        columns.push(reasons.top);
        columns.push(reasons.phase);
        columns.push(reasons.source);
        columns.extend(sentiment_columns);
        if let Some(counts) = redactions {
            columns.push(Arc::new(counts));
        }
        let enriched = RecordBatch::try_new(out_schema.clone(), columns)?;
        timings.add(Stage::Prepare, prepare_started.elapsed());
        Ok(enriched)
    }
}

fn count_reasons(batch: &RecordBatch, counts: &mut BTreeMap<String, u64>) {
    let reasons = batch
        .column_by_name(schema::CONTACT_REASON)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>());
    for reason in reasons.into_iter().flatten().flatten() {
        *counts.entry(reason.to_string()).or_default() += 1;
    }
}

/// A progress bar on a terminal; a log line every few seconds otherwise (nightly jobs read logs, not bars).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: Option<u64>,
    done: u64,
    started: Instant,
    last_line: Instant,
    /// Rows reported in the last log line, so the closing line is not a repeat.
    last_logged: u64,
}

impl Progress {
    fn new(total: Option<u64>, enabled: bool) -> Progress {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = match total {
                Some(n) => indicatif::ProgressBar::new(n),
                None => indicatif::ProgressBar::no_length(),
            };
            let style = indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {human_pos}/{human_len} rows  {per_sec}  ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        Progress {
            bar,
            total,
            done: 0,
            started: Instant::now(),
            last_line: Instant::now(),
            last_logged: 0,
        }
    }

    fn advance(&mut self, rows: u64) {
        self.done += rows;
        if let Some(bar) = &self.bar {
            bar.inc(rows);
        } else if self.last_line.elapsed() >= Duration::from_secs(10) {
            self.last_line = Instant::now();
            self.last_logged = self.done;
            log::info!("{}", self.line());
        }
    }

    fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let rate = self.done as f64 / secs;
        match self.total {
            Some(total) if rate > 0.0 => {
                let eta = total.saturating_sub(self.done) as f64 / rate;
                format!(
                    "{}/{} rows, {rate:.1} rows/s, ETA {eta:.0}s",
                    self.done, total
                )
            }
            _ => format!("{} rows, {rate:.1} rows/s", self.done),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.bar.is_some() || self.last_logged != self.done {
            log::info!("{}", self.line());
        }
    }
}

/// The path of the interactions file a run into `out` writes.
pub fn interactions_path(out: &Path) -> PathBuf {
    out.join(INTERACTIONS_FILE)
}
