//! CPU kernels for the encoder's steps around the matrix products: attention over packed sequences, bias + GELU,
//! and bias + residual + layer norm, each one pass over memory.
//!
//! Contract: every kernel computes the same function as the textbook formula in f32 (attention's softmax and
//! GELU's `erf` through approximations accurate to a few ulp, checked against `f64` references in the tests).
//! Sequences are *packed*: the rows of a `[tokens, width]` matrix hold the real tokens of several texts one
//! after the other, `lengths` says where each text ends, and attention never crosses from one text into another
//! nor touches padding, because there is none. Work is spread over rayon's global pool, the same pool candle's
//! matrix products use, so the two never oversubscribe the cores.
//!
//! The inner loops are written so that LLVM vectorises them; each public kernel dispatches once at run time to
//! a copy compiled for AVX-512 or AVX2+FMA where the CPU has it, else to the portable copy.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Fused multiply-add, or a separate multiply and add where the target has no FMA (where `f32::mul_add`
/// would call a slow library routine).
trait Arith {
    fn fma(a: f32, b: f32, c: f32) -> f32;
}

struct WithFma;
impl Arith for WithFma {
    #[inline(always)]
    fn fma(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

struct Plain;
impl Arith for Plain {
    #[inline(always)]
    fn fma(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// Runs `$body` (an expression generic over `A: Arith` and the query tile `R`) in the copy compiled for the
/// best instruction set this CPU has.
macro_rules! dispatch {
    (|$a:ident, $r:ident| $body:expr) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx2,fma")]
            unsafe fn avx512<F: FnOnce() -> T, T>(f: F) -> T {
                f()
            }
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2<F: FnOnce() -> T, T>(f: F) -> T {
                f()
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                type $a = WithFma;
                const $r: usize = 8;
                // SAFETY: the CPU supports the enabled features (checked just above).
                return unsafe {
                    avx512(
                        #[inline(always)]
                        || $body,
                    )
                };
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                type $a = WithFma;
                const $r: usize = 4;
                // SAFETY: as above.
                return unsafe {
                    avx2(
                        #[inline(always)]
                        || $body,
                    )
                };
            }
        }
        #[allow(dead_code)]
        type $a = Plain;
        #[allow(dead_code)]
        const $r: usize = 4;
        $body
    }};
}

// ---------------------------------------------------------------------------------------------------------------
// Scalar functions, written branch-free so that loops over them vectorise.

const LOG2_E: f32 = std::f32::consts::LOG2_E;
// ln 2 split in a part exact in f32 and the rest, so that `x - n ln2` loses no bits.
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
// 1.5 * 2^23: adding it rounds an f32 of magnitude < 2^22 to an integer held in the low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// `e^x`, relative error below 2e-7 for x in [-87, 88] (the input is clamped to that range).
#[inline(always)]
fn exp<A: Arith>(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let t = A::fma(x, LOG2_E, ROUND_MAGIC);
    let n = t - ROUND_MAGIC;
    let n_bits = t.to_bits().wrapping_sub(ROUND_MAGIC.to_bits());
    let r = A::fma(-n, LN2_LO, A::fma(-n, LN2_HI, x));
    // Taylor series of e^r, |r| <= ln2 / 2: the first dropped term is below 1.3e-7 relatively.
    let mut p = 1.0 / 720.0;
    p = A::fma(p, r, 1.0 / 120.0);
    p = A::fma(p, r, 1.0 / 24.0);
    p = A::fma(p, r, 1.0 / 6.0);
    p = A::fma(p, r, 0.5);
    p = A::fma(p, r, 1.0);
    p = A::fma(p, r, 1.0);
    let scale = f32::from_bits(n_bits.wrapping_add(127) << 23);
    p * scale
}

/// `erf(x)` by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7, plus f32 rounding).
#[inline(always)]
fn erf<A: Arith>(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / A::fma(0.327_591_1, a, 1.0);
    let mut p = 1.061_405_4;
    p = A::fma(p, t, -1.453_152);
    p = A::fma(p, t, 1.421_413_8);
    p = A::fma(p, t, -0.284_496_74);
    p = A::fma(p, t, 0.254_829_6);
    let y = 1.0 - p * t * exp::<A>(-a * a);
    y.copysign(x)
}

/// GELU with the exact (`erf`) form the BERT family is trained with: `x/2 (1 + erf(x/√2))`.
#[inline(always)]
fn gelu<A: Arith>(x: f32) -> f32 {
    0.5 * x * (1.0 + erf::<A>(x * std::f32::consts::FRAC_1_SQRT_2))
}

// ---------------------------------------------------------------------------------------------------------------
// Attention.

/// Where the query, key and value of each token lie in a packed `[tokens, 3 * hidden]` matrix (the output of
/// one fused projection, biases not yet added) and the per-head biases to apply.
#[derive(Debug, Clone, Copy)]
pub struct AttentionParams<'a> {
    pub heads: usize,
    pub head_dim: usize,
    /// Bias of the query projection `[hidden]`.
    pub query_bias: &'a [f32],
    /// Bias of the value projection `[hidden]`. (The key bias adds the same amount to every score of a query,
    /// which softmax cancels, so it is not needed.)
    pub value_bias: &'a [f32],
}

/// Keys are processed in strips of this many columns (one AVX-512 register of f32).
const KEY_STRIP: usize = 16;

/// A pointer that may be shared between threads that write disjoint parts of what it points to.
#[derive(Clone, Copy)]
pub(super) struct SharedOut(pub(super) *mut f32);
// SAFETY: every task writes a distinct set of elements (see `attention`), nothing reads them concurrently.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    // A method, not the field, so that closures capture the whole (Sync) wrapper rather than the raw pointer.
    pub(super) fn ptr(self) -> *mut f32 {
        self.0
    }
}

/// Scaled dot-product attention of every text with itself: `qkv` is `[tokens, 3 * hidden]` (queries, keys,
/// values side by side, without bias), `lengths` the texts' token counts (summing to `tokens`). Returns the
/// context `[tokens, hidden]`, heads side by side, value bias included.
pub fn attention(qkv: &[f32], lengths: &[usize], p: &AttentionParams) -> Result<Vec<f32>> {
    let hidden = p.heads * p.head_dim;
    let tokens: usize = lengths.iter().sum();
    if qkv.len() != tokens * 3 * hidden
        || p.query_bias.len() != hidden
        || p.value_bias.len() != hidden
    {
        return Err(Error::model(format!(
            "attention: {} values for {tokens} tokens of width 3 x {hidden}",
            qkv.len()
        )));
    }
    let mut out = vec![0f32; tokens * hidden];
    let mut tasks = Vec::new();
    let mut start = 0;
    for &len in lengths {
        // One task per text and head: each transposes its keys once and reuses them for every query.
        for head in 0..p.heads {
            tasks.push((start, len, head, 0, len));
        }
        start += len;
    }
    let shared = SharedOut(out.as_mut_ptr());
    let simd = p.head_dim.is_multiple_of(KEY_STRIP);
    tasks.par_iter().for_each(|&(start, len, head, q0, q1)| {
        // SAFETY: task (text, head, queries) writes only rows start+q0..start+q1, columns of `head`; no
        // two tasks share both, and `out` outlives the parallel loop.
        let out = unsafe { std::slice::from_raw_parts_mut(shared.ptr(), tokens * hidden) };
        let seq = &qkv[start * 3 * hidden..(start + len) * 3 * hidden];
        let out = &mut out[start * hidden..(start + len) * hidden];
        if simd {
            attend_dispatch(seq, len, head, q0, q1, p, out);
        } else {
            attend_reference(seq, len, head, q0, q1, p, out);
        }
    });
    Ok(out)
}

fn attend_dispatch(
    seq: &[f32],
    len: usize,
    head: usize,
    q0: usize,
    q1: usize,
    p: &AttentionParams,
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F (checked just above).
        return unsafe { avx512::attend(seq, len, head, q0, q1, p, out) };
    }
    dispatch!(|A, R| attend::<A, R>(seq, len, head, q0, q1, p, out))
}

/// `attend` written with AVX-512 intrinsics: LLVM's auto-vectorisation of the portable version is fragile for
/// these tile loops (it fell back to gathers), and this is where long texts spend their time.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{AttentionParams, KEY_STRIP, LN2_HI, LN2_LO, LOG2_E, ROUND_MAGIC};

    /// Queries per tile: 8 rows of 16-lane accumulators stay in registers.
    const R: usize = 8;

    /// `e^x` lane by lane, the same algorithm as the scalar `exp`.
    #[target_feature(enable = "avx512f")]
    fn exp(x: __m512) -> __m512 {
        let x = _mm512_min_ps(
            _mm512_max_ps(x, _mm512_set1_ps(-87.0)),
            _mm512_set1_ps(88.0),
        );
        let t = _mm512_fmadd_ps(x, _mm512_set1_ps(LOG2_E), _mm512_set1_ps(ROUND_MAGIC));
        let n = _mm512_sub_ps(t, _mm512_set1_ps(ROUND_MAGIC));
        let n_bits = _mm512_sub_epi32(
            _mm512_castps_si512(t),
            _mm512_set1_epi32(ROUND_MAGIC.to_bits() as i32),
        );
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
        let mut p = _mm512_set1_ps(1.0 / 720.0);
        for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
            p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
        }
        let scale = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(
            n_bits,
            _mm512_set1_epi32(127),
        )));
        _mm512_mul_ps(p, scale)
    }

    /// Lanes `0..n` of a strip set, the rest clear.
    fn lanes(n: usize) -> __mmask16 {
        if n >= KEY_STRIP {
            0xffff
        } else {
            ((1u32 << n) - 1) as __mmask16
        }
    }

    /// See `super::attend`; the same contract.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn attend(
        seq: &[f32],
        len: usize,
        head: usize,
        q0: usize,
        q1: usize,
        p: &AttentionParams,
        out: &mut [f32],
    ) {
        let d = p.head_dim;
        debug_assert!(d.is_multiple_of(KEY_STRIP));
        let hidden = p.heads * d;
        let stride = 3 * hidden;
        let scale = 1.0 / (d as f32).sqrt();
        let q_off = head * d;
        let k_off = hidden + head * d;
        let v_off = 2 * hidden + head * d;
        let width = len.div_ceil(KEY_STRIP) * KEY_STRIP;
        assert!(seq.len() >= len * stride && out.len() >= len * hidden && q1 <= len);

        // Keys transposed, `[d, width]`, zero beyond `len`.
        let mut keys_t = vec![0f32; d * width];
        for j in 0..len {
            for (e, &kv) in seq[j * stride + k_off..][..d].iter().enumerate() {
                keys_t[e * width + j] = kv;
            }
        }
        // The tile's queries transposed, `[d, R]`, bias added and scaled; rows past the end stay zero.
        let mut queries_t = vec![0f32; d * R];
        // Scores, then probabilities, of the tile: `[R, width]`.
        let mut scores = vec![0f32; R * width];
        let q_bias = &p.query_bias[q_off..q_off + d];
        let v_bias = &p.value_bias[q_off..q_off + d];
        let seq = seq.as_ptr();
        let keys = keys_t.as_ptr();

        for r0 in (q0..q1).step_by(R) {
            let rows = (q1 - r0).min(R);
            for r in 0..R {
                for e in 0..d {
                    queries_t[e * R + r] = if r < rows {
                        (*seq.add((r0 + r) * stride + q_off + e) + q_bias[e]) * scale
                    } else {
                        0.0
                    };
                }
            }
            let queries = queries_t.as_ptr();
            let scores_p = scores.as_mut_ptr();
            for j0 in (0..width).step_by(KEY_STRIP) {
                let mut acc = [_mm512_setzero_ps(); R];
                for e in 0..d {
                    let k = _mm512_loadu_ps(keys.add(e * width + j0));
                    for (r, a) in acc.iter_mut().enumerate() {
                        *a = _mm512_fmadd_ps(_mm512_set1_ps(*queries.add(e * R + r)), k, *a);
                    }
                }
                for (r, a) in acc.iter().enumerate() {
                    _mm512_storeu_ps(scores_p.add(r * width + j0), *a);
                }
            }
            // Softmax over the real keys; lanes past `len` become 0 so the product below may run over whole
            // strips. The normalising factor is applied to the output.
            let mut inv_sum = [0f32; R];
            for (r, inv) in inv_sum.iter_mut().enumerate().take(rows) {
                let row = scores_p.add(r * width);
                let mut max = _mm512_set1_ps(f32::NEG_INFINITY);
                for j0 in (0..width).step_by(KEY_STRIP) {
                    let s = _mm512_mask_loadu_ps(max, lanes(len - j0), row.add(j0));
                    max = _mm512_max_ps(max, s);
                }
                let max = _mm512_set1_ps(_mm512_reduce_max_ps(max));
                let mut sum = _mm512_setzero_ps();
                for j0 in (0..width).step_by(KEY_STRIP) {
                    let e = exp(_mm512_sub_ps(_mm512_loadu_ps(row.add(j0)), max));
                    let e = _mm512_maskz_mov_ps(lanes(len - j0), e);
                    _mm512_storeu_ps(row.add(j0), e);
                    sum = _mm512_add_ps(sum, e);
                }
                *inv = 1.0 / _mm512_reduce_add_ps(sum);
            }
            // Context = probabilities · values, 16 output columns at a time.
            let scores = scores_p as *const f32;
            for c0 in (0..d).step_by(KEY_STRIP) {
                let mut acc = [_mm512_setzero_ps(); R];
                for j in 0..len {
                    let v = _mm512_loadu_ps(seq.add(j * stride + v_off + c0));
                    for (r, a) in acc.iter_mut().enumerate() {
                        *a = _mm512_fmadd_ps(_mm512_set1_ps(*scores.add(r * width + j)), v, *a);
                    }
                }
                let bias = _mm512_loadu_ps(v_bias.as_ptr().add(c0));
                for (r, a) in acc.iter().enumerate().take(rows) {
                    let o = _mm512_fmadd_ps(*a, _mm512_set1_ps(inv_sum[r]), bias);
                    _mm512_storeu_ps(out.as_mut_ptr().add((r0 + r) * hidden + q_off + c0), o);
                }
            }
        }
    }
}

/// Attention of queries `q0..q1` of one text and one head over all of the text's keys; `seq` is the text's
/// `[len, 3 * hidden]` rows, `out` its `[len, hidden]` context rows. Needs `head_dim % KEY_STRIP == 0`.
#[inline(always)]
fn attend<A: Arith, const R: usize>(
    seq: &[f32],
    len: usize,
    head: usize,
    q0: usize,
    q1: usize,
    p: &AttentionParams,
    out: &mut [f32],
) {
    let d = p.head_dim;
    let hidden = p.heads * d;
    let stride = 3 * hidden;
    let scale = 1.0 / (d as f32).sqrt();
    let q_off = head * d;
    let k_off = hidden + head * d;
    let v_off = 2 * hidden + head * d;
    let width = len.div_ceil(KEY_STRIP) * KEY_STRIP;

    // Keys transposed, `[d, width]`, zero beyond `len`: a strip of scores is then d broadcast-multiply-adds.
    let mut keys_t = vec![0f32; d * width];
    for j in 0..len {
        let k = &seq[j * stride + k_off..][..d];
        for (e, &kv) in k.iter().enumerate() {
            keys_t[e * width + j] = kv;
        }
    }
    // The current tile of R queries, transposed (`[d, R]`), so that each strip of scores multiplies
    // broadcasts of adjacent values.
    let mut queries_t = vec![0f32; d * R];
    let mut scores = vec![0f32; R * width];
    // Probabilities of the current query tile, `[width, R]`; rows of padded queries stay zero.
    let mut probs_t = vec![0f32; width * R];
    let q_bias = &p.query_bias[q_off..q_off + d];
    let v_bias = &p.value_bias[q_off..q_off + d];

    for r0 in (q0..q1).step_by(R) {
        let rows = (q1 - r0).min(R);
        for r in 0..R {
            if r < rows {
                let src = &seq[(r0 + r) * stride + q_off..][..d];
                for (e, (&s, &b)) in src.iter().zip(q_bias).enumerate() {
                    queries_t[e * R + r] = (s + b) * scale;
                }
            } else {
                for e in 0..d {
                    queries_t[e * R + r] = 0.0;
                }
            }
        }
        // Scores `[R, width]`.
        for j0 in (0..width).step_by(KEY_STRIP) {
            let mut acc = [[0f32; KEY_STRIP]; R];
            for (e, qe) in queries_t.chunks_exact(R).enumerate() {
                let qe: &[f32; R] = qe.try_into().expect("tile");
                let k: &[f32; KEY_STRIP] = keys_t[e * width + j0..][..KEY_STRIP]
                    .try_into()
                    .expect("strip");
                for r in 0..R {
                    for c in 0..KEY_STRIP {
                        acc[r][c] = A::fma(qe[r], k[c], acc[r][c]);
                    }
                }
            }
            for r in 0..R {
                scores[r * width + j0..][..KEY_STRIP].copy_from_slice(&acc[r]);
            }
        }
        // Softmax over the real keys, written transposed (`[len, R]`) for the product with the values; the
        // normalising factor is applied to the output. Sums and maxima run in KEY_STRIP lanes so they vectorise.
        let mut inv_sum = [0f32; R];
        for r in 0..rows {
            let row = &scores[r * width..r * width + len];
            let mut lanes = [f32::NEG_INFINITY; KEY_STRIP];
            let strips = row.chunks_exact(KEY_STRIP);
            let tail = strips.remainder();
            for strip in strips {
                for c in 0..KEY_STRIP {
                    lanes[c] = lanes[c].max(strip[c]);
                }
            }
            let max = tail.iter().fold(
                lanes.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s)),
                |m, &s| m.max(s),
            );
            let mut sums = [0f32; KEY_STRIP];
            for (j0, strip) in row.chunks_exact(KEY_STRIP).enumerate() {
                let mut e = [0f32; KEY_STRIP];
                for c in 0..KEY_STRIP {
                    e[c] = exp::<A>(strip[c] - max);
                    sums[c] += e[c];
                }
                for c in 0..KEY_STRIP {
                    probs_t[(j0 * KEY_STRIP + c) * R + r] = e[c];
                }
            }
            let mut sum: f32 = sums.iter().sum();
            for (t, &s) in tail.iter().enumerate() {
                let e = exp::<A>(s - max);
                probs_t[(len - tail.len() + t) * R + r] = e;
                sum += e;
            }
            inv_sum[r] = 1.0 / sum;
        }
        // Context `[R, d]` = probabilities · values, KEY_STRIP output columns at a time.
        for c0 in (0..d).step_by(KEY_STRIP) {
            let mut acc = [[0f32; KEY_STRIP]; R];
            for (j, pj) in probs_t[..len * R].chunks_exact(R).enumerate() {
                let pj: &[f32; R] = pj.try_into().expect("tile");
                let v: &[f32; KEY_STRIP] = seq[j * stride + v_off + c0..][..KEY_STRIP]
                    .try_into()
                    .expect("strip");
                for r in 0..R {
                    for c in 0..KEY_STRIP {
                        acc[r][c] = A::fma(pj[r], v[c], acc[r][c]);
                    }
                }
            }
            for r in 0..rows {
                let o = &mut out[(r0 + r) * hidden + q_off + c0..][..KEY_STRIP];
                for c in 0..KEY_STRIP {
                    o[c] = A::fma(acc[r][c], inv_sum[r], v_bias[c0 + c]);
                }
            }
        }
    }
}

/// The same function as `attend`, written plainly in f64 accumulation: for head sizes the fast kernel does not
/// handle, and as the tests' reference.
fn attend_reference(
    seq: &[f32],
    len: usize,
    head: usize,
    q0: usize,
    q1: usize,
    p: &AttentionParams,
    out: &mut [f32],
) {
    let d = p.head_dim;
    let hidden = p.heads * d;
    let stride = 3 * hidden;
    let scale = 1.0 / (d as f64).sqrt();
    let (q_off, k_off, v_off) = (head * d, hidden + head * d, 2 * hidden + head * d);
    let mut scores = vec![0f64; len];
    for i in q0..q1 {
        for (j, s) in scores.iter_mut().enumerate() {
            *s = (0..d)
                .map(|e| {
                    f64::from(seq[i * stride + q_off + e] + p.query_bias[q_off + e])
                        * f64::from(seq[j * stride + k_off + e])
                })
                .sum::<f64>()
                * scale;
        }
        let max = scores.iter().fold(f64::NEG_INFINITY, |m, &s| m.max(s));
        let sum: f64 = scores.iter().map(|s| (s - max).exp()).sum();
        for e in 0..d {
            let v: f64 = (0..len)
                .map(|j| (scores[j] - max).exp() / sum * f64::from(seq[j * stride + v_off + e]))
                .sum();
            out[i * hidden + q_off + e] = (v + f64::from(p.value_bias[q_off + e])) as f32;
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Row-wise kernels.

/// Rows per parallel chunk of the row-wise kernels: enough work per task to outweigh scheduling.
const ROWS_PER_TASK: usize = 16;

/// `gelu(x + bias)` for every row of `x` (`[rows, bias.len()]`).
pub fn bias_gelu(x: &[f32], bias: &[f32]) -> Vec<f32> {
    let width = bias.len();
    let mut out = vec![0f32; x.len()];
    out.par_chunks_mut(width * ROWS_PER_TASK)
        .zip(x.par_chunks(width * ROWS_PER_TASK))
        .for_each(|(o, x)| bias_gelu_rows(x, bias, o));
    out
}

fn bias_gelu_rows(x: &[f32], bias: &[f32], out: &mut [f32]) {
    dispatch!(|A, _R| {
        for (o, x) in out
            .chunks_exact_mut(bias.len())
            .zip(x.chunks_exact(bias.len()))
        {
            for ((o, &x), &b) in o.iter_mut().zip(x).zip(bias) {
                *o = gelu::<A>(x + b);
            }
        }
    })
}

/// `Σ f(v)` over `values`, accumulated in 16 lanes so that the loop vectorises (a single running sum would
/// fix the order of additions and keep it scalar).
#[inline(always)]
fn lane_sum(values: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0f32; KEY_STRIP];
    let strips = values.chunks_exact(KEY_STRIP);
    let tail: f32 = strips.remainder().iter().map(|&v| f(v)).sum();
    for strip in strips {
        for c in 0..KEY_STRIP {
            lanes[c] += f(strip[c]);
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The parameters of a layer norm applied after a residual connection.
#[derive(Debug, Clone, Copy)]
pub struct AddNormParams<'a> {
    /// Bias of the projection whose output is normalised.
    pub bias: &'a [f32],
    pub weight: &'a [f32],
    pub shift: &'a [f32],
    pub eps: f32,
}

/// `layer_norm(x + bias + residual)` for every row (`x`, `residual`: `[rows, width]`).
pub fn add_norm(x: &[f32], residual: &[f32], p: &AddNormParams) -> Vec<f32> {
    let width = p.bias.len();
    let mut out = vec![0f32; x.len()];
    out.par_chunks_mut(width * ROWS_PER_TASK)
        .zip(x.par_chunks(width * ROWS_PER_TASK))
        .zip(residual.par_chunks(width * ROWS_PER_TASK))
        .for_each(|((o, x), res)| add_norm_rows(x, res, p, o));
    out
}

fn add_norm_rows(x: &[f32], residual: &[f32], p: &AddNormParams, out: &mut [f32]) {
    let width = p.bias.len();
    dispatch!(|A, _R| {
        for ((o, x), res) in out
            .chunks_exact_mut(width)
            .zip(x.chunks_exact(width))
            .zip(residual.chunks_exact(width))
        {
            for (((o, &x), &r), &b) in o.iter_mut().zip(x).zip(res).zip(p.bias) {
                *o = x + r + b;
            }
            let mean = lane_sum(o, |v| v) / width as f32;
            for o in o.iter_mut() {
                *o -= mean;
            }
            let var = lane_sum(o, |v| v * v);
            let rstd = 1.0 / (var / width as f32 + p.eps).sqrt();
            for ((o, &w), &s) in o.iter_mut().zip(p.weight).zip(p.shift) {
                *o = A::fma(*o * rstd, w, s);
            }
        }
    })
}

// ---------------------------------------------------------------------------------------------------------------
// The kernels as candle operations on contiguous f32 tensors.

pub(super) fn contiguous_f32<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
) -> candle_core::Result<&'a [f32]> {
    let all = storage.as_slice::<f32>()?;
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&all[start..end]),
        None => candle_core::bail!("kernel input is not contiguous"),
    }
}

pub(super) fn to_candle(e: Error) -> candle_core::Error {
    candle_core::Error::Msg(e.to_string())
}

/// `attention` on a `[tokens, 3 * hidden]` tensor.
pub struct Attention<'a> {
    pub lengths: &'a [usize],
    pub params: AttentionParams<'a>,
}

impl CustomOp1 for Attention<'_> {
    fn name(&self) -> &'static str {
        "packed-attention"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let qkv = contiguous_f32(s, l)?;
        let out = attention(qkv, self.lengths, &self.params).map_err(to_candle)?;
        let tokens = self.lengths.iter().sum::<usize>();
        let hidden = self.params.heads * self.params.head_dim;
        Ok((CpuStorage::F32(out), Shape::from((tokens, hidden))))
    }
}

/// `bias_gelu` on a `[rows, bias.len()]` tensor.
pub struct BiasGelu<'a>(pub &'a [f32]);

impl CustomOp1 for BiasGelu<'_> {
    fn name(&self) -> &'static str {
        "bias-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(s, l)?;
        if l.dims().last() != Some(&self.0.len()) {
            candle_core::bail!("bias-gelu: shape {:?}, bias {}", l.dims(), self.0.len());
        }
        Ok((CpuStorage::F32(bias_gelu(x, self.0)), l.shape().clone()))
    }
}

/// `add_norm` on `x` and the residual, two tensors of the same `[rows, width]` shape.
pub struct AddNorm<'a>(pub AddNormParams<'a>);

impl CustomOp2 for AddNorm<'_> {
    fn name(&self) -> &'static str {
        "add-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (x, residual) = (contiguous_f32(s1, l1)?, contiguous_f32(s2, l2)?);
        if l1.dims() != l2.dims() || l1.dims().last() != Some(&self.0.bias.len()) {
            candle_core::bail!("add-norm: shapes {:?} and {:?}", l1.dims(), l2.dims());
        }
        Ok((
            CpuStorage::F32(add_norm(x, residual, &self.0)),
            l1.shape().clone(),
        ))
    }
}

/// Runs a kernel op on tensors, for callers outside this module.
pub fn apply1(x: &Tensor, op: &impl CustomOp1) -> Result<Tensor> {
    Ok(x.contiguous()?.apply_op1_no_bwd(op)?)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A deterministic pseudo-random sequence in [-amp, amp].
    pub(in crate::model) fn noise(n: usize, seed: u64, amp: f32) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * amp
            })
            .collect()
    }

    #[test]
    fn exp_is_accurate_over_the_softmax_range() {
        for i in 0..=20_000 {
            let x = -87.0 + i as f32 * (87.0 + 88.0) / 20_000.0;
            let got = f64::from(exp::<Plain>(x));
            let want = f64::from(x).exp();
            assert!(
                ((got - want) / want).abs() < 4e-7,
                "exp({x}) = {got}, want {want}"
            );
        }
        assert_eq!(exp::<Plain>(0.0), 1.0);
        assert!(exp::<Plain>(-1000.0) > 0.0 && exp::<Plain>(-1000.0) < 1e-37);
    }

    #[test]
    fn gelu_matches_the_erf_form() {
        fn erf64(x: f64) -> f64 {
            // Maclaurin series for |x| < 3, continued fraction beyond: accurate to ~1e-15 here.
            if x.abs() < 3.0 {
                let mut term = x;
                let mut sum = x;
                for n in 1..200 {
                    term *= -x * x / n as f64;
                    sum += term / (2 * n + 1) as f64;
                }
                sum * 2.0 / std::f64::consts::PI.sqrt()
            } else {
                let a = x.abs();
                let mut f = 0.0;
                for n in (1..60).rev() {
                    f = (n as f64 / 2.0) / (a + f);
                }
                let erfc = (-a * a).exp() / std::f64::consts::PI.sqrt() / (a + f);
                (1.0 - erfc).copysign(x)
            }
        }
        for i in 0..=40_000 {
            let x = -10.0 + i as f32 * 20.0 / 40_000.0;
            let want = 0.5 * f64::from(x) * (1.0 + erf64(f64::from(x) / 2f64.sqrt()));
            for got in [gelu::<Plain>(x), gelu::<WithFma>(x)] {
                let err = (f64::from(got) - want).abs();
                assert!(
                    err < 3e-7 * (1.0 + f64::from(x).abs()),
                    "gelu({x}) = {got}, want {want}"
                );
            }
        }
    }

    #[test]
    fn attention_matches_the_reference_on_ragged_texts() {
        let (heads, head_dim) = (3, 32);
        let hidden = heads * head_dim;
        // Lengths around the strip and block edges, and one long text split over several query blocks.
        let lengths = [1usize, 5, 16, 17, 63, 64, 65, 150];
        let tokens: usize = lengths.iter().sum();
        let qkv = noise(tokens * 3 * hidden, 1, 2.0);
        let q_bias = noise(hidden, 2, 0.5);
        let v_bias = noise(hidden, 3, 0.5);
        let p = AttentionParams {
            heads,
            head_dim,
            query_bias: &q_bias,
            value_bias: &v_bias,
        };
        let fast = attention(&qkv, &lengths, &p).unwrap();
        let mut slow = vec![0f32; tokens * hidden];
        let mut start = 0;
        for &len in &lengths {
            for head in 0..heads {
                attend_reference(
                    &qkv[start * 3 * hidden..(start + len) * 3 * hidden],
                    len,
                    head,
                    0,
                    len,
                    &p,
                    &mut slow[start * hidden..(start + len) * hidden],
                );
            }
            start += len;
        }
        let worst = fast
            .iter()
            .zip(&slow)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-5, "largest difference {worst}");
    }

    #[test]
    fn portable_attention_matches_the_reference() {
        let (heads, head_dim) = (2, 32);
        let hidden = heads * head_dim;
        let len = 37;
        let seq = noise(len * 3 * hidden, 11, 2.0);
        let q_bias = noise(hidden, 12, 0.5);
        let v_bias = noise(hidden, 13, 0.5);
        let p = AttentionParams {
            heads,
            head_dim,
            query_bias: &q_bias,
            value_bias: &v_bias,
        };
        let mut fast = vec![0f32; len * hidden];
        let mut slow = vec![0f32; len * hidden];
        for head in 0..heads {
            attend::<Plain, 4>(&seq, len, head, 0, len, &p, &mut fast);
            attend_reference(&seq, len, head, 0, len, &p, &mut slow);
        }
        let worst = fast
            .iter()
            .zip(&slow)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-5, "largest difference {worst}");
    }

    #[test]
    fn attention_of_one_text_ignores_the_others() {
        let (heads, head_dim) = (2, 16);
        let hidden = heads * head_dim;
        let q_bias = vec![0.0; hidden];
        let v_bias = vec![0.0; hidden];
        let p = AttentionParams {
            heads,
            head_dim,
            query_bias: &q_bias,
            value_bias: &v_bias,
        };
        let a = noise(7 * 3 * hidden, 4, 1.0);
        let b = noise(9 * 3 * hidden, 5, 1.0);
        let alone = attention(&a, &[7], &p).unwrap();
        let packed = attention(&[a.clone(), b].concat(), &[7, 9], &p).unwrap();
        assert_eq!(alone, packed[..7 * hidden]);
    }

    #[test]
    fn add_norm_normalises_each_row() {
        let width = 48;
        let x = noise(5 * width, 6, 3.0);
        let residual = noise(5 * width, 7, 3.0);
        let bias = noise(width, 8, 1.0);
        let weight = noise(width, 9, 1.0);
        let shift = noise(width, 10, 1.0);
        let p = AddNormParams {
            bias: &bias,
            weight: &weight,
            shift: &shift,
            eps: 1e-12,
        };
        let got = add_norm(&x, &residual, &p);
        for r in 0..5 {
            let v: Vec<f64> = (0..width)
                .map(|i| f64::from(x[r * width + i] + residual[r * width + i] + bias[i]))
                .collect();
            let mean = v.iter().sum::<f64>() / width as f64;
            let var = v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / width as f64;
            for i in 0..width {
                let want = (v[i] - mean) / (var + 1e-12).sqrt() * f64::from(weight[i])
                    + f64::from(shift[i]);
                assert!((f64::from(got[r * width + i]) - want).abs() < 1e-5);
            }
        }
    }
}
