//! The registry of metrics: every metric by name, and the parsing of `--metric` and
//! `--select-by` against it. Above the metrics (`is`, `fid`, `kid`, `prc`), which implement
//! `metric::Metric` and know nothing of the list.
use anyhow::{bail, Result};

use super::metric::{Metric, Selectable};

/// Every metric, by name. Adding a metric: one line here.
pub static METRICS: &[&dyn Metric] = &[
    &super::is::InceptionScoreMetric,
    &super::fid::Fid,
    &super::kid::Kid,
    &super::prc::PrecisionRecall,
];

/// The metric named `name` (any case).
pub fn lookup(name: &str) -> Option<&'static dyn Metric> {
    let name = name.trim().to_ascii_lowercase();
    METRICS.iter().copied().find(|m| m.name() == name)
}

/// The metric names joined for messages: `is, fid, kid, pr`.
pub fn known() -> String {
    METRICS
        .iter()
        .map(|m| m.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parse a comma-separated list (`is,fid,kid,pr`, any order and case; repeats ignored) in
/// registry order. `flag` names the option in errors.
pub fn parse_list(s: &str, flag: &str) -> Result<Vec<&'static dyn Metric>> {
    let mut want = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match lookup(part) {
            Some(m) => want.push(m.name()),
            None => bail!(
                "{flag}: '{part}' is not a known metric; use any of {}",
                known()
            ),
        }
    }
    if want.is_empty() {
        bail!(
            "{flag} '{s}': name at least one metric of {} (e.g. {flag} is,fid)",
            known()
        );
    }
    Ok(METRICS
        .iter()
        .copied()
        .filter(|m| want.contains(&m.name()))
        .collect())
}

/// The selectable quantity `name` (`fid`, `is`, `kid`, `precision`, `recall`) and the metric
/// that gives it.
pub fn selection(name: &str) -> Result<(&'static dyn Metric, Selectable)> {
    let n = name.trim().to_ascii_lowercase();
    for m in METRICS {
        if let Some(s) = m.selectable().iter().find(|s| s.name == n) {
            return Ok((*m, *s));
        }
    }
    let all: Vec<&str> = METRICS
        .iter()
        .flat_map(|m| m.selectable().iter().map(|s| s.name))
        .collect();
    bail!(
        "--select-by '{name}' is not known; use one of {}",
        all.join(", ")
    )
}
