//! The statistics of a comparison: mean and sample standard deviation, Welch's one-sided
//! t-test (with the Student-t distribution function computed from the regularised incomplete
//! beta function), and Kendall's rank correlation tau-b. Plain f64 arithmetic, no I/O.

/// Mean of `xs`; None when empty.
pub fn mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    Some(xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Sample variance (divisor n - 1); None for fewer than two values.
pub fn variance(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    Some(xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() - 1) as f64)
}

/// Sample standard deviation (divisor n - 1); None for fewer than two values.
pub fn std_dev(xs: &[f64]) -> Option<f64> {
    variance(xs).map(f64::sqrt)
}

/// ln Gamma(x) for x > 0 (Lanczos approximation, g = 7, nine terms; relative error ~1e-15).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).abs().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = C[0];
    for (i, c) in C.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The regularised incomplete beta function I_x(a, b) for a, b > 0 and x in [0, 1].
///
/// Evaluated with its continued fraction (Lentz's method), on the side of the symmetry
/// I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges fast.
pub fn inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - inc_beta(b, a, 1.0 - x);
    }
    let ln_front = a * x.ln() + b * (1.0 - x).ln() + ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b);
    ln_front.exp() / a / beta_fraction(a, b, x)
}

/// K = 1 + d1 / (1 + d2 / (1 + ...)) with d_{2m+1} = -(a+m)(a+b+m)x / ((a+2m)(a+2m+1)) and
/// d_{2m} = m(b-m)x / ((a+2m-1)(a+2m)), so that I_x(a, b) = x^a (1-x)^b / (a B(a, b) K).
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-15;
    let nonzero = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (mut f, mut c, mut d) = (1.0, 1.0, 0.0);
    for j in 1..=10_000u32 {
        let m = f64::from(j / 2);
        let coef = if j % 2 == 1 {
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0))
        } else {
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m))
        };
        d = 1.0 / nonzero(1.0 + coef * d);
        c = nonzero(1.0 + coef / c);
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < EPS {
            break;
        }
    }
    f
}

/// P(T <= t) for Student's t distribution with `df` > 0 degrees of freedom.
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t.is_infinite() {
        return if t > 0.0 { 1.0 } else { 0.0 };
    }
    // P(|T| > |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2).
    let two_tail = inc_beta(df / 2.0, 0.5, df / (df + t * t));
    if t > 0.0 {
        1.0 - two_tail / 2.0
    } else {
        two_tail / 2.0
    }
}

/// Welch's t-test of "mean of `a` > mean of `b`" (unequal variances).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Welch {
    /// (mean a - mean b) / standard error.
    pub t: f64,
    /// Welch-Satterthwaite degrees of freedom.
    pub df: f64,
    /// One-sided p-value: P(T >= t) under equal means.
    pub p: f64,
}

/// Welch's one-sided test that `a` has the larger mean. None when either group has fewer than
/// two values or both have zero variance (the test is undefined there, as in SciPy).
pub fn welch_greater(a: &[f64], b: &[f64]) -> Option<Welch> {
    let (va, vb) = (variance(a)?, variance(b)?);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (sa, sb) = (va / na, vb / nb);
    let se2 = sa + sb;
    if se2 <= 0.0 {
        return None;
    }
    let t = (mean(a)? - mean(b)?) / se2.sqrt();
    let df = se2 * se2 / (sa * sa / (na - 1.0) + sb * sb / (nb - 1.0));
    Some(Welch {
        t,
        df,
        p: 1.0 - student_t_cdf(t, df),
    })
}

/// Kendall's tau-b of paired values (ties in either variable handled as tau-b does). None for
/// fewer than two pairs, unequal lengths, or when one variable is constant.
pub fn kendall_tau(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let n = x.len();
    let (mut concordant, mut discordant, mut x_ties, mut y_ties) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let dx = x[i] - x[j];
            let dy = y[i] - y[j];
            if dx == 0.0 {
                x_ties += 1;
            }
            if dy == 0.0 {
                y_ties += 1;
            }
            if dx != 0.0 && dy != 0.0 {
                if (dx > 0.0) == (dy > 0.0) {
                    concordant += 1;
                } else {
                    discordant += 1;
                }
            }
        }
    }
    let pairs = (n * (n - 1) / 2) as i64;
    let denom = (((pairs - x_ties) * (pairs - y_ties)) as f64).sqrt();
    if denom == 0.0 {
        return None;
    }
    Some((concordant - discordant) as f64 / denom)
}

/// The Mann-Whitney U test of "values of `a` tend to be larger than those of `b`".
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MannWhitney {
    /// U of `a`: the pairs (x in a, y in b) with x > y, ties counting one half.
    pub u: f64,
    /// One-sided p-value: P(U >= u) when the two groups come from one distribution.
    pub p: f64,
    /// `exact` (the distribution of U counted: no ties, a group of at most 8 and at most
    /// `MAX_EXACT_PAIRS` pairs) or
    /// `asymptotic` (normal approximation with tie and continuity correction).
    pub method: &'static str,
}

/// The Mann-Whitney U test that `a` is stochastically larger than `b`, on ranks, so one
/// extreme value counts as one rank. The method follows SciPy's `mannwhitneyu` with
/// `method="auto"`: exact when a group has at most 8 values and there are no ties (and, unlike
/// SciPy, at most `MAX_EXACT_PAIRS` pairs), else the
/// normal approximation with tie correction and continuity correction. None when a group is
/// empty.
pub fn mann_whitney_greater(a: &[f64], b: &[f64]) -> Option<MannWhitney> {
    if a.is_empty() || b.is_empty() || a.iter().chain(b).any(|x| x.is_nan()) {
        return None;
    }
    let (n1, n2) = (a.len(), b.len());
    let mut u = 0.0;
    for x in a {
        for y in b {
            u += if x > y {
                1.0
            } else if x == y {
                0.5
            } else {
                0.0
            };
        }
    }
    // Tie groups over the pooled values.
    let mut all: Vec<f64> = a.iter().chain(b).copied().collect();
    all.sort_by(|x, y| x.total_cmp(y));
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1] == all[i] {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    if tie_term == 0.0 && n1.min(n2) <= 8 && n1 * n2 <= MAX_EXACT_PAIRS {
        return Some(MannWhitney {
            u,
            p: exact_u_upper_tail(n1, n2, u.round() as usize),
            method: "exact",
        });
    }
    let (f1, f2) = (n1 as f64, n2 as f64);
    let n = f1 + f2;
    let mu = f1 * f2 / 2.0;
    let var = f1 * f2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    if var <= 0.0 {
        // Every value equal: no evidence either way.
        return Some(MannWhitney {
            u,
            p: 1.0,
            method: "asymptotic",
        });
    }
    let z = (u - mu - 0.5) / var.sqrt();
    Some(MannWhitney {
        u,
        p: 0.5 * erfc(z / std::f64::consts::SQRT_2),
        method: "asymptotic",
    })
}

/// Largest n1 x n2 counted exactly: beyond it (e.g. 8 searches against 10,000 random
/// architectures) counting would take seconds to minutes, and the normal approximation
/// agrees to a few 1e-4 there.
pub const MAX_EXACT_PAIRS: usize = 5_000;

/// P(U >= u) for groups of `n1` and `n2` distinct values drawn from one distribution: the
/// share of the C(n1 + n2, n1) orderings whose U is at least `u`. Counted by recursion on the
/// largest value (in the first group it adds the second group's size to U), one row per size
/// of the larger group, so memory is (smaller + 1) x (n1 n2 + 1) counts. U's distribution is
/// the same with the groups swapped.
fn exact_u_upper_tail(n1: usize, n2: usize, u: usize) -> f64 {
    let (big, small) = (n1.max(n2), n1.min(n2));
    let max_u = big * small;
    // prev[j][k]: orderings of i - 1 values of the big group and j of the small one with U = k,
    // U counting the pairs where the big group's value is larger.
    let mut prev = vec![vec![0f64; max_u + 1]; small + 1];
    for row in prev.iter_mut() {
        row[0] = 1.0;
    }
    for _ in 1..=big {
        let mut cur = vec![vec![0f64; max_u + 1]; small + 1];
        cur[0][0] = 1.0;
        for j in 1..=small {
            for k in 0..=max_u {
                let from_big = if k >= j { prev[j][k - j] } else { 0.0 };
                cur[j][k] = from_big + cur[j - 1][k];
            }
        }
        prev = cur;
    }
    let all = &prev[small];
    let total: f64 = all.iter().sum();
    all[u.min(max_u + 1)..].iter().sum::<f64>() / total
}

/// The complementary error function, erfc(x) = 1 - erf(x) (the Chebyshev fit of Numerical
/// Recipes' `erfcc`, fractional error below 1.2e-7 everywhere).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}
