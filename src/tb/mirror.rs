//! What goes to TensorBoard under which tag and step: every line of `train.jsonl` /
//! `search.jsonl` as it is written ([`RunLog`]), so the curves and the logs hold the same
//! numbers; the commands add the sample grids and the stages' best architectures.
//!
//! Tags and steps:
//! - train: `train/<field>` (d_loss, g_loss, lr, images_per_s) at the G step;
//!   evaluations `eval/<field>` (is_mean, is_std, fid, ...) at the G step; the grid
//!   `samples` at the G step.
//! - search, per iteration (step = iteration, 1-based): `search/<field>` (d_loss, g_loss,
//!   d_steps, g_steps, images_per_s, resets, stage, and `reset`: 1 where a dynamic reset
//!   happened, else 0); the grid `samples`; at each stage's end `best_arch/cell<k>` (text).
//! - search, per reward-phase step (step = (iteration - 1) * ctrl_steps + ctrl_step):
//!   `controller/<field>` (reward, and REINFORCE's baseline, advantage, entropy, loss),
//!   `controller/score_mean`, `controller/score_max`, and REINFORCE's distribution over each
//!   decision of the stage's cell, `controller/prob/cell<k>/<decision>/<value>` (the mean over
//!   the batch of the per-sample probabilities).
use anyhow::Result;
use serde_json::Value;

use super::EventWriter;
use crate::run::Jsonl;

/// Which log a [`RunLog`] holds: the two commands number their events differently.
#[derive(Debug, Clone, Copy)]
pub enum LogKind {
    Train,
    /// `ctrl_steps`: reward-phase steps per iteration (numbers the controller's events).
    Search {
        ctrl_steps: u64,
    },
}

impl LogKind {
    /// For a run resumed after G step / iteration `done`: whether an event written before
    /// stays (one the resumed run will not write again).
    pub fn keep(self, done: u64, tag: &str, step: i64) -> bool {
        let limit = match self {
            LogKind::Search { ctrl_steps } if tag.starts_with("controller/") => done * ctrl_steps,
            _ => done,
        };
        step <= limit as i64
    }
}

/// A run's JSONL log and, unless TensorBoard is off, its event file.
pub struct RunLog {
    jsonl: Jsonl,
    tb: Option<EventWriter>,
    kind: LogKind,
}

impl RunLog {
    /// `tb`: the run's event writer, or None for `--no-tensorboard`.
    pub fn new(jsonl: Jsonl, tb: Option<EventWriter>, kind: LogKind) -> RunLog {
        RunLog { jsonl, tb, kind }
    }

    /// The event writer of `run_dir` for `kind` when `on`: a new event file, after dropping
    /// from the earlier ones (of a resumed run) the events after G step / iteration `done`,
    /// which the run writes again.
    pub fn event_writer(
        run_dir: &std::path::Path,
        on: bool,
        kind: LogKind,
        done: u64,
    ) -> Result<Option<EventWriter>> {
        if !on {
            return Ok(None);
        }
        let keep = |tag: &str, step: i64| kind.keep(done, tag, step);
        Ok(Some(EventWriter::resume(&super::tb_dir(run_dir), &keep)?))
    }

    /// Append `line` to the JSONL log and its values to the event file.
    pub fn write(&mut self, line: &Value) -> Result<()> {
        self.jsonl.write(line)?;
        if let Some(tb) = self.tb.as_mut() {
            for (tag, step, value) in scalars(self.kind, line) {
                tb.scalar(&tag, step, value)?;
            }
        }
        Ok(())
    }

    /// The event file, for images and texts (None when TensorBoard is off).
    pub fn tb(&mut self) -> Option<&mut EventWriter> {
        self.tb.as_mut()
    }
}

/// The scalars (tag, step, value) a log line stands for; none for a line it does not know.
pub fn scalars(kind: LogKind, line: &Value) -> Vec<(String, u64, f64)> {
    let u = |k: &str| line[k].as_u64();
    let mut out = Vec::new();
    let (prefix, step, skip): (&str, u64, &[&str]) = match (kind, line["kind"].as_str()) {
        (LogKind::Train, Some("eval")) => match u("step") {
            Some(s) => ("eval", s, &["step", "num_images"]),
            None => return out,
        },
        (LogKind::Train, None) => match u("step") {
            Some(s) => ("train", s, &["step", "wall_s"]),
            None => return out,
        },
        (LogKind::Search { .. }, Some("iteration")) => match u("iteration") {
            Some(s) => ("search", s, &["iteration", "wall_s"]),
            None => return out,
        },
        (LogKind::Search { ctrl_steps }, Some("controller")) => {
            let (Some(it), Some(c)) = (u("iteration"), u("ctrl_step")) else {
                return out;
            };
            let step = (it.max(1) - 1) * ctrl_steps + c;
            let scores: Vec<f64> = line["scores"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_f64)
                .collect();
            if !scores.is_empty() {
                let mean = scores.iter().sum::<f64>() / scores.len() as f64;
                let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                out.push(("controller/score_mean".into(), step, mean));
                out.push(("controller/score_max".into(), step, max));
            }
            if let (Some(probs), Some(stage)) = (line["probs"].as_array(), u("stage")) {
                for (d, dist) in probs.iter().enumerate() {
                    for (v, p) in dist.as_array().into_iter().flatten().enumerate() {
                        if let Some(p) = p.as_f64() {
                            let tag = format!(
                                "controller/prob/cell{}/{}",
                                stage + 1,
                                decision_value(d, v as i64)
                            );
                            out.push((tag, step, p));
                        }
                    }
                }
            }
            ("controller", step, &["iteration", "stage", "ctrl_step"])
        }
        _ => return out,
    };
    if let Some(m) = line.as_object() {
        for (k, v) in m {
            if skip.contains(&k.as_str()) {
                continue;
            }
            let x = match v {
                Value::Bool(b) => Some(f64::from(u8::from(*b))),
                Value::Number(n) => n.as_f64(),
                _ => None,
            };
            if let Some(x) = x.filter(|x| x.is_finite()) {
                out.push((format!("{prefix}/{k}"), step, x));
            }
        }
    }
    out
}

/// `<decision>/<value>` of value `v` of decision `d` of a cell, in the words of arch files.
pub fn decision_value(d: usize, v: i64) -> String {
    use crate::arch::{ConvBlock, Norm, Up};
    let name = match d {
        0 => ConvBlock::from_token(v).map(|c| format!("conv/{}", c.name())),
        1 => Norm::from_token(v).map(|n| format!("norm/{}", n.name())),
        2 => Up::from_token(v).map(|u| format!("up/{}", u.name())),
        3 => Some(format!("shortcut/{}", if v == 1 { "on" } else { "off" })),
        _ => None,
    };
    name.unwrap_or_else(|| match d {
        4 => format!("skip/{v}"),
        _ => format!("decision{d}/{v}"),
    })
}

/// The Markdown of a stage's best architecture (`vector`: its prefix; `score`: the scorer's
/// IS of the supernet with it).
pub fn best_arch_text(vector: &[i64], score: f64, scorer: &str) -> String {
    let words = crate::arch::Arch::from_prefix_vector(vector)
        .map(|a| a.describe())
        .unwrap_or_default();
    let lines: Vec<String> = words.lines().map(|l| format!("- {l}")).collect();
    format!(
        "vector `{vector:?}`, {scorer} IS of the supernet {score:.4}\n\n{}",
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn controller_lines_number_their_steps_across_iterations() {
        let kind = LogKind::Search { ctrl_steps: 3 };
        let line = json!({"kind": "controller", "iteration": 2, "stage": 0, "ctrl_step": 1,
                          "scores": [1.0, 3.0], "reward": 2.5, "archs": [[0, 1, 2, 1]],
                          "probs": [[0.25, 0.75]]});
        let s = scalars(kind, &line);
        let get = |t: &str| s.iter().find(|x| x.0 == t).map(|x| (x.1, x.2));
        assert_eq!(get("controller/reward"), Some((4, 2.5)));
        assert_eq!(get("controller/score_mean"), Some((4, 2.0)));
        assert_eq!(get("controller/score_max"), Some((4, 3.0)));
        assert_eq!(get("controller/prob/cell1/conv/pre"), Some((4, 0.75)));
        assert_eq!(get("controller/iteration"), None);
        assert!(kind.keep(1, "controller/reward", 3) && !kind.keep(1, "controller/reward", 4));
        assert!(kind.keep(1, "search/d_loss", 1) && !kind.keep(1, "search/d_loss", 2));
    }

    #[test]
    fn iteration_lines_mark_resets_and_skip_non_numbers() {
        let line = json!({"kind": "iteration", "iteration": 5, "d_loss": 1.5, "reset": true,
                          "g_loss": f64::NAN, "scorer": "classifier", "wall_s": 3.0});
        let mut s = scalars(LogKind::Search { ctrl_steps: 2 }, &line);
        s.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            s,
            vec![
                ("search/d_loss".to_string(), 5, 1.5),
                ("search/reset".to_string(), 5, 1.0)
            ]
        );
    }
}
