//! Micro-benchmarks of the encoder's hot kernels at the shapes multilingual-e5-small runs (hidden 384, FFN 1536,
//! 12 heads): the dense projections (f32 and int8), attention for a short and a long batch, pooling, batching and
//! tokenisation. Run with `cargo bench --bench kernels`; end-to-end figures come from `touchpoint bench` (see
//! BENCHMARKS.md).

use candle_core::{Device, Tensor};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use touchpoint::model::bert::mean_pool_normalized;
use touchpoint::model::encoder::length_batches;
use touchpoint::model::int8::{Int8Kernel, Int8Matrix};
use touchpoint::model::kernels::{self, AddNormParams, AttentionParams};
use touchpoint::model::{store, Encoder, Precision};

const HIDDEN: usize = 384;
const FFN: usize = 1536;
const HEADS: usize = 12;

fn random(shape: &[usize]) -> Tensor {
    Tensor::randn(0f32, 1.0, shape, &Device::Cpu).expect("random tensor")
}

/// `x W^T` for the attention projections (384 -> 384) and the FFN (384 -> 1536, 1536 -> 384), over as many
/// rows as a 1024-token batch has.
fn projections(c: &mut Criterion) {
    let rows = 1024;
    let mut group = c.benchmark_group("projection");
    for (name, d_in, d_out) in [
        ("qkv_384x384", HIDDEN, HIDDEN),
        ("ffn_in_384x1536", HIDDEN, FFN),
        ("ffn_out_1536x384", FFN, HIDDEN),
    ] {
        let x = random(&[rows, d_in]);
        let w = random(&[d_out, d_in]);
        group.throughput(Throughput::Elements((2 * rows * d_in * d_out) as u64));
        group.bench_function(name, |b| b.iter(|| x.matmul(&w.t().unwrap()).unwrap()));
        // The same product with 8-bit weights and activations (`--precision int8`), on every kernel this CPU
        // can run (AMX, AVX-512 VNNI, portable).
        let int8 = Int8Matrix::quantize(&w).expect("quantize");
        let xs: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
        for kernel in Int8Kernel::available() {
            group.bench_function(format!("{name}_int8_{}", kernel.name()), |b| {
                b.iter(|| int8.multiply_with(&xs, kernel).unwrap())
            });
        }
    }
    group.finish();
}

/// Scaled dot-product attention for a batch of short texts (32 x 32 tokens) and of long ones (2 x 512): the
/// packed kernel the encoder runs, and for comparison candle's batched matrix products over padded heads.
fn attention(c: &mut Criterion) {
    let mut group = c.benchmark_group("attention");
    let head_dim = HIDDEN / HEADS;
    for (batch, len) in [(32usize, 32usize), (2, 512)] {
        // Two products of len x len x head_dim per head and text.
        group.throughput(Throughput::Elements(
            (4 * batch * HEADS * len * len * head_dim) as u64,
        ));
        let qkv: Vec<f32> = random(&[batch * len * 3 * HIDDEN])
            .to_vec1()
            .expect("values");
        let bias = vec![0.1f32; HIDDEN];
        let lengths = vec![len; batch];
        let params = AttentionParams {
            heads: HEADS,
            head_dim,
            query_bias: &bias,
            value_bias: &bias,
        };
        group.bench_with_input(
            BenchmarkId::new("packed", format!("{batch}x{len}")),
            &(),
            |b, _| b.iter(|| kernels::attention(&qkv, &lengths, &params).unwrap()),
        );
        let q = random(&[batch, HEADS, len, head_dim]);
        let k = random(&[batch, HEADS, len, head_dim]);
        let v = random(&[batch, HEADS, len, head_dim]);
        group.bench_with_input(
            BenchmarkId::new("candle_matmul", format!("{batch}x{len}")),
            &(),
            |b, _| {
                b.iter(|| {
                    let scores = q.matmul(&k.t().unwrap()).unwrap();
                    let probs = candle_nn::ops::softmax_last_dim(&scores).unwrap();
                    probs.matmul(&v).unwrap()
                })
            },
        );
    }
    group.finish();
}

/// The row-wise kernels after the FFN's first and second products, over a 1024-token batch.
fn row_kernels(c: &mut Criterion) {
    let rows = 1024;
    let mut group = c.benchmark_group("rows");
    let inner: Vec<f32> = random(&[rows * FFN]).to_vec1().expect("values");
    let bias = vec![0.1f32; FFN];
    group.throughput(Throughput::Elements((rows * FFN) as u64));
    group.bench_function("bias_gelu_1024x1536", |b| {
        b.iter(|| kernels::bias_gelu(&inner, &bias))
    });
    let candle_inner = random(&[rows, FFN]);
    group.bench_function("candle_gelu_erf_1024x1536", |b| {
        b.iter(|| candle_inner.gelu_erf().unwrap())
    });
    let x: Vec<f32> = random(&[rows * HIDDEN]).to_vec1().expect("values");
    let residual = x.clone();
    let ones = vec![1f32; HIDDEN];
    let params = AddNormParams {
        bias: &ones,
        weight: &ones,
        shift: &ones,
        eps: 1e-12,
    };
    group.throughput(Throughput::Elements((rows * HIDDEN) as u64));
    group.bench_function("add_norm_1024x384", |b| {
        b.iter(|| kernels::add_norm(&x, &residual, &params))
    });
    group.finish();
}

fn pooling(c: &mut Criterion) {
    let hidden = random(&[32, 64, HIDDEN]);
    let mask = Tensor::ones((32, 64), candle_core::DType::F32, &Device::Cpu).unwrap();
    c.bench_function("mean_pool_normalized_32x64", |b| {
        b.iter(|| mean_pool_normalized(&hidden, &mask).unwrap())
    });
}

fn batching(c: &mut Criterion) {
    // A day's worth of lengths: mostly short chats, a tail of long e-mails.
    let lengths: Vec<usize> = (0..10_000)
        .map(|i| 8 + (i * 7919) % 97 + if i % 10 == 0 { 400 } else { 0 })
        .collect();
    c.bench_function("length_batches_10k", |b| {
        b.iter(|| length_batches(lengths.iter().copied(), 1024))
    });
}

/// Tokenising the shipped sample's 300 interactions (chats, e-mails, transcripts; nl, en, de, fr) with the default
/// model's tokenizer and `query: ` prefix, as `enrich` does. Needs the model installed (`touchpoint models fetch
/// multilingual-e5-small`); without it the group is left out.
fn tokenisation(c: &mut Criterion) {
    let location = match store::resolve("multilingual-e5-small", true, &mut |_| {}) {
        Ok(location) => location,
        Err(e) => {
            eprintln!("tokenisation benchmark left out: {e}");
            return;
        }
    };
    let encoder = Encoder::load(location, Precision::F32, None).expect("load the default model");
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/interactions.csv");
    let mut reader = csv::Reader::from_path(sample).expect("testdata/interactions.csv");
    let column = reader
        .headers()
        .expect("header")
        .iter()
        .position(|h| h == "text")
        .expect("a text column");
    let texts: Vec<String> = reader
        .records()
        .map(|r| r.expect("record")[column].to_string())
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut group = c.benchmark_group("tokenise");
    group.throughput(Throughput::Elements(refs.len() as u64));
    group.bench_function("sample_300_texts", |b| {
        b.iter(|| encoder.tokenize(&refs, "query: ").unwrap())
    });
    group.finish();
}

criterion_group!(
    benches,
    projections,
    attention,
    row_kernels,
    pooling,
    batching,
    tokenisation
);
criterion_main!(benches);
