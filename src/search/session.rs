//! A search run: the outer loop over iterations (stage data at each stage's size, shared
//! training and the strategy's rewards in `Search::run_iteration`, `search.jsonl`, TensorBoard,
//! sample grids, a checkpoint after every iteration, Ctrl-C), the reader of a recorded search
//! that stopped before its first checkpoint, and the end of a search: the top-K files, the
//! optional final training of the top-K through the launcher, and `best.json`. The loop reports
//! to a [`SearchObserver`]; the command draws and prints.
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Instant;
use tch::Device;

use super::run::Search;
use crate::arch::Arch;
use crate::config::{SearchConfig, TrainConfig};
use crate::data::{DataSpec, Dataset};
use crate::launch::{self, Finished, LauncherConfig};
use crate::metrics::metric::Selectable;
use crate::metrics::Scorer;
use crate::run::RunFiles;
use crate::run::{self, Jsonl};
use crate::tb::mirror::{self, LogKind, RunLog};

/// What a search loop tells the one who runs it; every method defaults to nothing.
pub trait SearchObserver {
    /// The loop starts after iteration `iteration` of `total`.
    fn start(&mut self, _iteration: u64, _total: u64) {}
    /// Where the current iteration is (a progress bar's message).
    fn status(&mut self, _text: &str) {}
    /// A line for people (an iteration's summary, a final training's score).
    fn line(&mut self, _text: &str) {}
    /// Iteration `iteration` (1-based) is done and checkpointed.
    fn iteration(&mut self, _iteration: u64) {}
    /// The loop stopped early (an error, a Ctrl-C) or ran to the end (`finished`).
    fn stop(&mut self, _finished: bool) {}
}

/// An observer that observes nothing.
pub struct Silent;
impl SearchObserver for Silent {}

/// How a search loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchEnd {
    /// Every iteration ran; the final top-K is ranked.
    Done,
    /// Ctrl-C during `iteration` (1-based): the checkpoint before it is kept and the iteration
    /// is repeated on resume.
    InterruptedDuring { iteration: u64 },
    /// Ctrl-C after `iteration`, whose checkpoint was written.
    InterruptedAfter { iteration: u64 },
}

/// The data a search trains on (the built-in set drawn with data seed 0, as training's).
pub fn data_spec(cfg: &SearchConfig, data_dir: Option<&Path>) -> DataSpec {
    DataSpec::for_training(
        cfg.dataset.as_deref(),
        data_dir,
        cfg.img_size,
        cfg.shapes_count,
        0,
    )
}

/// The search's iterations from where `search` stands to its last, in the run directory `dir`
/// (config.json written; locked by `run_dir`, which is kept once the first checkpoint is
/// written), on `full` (the data at the output size, resized for each stage) with `scorer`.
pub fn run_loop(
    search: &mut Search,
    dir: &Path,
    full: &Dataset,
    scorer: &dyn Scorer,
    run_dir: run::RunDir,
    device: Device,
    obs: &mut dyn SearchObserver,
) -> Result<SearchEnd> {
    let jsonl = Jsonl::open_keep(
        &RunFiles::of(dir).search_log(),
        "iteration",
        Some(search.iteration),
    )?;
    let kind = LogKind::Search {
        ctrl_steps: search.cfg.log_steps_per_iteration(),
    };
    let tb = RunLog::event_writer(dir, search.cfg.tensorboard, kind, search.iteration)?;
    let mut log = RunLog::new(jsonl, tb, kind);
    let ckpt = RunFiles::of(dir).last_checkpoint();
    // The first checkpoint, before iteration 1: a search stopped at any point can be resumed.
    if !ckpt.is_file() {
        search.save_checkpoint(&ckpt)?;
    }
    let _lock = run_dir.keep();
    run::interrupt::catch_ctrl_c()?;
    let start = Instant::now();
    let total = search.cfg.total_iterations();
    obs.start(search.iteration, total);
    let mut stage_data: [Option<Dataset>; 3] = [None, None, None];
    while !search.is_done() {
        let stage = search.stage();
        // An episode trains every stage.
        let needed = match search.cfg.episodic() {
            true => vec![0, 1, 2],
            false => vec![stage],
        };
        for stage in needed {
            if stage_data[stage].is_some() {
                continue;
            }
            let size = search.cfg.stage_size(stage);
            let d = if size == full.img_size() {
                full.take(full.len())
            } else {
                full.resized(size)
            };
            stage_data[stage] = Some(d.to_device(device));
        }
        let data = stage_data[stage].as_ref().context("stage data")?;
        let it = search.iteration + 1;
        obs.status(&format!(
            "iteration {it}, stage {stage} ({0}x{0})",
            search.cfg.stage_size(stage)
        ));
        let mut on_step = |s: u64, n: u64| {
            if s == 1 || s == n || s.is_multiple_of(20) {
                obs.status(&format!(
                    "iteration {it}, stage {stage}: shared step {s}/{n}"
                ));
            }
        };
        let t_iteration = Instant::now();
        let result = match search.cfg.episodic() {
            true => {
                let [d0, d1, d2] = stage_data.each_ref();
                let (Some(d0), Some(d1), Some(d2)) = (d0, d1, d2) else {
                    bail!("an episode needs the data at every stage's size");
                };
                search.run_episode([d0, d1, d2], scorer, &mut on_step)
            }
            false => search.run_iteration(data, scorer, &mut on_step),
        };
        let rep = match result {
            Ok(rep) => rep,
            Err(e) if run::interrupt::is_interrupted(&e) => {
                obs.stop(false);
                return Ok(SearchEnd::InterruptedDuring { iteration: it });
            }
            Err(e) => {
                obs.stop(false);
                return Err(e);
            }
        };
        for line in &rep.ctrl {
            log.write(line)?;
        }
        let best_ctrl = rep
            .ctrl
            .iter()
            .filter_map(|l| l["reward"].as_f64())
            .fold(f64::NAN, f64::max);
        let last_arch = rep
            .ctrl
            .last()
            .and_then(|l| l["archs"][0].as_array().cloned())
            .unwrap_or_default();
        log.write(&json!({
            "kind": "iteration",
            "iteration": rep.iteration,
            "stage": rep.stage,
            "d_steps": rep.d_steps,
            "g_steps": rep.g_steps,
            "d_loss": rep.d_loss,
            "g_loss": rep.g_loss,
            "reset": rep.reset,
            "resets": search.resets,
            "beam": search.beam.as_ref().map(|b| b.to_json()),
            "scorer": scorer.name(),
            "images_per_s": (rep.d_steps * search.cfg.batch_size as u64) as f64
                / t_iteration.elapsed().as_secs_f64().max(1e-9),
            "wall_s": start.elapsed().as_secs_f64(),
        }))?;
        // The end of a stage: its best architecture (the first kept prefix, or the top-1).
        if search.is_done() || search.stage() > rep.stage {
            let best = match &search.beam {
                Some(b) if !search.is_done() => b.entries.first().map(|e| (&e.prefix, e.score)),
                _ => search.final_topk.first().map(|s| (&s.vector, s.score)),
            };
            if let (Some(tb), Some((v, score))) = (log.tb(), best) {
                let text = mirror::best_arch_text(v, score, scorer.name());
                let tag = format!("best_arch/cell{}", rep.stage + 1);
                tb.text(&tag, rep.iteration, &text)?;
            }
        }
        if !last_arch.is_empty() {
            let v: Vec<i64> = last_arch.iter().filter_map(|x| x.as_i64()).collect();
            let arch = Arch::from_prefix_vector(&v)?;
            let imgs = crate::data::from_gan(&search.sample_grid(&arch));
            let grid = run::grid(&imgs, 8)?;
            run::save_rgb(
                &grid,
                &RunFiles::of(dir)
                    .samples()
                    .join(format!("iter_{:03}.png", rep.iteration)),
            )?;
            if let Some(tb) = log.tb() {
                tb.image("samples", rep.iteration, &grid)?;
            }
        }
        if search.cfg.episodic() {
            let last = rep.ctrl.last().cloned().unwrap_or_default();
            obs.line(&format!(
                "episode {}/{total}{}: {} IS {:.3}, FID {:.2}, {}; D {:.3} G {:.3}, {} D steps{}",
                rep.iteration,
                if last["exploit"] == true {
                    " (exploit)"
                } else {
                    ""
                },
                scorer.name(),
                last["is"].as_f64().unwrap_or(f64::NAN),
                last["fid"].as_f64().unwrap_or(f64::NAN),
                last_arch
                    .iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
                rep.d_loss,
                rep.g_loss,
                rep.d_steps,
                if rep.reset { ", dynamic reset" } else { "" },
            ));
        } else {
            obs.line(&format!(
            "iteration {}/{total} stage {}: D {:.3} G {:.3}, {} D steps{}, best {} IS of the controller {:.3}",
            rep.iteration, rep.stage, rep.d_loss, rep.g_loss, rep.d_steps,
            if rep.reset { ", dynamic reset" } else { "" },
            scorer.name(), best_ctrl
        ));
        }
        search.save_checkpoint(&ckpt)?;
        if !search.is_done() && search.stage() > rep.stage {
            // The supernet that gave this stage's rewards, kept for measuring them later.
            search.save_checkpoint(&RunFiles::of(dir).stage_checkpoint(rep.stage))?;
        }
        obs.iteration(rep.iteration);
        if run::interrupt::requested() && !search.is_done() {
            obs.stop(false);
            return Ok(SearchEnd::InterruptedAfter {
                iteration: search.iteration,
            });
        }
    }
    obs.stop(true);
    Ok(SearchEnd::Done)
}

/// Where a new search writes when no `--out` is given: `runs/search-<data set>-<time>`.
pub fn default_dir(cfg: &SearchConfig) -> std::path::PathBuf {
    let data = DataSpec::named(cfg.dataset.as_deref(), None).display_name();
    run::default_run_dir(&format!("search-{}", data.replace('/', "_")))
}

/// Open the run directory of a search to continue it: lock it, then load its checkpoint, or,
/// stopped before its first checkpoint, start again as its `config.json` recorded.
pub fn resume(dir: &Path, device: Device) -> Result<(Search, run::lock::RunLock)> {
    let files = RunFiles::of(dir);
    let ckpt = files.last_checkpoint();
    if !ckpt.is_file() && !files.config().is_file() {
        bail!(
            "{}: no search checkpoint to resume from (expected {}) and no config.json: not a \
             run directory of autogan search",
            dir.display(),
            ckpt.display()
        );
    }
    let lock = run::lock::lock_run_dir(dir)?;
    let search = if ckpt.is_file() {
        Search::load_checkpoint(&ckpt, device)?
    } else {
        recorded_search(dir, &ckpt, device)?
    };
    Ok((search, lock))
}

/// Create the run directory of a new search: its `config.json` (the search's settings, seed,
/// device, scorer and the final training's launcher) and its `archs/` folder.
pub fn create_run_dir(
    dir: &Path,
    search: &Search,
    seed: u64,
    device: Device,
    scorer: &str,
    launcher: &LauncherConfig,
) -> Result<run::NewRunDir> {
    let new_dir = run::NewRunDir::create(dir)?;
    let files = RunFiles::of(dir);
    std::fs::create_dir_all(files.archs())?;
    let snapshot = json!({
        "command": "search",
        "autogan_version": env!("CARGO_PKG_VERSION"),
        "search": search.cfg,
        "strategy": search.cfg.strategy,
        "reward_budget_per_iteration": search.cfg.reward_budget_per_iteration(),
        "seed": seed,
        "device": format!("{device:?}"),
        "scorer": scorer,
        "launcher": launcher,
    });
    run::atomic_write(
        &files.config(),
        serde_json::to_string_pretty(&snapshot)?.as_bytes(),
    )?;
    Ok(new_dir)
}

/// The launcher of a search's final training as the run recorded it: in its job record, or
/// else in its `config.json`; None when neither holds one.
pub fn recorded_launcher(dir: &Path) -> Result<Option<LauncherConfig>> {
    if let Some(r) = launch::recorded(dir, FINAL)? {
        return Ok(Some(r.launcher));
    }
    let config = RunFiles::of(dir).config();
    let snap: Value = crate::config::read_json(&config).unwrap_or_default();
    if snap["launcher"].is_null() {
        return Ok(None);
    }
    let l = serde_json::from_value(snap["launcher"].clone())
        .with_context(|| format!("{}: invalid \"launcher\"", config.display()))?;
    Ok(Some(l))
}

/// A fresh search from the `config.json` of a search run that has no checkpoint yet.
pub fn recorded_search(dir: &Path, ckpt: &Path, device: Device) -> Result<Search> {
    let (v, seed, config) = crate::run::recorded_config(dir, ckpt, "search")?;
    let mut recorded = v["search"].clone();
    crate::config::RewardBn::fill_recorded(&mut recorded);
    let cfg: SearchConfig = serde_json::from_value(recorded)
        .with_context(|| format!("{}: the \"search\" section is invalid", config.display()))?;
    Search::new(cfg, seed, device)
}

/// Write the top-K files and best.json of a finished search, after the final training of
/// the top-K (when `final_train_steps` > 0) through `launcher`; `scorer` names the search's
/// scorer, `data_dir` is passed to the trainings.
pub fn finish(
    search: &Search,
    dir: &Path,
    scorer: &str,
    launcher: &LauncherConfig,
    opts: &launch::Options,
    data_dir: Option<&Path>,
    obs: &mut dyn SearchObserver,
) -> Result<Finish> {
    let archs_dir = RunFiles::of(dir).archs();
    std::fs::create_dir_all(&archs_dir)?;
    let mut rows = Vec::new();
    for (i, s) in search.final_topk.iter().enumerate() {
        let arch = Arch::from_vector(&s.vector)?;
        rows.push((i + 1, arch, s.clone(), None::<f64>));
    }
    if rows.is_empty() {
        bail!(
            "the search ended without a ranked top-K (checkpoint {} is from an unfinished search?)",
            dir.display()
        );
    }
    let mut unfinished = Vec::new();
    let mut final_runs = Vec::new();
    // What the final selection reads (validated with the configuration).
    let (_, sel) = crate::metrics::registry::selection(&search.cfg.final_select_by)?;
    let label = sel.name.to_uppercase();
    if search.cfg.final_train_steps > 0 {
        // The jobs train archs/topI.json: written first, with the supernet's scores.
        for (rank, arch, s, _) in &rows {
            let mut v = arch.to_json();
            v["name"] = json!(format!("top{rank}"));
            v["scores"] = json!({ format!("{scorer}_is"): s.score });
            run::atomic_write(
                &archs_dir.join(format!("top{rank}.json")),
                serde_json::to_string_pretty(&v)?.as_bytes(),
            )?;
        }
        let jobs = final_jobs(search, dir, rows.len(), data_dir)?;
        let outcomes = match launch::run_jobs(launcher, FINAL, &jobs, dir, opts)? {
            Finished::Done(o) => o,
            Finished::Submitted { job_ids } => {
                return Ok(Finish::Submitted {
                    jobs: jobs.len(),
                    job_ids,
                })
            }
        };
        for (row, o) in rows.iter_mut().zip(&outcomes) {
            let fid = match o.ok() {
                true => final_score(o, scorer, search.cfg.final_train_steps, &sel),
                false => Err(anyhow::anyhow!("{}", o.describe())),
            };
            match fid {
                Ok(fid) => {
                    obs.line(&format!(
                        "final training of top-{}: {scorer} {label} {fid:.6}",
                        row.0
                    ));
                    row.3 = Some(fid);
                }
                Err(e) => unfinished.push(format!("{e:#}")),
            }
            final_runs.push(
                json!({"rank": row.0, "run_dir": o.run_dir, "state": o.state,
                "exit_code": o.exit_code, "log": o.log, "slurm_job": o.slurm_job,
                (sel.key): row.3}),
            );
        }
        if rows.iter().all(|r| r.3.is_none()) {
            bail!(
                "none of the {} final trainings finished, so best.json was not chosen:\n  {}\n\
                 fix the cause and run them again with `autogan search --resume {}`",
                rows.len(),
                unfinished.join("\n  "),
                dir.display()
            );
        }
    }
    let best = match search.cfg.final_train_steps {
        0 => 0,
        // Lower is better for FID and KID, higher for IS, precision and recall; an unfinished
        // training ranks last either way.
        _ => {
            let key = |r: &(usize, Arch, _, Option<f64>)| match (r.3, sel.higher_is_better) {
                (Some(v), true) => -v,
                (Some(v), false) => v,
                (None, _) => f64::INFINITY,
            };
            rows.iter()
                .enumerate()
                .min_by(|a, b| key(a.1).total_cmp(&key(b.1)))
                .map(|(i, _)| i)
                .unwrap_or(0)
        }
    };
    let mut out = Vec::new();
    for (rank, arch, s, fid) in &rows {
        let mut v = arch.to_json();
        let mut scores = json!({ format!("{scorer}_is"): s.score });
        if let Some(f) = fid {
            scores[format!(
                "{scorer}_{}_after_{}_steps",
                sel.name, search.cfg.final_train_steps
            )] = json!(f);
        }
        v["name"] = json!(format!("top{rank}"));
        v["scores"] = scores.clone();
        run::atomic_write(
            &archs_dir.join(format!("top{rank}.json")),
            serde_json::to_string_pretty(&v)?.as_bytes(),
        )?;
        out.push(json!({"rank": rank, "vector": arch.to_vector(), "scores": scores}));
    }
    let (_, best_arch, _, _) = &rows[best];
    let mut b = best_arch.to_json();
    b["name"] = json!("best");
    b["scores"] = out[best]["scores"].clone();
    run::atomic_write(
        &RunFiles::of(dir).best_arch(),
        serde_json::to_string_pretty(&b)?.as_bytes(),
    )?;
    let summary = json!({
        "run_dir": dir.display().to_string(),
        "best": best_arch.to_vector(),
        "selected_by": if search.cfg.final_train_steps > 0 { format!("{scorer} {label} after final training") } else { format!("{scorer} IS of the supernet") },
        "topk": out,
        "resets": search.resets,
        "scorer": scorer,
        "final_training": final_runs,
    });
    Ok(Finish::Ranked(Ranking {
        rows: rows
            .into_iter()
            .map(|(rank, arch, s, final_value)| Ranked {
                rank,
                arch,
                score: s.score,
                final_value,
            })
            .collect(),
        best,
        label,
        summary,
        unfinished,
    }))
}

/// One architecture of a finished search's top-K.
#[derive(Debug, Clone)]
pub struct Ranked {
    /// From 1.
    pub rank: usize,
    pub arch: Arch,
    /// The supernet's score (the scorer's IS).
    pub score: f64,
    /// The selected metric after the final training, when it ran and finished.
    pub final_value: Option<f64>,
}

/// The ranking `finish` wrote.
#[derive(Debug, Clone)]
pub struct Ranking {
    pub rows: Vec<Ranked>,
    /// Index into `rows` of best.json.
    pub best: usize,
    /// The selected metric's name for tables (`FID`).
    pub label: String,
    /// What `search --json` prints.
    pub summary: Value,
    /// The final trainings that did not finish (best.json chosen among the others).
    pub unfinished: Vec<String>,
}

/// How `finish` ended.
#[derive(Debug, Clone)]
pub enum Finish {
    /// The final training was submitted to Slurm; `search --resume` collects it.
    Submitted { jobs: usize, job_ids: Vec<String> },
    /// The top-K files and best.json are written.
    Ranked(Ranking),
}

/// The batch name of the final training (RUN/jobs/final.json, RUN/jobs/final.sbatch).
pub const FINAL: &str = "final";

/// The top-K retraining as one `autogan train` job per architecture: archs/topI.json at the
/// search's sizes (the preset RUN/final/train.json), with the search's seed, into
/// RUN/final/topI; each job scores its EMA generator after the last step with the search's
/// scorer on `final_eval_images` images (its train.jsonl's last "eval" line).
fn final_jobs(
    search: &Search,
    dir: &Path,
    k: usize,
    data_dir: Option<&Path>,
) -> Result<Vec<launch::Job>> {
    let c = &search.cfg;
    let tc = TrainConfig {
        gan: c.gan.clone(),
        steps: c.final_train_steps,
        eval_every: c.final_train_steps,
        eval_images: c.final_eval_images,
        metrics: c.final_metrics.clone(),
        select_by: c.final_select_by.clone(),
        ..TrainConfig::default()
    };
    tc.validate()
        .context("the final training's configuration (from the search's)")?;
    let dir = launch::absolute(dir)?;
    let final_dir = RunFiles::of(&dir).final_dir();
    std::fs::create_dir_all(&final_dir)
        .with_context(|| format!("cannot create {}", final_dir.display()))?;
    let preset = RunFiles::of(&dir).final_preset();
    let p = json!({"description": "the final training of this search's top-K architectures",
                   "train": tc});
    run::atomic_write(&preset, serde_json::to_string_pretty(&p)?.as_bytes())?;
    let mut extra = Vec::new();
    if let Some(d) = data_dir {
        extra = vec![
            "--data-dir".into(),
            launch::absolute(d)?.display().to_string(),
        ];
    }
    Ok((1..=k)
        .map(|rank| launch::Job {
            name: format!("top{rank}"),
            global: vec!["--seed".into(), search.seed.to_string()],
            command: "train".into(),
            args: [
                "--preset".into(),
                preset.display().to_string(),
                "--arch".into(),
                RunFiles::of(&dir).top_arch(rank).display().to_string(),
            ]
            .into_iter()
            .chain(extra.iter().cloned())
            .collect(),
            run_dir: final_dir.join(format!("top{rank}")),
            resume_args: extra.clone(),
            ..launch::Job::default()
        })
        .collect())
}

/// The value of `sel` (FID by default) a finished final-training job logged after its last
/// step, by `scorer`.
fn final_score(o: &launch::Outcome, scorer: &str, steps: u64, sel: &Selectable) -> Result<f64> {
    let r = crate::run::result::read_train_result(&o.run_dir).with_context(|| o.describe())?;
    let e = r.eval.with_context(|| {
        format!(
            "{}: no evaluation in {}/train.jsonl",
            o.name,
            o.run_dir.display()
        )
    })?;
    let v = e.values.get(sel.key).copied().unwrap_or(f64::NAN);
    if e.step != steps || e.scorer != scorer || !v.is_finite() {
        bail!(
            "{}: its last evaluation ({} {} {v} at step {}) is not the {scorer} {} after {steps} \
             steps that the selection needs (log {})",
            o.name,
            e.scorer,
            sel.key,
            e.step,
            sel.key,
            o.log.display()
        );
    }
    Ok(v)
}
