//! The `touchpoint` command line: parses flags, calls the library, reports errors in one place and maps them
//! to exit codes (0 success, 1 failure, 2 usage or pipeline error, 3 unusable input, 4 model problem).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use touchpoint::bench::{self, Workload};
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
    /// Multiply 4-bit weights as stored (QMatMul) instead of expanding them to f32 at load: less memory,
    /// slightly less exact, and today slower than f32 on CPU (see BENCHMARKS.md).
    #[arg(long)]
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
    /// Column mapping overrides: `text=body` (canonical=source column), `channel:WhatsApp=chat`,
    /// `direction:IN=inbound`. Repeatable; wins over the pipeline's [input] section.
    #[arg(long = "map", value_name = "MAPPING")]
    map: Vec<String>,
    /// Rows per streamed batch.
    #[arg(long, default_value_t = touchpoint::ingest::DEFAULT_BATCH_ROWS)]
    batch_rows: usize,
    /// Reject texts longer than this many bytes (default: the pipeline's [input] max_text_bytes, else 256 KiB).
    #[arg(long)]
    max_text_bytes: Option<usize>,
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
    /// Print JSON lines instead of a table.
    #[arg(long)]
    json: bool,
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
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
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
            Ok(())
        }
        Command::Bench(args) => bench_command(args),
    }
}

fn precision(options: &ModelOptions) -> Precision {
    if options.quantized {
        Precision::Quantized
    } else {
        Precision::F32
    }
}

fn enrich(args: EnrichArgs, progress: bool) -> Result<()> {
    let mut options = EnrichOptions::new(args.inputs, args.pipeline, args.out);
    options.precision = precision(&args.model);
    options.model = args.model.model;
    options.offline = args.model.offline;
    options.token_budget = args.model.token_budget.max(1);
    options.column_overrides = args.map;
    options.batch_rows = args.batch_rows;
    options.max_text_bytes = args.max_text_bytes;
    options.progress = progress;
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
    for path in &summary.outputs {
        println!("{}", path.display());
    }
    Ok(())
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
        precision(&args.model),
        args.model.token_budget.max(1),
        args.model.offline,
    )?;
    if args.json {
        for r in &results {
            println!(
                "{}",
                serde_json::to_string(r).map_err(|e| Error::Usage(e.to_string()))?
            );
        }
    } else {
        print!("{}", bench::table(&results));
    }
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
