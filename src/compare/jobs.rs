//! The jobs of a comparison, phase by phase, and the architectures it trains.
use anyhow::Result;
use serde::Serialize;
use std::path::{Path, PathBuf};

use super::{paper_label, random_label, search_label, Layout, Plan, DEFAULT_STRATEGY};
use crate::arch::Arch;
use crate::launch::{Job, Restart};
use crate::run::RunFiles;

/// Every search of the plan, as one job each (finished ones too: the launcher's batch always
/// holds the same jobs, and a resumed one skips those whose `best.json` exists).
pub fn search_jobs(plan: &Plan, layout: &Layout) -> Vec<Job> {
    plan.searches()
        .into_iter()
        .map(|(strategy, seed)| {
            let dir = layout.search_dir(&strategy, seed);
            let mut args = vec!["--preset".to_string(), plan.preset.clone()];
            args.extend(plan.dataset_args(true));
            if strategy != DEFAULT_STRATEGY {
                args.extend(["--strategy".into(), strategy.clone()]);
            }
            args.extend(plan.search_args.iter().cloned());
            Job {
                name: format!("search-{}", search_label(&strategy, seed)),
                global: plan.global_args(seed),
                command: "search".into(),
                args,
                result: Some(RunFiles::of(&dir).best_arch()),
                run_dir: dir,
                resume_args: plan.resume_args(),
                restart: Restart::Resume,
            }
        })
        .collect()
}

/// Why an architecture is trained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Rank `rank` (from 1) of the search `search`'s top-K.
    Top {
        search: String,
        rank: usize,
    },
    /// The search's `best.json` when it is not among the trained top-K.
    Best {
        search: String,
    },
    Random,
    Paper,
}

/// One architecture to train and evaluate.
#[derive(Debug, Clone)]
pub struct Entry {
    pub label: String,
    /// The strategy for search results, `random` or `paper`.
    pub group: String,
    pub role: Role,
    pub arch_file: PathBuf,
}

/// The architecture files of a finished search: its top-K ranks `1..=n` (as many as exist, at
/// most `n`) and `best.json`.
fn search_files(dir: &Path, n: usize) -> Vec<(usize, PathBuf)> {
    (1..=n)
        .map(|r| (r, RunFiles::of(dir).top_arch(r)))
        .take_while(|(_, f)| f.is_file())
        .collect()
}

/// Every architecture to train: the top-K of each finished search (plus its best.json when
/// that is another one), the random ones and the paper's.
pub fn entries(plan: &Plan, layout: &Layout) -> Result<Vec<Entry>> {
    let mut v = Vec::new();
    for (strategy, seed) in plan.searches() {
        let dir = layout.search_dir(&strategy, seed);
        let best = RunFiles::of(&dir).best_arch();
        if !best.is_file() {
            continue;
        }
        let search = search_label(&strategy, seed);
        let best_vec = Arch::load(&best)?.to_vector();
        let mut best_is_top = false;
        for (rank, f) in search_files(&dir, plan.topk_train) {
            best_is_top |= Arch::load(&f)?.to_vector() == best_vec;
            v.push(Entry {
                label: format!("{search}-top{rank}"),
                group: super::group_name(&strategy),
                role: Role::Top {
                    search: search.clone(),
                    rank,
                },
                arch_file: f,
            });
        }
        if !best_is_top {
            v.push(Entry {
                label: format!("{search}-best"),
                group: super::group_name(&strategy),
                role: Role::Best {
                    search: search.clone(),
                },
                arch_file: best,
            });
        }
    }
    for i in 0..plan.random_archs.len() {
        let label = random_label(i);
        v.push(Entry {
            arch_file: layout.arch_file(&label),
            label,
            group: super::RANDOM_GROUP.into(),
            role: Role::Random,
        });
    }
    for p in &plan.paper {
        let label = paper_label(p);
        v.push(Entry {
            arch_file: layout.arch_file(&label),
            label,
            group: "paper".into(),
            role: Role::Paper,
        });
    }
    Ok(v)
}

/// Every training of every entry (entry, run directory name, seed): first one training of
/// each entry, then the second of each, and so on, so that a comparison cut short has whole
/// rounds.
fn trainings<'a>(plan: &Plan, entries: &'a [Entry]) -> Vec<(&'a Entry, String, u64)> {
    (0..plan.train_seeds)
        .flat_map(|j| {
            entries.iter().map(move |e| {
                let (name, seed) = plan.training(&e.label, j);
                (e, name, seed)
            })
        })
        .collect()
}

/// The trainings of every entry, `plan.train_seeds` each (result: the run's
/// `generator.safetensors`).
pub fn train_jobs(plan: &Plan, layout: &Layout, entries: &[Entry]) -> Vec<Job> {
    trainings(plan, entries)
        .into_iter()
        .map(|(e, training, seed)| {
            let dir = layout.train_dir(&training);
            let mut args = vec![
                "--arch".to_string(),
                e.arch_file.display().to_string(),
                "--preset".into(),
                plan.preset.clone(),
                "--steps".into(),
                plan.train_steps.to_string(),
            ];
            args.extend(plan.dataset_args(true));
            args.extend(plan.train_args.iter().cloned());
            Job {
                name: format!("train-{training}"),
                global: plan.global_args(seed),
                command: "train".into(),
                args,
                result: Some(RunFiles::of(&dir).generator()),
                run_dir: dir,
                resume_args: plan.resume_args(),
                restart: Restart::Resume,
            }
        })
        .collect()
}

/// One evaluation per training and scorer: `autogan eval TRAIN_DIR ... --json-out
/// TRAIN_DIR/eval-<scorer>.json`, a step the launcher simply runs again when its file is
/// missing. Every training is scored with the plan's seed (the same latents).
pub fn eval_jobs(plan: &Plan, layout: &Layout, entries: &[Entry]) -> Vec<Job> {
    let mut jobs = Vec::new();
    for (_, training, _) in trainings(plan, entries) {
        let dir = layout.train_dir(&training);
        for scorer in &plan.scorers {
            let out = layout.eval_file(&training, scorer);
            let mut args = vec![dir.display().to_string()];
            args.extend(["--scorer".into(), scorer.clone(), "--metric".into()]);
            args.extend(["is,fid".into(), "--fid-ref".into(), fid_ref(plan)]);
            args.extend(["--num-images".into(), plan.eval_images.to_string()]);
            args.extend(plan.dataset_args(true));
            args.extend(["--json-out".into(), out.display().to_string()]);
            jobs.push(Job {
                name: format!("eval-{training}-{scorer}"),
                global: plan.global_args(plan.seed),
                command: "eval".into(),
                args,
                run_dir: dir.clone(),
                resume_args: Vec::new(),
                restart: Restart::Rerun,
                result: Some(out),
            });
        }
    }
    jobs
}

/// One job per finished search: `autogan arch score` of every architecture of the comparison
/// (random, paper and every search's found ones) on that search's final supernet, so that the
/// supernet's ranking can be checked against the trained scores over all of them, not only
/// over the search's own top-K.
pub fn supernet_jobs(plan: &Plan, layout: &Layout, entries: &[Entry]) -> Vec<Job> {
    let mut files: Vec<String> = Vec::new();
    for e in entries {
        let f = e.arch_file.display().to_string();
        if !files.contains(&f) {
            files.push(f);
        }
    }
    let mut jobs = Vec::new();
    for (strategy, seed) in plan.searches() {
        let dir = layout.search_dir(&strategy, seed);
        if !RunFiles::of(&dir).best_arch().is_file() {
            continue;
        }
        let out = supernet_scores_file(&dir);
        let mut base = vec!["score".to_string(), dir.display().to_string()];
        base.extend(files.iter().cloned());
        base.extend(["--images".into(), plan.eval_images.to_string()]);
        base.extend(plan.dataset_args(false));
        let mut args = base.clone();
        args.extend(["--json-out".into(), out.display().to_string()]);
        jobs.push(Job {
            name: format!("supernet-{}", search_label(&strategy, seed)),
            global: plan.global_args(plan.seed),
            command: "arch".into(),
            args,
            run_dir: dir.clone(),
            resume_args: Vec::new(),
            restart: Restart::Rerun,
            result: Some(out),
        });
        // The rewards of the earlier stages: each architecture's prefix on the supernet of
        // the end of that stage (searches that kept those checkpoints).
        for stage in 0..crate::arch::NUM_CELLS - 1 {
            if !RunFiles::of(&dir).stage_checkpoint(stage).is_file() {
                continue;
            }
            let out = supernet_stage_scores_file(&dir, stage);
            let mut args = base.clone();
            args.extend([
                "--stage".into(),
                stage.to_string(),
                "--json-out".into(),
                out.display().to_string(),
            ]);
            jobs.push(Job {
                name: format!("supernet-stage{stage}-{}", search_label(&strategy, seed)),
                global: plan.global_args(plan.seed),
                command: "arch".into(),
                args,
                run_dir: dir.clone(),
                resume_args: Vec::new(),
                restart: Restart::Rerun,
                result: Some(out),
            });
        }
    }
    jobs
}

/// Where [`supernet_jobs`] writes a search's stage-`stage` rewards of the architectures'
/// prefixes.
pub fn supernet_stage_scores_file(search_dir: &Path, stage: usize) -> PathBuf {
    search_dir.join(format!("supernet-scores-stage{stage}.json"))
}

/// Where [`supernet_jobs`] writes the scores of a search's supernet.
pub fn supernet_scores_file(search_dir: &Path) -> PathBuf {
    search_dir.join("supernet-scores.json")
}

/// The FID reference of the evaluations: the data set itself (its name or folder).
fn fid_ref(plan: &Plan) -> String {
    plan.dataset.clone().unwrap_or_else(|| "shapes".into())
}
