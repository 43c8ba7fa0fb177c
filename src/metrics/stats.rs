//! Feature statistics for FID: streaming mean and covariance (ddof 1) in float64, the `.npz`
//! file format of the public reference statistics (float64 arrays `mu` `[d]` and `sigma`
//! `[d, d]`), and the Fréchet distance between two sets of statistics.
use anyhow::{bail, Context, Result};
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// Mean float64 `[d]` and covariance float64 `[d, d]` (ddof 1) of `n` feature vectors, on the
/// CPU. `n` is 0 when unknown (files written by other tools carry no count).
#[derive(Debug)]
pub struct Stats {
    pub mu: Tensor,
    pub sigma: Tensor,
    pub n: u64,
}

impl Clone for Stats {
    fn clone(&self) -> Stats {
        Stats {
            mu: self.mu.copy(),
            sigma: self.sigma.copy(),
            n: self.n,
        }
    }
}

impl Stats {
    /// Check shapes and convert to float64 on the CPU.
    pub fn new(mu: Tensor, sigma: Tensor, n: u64) -> Result<Stats> {
        let d = mu.size();
        if d.len() != 1 || d[0] < 1 {
            bail!("statistics: mu must be a vector [d], got shape {d:?}");
        }
        if sigma.size() != [d[0], d[0]] {
            bail!(
                "statistics: sigma must be [{0}, {0}] to match mu, got shape {1:?}",
                d[0],
                sigma.size()
            );
        }
        if !mu.is_floating_point() || !sigma.is_floating_point() {
            bail!(
                "statistics: mu and sigma must be floating point, got {:?} and {:?}",
                mu.kind(),
                sigma.kind()
            );
        }
        let mu = mu.to_device(Device::Cpu).to_kind(Kind::Double);
        let sigma = sigma.to_device(Device::Cpu).to_kind(Kind::Double);
        Ok(Stats { mu, sigma, n })
    }

    /// Feature width d.
    pub fn dim(&self) -> i64 {
        self.mu.size()[0]
    }

    /// Statistics of a whole float feature matrix `[n, d]` at once (n >= 2).
    pub fn from_features(features: &Tensor) -> Result<Stats> {
        let mut acc = StatsAccumulator::new();
        acc.add(features)?;
        acc.finish()
    }

    /// Read `mu` and `sigma` from an `.npz` (as numpy's `np.savez` writes them, compressed or
    /// not); an optional integer array `n` gives the count.
    pub fn read_npz(path: &Path) -> Result<Stats> {
        if !path.is_file() {
            bail!("{}: no such statistics file", path.display());
        }
        let arrays = Tensor::read_npz(path).with_context(|| {
            format!(
                "{}: cannot read as .npz (numpy arrays mu and sigma in float64 expected)",
                path.display()
            )
        })?;
        let mut mu = None;
        let mut sigma = None;
        let mut n = 0u64;
        for (name, t) in arrays {
            match name.as_str() {
                "mu" => mu = Some(t),
                "sigma" => sigma = Some(t),
                "n" if t.numel() == 1 => {
                    n = t.to_kind(Kind::Int64).reshape([1]).int64_value(&[0]).max(0) as u64
                }
                _ => {}
            }
        }
        let (Some(mu), Some(sigma)) = (mu, sigma) else {
            bail!(
                "{}: an FID statistics file must hold arrays `mu` and `sigma`",
                path.display()
            );
        };
        Stats::new(mu, sigma, n).with_context(|| format!("reading {}", path.display()))
    }

    /// Write `mu`, `sigma` (float64) and `n` (int64 `[1]`) as an uncompressed `.npz`, through a
    /// temporary file renamed into place ([`crate::run::atomic_write_with`]).
    pub fn write_npz(&self, path: &Path) -> Result<()> {
        let n = Tensor::from_slice(&[self.n as i64]);
        crate::run::atomic_write_with(path, |tmp| {
            Tensor::write_npz(
                &[
                    ("mu", &self.mu.to_kind(Kind::Double)),
                    ("sigma", &self.sigma.to_kind(Kind::Double)),
                    ("n", &n),
                ],
                tmp,
            )
            .with_context(|| format!("cannot write {}", tmp.display()))
        })
    }
}

/// Running sums for the mean and covariance of feature batches, in float64, on the device of
/// the first batch. The sums are of `x - c` where `c` is the first batch's mean, which keeps
/// the covariance accurate when the mean is large against the spread.
#[derive(Default)]
pub struct StatsAccumulator {
    shift: Option<Tensor>,
    sum: Option<Tensor>,
    xtx: Option<Tensor>,
    n: u64,
}

impl StatsAccumulator {
    pub fn new() -> StatsAccumulator {
        StatsAccumulator::default()
    }

    /// Add a float `[b, d]` batch of features.
    pub fn add(&mut self, features: &Tensor) -> Result<()> {
        let sz = features.size();
        if sz.len() != 2 || !features.is_floating_point() {
            bail!(
                "features must be a float matrix [n, d], got {:?} {:?}",
                features.kind(),
                sz
            );
        }
        if sz[0] == 0 {
            return Ok(());
        }
        let _guard = tch::no_grad_guard();
        let x = features.detach().to_kind(Kind::Double);
        let shift = match &self.shift {
            Some(s) if s.size()[0] != sz[1] => {
                bail!(
                    "features of width {} after batches of width {}",
                    sz[1],
                    s.size()[0]
                );
            }
            Some(s) => s.to_device(x.device()),
            None => {
                let m = x.mean_dim(0, false, Kind::Double);
                self.shift = Some(m.shallow_clone());
                m
            }
        };
        let x = x - shift;
        let s = x.sum_dim_intlist(0, false, Kind::Double);
        let p = x.tr().mm(&x);
        match (&mut self.sum, &mut self.xtx) {
            (Some(a), Some(b)) => {
                *a += s.to_device(a.device());
                *b += p.to_device(b.device());
            }
            _ => {
                self.sum = Some(s);
                self.xtx = Some(p);
            }
        }
        self.n += sz[0] as u64;
        Ok(())
    }

    /// Number of feature vectors added.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Mean and covariance (ddof 1) of everything added; needs at least 2 vectors.
    pub fn finish(&self) -> Result<Stats> {
        let (Some(shift), Some(sum), Some(xtx)) = (&self.shift, &self.sum, &self.xtx) else {
            bail!("no features were added: statistics need at least 2 images");
        };
        if self.n < 2 {
            bail!(
                "statistics of {} image(s): the covariance needs at least 2",
                self.n
            );
        }
        let n = self.n as f64;
        let sum = sum.to_device(Device::Cpu);
        let xtx = xtx.to_device(Device::Cpu);
        let m = &sum / n;
        let outer = m.unsqueeze(1).mm(&m.unsqueeze(0));
        let sigma = (xtx - outer * n) / (n - 1.0);
        // Exactly symmetric, as np.cov's result is.
        let sigma = (&sigma + sigma.tr()) * 0.5;
        let mu = m + shift.to_device(Device::Cpu);
        Stats::new(mu, sigma, self.n)
    }
}

/// The Fréchet distance between two Gaussians (FID when the statistics are Inception
/// features): `|mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2)`, in float64, with
/// `tr sqrt(S1 S2)` the sum of the square roots of the eigenvalues of the symmetric
/// `sqrt(S1) S2 sqrt(S1)` (tiny negative eigenvalues from rounding are taken as 0).
pub fn frechet_distance(a: &Stats, b: &Stats) -> Result<f64> {
    if a.dim() != b.dim() {
        bail!(
            "the two statistics have different widths ({} and {}): they come from different feature extractors",
            a.dim(),
            b.dim()
        );
    }
    let _guard = tch::no_grad_guard();
    let diff = &a.mu - &b.mu;
    let mean_term = diff.dot(&diff).double_value(&[]);
    let tr_a = a.sigma.trace().double_value(&[]);
    let tr_b = b.sigma.trace().double_value(&[]);
    let tr_sqrt = trace_sqrt_product(&a.sigma, &b.sigma)?;
    let fid = mean_term + tr_a + tr_b - 2.0 * tr_sqrt;
    if !fid.is_finite() {
        bail!("the Fréchet distance is not finite (the statistics hold NaN or infinite values)");
    }
    Ok(fid)
}

/// `tr sqrt(S1 S2)` for symmetric positive semi-definite float64 `[d, d]` matrices.
pub fn trace_sqrt_product(s1: &Tensor, s2: &Tensor) -> Result<f64> {
    let sym = |m: &Tensor| (m + m.tr()) * 0.5;
    let (w, v) = sym(s1)
        .f_linalg_eigh("L")
        .context("eigendecomposition of the first covariance failed")?;
    let root = w.clamp_min(0.0).sqrt();
    let sqrt_s1 = (&v * root.unsqueeze(0)).mm(&v.tr());
    let m = sym(&sqrt_s1.mm(s2).mm(&sqrt_s1));
    let ev = m
        .f_linalg_eigvalsh("L")
        .context("eigenvalues of sqrt(S1) S2 sqrt(S1) failed")?;
    Ok(ev.clamp_min(0.0).sqrt().sum(Kind::Double).double_value(&[]))
}
