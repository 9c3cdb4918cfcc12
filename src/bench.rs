//! `touchpoint bench`: throughput on real texts, of the encoder alone and of `enrich` end to end.
//!
//! For each workload (a CSV with a text column) it reads the texts through `ingest`, loads the model, embeds the
//! texts the way `enrich` does (sorted by length, batched by token budget) and reports texts/s, real tokens/s
//! (padding not counted), the padding share, the model load time and the process's peak resident memory.
//! `run_enrich` then writes the same texts to a CSV and runs the whole `enrich` pipeline over it, reporting the
//! time of every stage (`pipeline::timings`) and the peak memory of that run alone.

use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow_array::{Array, StringArray};
use serde::Serialize;

use crate::error::{Error, IoContext, Result};
use crate::ingest::{ColumnMapping, IngestOptions, Interactions};
use crate::model::{store, Encoder, Precision};
use crate::pipeline::runner::{self, EnrichOptions};
use crate::pipeline::timings::{Stage, StageTimings};
use crate::schema;

/// One benchmark workload.
#[derive(Debug, Clone)]
pub struct Workload {
    pub name: String,
    pub file: PathBuf,
    /// Use only the first `limit` texts (the peers' harness uses 2,000 short and 500 long texts).
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    pub workload: String,
    pub model: String,
    pub precision: String,
    pub threads: usize,
    pub texts: usize,
    pub real_tokens: u64,
    pub padded_tokens: u64,
    pub padding_share: f64,
    pub load_seconds: f64,
    pub encode_seconds: f64,
    pub texts_per_second: f64,
    pub tokens_per_second: f64,
    pub peak_rss_mb: f64,
}

/// Reads up to `limit` texts of a CSV/JSONL/Parquet file through the normal ingest path.
pub fn read_texts(file: &Path, limit: Option<usize>) -> Result<Vec<String>> {
    let options = IngestOptions {
        mapping: ColumnMapping::default(),
        batch_rows: 4096,
        max_text_bytes: 1 << 20,
    };
    let mut texts = Vec::new();
    for batch in Interactions::open(vec![file.to_path_buf()], options)? {
        let batch = batch?;
        let column = batch
            .interactions
            .column_by_name(schema::TEXT)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned())
            .ok_or_else(|| Error::Usage(format!("{}: no text column", file.display())))?;
        texts.extend((0..column.len()).map(|i| column.value(i).to_string()));
        if limit.is_some_and(|l| texts.len() >= l) {
            break;
        }
    }
    if let Some(l) = limit {
        texts.truncate(l);
    }
    Ok(texts)
}

pub fn run(
    workloads: &[Workload],
    model: &str,
    precision: Precision,
    token_budget: usize,
    offline: bool,
) -> Result<Vec<BenchResult>> {
    let location = store::resolve(model, offline, &mut |m| log::info!("{m}"))?;
    let encoder = Encoder::load(location, precision, None)?;
    let mut results = Vec::new();
    for workload in workloads {
        let texts = read_texts(&workload.file, workload.limit)?;
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let prefix = encoder.query_prefix().to_string();
        let started = Instant::now();
        let tokens = encoder.tokenize(&refs, &prefix)?;
        std::hint::black_box(encoder.embed_tokens(&tokens, token_budget)?);
        let seconds = started.elapsed().as_secs_f64().max(1e-9);
        // Windows are packed (see `Encoder::forward_windows`): the model computes no padding at all. The
        // field stays so that figures remain comparable with earlier, padded runs.
        let real: u64 = tokens.iter().map(|t| t.model_tokens() as u64).sum();
        let padded = real;
        results.push(BenchResult {
            workload: workload.name.clone(),
            model: encoder.location().id.clone(),
            precision: precision.name().to_string(),
            threads: rayon::current_num_threads(),
            texts: texts.len(),
            real_tokens: real,
            padded_tokens: padded,
            padding_share: if padded > 0 {
                1.0 - real as f64 / padded as f64
            } else {
                0.0
            },
            load_seconds: encoder.load_time().as_secs_f64(),
            encode_seconds: seconds,
            texts_per_second: texts.len() as f64 / seconds,
            tokens_per_second: real as f64 / seconds,
            peak_rss_mb: peak_rss_mb().unwrap_or(f64::NAN),
        });
    }
    Ok(results)
}

/// One `enrich` run over a workload's texts.
#[derive(Debug, Clone, Serialize)]
pub struct EnrichBenchResult {
    pub workload: String,
    pub model: String,
    pub precision: String,
    pub threads: usize,
    pub rows: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
    /// Seconds per stage; `load` includes the zero-shot anchors.
    pub stages: StageTimings,
    /// Peak resident memory of this run (the peak is reset before it where the kernel allows).
    pub peak_rss_mb: f64,
}

/// Runs `enrich` with `pipeline` over each workload's texts (written to a temporary CSV with an `id` column)
/// and times its stages. `model` overrides the pipeline's encoder when given.
pub fn run_enrich(
    workloads: &[Workload],
    pipeline: &Path,
    model: Option<String>,
    precision: Precision,
    token_budget: usize,
    offline: bool,
) -> Result<Vec<EnrichBenchResult>> {
    let scratch = std::env::temp_dir().join(format!("touchpoint-bench-{}", std::process::id()));
    let mut results = Vec::new();
    for workload in workloads {
        let texts = read_texts(&workload.file, workload.limit)?;
        std::fs::create_dir_all(&scratch).at(&scratch)?;
        let input = scratch.join(format!("{}.csv", workload.name));
        let mut writer = csv::Writer::from_path(&input)
            .map_err(|e| Error::Usage(format!("{}: {e}", input.display())))?;
        let csv_error = |e: csv::Error| Error::Usage(format!("{}: {e}", input.display()));
        writer.write_record(["id", "text"]).map_err(csv_error)?;
        for (i, text) in texts.iter().enumerate() {
            writer
                .write_record([format!("{}-{i}", workload.name).as_str(), text])
                .map_err(csv_error)?;
        }
        writer.flush().at(&input)?;
        drop(writer);

        let mut options = EnrichOptions::new(
            vec![input.display().to_string()],
            pipeline.to_path_buf(),
            scratch.join(format!("{}-out", workload.name)),
        );
        options.model = model.clone();
        options.precision = Some(precision);
        options.token_budget = token_budget;
        options.offline = offline;
        reset_peak_rss();
        let summary = runner::enrich(&options);
        let peak = peak_rss_mb().unwrap_or(f64::NAN);
        let _ = std::fs::remove_dir_all(&scratch);
        let summary = summary?;
        let seconds = summary.elapsed.as_secs_f64().max(1e-9);
        results.push(EnrichBenchResult {
            workload: workload.name.clone(),
            model: summary.model.clone(),
            precision: precision.name().to_string(),
            threads: rayon::current_num_threads(),
            rows: summary.rows_written,
            seconds,
            rows_per_second: summary.rows_written as f64 / seconds,
            stages: summary.timings,
            peak_rss_mb: peak,
        });
    }
    Ok(results)
}

/// Resets the kernel's record of this process's peak resident memory (Linux: `clear_refs` 5), so that the next
/// reading of `peak_rss_mb` covers only what follows. Where that is not possible the peak stays cumulative.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The `enrich` results as an aligned table: rows/s, then seconds per stage.
pub fn enrich_table(results: &[EnrichBenchResult]) -> String {
    let mut out = format!(
        "{:<8} {:>6} {:>8} {:>8}",
        "workload", "rows", "total s", "rows/s"
    );
    for stage in Stage::ALL {
        out.push_str(&format!(" {:>8}", stage.name()));
    }
    out.push_str(&format!(" {:>8}\n", "peak MB"));
    for r in results {
        out.push_str(&format!(
            "{:<8} {:>6} {:>8.2} {:>8.1}",
            r.workload, r.rows, r.seconds, r.rows_per_second
        ));
        for stage in Stage::ALL {
            out.push_str(&format!(" {:>8.2}", r.stages.seconds(stage)));
        }
        out.push_str(&format!(" {:>8.0}\n", r.peak_rss_mb));
    }
    out
}

/// Peak resident set size of this process (Linux `VmHWM`), in MB.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The results as an aligned text table.
pub fn table(results: &[BenchResult]) -> String {
    let mut out = format!(
        "{:<8} {:<22} {:<9} {:>7} {:>6} {:>9} {:>10} {:>8} {:>7} {:>9}\n",
        "workload",
        "model",
        "precision",
        "threads",
        "texts",
        "texts/s",
        "tokens/s",
        "padding",
        "load s",
        "peak MB"
    );
    for r in results {
        out.push_str(&format!(
            "{:<8} {:<22} {:<9} {:>7} {:>6} {:>9.1} {:>10.0} {:>7.1}% {:>7.2} {:>9.0}\n",
            r.workload,
            r.model,
            r.precision,
            r.threads,
            r.texts,
            r.texts_per_second,
            r.tokens_per_second,
            r.padding_share * 100.0,
            r.load_seconds,
            r.peak_rss_mb
        ));
    }
    out
}
