//! Limited-memory BFGS: minimises a smooth function of a few hundred thousand parameters at most, given its
//! value and gradient. The heads' penalised softmax regression is its one user.
//!
//! Contract of [`minimise`]: starting at `start`, each step goes along the L-BFGS direction (the last
//! `MEMORY` steps' curvature pairs; steepest descent when that is not a descent direction) with a
//! backtracking line search that asks for the Armijo sufficient decrease. It stops when the largest gradient
//! entry is under `tolerance`, when an iteration lowers the value by less than a relative `1e-10`, when the
//! line search finds no decrease, or after `max_iterations`; it returns the best point seen. Deterministic:
//! the same function and start give the same result.

use std::collections::VecDeque;

use crate::error::Result;

/// Curvature pairs kept.
const MEMORY: usize = 10;
/// Armijo constant: a step must lower the value by this share of what the slope promises.
const SUFFICIENT_DECREASE: f64 = 1e-4;
const MAX_BACKTRACKS: usize = 40;
const RELATIVE_DECREASE: f64 = 1e-10;

/// Value and gradient of the function at a point.
pub type Objective<'a> = dyn FnMut(&[f64]) -> Result<(f64, Vec<f64>)> + 'a;

/// Where minimisation ended.
#[derive(Debug, Clone)]
pub struct Minimum {
    pub point: Vec<f64>,
    pub value: f64,
    pub iterations: usize,
    /// The gradient test was met (as against stopping on a stalled decrease or the iteration cap).
    pub converged: bool,
}

/// Minimises `objective` (value and gradient at a point). See the module documentation.
pub fn minimise(
    start: Vec<f64>,
    max_iterations: usize,
    tolerance: f64,
    objective: &mut Objective<'_>,
) -> Result<Minimum> {
    let mut x = start;
    let (mut value, mut gradient) = objective(&x)?;
    // (s, y, 1 / y·s) of recent steps, oldest first.
    let mut pairs: VecDeque<(Vec<f64>, Vec<f64>, f64)> = VecDeque::with_capacity(MEMORY);
    for iteration in 0..max_iterations {
        if max_abs(&gradient) <= tolerance {
            return Ok(Minimum {
                point: x,
                value,
                iterations: iteration,
                converged: true,
            });
        }
        let mut direction = two_loop(&gradient, &pairs);
        let mut slope = dot(&gradient, &direction);
        if slope.is_nan() || slope >= 0.0 {
            pairs.clear();
            direction = gradient.iter().map(|g| -g).collect();
            slope = -dot(&gradient, &gradient);
        }
        // Without curvature yet, the first step is scaled so that it moves the point by about one unit.
        let mut step = if pairs.is_empty() {
            (1.0 / norm(&gradient)).min(1.0)
        } else {
            1.0
        };
        let mut accepted = None;
        for _ in 0..MAX_BACKTRACKS {
            let candidate: Vec<f64> = x
                .iter()
                .zip(&direction)
                .map(|(p, d)| p + step * d)
                .collect();
            let (candidate_value, candidate_gradient) = objective(&candidate)?;
            if candidate_value.is_finite()
                && candidate_value <= value + SUFFICIENT_DECREASE * step * slope
            {
                accepted = Some((candidate, candidate_value, candidate_gradient));
                break;
            }
            step *= 0.5;
        }
        let Some((next, next_value, next_gradient)) = accepted else {
            return Ok(Minimum {
                point: x,
                value,
                iterations: iteration,
                converged: false,
            });
        };
        let s: Vec<f64> = next.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = next_gradient
            .iter()
            .zip(&gradient)
            .map(|(a, b)| a - b)
            .collect();
        let curvature = dot(&s, &y);
        // Only pairs of positive curvature keep the implied Hessian positive definite.
        if curvature > 1e-12 * dot(&y, &y).max(f64::MIN_POSITIVE) {
            if pairs.len() == MEMORY {
                pairs.pop_front();
            }
            pairs.push_back((s, y, 1.0 / curvature));
        }
        let decrease = value - next_value;
        x = next;
        gradient = next_gradient;
        let previous = value;
        value = next_value;
        if decrease <= RELATIVE_DECREASE * previous.abs().max(value.abs()) {
            return Ok(Minimum {
                point: x,
                value,
                iterations: iteration + 1,
                converged: max_abs(&gradient) <= tolerance,
            });
        }
    }
    let converged = max_abs(&gradient) <= tolerance;
    Ok(Minimum {
        point: x,
        value,
        iterations: max_iterations,
        converged,
    })
}

/// `-H g` for the inverse Hessian estimate `H` of the curvature pairs, scaled by the newest pair.
fn two_loop(gradient: &[f64], pairs: &VecDeque<(Vec<f64>, Vec<f64>, f64)>) -> Vec<f64> {
    let mut q = gradient.to_vec();
    let mut alphas = Vec::with_capacity(pairs.len());
    for (s, y, rho) in pairs.iter().rev() {
        let alpha = rho * dot(s, &q);
        axpy(-alpha, y, &mut q);
        alphas.push(alpha);
    }
    if let Some((s, y, _)) = pairs.back() {
        let gamma = dot(s, y) / dot(y, y);
        q.iter_mut().for_each(|v| *v *= gamma);
    }
    for ((s, y, rho), alpha) in pairs.iter().zip(alphas.into_iter().rev()) {
        let beta = rho * dot(y, &q);
        axpy(alpha - beta, s, &mut q);
    }
    q.iter_mut().for_each(|v| *v = -*v);
    q
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| p * q).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (t, v) in y.iter_mut().zip(x) {
        *t += a * v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_an_ill_conditioned_quadratic() {
        // f(x) = sum_i c_i (x_i - i)^2 / 2 with curvatures spanning three orders of magnitude.
        let curvature: Vec<f64> = (0..50).map(|i| 10f64.powf(i as f64 / 16.0)).collect();
        let mut f = |x: &[f64]| -> Result<(f64, Vec<f64>)> {
            let value = x
                .iter()
                .enumerate()
                .map(|(i, v)| curvature[i] * (v - i as f64).powi(2) / 2.0)
                .sum();
            let gradient = x
                .iter()
                .enumerate()
                .map(|(i, v)| curvature[i] * (v - i as f64))
                .collect();
            Ok((value, gradient))
        };
        let minimum = minimise(vec![0.0; 50], 2000, 1e-7, &mut f).unwrap();
        assert!(minimum.converged, "{minimum:?}");
        for (i, v) in minimum.point.iter().enumerate() {
            assert!((v - i as f64).abs() < 1e-6, "x[{i}] = {v}");
        }
    }

    #[test]
    fn finds_the_minimum_of_the_rosenbrock_valley() {
        let mut f = |x: &[f64]| -> Result<(f64, Vec<f64>)> {
            let (a, b) = (x[0], x[1]);
            let value = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
            let gradient = vec![
                -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
                200.0 * (b - a * a),
            ];
            Ok((value, gradient))
        };
        let minimum = minimise(vec![-1.2, 1.0], 1000, 1e-9, &mut f).unwrap();
        assert!((minimum.point[0] - 1.0).abs() < 1e-5, "{minimum:?}");
        assert!((minimum.point[1] - 1.0).abs() < 1e-5, "{minimum:?}");
    }

    #[test]
    fn a_start_at_the_minimum_takes_no_step() {
        let mut f = |x: &[f64]| -> Result<(f64, Vec<f64>)> { Ok((x[0] * x[0], vec![2.0 * x[0]])) };
        let minimum = minimise(vec![0.0], 10, 1e-12, &mut f).unwrap();
        assert_eq!((minimum.point, minimum.iterations), (vec![0.0], 0));
        assert!(minimum.converged);
    }
}
