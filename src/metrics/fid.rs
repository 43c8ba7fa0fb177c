//! `fid`: the Fréchet distance between the evaluated images' feature statistics and the
//! reference's (the computation itself is `stats::frechet_distance`).
use anyhow::Result;

use super::metric::{need_real_stats, Collected, Metric, Needs, RealSide, Selectable};

/// `fid` (lower is better). Rounding noise below 0 is reported as 0.
pub struct Fid;

impl Metric for Fid {
    fn name(&self) -> &'static str {
        "fid"
    }
    fn describe(&self) -> &'static str {
        "Fréchet Inception Distance (lower is better)"
    }
    fn needs(&self) -> Needs {
        Needs {
            stats: true,
            real_stats: true,
            ..Default::default()
        }
    }
    fn keys(&self) -> &'static [&'static str] {
        &["fid"]
    }
    fn selectable(&self) -> &'static [Selectable] {
        &[Selectable {
            name: "fid",
            key: "fid",
            higher_is_better: false,
        }]
    }
    fn compute(&self, gen: &Collected, real: Option<&RealSide>) -> Result<Vec<f64>> {
        let real = need_real_stats(real, "FID")?;
        let Some(st) = gen.stats.as_ref() else {
            anyhow::bail!("FID: the scoring pass kept no statistics");
        };
        Ok(vec![super::frechet_distance(st, real)?.max(0.0) + 0.0])
    }
    fn format(&self, v: &[f64]) -> String {
        format!("{:.3}", v[0])
    }
    fn label(&self) -> &'static str {
        "FID"
    }
}
