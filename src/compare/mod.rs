//! A comparison of search strategies with random architectures and the paper's ones: the plan
//! (what to run, here), the jobs that carry it out (`jobs.rs`: searches, trainings,
//! evaluations, supernet scores, each an `autogan` command line that `launch::run_jobs` runs
//! here or on Slurm), their state on disk (what is finished), and the results gathered into
//! groups with their statistics (`results.rs`).
//!
//! Layout of a comparison directory `DIR`:
//!
//! ```text
//! DIR/config.json                   the plan (and the launcher settings it started with)
//! DIR/archs/random-01.json ...      the random architectures, paper-a.json ...
//! DIR/search/<strategy>-s<seed>/    one search run directory per strategy and seed
//! DIR/train/<label>/                one training run directory per trained architecture,
//!     eval-classifier.json          with the result of `autogan eval --json-out` per scorer
//! DIR/train/<label>.seed<N>/        its further trainings (--train-seeds), seed N
//! DIR/search/<...>/supernet-scores.json  every trained architecture scored on that supernet
//! DIR/jobs/search.json, train.json, eval.json, supernet.json   each phase's batch record
//! DIR/jobs/<phase>/<task>.log, .exit             each job's output and exit status
//! DIR/compare.json                  the results
//! ```
//!
//! A job is finished when its result file exists (a search's `best.json`, a training's
//! `generator.safetensors`, an evaluation's `eval-<scorer>.json`); an unfinished run directory
//! with a checkpoint is resumed, one without a checkpoint is moved aside and started again.
mod jobs;
mod results;
mod state;
pub mod stats;

pub use jobs::*;
pub use results::*;
pub use state::*;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::PathBuf;

use crate::arch::{Arch, NUM_ARCHS};
use crate::data::{mix, SplitMix64};
use crate::launch::LauncherConfig;

/// The strategies `autogan search` knows (its default first).
pub fn strategies() -> Vec<&'static str> {
    use clap::ValueEnum;
    crate::config::StrategyKind::value_variants()
        .iter()
        .map(|k| k.name())
        .collect()
}

/// The search strategy of a search run without `--strategy`.
pub const DEFAULT_STRATEGY: &str = "reinforce";
/// The paper's CIFAR-10 architectures, by letter (`configs/arch/autogan_cifar10_<x>.json`).
pub const PAPER: [&str; 3] = ["a", "b", "c"];
/// The group of the random architectures (uniform over the space, no search) in the results.
pub const RANDOM_GROUP: &str = "random";

/// The group of a strategy's found architectures in the results: its name, except that the
/// `random` strategy (random search on the shared supernet) is `random-search`, so that it is
/// never mixed up with the random architectures' group `random`.
pub fn group_name(strategy: &str) -> String {
    match strategy {
        "random" => "random-search".to_string(),
        s => s.to_string(),
    }
}

/// Mixed with the base seed to draw the random architectures.
const RANDOM_ARCH_STREAM: u64 = 0x7a4d_0a5c;

/// What a comparison runs. Written to `config.json`; a resumed comparison reads it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Search strategies, each searched with `seeds` seeds.
    pub strategies: Vec<String>,
    /// Searches per strategy; search i uses seed `seed + i`.
    pub seeds: u64,
    /// Seed of the trainings, the evaluations, the random architectures and the first search.
    pub seed: u64,
    /// Random architectures (uniform over the 14-integer space).
    pub random: usize,
    /// The paper's architectures to train (letters of `PAPER`).
    pub paper: Vec<String>,
    /// G steps of every training.
    pub train_steps: u64,
    /// Trainings of every architecture, with seeds `seed`, `seed + 1`, ...; its scores are the
    /// means over them (one short training's score varies by about as much as architectures
    /// do). 1 in plans written before this field existed.
    #[serde(default = "one")]
    pub train_seeds: u64,
    /// Preset of the searches and the trainings (name or JSON file).
    pub preset: String,
    /// Data set (name or folder); None = the built-in shapes set.
    pub dataset: Option<String>,
    pub data_dir: Option<PathBuf>,
    /// Generated images per evaluation.
    pub eval_images: usize,
    /// Architectures of each search's top-K trained (for the rank correlation); at least 1.
    pub topk_train: usize,
    /// Extra flags of every search (after the plan's own).
    #[serde(default)]
    pub search_args: Vec<String>,
    /// Extra flags of every training (after the plan's own).
    #[serde(default)]
    pub train_args: Vec<String>,
    /// Scorers of the evaluations: `classifier`, and `inception` where its weights exist.
    pub scorers: Vec<String>,
    /// `--device` of the jobs.
    pub device: String,
    /// `--threads` of the jobs.
    pub threads: Option<i32>,
    /// The random architectures, drawn when the plan was made.
    pub random_archs: Vec<Vec<i64>>,
}

fn one() -> u64 {
    1
}

/// The most trainings per architecture (`--train-seeds`).
pub const MAX_TRAIN_SEEDS: u64 = 100;

impl Plan {
    /// Refuse settings that cannot give a comparison, naming the flag.
    pub fn validate(&self) -> Result<()> {
        for s in &self.strategies {
            if !strategies().contains(&s.as_str()) {
                bail!(
                    "--strategies: '{s}' is not a search strategy; use some of {}",
                    strategies().join(", ")
                );
            }
        }
        let mut seen = self.strategies.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != self.strategies.len() {
            bail!("--strategies names a strategy twice: {:?}", self.strategies);
        }
        for p in &self.paper {
            if !PAPER.contains(&p.as_str()) {
                bail!("--paper: '{p}' is not one of the paper's architectures a, b, c (or none)");
            }
        }
        if self.train_steps == 0 {
            bail!("--train-steps 0: every architecture needs at least 1 G step of training");
        }
        if self.train_seeds == 0 || self.train_seeds > MAX_TRAIN_SEEDS {
            bail!(
                "--train-seeds {}: train every architecture 1 to {MAX_TRAIN_SEEDS} times",
                self.train_seeds
            );
        }
        if self.seed.checked_add(self.train_seeds - 1).is_none() {
            bail!(
                "--seed {} with --train-seeds {}: training j uses seed {} + j, which passes the \
                 largest seed; give a smaller --seed",
                self.seed,
                self.train_seeds,
                self.seed
            );
        }
        if self.eval_images < 10 {
            bail!(
                "--eval-images {}: the IS needs at least 10 images (one per split); 1000 or more \
                 give usable numbers",
                self.eval_images
            );
        }
        if self.topk_train == 0 {
            bail!("--topk-train 0: train at least the top architecture of each search");
        }
        const OWN: [&str; 13] = [
            "--out",
            "--resume",
            "--arch",
            "--steps",
            "--preset",
            "--dataset",
            "--data-dir",
            "--strategy",
            "--seed",
            "--device",
            "--threads",
            "--quiet",
            "--json",
        ];
        for (what, args) in [
            ("--search-args", &self.search_args),
            ("--train-args", &self.train_args),
        ] {
            for a in args {
                let flag = a.split('=').next().unwrap_or_default();
                if OWN.contains(&flag) || flag == "-q" {
                    bail!(
                        "{what}: {flag} is set by the comparison itself (use the compare flags \
                         --preset, --train-steps, --dataset, --data-dir, --strategies, --seed, \
                         --out or --resume instead)"
                    );
                }
            }
        }
        check_counts(self.seed, self.seeds, self.strategies.len(), self.random)?;
        if self.search_count() == 0 && self.random == 0 && self.paper.is_empty() {
            bail!("nothing to compare: give --seeds, --random or --paper");
        }
        Ok(())
    }

    fn search_count(&self) -> u64 {
        self.seeds * self.strategies.len() as u64
    }

    /// The global flags of every job: seed, quiet (the launcher adds device and threads).
    fn global_args(&self, seed: u64) -> Vec<String> {
        vec![
            "--seed".to_string(),
            seed.to_string(),
            "--quiet".to_string(),
        ]
    }

    /// `--data-dir`, which a continued run needs again (its directory records the data set's
    /// name, not where named data sets live).
    fn resume_args(&self) -> Vec<String> {
        self.dataset_args(false)
    }

    fn dataset_args(&self, with_name: bool) -> Vec<String> {
        let mut a = Vec::new();
        if let (true, Some(d)) = (with_name, &self.dataset) {
            a.extend(["--dataset".to_string(), d.clone()]);
        }
        if let Some(d) = &self.data_dir {
            a.extend(["--data-dir".to_string(), d.display().to_string()]);
        }
        a
    }

    /// The trainings of the architecture `label`: (the name of its run directory under
    /// `train/`, its seed). The first is `label` itself with the plan's seed (so a plan of
    /// one training per architecture has the layout it always had), training j is
    /// `<label>.seed<seed + j>`.
    pub fn trainings(&self, label: &str) -> Vec<(String, u64)> {
        (0..self.train_seeds)
            .map(|j| self.training(label, j))
            .collect()
    }

    /// Training `j` (from 0) of the architecture `label`, as in [`Plan::trainings`].
    pub fn training(&self, label: &str, j: u64) -> (String, u64) {
        match j {
            0 => (label.to_string(), self.seed),
            _ => (format!("{label}.seed{}", self.seed + j), self.seed + j),
        }
    }

    /// The searches: (strategy, seed), strategies in the plan's order.
    pub fn searches(&self) -> Vec<(String, u64)> {
        let mut v = Vec::new();
        for s in &self.strategies {
            for i in 0..self.seeds {
                v.push((s.clone(), self.seed + i));
            }
        }
        v
    }
}

/// The most searches per strategy (`--seeds`) and random architectures (`--random`) of one
/// comparison: far beyond any real budget, and small enough that a plan is made at once.
pub const MAX_SEEDS: u64 = 1000;
pub const MAX_RANDOM: usize = 10_000;

/// Refuse counts no comparison can run (before anything is drawn or written), and a base seed
/// whose last search's seed would not fit in 64 bits.
pub fn check_counts(seed: u64, seeds: u64, strategies: usize, random: usize) -> Result<()> {
    if seeds > MAX_SEEDS {
        bail!(
            "--seeds {seeds}: at most {MAX_SEEDS} searches per strategy (each one is a whole \
             search)"
        );
    }
    if random > MAX_RANDOM {
        bail!(
            "--random {random}: at most {MAX_RANDOM} random architectures (each one is a whole \
             training)"
        );
    }
    if strategies > 0 && seeds > 0 && seed.checked_add(seeds - 1).is_none() {
        bail!(
            "--seed {seed} with --seeds {seeds}: search i uses seed {seed} + i, which passes \
             the largest seed ({}); give a smaller --seed",
            u64::MAX
        );
    }
    Ok(())
}

/// `n` architectures, each decision uniform in its range (uniform over all 373,248), drawn
/// from `seed`.
pub fn random_archs(n: usize, seed: u64) -> Vec<Arch> {
    let mut rng = SplitMix64::new(mix(seed, RANDOM_ARCH_STREAM));
    (0..n)
        .filter_map(|_| Arch::from_index(rng.below(NUM_ARCHS as u64) as usize))
        .collect()
}

/// The file of the paper's architecture `letter` in the configs folder.
pub fn paper_arch_file(letter: &str) -> PathBuf {
    crate::config::configs_dir()
        .join("arch")
        .join(format!("autogan_cifar10_{letter}.json"))
}

/// Paths inside a comparison directory.
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn config(&self) -> PathBuf {
        crate::run::RunFiles::of(&self.root).config()
    }
    pub fn results(&self) -> PathBuf {
        crate::run::RunFiles::of(&self.root).compare_results()
    }
    pub fn arch_file(&self, label: &str) -> PathBuf {
        self.root.join("archs").join(format!("{label}.json"))
    }
    pub fn search_dir(&self, strategy: &str, seed: u64) -> PathBuf {
        self.root.join("search").join(search_label(strategy, seed))
    }
    pub fn train_dir(&self, label: &str) -> PathBuf {
        self.root.join("train").join(label)
    }
    pub fn eval_file(&self, label: &str, scorer: &str) -> PathBuf {
        self.train_dir(label).join(format!("eval-{scorer}.json"))
    }
}

pub fn search_label(strategy: &str, seed: u64) -> String {
    format!("{strategy}-s{seed}")
}

pub fn random_label(i: usize) -> String {
    format!("random-{:02}", i + 1)
}

pub fn paper_label(letter: &str) -> String {
    format!("paper-{letter}")
}

/// Write the plan (with the launcher settings it starts with) and the architecture files of a
/// new comparison into `layout.root`, which must not exist or be empty. The paper's files are
/// checked first, so nothing is written when one is missing.
pub fn create(layout: &Layout, plan: &Plan, launcher: &LauncherConfig) -> Result<()> {
    plan.validate()?;
    let mut paper = Vec::new();
    for p in &plan.paper {
        let f = paper_arch_file(p);
        let arch = Arch::load(&f).with_context(|| {
            format!(
                "the paper's architecture '{p}' is read from {} (set AUTOGAN_CONFIGS to the \
                 project's configs folder)",
                f.display()
            )
        })?;
        paper.push((p.clone(), arch));
    }
    if layout.root.exists()
        && std::fs::read_dir(&layout.root)
            .with_context(|| format!("{} cannot be read", layout.root.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} already exists and is not empty: pass --resume {} to continue that comparison, \
             or choose another --out",
            layout.root.display(),
            layout.root.display()
        );
    }
    std::fs::create_dir_all(layout.root.join("archs"))
        .with_context(|| format!("cannot create {}", layout.root.display()))?;
    for (i, v) in plan.random_archs.iter().enumerate() {
        let label = random_label(i);
        let arch = Arch::from_vector(v)?;
        crate::run::atomic_write(
            &layout.arch_file(&label),
            arch.to_json_pretty(Some(&label)).as_bytes(),
        )?;
    }
    for (p, arch) in &paper {
        let label = paper_label(p);
        crate::run::atomic_write(
            &layout.arch_file(&label),
            arch.to_json_pretty(Some(&label)).as_bytes(),
        )?;
    }
    let v = json!({
        "command": "compare",
        "autogan_version": env!("CARGO_PKG_VERSION"),
        "plan": plan,
        "launcher": launcher,
    });
    crate::run::atomic_write(
        &layout.config(),
        serde_json::to_string_pretty(&v)?.as_bytes(),
    )
}

/// The plan of an existing comparison directory.
pub fn load_plan(layout: &Layout) -> Result<Plan> {
    let path = layout.config();
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{}: not a comparison directory (no readable config.json); start one with \
             `autogan compare --out DIR`",
            layout.root.display()
        )
    })?;
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("{}: invalid JSON", path.display()))?;
    if v["command"] != "compare" {
        bail!(
            "{} was written by `autogan {}`, not by `autogan compare`",
            path.display(),
            v["command"].as_str().unwrap_or("?")
        );
    }
    let plan: Plan = serde_json::from_value(v["plan"].clone())
        .with_context(|| format!("{}: not a comparison plan of this version", path.display()))?;
    plan.validate()
        .with_context(|| format!("the plan in {}", path.display()))?;
    Ok(plan)
}

/// What a job does, for wall-time totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Search,
    Train,
    Eval,
    /// Every trained architecture scored on each search's supernet (`arch score`).
    Supernet,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Search => "search",
            Phase::Train => "train",
            Phase::Eval => "eval",
            Phase::Supernet => "supernet",
        }
    }

    /// The phases in the order they run; a phase's name is also its batch name
    /// (`DIR/jobs/<name>.json`) and the prefix of its jobs' names.
    pub const ALL: [Phase; 4] = [Phase::Search, Phase::Train, Phase::Eval, Phase::Supernet];

    fn of_job(name: &str) -> Option<Phase> {
        Phase::ALL
            .into_iter()
            .find(|p| name.starts_with(&format!("{}-", p.name())))
    }
}
