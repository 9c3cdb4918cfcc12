//! Dynamic int8 matrix products for the encoder's dense layers: 8-bit weights times 8-bit activations.
//!
//! Contract: `Int8Matrix::quantize` takes a dense weight `[n, k]` (outputs × inputs, as checkpoints store it)
//! and keeps each output row as i8 codes with its own scale (symmetric: the row's largest magnitude maps to
//! 127). `Int8Matrix::forward` computes `x · wᵀ` for `x: [m, k]`: each input row is mapped to u8 codes with
//! its own scale and zero point (its range, 0 included, spread over 0..=255), the products are summed exactly
//! in i32 and each sum is rescaled once. The only errors are the two roundings, about 0.4% of a row's range
//! each; what that does to accuracy is measured with `touchpoint eval` (EVALUATION.md).
//!
//! Three kernels compute the very same integers, so all give identical results (`Int8Kernel::detect` picks one
//! per process): **AMX** (Intel's tile unit, Sapphire Rapids and later: `tdpbusd` multiplies a 16 × 64 byte tile
//! by a 64 × 16 one, 16,384 multiply-adds per instruction), **VNNI** (AVX-512 `vpdpbusd`: 64 per instruction,
//! where an f32 FMA does 16), and portable code, several times slower than f32, for CPUs with neither.
//!
//! Layout: the codes of 64 output rows (a *panel*, four 16-lane registers of i32 sums) are interleaved in steps
//! of four inputs, so that one 64-byte load gives 16 outputs × 4 inputs, the operand `vpdpbusd` wants, and one
//! broadcast 4-byte word of an activation row feeds all of them. The same bytes, read 16 quads deep at a stride
//! of one panel row, are AMX's B tiles; activation rows are A tiles as they lie.

use std::sync::OnceLock;

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::kernels::{apply1, contiguous_f32, to_candle, SharedOut};
use crate::error::{Error, Result};

/// The quantisation scheme's version: raise it whenever a change to this module can change a product's result
/// (the rounding, the scales, the zero points), so that embedding caches made with the old scheme are not read
/// (`Precision::cache_suffix`). The kernels agree bit for bit, so they need no version of their own.
pub const SCHEME: u32 = 1;

/// Output rows per panel: four AVX-512 registers of 16 i32 sums.
const PANEL: usize = 64;
/// Inputs per step: `vpdpbusd` sums four adjacent byte products into each i32 lane.
const QUAD: usize = 4;
/// Activation rows per register tile: 6 rows × 4 registers = 24 accumulators, leaving room for the 4 weight
/// registers and the broadcast in AVX-512's 32.
const TILE_ROWS: usize = 6;
/// Inputs are padded to whole AMX tile rows (64 bytes; whole quads too), with zero codes.
const K_ALIGN: usize = 64;
/// AMX works on blocks of 32 activation rows (two tiles of 16); activation codes are allocated in whole blocks,
/// zero rows below the last real one.
const AMX_ROWS: usize = 32;
/// Activation rows per parallel task (a multiple of `TILE_ROWS` and of `AMX_ROWS`): enough work to amortise a
/// task, small enough that two threads get several tasks each on a short batch.
const TASK_ROWS: usize = 96;

/// Which instructions run the integer products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Int8Kernel {
    /// AMX tiles (`tdpbusd`), with AVX-512 for the rescaling.
    Amx,
    /// AVX-512 VNNI (`vpdpbusd`).
    Vnni,
    /// Plain integer code: what every CPU runs.
    Portable,
}

impl Int8Kernel {
    /// The fastest kernel this CPU, and for AMX the operating system, allows; decided once per process (asking
    /// Linux for AMX's tile state is a one-time, process-wide permission).
    pub fn detect() -> Int8Kernel {
        static KERNEL: OnceLock<Int8Kernel> = OnceLock::new();
        *KERNEL.get_or_init(|| {
            if !vnni_present() {
                Int8Kernel::Portable
            } else if amx_usable() {
                Int8Kernel::Amx
            } else {
                Int8Kernel::Vnni
            }
        })
    }

    /// Every kernel that can run here, fastest first.
    pub fn available() -> Vec<Int8Kernel> {
        match Int8Kernel::detect() {
            Int8Kernel::Amx => vec![Int8Kernel::Amx, Int8Kernel::Vnni, Int8Kernel::Portable],
            Int8Kernel::Vnni => vec![Int8Kernel::Vnni, Int8Kernel::Portable],
            Int8Kernel::Portable => vec![Int8Kernel::Portable],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Int8Kernel::Amx => "amx",
            Int8Kernel::Vnni => "vnni",
            Int8Kernel::Portable => "portable",
        }
    }
}

fn vnni_present() -> bool {
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

/// AMX-TILE and AMX-INT8 in CPUID, and Linux's permission to use the tile state (without it the first tile
/// instruction faults).
fn amx_usable() -> bool {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        use std::arch::x86_64::{__cpuid, __cpuid_count};
        #[allow(unused_unsafe)]
        // SAFETY: CPUID exists on every x86_64 CPU; leaf 7 is read only where leaf 0 says it exists.
        let (max_leaf, leaf7) = unsafe { (__cpuid(0).eax, __cpuid_count(7, 0)) };
        const AMX_TILE: u32 = 1 << 24;
        const AMX_INT8: u32 = 1 << 25;
        if max_leaf < 7 || leaf7.edx & (AMX_TILE | AMX_INT8) != AMX_TILE | AMX_INT8 {
            return false;
        }
        const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
        const XFEATURE_XTILEDATA: libc::c_long = 18;
        // SAFETY: a plain system call with integer arguments; it only changes what this process may use.
        unsafe {
            libc::syscall(
                libc::SYS_arch_prctl,
                ARCH_REQ_XCOMP_PERM,
                XFEATURE_XTILEDATA,
            ) == 0
        }
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    {
        false
    }
}

/// A weight matrix as per-row scaled i8 codes, packed for the kernel.
#[derive(Debug, Clone)]
pub struct Int8Matrix {
    /// Outputs (the weight's rows).
    n: usize,
    /// Inputs (the weight's columns).
    k: usize,
    /// `k` rounded up to `K_ALIGN`; padding codes are 0.
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
        let k_padded = k.div_ceil(K_ALIGN) * K_ALIGN;
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

    /// `x · wᵀ` for a `[m, k]` tensor: `[m, n]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        apply1(x, self)
    }

    /// `x · wᵀ` for `x` row-major `[m, k]`: row-major `[m, n]`.
    pub fn multiply(&self, x: &[f32]) -> Result<Vec<f32>> {
        self.multiply_on(x, Int8Kernel::detect())
    }

    /// As `multiply`, on a given kernel (one of `Int8Kernel::available`): the same result, for comparison and
    /// benchmarks.
    pub fn multiply_with(&self, x: &[f32], kernel: Int8Kernel) -> Result<Vec<f32>> {
        if !Int8Kernel::available().contains(&kernel) {
            return Err(Error::model(format!(
                "the {} int8 kernel cannot run on this CPU",
                kernel.name()
            )));
        }
        self.multiply_on(x, kernel)
    }

    fn multiply_on(&self, x: &[f32], kernel: Int8Kernel) -> Result<Vec<f32>> {
        if !x.len().is_multiple_of(self.k) {
            return Err(Error::model(format!(
                "int8 product: {} values are not rows of {}",
                x.len(),
                self.k
            )));
        }
        let m = x.len() / self.k;
        let rows = self.quantize_rows(x, m, kernel);
        // Not zeroed first: the tasks write every value (all row blocks × all panels, each panel's outputs up
        // to n), and zeroing 4 bytes per output cost 7% of an int8 encoder run.
        let mut out: Vec<f32> = Vec::with_capacity(m * self.n);
        let shared = SharedOut(out.as_mut_ptr());
        let panels = self.n.div_ceil(PANEL);
        (0..m.div_ceil(TASK_ROWS) * panels)
            .into_par_iter()
            .for_each(|task| {
                let (block, panel) = (task / panels, task % panels);
                let rows_here = block * TASK_ROWS..((block + 1) * TASK_ROWS).min(m);
                // SAFETY: tasks write disjoint (row block, panel) rectangles of `out`, which outlives them.
                unsafe { self.task(&rows, rows_here, panel, kernel, shared) };
            });
        // SAFETY: every one of the m × n values was written above.
        unsafe { out.set_len(m * self.n) };
        Ok(out)
    }

    fn quantize_rows(&self, x: &[f32], m: usize, kernel: Int8Kernel) -> QuantizedRows {
        let mut codes = vec![0u8; m.div_ceil(AMX_ROWS) * AMX_ROWS * self.k_padded];
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
                    (*scale, *zero) = match kernel {
                        #[cfg(target_arch = "x86_64")]
                        // SAFETY: both kernels imply AVX-512 F (`Int8Kernel::detect`).
                        Int8Kernel::Amx | Int8Kernel::Vnni => unsafe {
                            vnni::quantize_row(row, codes)
                        },
                        _ => quantize_row(row, codes),
                    };
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
    /// `out` points to `[m, n]` f32 values that no other task writes in these rows and this panel; `kernel` is
    /// one of `Int8Kernel::available`.
    unsafe fn task(
        &self,
        rows: &QuantizedRows,
        rows_here: std::ops::Range<usize>,
        panel: usize,
        kernel: Int8Kernel,
        out: SharedOut,
    ) {
        let quads = self.k_padded / QUAD;
        let weights = &self.codes[panel * quads * PANEL * QUAD..][..quads * PANEL * QUAD];
        let outputs = panel * PANEL..((panel + 1) * PANEL).min(self.n);
        let rescale = Rescale {
            scales: &self.scales[outputs.start..outputs.start + PANEL],
            code_sums: &self.code_sums[outputs.start..outputs.start + PANEL],
            columns: outputs.len(),
            stride: self.n,
        };
        // SAFETY (every `dest` below): row `start` and the panel's first output lie in this task's rectangle.
        let dest = |start: usize| unsafe { out.ptr().add(start * self.n + outputs.start) };
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        if kernel == Int8Kernel::Amx {
            // SAFETY: AMX is usable (`available`); codes are allocated in whole 32-row blocks and `task_rows`
            // starts on one (TASK_ROWS is a multiple of AMX_ROWS).
            unsafe { amx::task(rows, rows_here, self.k_padded, weights, &rescale, dest) };
            return;
        }
        let mut sums = [[0i32; PANEL]; TILE_ROWS];
        let mut start = rows_here.start;
        while start < rows_here.end {
            let tile = (rows_here.end - start).min(TILE_ROWS);
            let activations = &rows.codes[start * self.k_padded..(start + tile) * self.k_padded];
            let (row_scales, row_zeros) = (
                &rows.scales[start..start + tile],
                &rows.zeros[start..start + tile],
            );
            #[cfg(target_arch = "x86_64")]
            if kernel == Int8Kernel::Vnni {
                // SAFETY: VNNI is present (`available`); the slices hold `tile` rows and one panel, and `dest`
                // as the rescale says (the task's contract).
                unsafe {
                    let (a, k, w, r, d) =
                        (activations, self.k_padded, weights, &rescale, dest(start));
                    match tile {
                        6 => vnni::tile::<6>(a, k, w, row_scales, row_zeros, r, d),
                        5 => vnni::tile::<5>(a, k, w, row_scales, row_zeros, r, d),
                        4 => vnni::tile::<4>(a, k, w, row_scales, row_zeros, r, d),
                        3 => vnni::tile::<3>(a, k, w, row_scales, row_zeros, r, d),
                        2 => vnni::tile::<2>(a, k, w, row_scales, row_zeros, r, d),
                        _ => vnni::tile::<1>(a, k, w, row_scales, row_zeros, r, d),
                    }
                }
                start += tile;
                continue;
            }
            sum_tile_portable(activations, self.k_padded, weights, tile, &mut sums);
            for (r, sums) in sums.iter().take(tile).enumerate() {
                let (scale, zero) = (row_scales[r], row_zeros[r]);
                let row = dest(start + r);
                for (j, (&sum, (&code_sum, &column_scale))) in sums
                    .iter()
                    .zip(rescale.code_sums.iter().zip(rescale.scales))
                    .take(rescale.columns)
                    .enumerate()
                {
                    let value = (sum - zero * code_sum) as f32 * (scale * column_scale);
                    // SAFETY: within the task's rectangle (see the contract).
                    unsafe { row.add(j).write(value) };
                }
            }
            start += tile;
        }
    }
}

/// What turns a panel's integer sums into outputs: `(sum - zero · code_sum) · row_scale · scale`, per row and
/// output (the row's scale and zero point come with each row), written `columns` wide (the last panel may be
/// ragged) at rows `stride` apart.
struct Rescale<'a> {
    /// One panel's worth (64), padding included.
    scales: &'a [f32],
    code_sums: &'a [i32],
    columns: usize,
    stride: usize,
}

/// One activation row as u8 codes (into the first `row.len()` bytes of `codes`): its range, widened to take in
/// 0, is spread over 0..=255. Returns the step and the zero point. `vnni::quantize_row` gives the same codes.
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
    let (step, zero, inverse, offset) = row_step(low, high);
    for (c, &v) in codes.iter_mut().zip(row) {
        *c = code(v, inverse, offset);
    }
    (step, zero)
}

/// For a row spanning `low..=high` (0 included): the step, the zero point, and what `code` multiplies by and adds.
#[inline(always)]
fn row_step(low: f32, high: f32) -> (f32, i32, f32, f32) {
    let step = if high > low {
        (high - low) / 255.0
    } else {
        1.0
    };
    let zero = (-low / step + 0.5).clamp(0.0, 255.0) as i32;
    (step, zero, 1.0 / step, zero as f32 + 0.5)
}

/// One value's code. Non-negative after the offset, so adding one half and truncating rounds to nearest; `as`
/// saturates at 0 and 255.
#[inline(always)]
fn code(v: f32, inverse: f32, offset: f32) -> u8 {
    (v * inverse + offset) as u8
}

/// Integer sums of up to `TILE_ROWS` activation rows (u8 codes, `k_padded` each) with one panel of weights.
fn sum_tile_portable(
    activations: &[u8],
    k_padded: usize,
    weights: &[i8],
    tile: usize,
    sums: &mut [[i32; PANEL]; TILE_ROWS],
) {
    // Compiled a second time for AVX2, whose 32-bit multiplies and widening loads the baseline lacks (SSE2
    // has no 32-bit multiply): about 4x faster there.
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(
            activations: &[u8],
            k_padded: usize,
            weights: &[i8],
            tile: usize,
            sums: &mut [[i32; PANEL]; TILE_ROWS],
        ) {
            sum_tile_generic(activations, k_padded, weights, tile, sums)
        }
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { avx2(activations, k_padded, weights, tile, sums) };
    }
    sum_tile_generic(activations, k_padded, weights, tile, sums)
}

#[inline(always)]
fn sum_tile_generic(
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
            let a = [
                quad[0] as i32,
                quad[1] as i32,
                quad[2] as i32,
                quad[3] as i32,
            ];
            for (sum, w) in sums.iter_mut().zip(block.chunks_exact(QUAD)) {
                *sum += a[0] * w[0] as i32
                    + a[1] * w[1] as i32
                    + a[2] * w[2] as i32
                    + a[3] * w[3] as i32;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use std::arch::x86_64::*;

    use super::{Rescale, PANEL, QUAD};

    /// The first `R` activation rows times one weight panel, rescaled and written to `dest`: per quad of inputs,
    /// four 64-byte weight loads and `R` broadcasts feed `4 R` `vpdpbusd`, every accumulator in a register until
    /// the end, where it is rescaled in the same registers.
    ///
    /// # Safety
    /// The CPU has AVX-512 F, BW and VNNI; `activations` holds at least `R` rows of `k_padded` codes, `weights`
    /// one panel of `k_padded / 4` quads, `rescale` `R` rows, and `dest` room for `R` rows of `rescale.columns`
    /// values `rescale.stride` apart.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn tile<const R: usize>(
        activations: &[u8],
        k_padded: usize,
        weights: &[i8],
        row_scales: &[f32],
        row_zeros: &[i32],
        rescale: &Rescale,
        dest: *mut f32,
    ) {
        let quads = k_padded / QUAD;
        debug_assert!(activations.len() >= R * k_padded);
        debug_assert!(weights.len() >= quads * PANEL * QUAD);
        debug_assert!(row_scales.len() >= R && rescale.scales.len() >= PANEL);
        let mut acc = [[_mm512_setzero_si512(); 4]; R];
        let a = activations.as_ptr();
        let mut w = weights.as_ptr();
        for quad in 0..quads {
            // SAFETY: within the slices' bounds (the caller's contract above).
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
        for (r, acc) in acc.iter().enumerate() {
            for (v, &sums) in acc.iter().enumerate() {
                // SAFETY: row r of `dest` is within the caller's rows.
                let row = unsafe { dest.add(r * rescale.stride) };
                if !unsafe {
                    rescale_store(sums, row_zeros[r], row_scales[r], rescale, v * 16, row)
                } {
                    break;
                }
            }
        }
    }

    /// `super::quantize_row` on AVX-512: the same codes (the same multiply, then add, then truncation), 16 at a
    /// time.
    ///
    /// # Safety
    /// AVX-512 F; `codes` is at least as long as `row`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn quantize_row(row: &[f32], codes: &mut [u8]) -> (f32, i32) {
        let strips = row.chunks_exact(16);
        let tail = strips.remainder();
        let (mut lows, mut highs) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        for strip in strips.clone() {
            // SAFETY: a strip is 16 values.
            let v = unsafe { _mm512_loadu_ps(strip.as_ptr()) };
            lows = _mm512_min_ps(lows, v);
            highs = _mm512_max_ps(highs, v);
        }
        let (mut low, mut high) = (_mm512_reduce_min_ps(lows), _mm512_reduce_max_ps(highs));
        for &v in tail {
            low = low.min(v);
            high = high.max(v);
        }
        let (step, zero, inverse, offset) = super::row_step(low, high);
        let (inverses, offsets) = (_mm512_set1_ps(inverse), _mm512_set1_ps(offset));
        let (lowest, highest) = (_mm512_setzero_si512(), _mm512_set1_epi32(255));
        let mut out = codes.chunks_exact_mut(16);
        for (strip, out) in strips.zip(out.by_ref()) {
            // SAFETY: 16 values in, 16 bytes out.
            unsafe {
                let v = _mm512_loadu_ps(strip.as_ptr());
                let t = _mm512_add_ps(_mm512_mul_ps(v, inverses), offsets);
                let c = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvttps_epi32(t), lowest), highest);
                _mm_storeu_si128(out.as_mut_ptr() as *mut __m128i, _mm512_cvtepi32_epi8(c));
            }
        }
        let done = row.len() - tail.len();
        for (c, &v) in codes[done..].iter_mut().zip(tail) {
            *c = super::code(v, inverse, offset);
        }
        (step, zero)
    }

    /// Rescales 16 sums of one row, the panel's outputs `first..first + 16`, and stores those within
    /// `rescale.columns` at `row + first`. Returns false when `first` is already past the panel's outputs.
    ///
    /// # Safety
    /// AVX-512 F; `row` has room for the panel's `rescale.columns` outputs.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn rescale_store(
        sums: __m512i,
        zero: i32,
        row_scale: f32,
        rescale: &Rescale,
        first: usize,
        row: *mut f32,
    ) -> bool {
        if first >= rescale.columns {
            return false;
        }
        let lanes = (rescale.columns - first).min(16);
        let mask: __mmask16 = if lanes == 16 {
            0xffff
        } else {
            (1 << lanes) - 1
        };
        // SAFETY: `scales` and `code_sums` hold a whole panel; the store is masked to `columns`.
        unsafe {
            let code_sums = _mm512_loadu_si512(rescale.code_sums.as_ptr().add(first) as *const _);
            let scales = _mm512_loadu_ps(rescale.scales.as_ptr().add(first));
            let exact =
                _mm512_sub_epi32(sums, _mm512_mullo_epi32(_mm512_set1_epi32(zero), code_sums));
            let value = _mm512_mul_ps(
                _mm512_cvtepi32_ps(exact),
                _mm512_mul_ps(_mm512_set1_ps(row_scale), scales),
            );
            _mm512_mask_storeu_ps(row.add(first), mask, value);
        }
        true
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod amx {
    use std::arch::asm;
    use std::arch::x86_64::*;

    use super::{vnni, QuantizedRows, Rescale, AMX_ROWS, K_ALIGN, PANEL, QUAD};

    /// The tile configuration (`ldtilecfg`'s 64-byte layout): palette 1, eight tiles of 16 rows × 64 bytes.
    /// tmm0-3: sums (2 × 2 tiles of 16 × 16 i32); tmm4-5: two A tiles (32 activation rows × 64 inputs);
    /// tmm6-7: two B tiles (64 inputs × 32 outputs).
    #[repr(C, align(64))]
    struct TileConfig {
        palette: u8,
        start_row: u8,
        reserved: [u8; 14],
        bytes_per_row: [u16; 16],
        rows: [u8; 16],
    }

    const CONFIG: TileConfig = TileConfig {
        palette: 1,
        start_row: 0,
        reserved: [0; 14],
        bytes_per_row: [64, 64, 64, 64, 64, 64, 64, 64, 0, 0, 0, 0, 0, 0, 0, 0],
        rows: [16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0],
    };

    /// A panel row holds 64 outputs × one quad: the stride between B tile rows.
    const PANEL_ROW: usize = PANEL * QUAD;

    /// The task's rows times one weight panel, 32 rows × 32 outputs at a time, rescaled into `dest(row)`.
    ///
    /// # Safety
    /// AMX is usable (CPUID and the OS permission, `amx_usable`) and so is AVX-512; `rows.codes` holds whole
    /// 32-row blocks past `rows_here.end`, which starts on a block; `weights` is one panel of `k_padded / 4`
    /// quads; `dest(row)` points at row `row`'s first output of the panel, with room for `rescale.columns`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn task(
        rows: &QuantizedRows,
        rows_here: std::ops::Range<usize>,
        k_padded: usize,
        weights: &[i8],
        rescale: &Rescale,
        dest: impl Fn(usize) -> *mut f32,
    ) {
        debug_assert!(rows_here.start.is_multiple_of(AMX_ROWS) && k_padded.is_multiple_of(K_ALIGN));
        debug_assert!(rows.codes.len() >= rows_here.end.div_ceil(AMX_ROWS) * AMX_ROWS * k_padded);
        let mut sums = Sums([[0; 2 * 16]; AMX_ROWS]);
        // SAFETY: the configuration is valid for palette 1; this thread's tile state is set here and
        // released below.
        unsafe { asm!("ldtilecfg [{0}]", in(reg) &CONFIG, options(nostack, readonly)) };
        let mut block = rows_here.start;
        while block < rows_here.end {
            let a = rows.codes[block * k_padded..].as_ptr();
            for half in 0..2 {
                if half * 32 >= rescale.columns {
                    break;
                }
                let b = weights[half * 32 * QUAD..].as_ptr();
                // SAFETY: A tiles read 32 rows × k_padded bytes from `a`, B tiles 16 quads deep from `b` per
                // step (both within the slices, see the contract); sums are stored into `sums`.
                unsafe { block_sums(a, b, k_padded, &mut sums) };
                for r in 0..AMX_ROWS.min(rows_here.end - block) {
                    let row = block + r;
                    for v in 0..2 {
                        // SAFETY: `sums` rows are 32 i32; the destination is the caller's.
                        unsafe {
                            let s = _mm512_loadu_si512(sums.0[r][v * 16..].as_ptr() as *const _);
                            let (zero, scale) = (rows.zeros[row], rows.scales[row]);
                            vnni::rescale_store(
                                s,
                                zero,
                                scale,
                                rescale,
                                half * 32 + v * 16,
                                dest(row),
                            );
                        }
                    }
                }
            }
            block += AMX_ROWS;
        }
        // SAFETY: returns the tile state to its initial one.
        unsafe { asm!("tilerelease", options(nostack, nomem)) };
    }

    /// 32 rows × 32 outputs of integer sums, row-major, 128 bytes a row.
    #[repr(C, align(64))]
    struct Sums([[i32; 32]; AMX_ROWS]);

    /// The sums of 32 activation rows (from `a`, `k_padded` bytes apart) with 32 outputs of a panel (from `b`:
    /// quad rows `PANEL_ROW` apart), over all inputs, 64 at a time.
    ///
    /// # Safety
    /// The tile configuration is loaded; the reads stay within the rows and panel (see `task`).
    #[inline]
    unsafe fn block_sums(a: *const u8, b: *const i8, k_padded: usize, sums: &mut Sums) {
        // SAFETY: the caller's contract.
        unsafe {
            asm!(
                "tilezero tmm0",
                "tilezero tmm1",
                "tilezero tmm2",
                "tilezero tmm3",
                options(nostack, nomem)
            );
            for step in 0..k_padded / K_ALIGN {
                let a0 = a.add(step * K_ALIGN);
                let a1 = a0.add(16 * k_padded);
                let b0 = b.add(step * 16 * PANEL_ROW);
                let b1 = b0.add(16 * QUAD);
                asm!(
                    "tileloadd tmm4, [{a0} + {sa}*1]",
                    "tileloadd tmm5, [{a1} + {sa}*1]",
                    "tileloadd tmm6, [{b0} + {sb}*1]",
                    "tileloadd tmm7, [{b1} + {sb}*1]",
                    "tdpbusd tmm0, tmm4, tmm6",
                    "tdpbusd tmm1, tmm4, tmm7",
                    "tdpbusd tmm2, tmm5, tmm6",
                    "tdpbusd tmm3, tmm5, tmm7",
                    a0 = in(reg) a0,
                    a1 = in(reg) a1,
                    b0 = in(reg) b0,
                    b1 = in(reg) b1,
                    sa = in(reg) k_padded,
                    sb = in(reg) PANEL_ROW,
                    options(nostack, readonly)
                );
            }
            let c = sums.0.as_mut_ptr() as *mut u8;
            asm!(
                "tilestored [{c0} + {s}*1], tmm0",
                "tilestored [{c1} + {s}*1], tmm1",
                "tilestored [{c2} + {s}*1], tmm2",
                "tilestored [{c3} + {s}*1], tmm3",
                c0 = in(reg) c,
                c1 = in(reg) c.add(64),
                c2 = in(reg) c.add(16 * 128),
                c3 = in(reg) c.add(16 * 128 + 64),
                s = in(reg) 128usize,
                options(nostack)
            );
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
    use crate::model::kernels::tests::noise;

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
    fn every_kernel_gives_the_same_product() {
        // Every tile height (1 to 6 rows; AMX blocks cut short), several tasks, a ragged last panel (and one
        // whose second half of 32 outputs is empty), inputs not whole quads or tile rows.
        for (m, n, k) in [
            (1, 64, 8),
            (5, 70, 39),
            (13, 200, 388),
            (100, 130, 1536),
            (33, 20, 64),
        ] {
            let matrix = Int8Matrix::from_rows(&noise(n * k, 5, 0.2), n, k);
            let x = noise(m * k, 6, 3.0);
            let portable = matrix.multiply_with(&x, Int8Kernel::Portable).unwrap();
            for kernel in Int8Kernel::available() {
                let got = matrix.multiply_with(&x, kernel).unwrap();
                assert_eq!(got, portable, "{m}x{n}x{k} on {}", kernel.name());
            }
        }
        eprintln!("int8 kernels here: {:?}", Int8Kernel::available());
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
