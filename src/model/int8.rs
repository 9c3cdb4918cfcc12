//! Dynamic int8 matrix products for the encoder's dense layers: 8-bit weights times 8-bit activations.
//!
//! Contract: `Int8Matrix::quantize` takes a dense weight `[n, k]` (outputs × inputs, as checkpoints store it)
//! and keeps each output row as i8 codes with its own scale (symmetric: the row's largest magnitude maps to
//! 127). `Int8Matrix::forward` computes `x · wᵀ` for `x: [m, k]`: each input row is mapped to u8 codes with
//! its own scale and zero point (its range, 0 included, spread over 0..=255), the products are summed exactly
//! in i32 and each sum is rescaled once. The only errors are the two roundings, about 0.4% of a row's range
//! each; what that does to accuracy is measured with `touchpoint eval` (EVALUATION.md).
//!
//! Where the CPU has AVX-512 VNNI the sums run through `vpdpbusd`, 64 multiply-adds of u8 by i8 per
//! instruction where an f32 FMA does 16. Elsewhere portable code computes the very same integers, so both paths
//! give identical results, only slower; `Int8Matrix::accelerated` says which one runs.
//!
//! Layout: the codes of 64 output rows (a *panel*, four 16-lane registers of i32 sums) are interleaved in steps
//! of four inputs, so that one 64-byte load gives 16 outputs × 4 inputs, the operand `vpdpbusd` wants, and one
//! broadcast 4-byte word of an activation row feeds all of them.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::kernels::{contiguous_f32, to_candle, SharedOut};
use crate::error::{Error, Result};

/// Output rows per panel: four AVX-512 registers of 16 i32 sums.
const PANEL: usize = 64;
/// Inputs per step: `vpdpbusd` sums four adjacent byte products into each i32 lane.
const QUAD: usize = 4;
/// Activation rows per register tile: 6 rows × 4 registers = 24 accumulators, leaving room for the 4 weight
/// registers and the broadcast in AVX-512's 32.
const TILE_ROWS: usize = 6;
/// Activation rows per parallel task (a multiple of `TILE_ROWS`): enough work to amortise a task, small enough
/// that two threads get several tasks each on a short batch.
const TASK_ROWS: usize = 48;

/// A weight matrix as per-row scaled i8 codes, packed for the kernel.
#[derive(Debug, Clone)]
pub struct Int8Matrix {
    /// Outputs (the weight's rows).
    n: usize,
    /// Inputs (the weight's columns).
    k: usize,
    /// `k` rounded up to whole quads; padding codes are 0.
    k_padded: usize,
    /// Panel-interleaved codes: panel, quad, row within the panel, byte within the quad.
    codes: Vec<i8>,
    /// Per output row: the value of one code step.
    scales: Vec<f32>,
    /// Per output row: the sum of its codes, to take the activations' zero point back out.
    code_sums: Vec<i32>,
}

/// Activation rows as u8 codes: `value ≈ (code - zero) * scale`, row by row.
struct QuantizedRows {
    codes: Vec<u8>,
    scales: Vec<f32>,
    zeros: Vec<i32>,
}

impl Int8Matrix {
    /// Quantizes a dense `[n, k]` weight row by row.
    pub fn quantize(weight: &Tensor) -> Result<Int8Matrix> {
        let (n, k) = weight.dims2()?;
        if n == 0 || k == 0 {
            return Err(Error::model(format!("int8 weight of shape [{n}, {k}]")));
        }
        let values = weight.flatten_all()?.to_vec1::<f32>()?;
        Ok(Self::from_rows(&values, n, k))
    }

    fn from_rows(values: &[f32], n: usize, k: usize) -> Int8Matrix {
        let k_padded = k.div_ceil(QUAD) * QUAD;
        let panels = n.div_ceil(PANEL);
        let mut codes = vec![0i8; panels * PANEL * k_padded];
        let mut scales = vec![0f32; panels * PANEL];
        let mut code_sums = vec![0i32; panels * PANEL];
        for (row, weights) in values.chunks_exact(k).enumerate() {
            let largest = weights.iter().fold(0f32, |m, w| m.max(w.abs()));
            let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
            let (panel, lane) = (row / PANEL, row % PANEL);
            let mut sum = 0i32;
            for (col, &w) in weights.iter().enumerate() {
                let code = (w / scale).round().clamp(-127.0, 127.0) as i8;
                sum += code as i32;
                let (quad, byte) = (col / QUAD, col % QUAD);
                codes[((panel * (k_padded / QUAD) + quad) * PANEL + lane) * QUAD + byte] = code;
            }
            scales[row] = scale;
            code_sums[row] = sum;
        }
        Int8Matrix {
            n,
            k,
            k_padded,
            codes,
            scales,
            code_sums,
        }
    }

    /// Whether products run on the CPU's VNNI instructions (else on the portable copy of the same arithmetic).
    pub fn accelerated() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vnni")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// `x · wᵀ` for a `[m, k]` tensor: `[m, n]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.contiguous()?.apply_op1_no_bwd(self)?)
    }

    /// `x · wᵀ` for `x` row-major `[m, k]`: row-major `[m, n]`.
    pub fn multiply(&self, x: &[f32]) -> Result<Vec<f32>> {
        self.multiply_on(x, Self::accelerated())
    }

    /// As `multiply`, always on the portable code: the same result, for comparison and benchmarks.
    pub fn multiply_portable(&self, x: &[f32]) -> Result<Vec<f32>> {
        self.multiply_on(x, false)
    }

    fn multiply_on(&self, x: &[f32], accelerated: bool) -> Result<Vec<f32>> {
        if !x.len().is_multiple_of(self.k) {
            return Err(Error::model(format!(
                "int8 product: {} values are not rows of {}",
                x.len(),
                self.k
            )));
        }
        let m = x.len() / self.k;
        let rows = self.quantize_rows(x, m);
        let mut out = vec![0f32; m * self.n];
        let shared = SharedOut(out.as_mut_ptr());
        let panels = self.n.div_ceil(PANEL);
        (0..m.div_ceil(TASK_ROWS) * panels)
            .into_par_iter()
            .for_each(|task| {
                let (block, panel) = (task / panels, task % panels);
                let rows_here = block * TASK_ROWS..((block + 1) * TASK_ROWS).min(m);
                // SAFETY: tasks write disjoint (row block, panel) rectangles of `out`, which outlives them.
                unsafe { self.task(&rows, rows_here, panel, accelerated, shared) };
            });
        Ok(out)
    }

    fn quantize_rows(&self, x: &[f32], m: usize) -> QuantizedRows {
        let mut codes = vec![0u8; m * self.k_padded];
        let mut scales = vec![0f32; m];
        let mut zeros = vec![0i32; m];
        codes
            .par_chunks_mut(self.k_padded * TASK_ROWS)
            .zip(x.par_chunks(self.k * TASK_ROWS))
            .zip(
                scales
                    .par_chunks_mut(TASK_ROWS)
                    .zip(zeros.par_chunks_mut(TASK_ROWS)),
            )
            .for_each(|((codes, x), (scales, zeros))| {
                for (((codes, row), scale), zero) in codes
                    .chunks_exact_mut(self.k_padded)
                    .zip(x.chunks_exact(self.k))
                    .zip(scales)
                    .zip(zeros)
                {
                    (*scale, *zero) = quantize_row(row, codes);
                }
            });
        QuantizedRows {
            codes,
            scales,
            zeros,
        }
    }

    /// One task: the sums of activation rows `rows_here` with the 64 outputs of `panel`, rescaled into `out`.
    ///
    /// # Safety
    /// `out` points to `[m, n]` f32 values that no other task writes in these rows and this panel.
    unsafe fn task(
        &self,
        rows: &QuantizedRows,
        rows_here: std::ops::Range<usize>,
        panel: usize,
        accelerated: bool,
        out: SharedOut,
    ) {
        let quads = self.k_padded / QUAD;
        let weights = &self.codes[panel * quads * PANEL * QUAD..][..quads * PANEL * QUAD];
        let outputs = panel * PANEL..((panel + 1) * PANEL).min(self.n);
        let mut sums = [[0i32; PANEL]; TILE_ROWS];
        let mut start = rows_here.start;
        while start < rows_here.end {
            let tile = (rows_here.end - start).min(TILE_ROWS);
            let activations = &rows.codes[start * self.k_padded..(start + tile) * self.k_padded];
            sum_tile(
                activations,
                self.k_padded,
                weights,
                tile,
                accelerated,
                &mut sums,
            );
            for (r, sums) in sums.iter().take(tile).enumerate() {
                let row = start + r;
                let (scale, zero) = (rows.scales[row], rows.zeros[row]);
                // SAFETY: row < m and the outputs lie within n, in this task's rectangle (see the contract).
                let dest = unsafe { out.ptr().add(row * self.n + outputs.start) };
                for (j, o) in outputs.clone().enumerate() {
                    let exact = sums[j] - zero * self.code_sums[o];
                    unsafe { dest.add(j).write(exact as f32 * (scale * self.scales[o])) };
                }
            }
            start += tile;
        }
    }
}

/// One activation row as u8 codes (into the first `row.len()` bytes of `codes`): its range, widened to take in
/// 0, is spread over 0..=255. Returns the step and the zero point.
fn quantize_row(row: &[f32], codes: &mut [u8]) -> (f32, i32) {
    let (mut low, mut high) = (0f32, 0f32);
    // Sixteen lanes so that the loop vectorises (a single running min fixes the order and stays scalar).
    let mut lows = [0f32; 16];
    let mut highs = [0f32; 16];
    let strips = row.chunks_exact(16);
    for &v in strips.remainder() {
        low = low.min(v);
        high = high.max(v);
    }
    for strip in strips {
        for l in 0..16 {
            lows[l] = lows[l].min(strip[l]);
            highs[l] = highs[l].max(strip[l]);
        }
    }
    low = lows.iter().fold(low, |a, &b| a.min(b));
    high = highs.iter().fold(high, |a, &b| a.max(b));
    let step = if high > low {
        (high - low) / 255.0
    } else {
        1.0
    };
    let zero = (-low / step + 0.5).clamp(0.0, 255.0) as i32;
    let (inverse, offset) = (1.0 / step, zero as f32 + 0.5);
    for (c, &v) in codes.iter_mut().zip(row) {
        // Non-negative after the offset, so adding one half and truncating rounds to nearest; `as` saturates.
        *c = (v * inverse + offset) as u8;
    }
    (step, zero)
}

/// Integer sums of up to `TILE_ROWS` activation rows (u8 codes, `k_padded` each) with one panel of weights.
fn sum_tile(
    activations: &[u8],
    k_padded: usize,
    weights: &[i8],
    tile: usize,
    accelerated: bool,
    sums: &mut [[i32; PANEL]; TILE_ROWS],
) {
    #[cfg(target_arch = "x86_64")]
    if accelerated {
        // SAFETY: `accelerated` is only true where the CPU has the instructions (`Int8Matrix::accelerated`).
        unsafe {
            match tile {
                6 => vnni::sum_tile::<6>(activations, k_padded, weights, sums),
                5 => vnni::sum_tile::<5>(activations, k_padded, weights, sums),
                4 => vnni::sum_tile::<4>(activations, k_padded, weights, sums),
                3 => vnni::sum_tile::<3>(activations, k_padded, weights, sums),
                2 => vnni::sum_tile::<2>(activations, k_padded, weights, sums),
                _ => vnni::sum_tile::<1>(activations, k_padded, weights, sums),
            }
        }
        return;
    }
    let _ = accelerated;
    sum_tile_portable(activations, k_padded, weights, tile, sums);
}

fn sum_tile_portable(
    activations: &[u8],
    k_padded: usize,
    weights: &[i8],
    tile: usize,
    sums: &mut [[i32; PANEL]; TILE_ROWS],
) {
    for (row, sums) in activations
        .chunks_exact(k_padded)
        .zip(sums.iter_mut())
        .take(tile)
    {
        *sums = [0; PANEL];
        for (quad, block) in row
            .chunks_exact(QUAD)
            .zip(weights.chunks_exact(PANEL * QUAD))
        {
            for (sum, w) in sums.iter_mut().zip(block.chunks_exact(QUAD)) {
                *sum += (0..QUAD).map(|b| quad[b] as i32 * w[b] as i32).sum::<i32>();
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use std::arch::x86_64::*;

    use super::{PANEL, QUAD, TILE_ROWS};

    /// The sums of the first `R` activation rows with one weight panel: per quad of inputs, four 64-byte
    /// weight loads and `R` broadcasts feed `4 R` `vpdpbusd`, all accumulators staying in registers.
    ///
    /// # Safety
    /// The CPU has AVX-512 F, BW and VNNI; `activations` holds at least `R` rows of `k_padded` codes and
    /// `weights` one panel of `k_padded / 4` quads.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn sum_tile<const R: usize>(
        activations: &[u8],
        k_padded: usize,
        weights: &[i8],
        sums: &mut [[i32; PANEL]; TILE_ROWS],
    ) {
        let quads = k_padded / QUAD;
        debug_assert!(activations.len() >= R * k_padded);
        debug_assert!(weights.len() >= quads * PANEL * QUAD);
        let mut acc = [[_mm512_setzero_si512(); 4]; R];
        let a = activations.as_ptr();
        let mut w = weights.as_ptr();
        for quad in 0..quads {
            // SAFETY: within the slices' bounds (checked by the caller's contract above).
            let (w0, w1, w2, w3) = unsafe {
                (
                    _mm512_loadu_si512(w as *const _),
                    _mm512_loadu_si512(w.add(64) as *const _),
                    _mm512_loadu_si512(w.add(128) as *const _),
                    _mm512_loadu_si512(w.add(192) as *const _),
                )
            };
            for (r, acc) in acc.iter_mut().enumerate() {
                let word =
                    unsafe { (a.add(r * k_padded + quad * QUAD) as *const i32).read_unaligned() };
                let av = _mm512_set1_epi32(word);
                acc[0] = _mm512_dpbusd_epi32(acc[0], av, w0);
                acc[1] = _mm512_dpbusd_epi32(acc[1], av, w1);
                acc[2] = _mm512_dpbusd_epi32(acc[2], av, w2);
                acc[3] = _mm512_dpbusd_epi32(acc[3], av, w3);
            }
            w = unsafe { w.add(PANEL * QUAD) };
        }
        for (acc, sums) in acc.iter().zip(sums.iter_mut()) {
            for (v, out) in acc.iter().zip(sums.chunks_exact_mut(16)) {
                unsafe { _mm512_storeu_si512(out.as_mut_ptr() as *mut _, *v) };
            }
        }
    }
}

impl CustomOp1 for Int8Matrix {
    fn name(&self) -> &'static str {
        "int8-matmul"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(s, l)?;
        let m = x.len() / self.k.max(1);
        let out = self.multiply(x).map_err(to_candle)?;
        Ok((CpuStorage::F32(out), Shape::from((m, self.n))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize, seed: u64, amp: f32) -> Vec<f32> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * amp
            })
            .collect()
    }

    fn reference(x: &[f32], w: &[f32], k: usize) -> Vec<f32> {
        x.chunks_exact(k)
            .flat_map(|row| {
                w.chunks_exact(k).map(move |col| {
                    row.iter()
                        .zip(col)
                        .map(|(a, b)| (a * b) as f64)
                        .sum::<f64>() as f32
                })
            })
            .collect()
    }

    #[test]
    fn product_is_close_to_f32_on_ragged_shapes() {
        // Shapes off every block size: 70 outputs (a panel and a bit), 39 inputs (not whole quads), 13 rows.
        for (m, n, k) in [(13, 70, 39), (1, 384, 384), (50, 130, 1536)] {
            let w = noise(n * k, 1, 0.1);
            let x: Vec<f32> = noise(m * k, 2, 1.0).iter().map(|v| v + 0.3).collect();
            let matrix = Int8Matrix::from_rows(&w, n, k);
            let got = matrix.multiply(&x).unwrap();
            let want = reference(&x, &w, k);
            // Error bound: both roundings, half a step each, summed over k products of typical size.
            for (row, (g, e)) in got.chunks_exact(n).zip(want.chunks_exact(n)).enumerate() {
                let norm = e.iter().map(|v| v * v).sum::<f32>().sqrt();
                let err = g
                    .iter()
                    .zip(e)
                    .map(|(a, b)| (a - b).powi(2))
                    .sum::<f32>()
                    .sqrt();
                assert!(
                    err / norm < 0.02,
                    "{m}x{n}x{k} row {row}: relative error {}",
                    err / norm
                );
            }
        }
    }

    #[test]
    fn accelerated_and_portable_sums_are_identical() {
        if !Int8Matrix::accelerated() {
            return; // nothing to compare on this CPU; the portable path is what runs
        }
        let (n, k) = (128, 96);
        let matrix = Int8Matrix::from_rows(&noise(n * k, 3, 0.5), n, k);
        let rows = matrix.quantize_rows(&noise(TILE_ROWS * k, 4, 2.0), TILE_ROWS);
        for tile in 1..=TILE_ROWS {
            for panel in 0..2 {
                let weights = &matrix.codes[panel * (k / QUAD) * PANEL * QUAD..][..k * PANEL];
                let mut fast = [[0i32; PANEL]; TILE_ROWS];
                let mut slow = [[0i32; PANEL]; TILE_ROWS];
                sum_tile(&rows.codes, k, weights, tile, true, &mut fast);
                sum_tile_portable(&rows.codes, k, weights, tile, &mut slow);
                assert_eq!(
                    fast[..tile],
                    slow[..tile],
                    "tile of {tile} rows, panel {panel}"
                );
            }
        }
        // And whole products, over several tasks and a ragged last panel, bit for bit.
        let (m, n, k) = (100, 200, 388);
        let matrix = Int8Matrix::from_rows(&noise(n * k, 5, 0.2), n, k);
        let x = noise(m * k, 6, 3.0);
        assert_eq!(
            matrix.multiply(&x).unwrap(),
            matrix.multiply_portable(&x).unwrap()
        );
    }

    #[test]
    fn constant_and_zero_rows_stay_exact() {
        let (n, k) = (3, 8);
        // Integer weights whose rows reach 127: a code step of exactly 1, so the weights are held exactly; a
        // constant row spans 0..=1.5 and its value takes the top code, so the activations are too.
        let w: Vec<f32> = (0..n * k)
            .map(|i| {
                if i % k == 0 {
                    127.0
                } else {
                    (i % 7) as f32 * 10.0 - 30.0
                }
            })
            .collect();
        let matrix = Int8Matrix::from_rows(&w, n, k);
        let mut x = vec![0f32; 2 * k];
        x[k..].fill(1.5);
        let got = matrix.multiply(&x).unwrap();
        let want = reference(&x, &w, k);
        assert!(got[..n].iter().all(|&v| v == 0.0));
        for (g, e) in got[n..].iter().zip(&want[n..]) {
            assert!((g - e).abs() < 1e-3 * e.abs().max(1.0), "{g} vs {e}");
        }
    }

    #[test]
    fn a_ragged_input_is_an_error_not_a_panic() {
        let matrix = Int8Matrix::from_rows(&[1.0; 12], 3, 4);
        assert!(matrix.multiply(&[1.0; 5]).is_err());
    }
}
