//! A comparison of search strategies with random architectures and the paper's ones: the plan
//! (what to run), the jobs that carry it out (searches, trainings, evaluations, each an
//! `autogan` command line that `launch::run_jobs` runs here or on Slurm), their state on disk
//! (what is finished), and the results gathered into groups with their statistics.
//!
//! Layout of a comparison directory `DIR`:
//!
//! ```text
//! DIR/config.json                   the plan (and the launcher settings it started with)
//! DIR/archs/random-01.json ...      the random architectures, paper-a.json ...
//! DIR/search/<strategy>-s<seed>/    one search run directory per strategy and seed
//! DIR/train/<label>/                one training run directory per trained architecture,
//!     eval-classifier.json          with the result of `autogan eval --json-out` per scorer
//! DIR/jobs/search.json, train.json, eval.json    the launcher's record of each phase's batch
//! DIR/jobs/<phase>/<task>.log, .exit             each job's output and exit status
//! DIR/compare.json                  the results
//! ```
//!
//! A job is finished when its result file exists (a search's `best.json`, a training's
//! `generator.safetensors`, an evaluation's `eval-<scorer>.json`); an unfinished run directory
//! with a checkpoint is resumed, one without a checkpoint is moved aside and started again.
pub mod stats;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::arch::{Arch, NUM_ARCHS};
use crate::data::{mix, SplitMix64};
use crate::launch::{Job, LauncherConfig, Restart};

/// The strategies `autogan search` knows (its default first).
pub const STRATEGIES: [&str; 3] = ["reinforce", "random", "evolution"];
/// The search strategy of a search run without `--strategy`.
pub const DEFAULT_STRATEGY: &str = "reinforce";
/// The paper's CIFAR-10 architectures, by letter (`configs/arch/autogan_cifar10_<x>.json`).
pub const PAPER: [&str; 3] = ["a", "b", "c"];
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

impl Plan {
    /// Refuse settings that cannot give a comparison, naming the flag.
    pub fn validate(&self) -> Result<()> {
        for s in &self.strategies {
            if !STRATEGIES.contains(&s.as_str()) {
                bail!(
                    "--strategies: '{s}' is not a search strategy; use some of {}",
                    STRATEGIES.join(", ")
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
        self.root.join("config.json")
    }
    pub fn results(&self) -> PathBuf {
        self.root.join("compare.json")
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
                result: Some(dir.join("best.json")),
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
        .map(|r| (r, dir.join("archs").join(format!("top{r}.json"))))
        .take_while(|(_, f)| f.is_file())
        .collect()
}

/// Every architecture to train: the top-K of each finished search (plus its best.json when
/// that is another one), the random ones and the paper's.
pub fn entries(plan: &Plan, layout: &Layout) -> Result<Vec<Entry>> {
    let mut v = Vec::new();
    for (strategy, seed) in plan.searches() {
        let dir = layout.search_dir(&strategy, seed);
        let best = dir.join("best.json");
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
                group: strategy.clone(),
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
                group: strategy.clone(),
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
            group: "random".into(),
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

/// One training per entry (its result: the run's `generator.safetensors`).
pub fn train_jobs(plan: &Plan, layout: &Layout, entries: &[Entry]) -> Vec<Job> {
    entries
        .iter()
        .map(|e| {
            let dir = layout.train_dir(&e.label);
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
                name: format!("train-{}", e.label),
                global: plan.global_args(plan.seed),
                command: "train".into(),
                args,
                result: Some(dir.join("generator.safetensors")),
                run_dir: dir,
                resume_args: plan.resume_args(),
                restart: Restart::Resume,
            }
        })
        .collect()
}

/// One evaluation per entry and scorer: `autogan eval TRAIN_DIR ... --json-out
/// TRAIN_DIR/eval-<scorer>.json`, a step the launcher simply runs again when its file is
/// missing.
pub fn eval_jobs(plan: &Plan, layout: &Layout, entries: &[Entry]) -> Vec<Job> {
    let mut jobs = Vec::new();
    for e in entries {
        let dir = layout.train_dir(&e.label);
        for scorer in &plan.scorers {
            let out = layout.eval_file(&e.label, scorer);
            let mut args = vec![dir.display().to_string()];
            args.extend(["--scorer".into(), scorer.clone(), "--metric".into()]);
            args.extend(["is,fid".into(), "--fid-ref".into(), fid_ref(plan)]);
            args.extend(["--num-images".into(), plan.eval_images.to_string()]);
            args.extend(plan.dataset_args(true));
            args.extend(["--json-out".into(), out.display().to_string()]);
            jobs.push(Job {
                name: format!("eval-{}-{scorer}", e.label),
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
        if !dir.join("best.json").is_file() {
            continue;
        }
        let out = supernet_scores_file(&dir);
        let mut args = vec!["score".to_string(), dir.display().to_string()];
        args.extend(files.iter().cloned());
        args.extend(["--images".into(), plan.eval_images.to_string()]);
        args.extend(plan.dataset_args(false));
        args.extend(["--json-out".into(), out.display().to_string()]);
        jobs.push(Job {
            name: format!("supernet-{}", search_label(&strategy, seed)),
            global: plan.global_args(plan.seed),
            command: "arch".into(),
            args,
            run_dir: dir,
            resume_args: Vec::new(),
            restart: Restart::Rerun,
            result: Some(out),
        });
    }
    jobs
}

/// Where [`supernet_jobs`] writes the scores of a search's supernet.
pub fn supernet_scores_file(search_dir: &Path) -> PathBuf {
    search_dir.join("supernet-scores.json")
}

/// The scores of `supernet_jobs`'s file by architecture file; empty when missing.
fn read_supernet_scores(path: &Path) -> BTreeMap<String, f64> {
    let Some(v) = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
    else {
        return BTreeMap::new();
    };
    v["archs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| Some((a["file"].as_str()?.to_string(), a["score"].as_f64()?)))
        .collect()
}

/// The FID reference of the evaluations: the data set itself (its name or folder).
fn fid_ref(plan: &Plan) -> String {
    plan.dataset.clone().unwrap_or_else(|| "shapes".into())
}

/// The IS mean and FID of an `eval --json-out` file; None when missing or unreadable.
pub fn read_eval(path: &Path) -> Option<(f64, f64)> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    Some((v["is_mean"].as_f64()?, v["fid"].as_f64()?))
}

/// The supernet's score of a search's top-K file: the `<scorer>_is` entry of its `scores`.
fn supernet_score(path: &Path) -> Option<f64> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    v["scores"]
        .as_object()?
        .iter()
        .find(|(k, _)| k.ends_with("_is"))
        .and_then(|(_, s)| s.as_f64())
}

/// Mean, sample std, best and the values of one metric in one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub n: usize,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub best: Option<f64>,
    pub values: Vec<f64>,
    /// Welch's one-sided test that this group is better than the random one.
    pub vs_random: Option<stats::Welch>,
}

/// `higher_better`: IS (true) or FID (false).
pub fn summarise(values: &[f64], random: &[f64], higher_better: bool, test: bool) -> Summary {
    let best = values
        .iter()
        .copied()
        .reduce(if higher_better { f64::max } else { f64::min });
    let vs_random = if !test {
        None
    } else if higher_better {
        stats::welch_greater(values, random)
    } else {
        stats::welch_greater(random, values)
    };
    Summary {
        n: values.len(),
        mean: stats::mean(values),
        std: stats::std_dev(values),
        best,
        values: values.to_vec(),
        vs_random,
    }
}

/// The results of a comparison directory as they stand (missing evaluations are left out;
/// `complete` says whether anything is missing). `wall` gives the seconds of each finished
/// job by name.
pub fn collect(plan: &Plan, layout: &Layout, wall: &BTreeMap<String, f64>) -> Result<Value> {
    let entries = entries(plan, layout)?;
    // Complete when every search has ended and every entry has every score (checked below).
    let mut complete = true;
    let mut runs = Vec::new();
    // (entry, scorer) -> (IS, FID)
    let mut scores: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
    for e in &entries {
        let vector = Arch::load(&e.arch_file)?.to_vector();
        let mut r = json!({
            "label": e.label,
            "group": e.group,
            "role": e.role,
            "vector": vector,
            "arch_file": e.arch_file.display().to_string(),
            "train_dir": layout.train_dir(&e.label).display().to_string(),
        });
        if let Role::Top { .. } = e.role {
            r["supernet_score"] = json!(supernet_score(&e.arch_file));
        }
        for s in &plan.scorers {
            match read_eval(&layout.eval_file(&e.label, s)) {
                Some((is, fid)) => {
                    r[format!("{s}_is")] = json!(is);
                    r[format!("{s}_fid")] = json!(fid);
                    scores.insert((e.label.clone(), s.clone()), (is, fid));
                }
                None => complete = false,
            }
        }
        runs.push(r);
    }
    // The found architecture of each search: its best.json (a top-K entry or its own).
    let mut found: BTreeMap<String, String> = BTreeMap::new(); // search -> label
    for (strategy, seed) in plan.searches() {
        let search = search_label(&strategy, seed);
        let dir = layout.search_dir(&strategy, seed);
        let Ok(best) = Arch::load(&dir.join("best.json")) else {
            complete = false;
            continue;
        };
        let best = best.to_vector();
        for e in &entries {
            let mine = match &e.role {
                Role::Top { search: s, .. } | Role::Best { search: s } => s == &search,
                _ => false,
            };
            if mine && Arch::load(&e.arch_file)?.to_vector() == best {
                found.insert(search.clone(), e.label.clone());
                break;
            }
        }
    }
    for r in runs.iter_mut() {
        let label = r["label"].as_str().unwrap_or_default().to_string();
        r["found"] = json!(found.values().any(|l| *l == label));
    }
    let mut groups = Vec::new();
    let mut metrics_order = Vec::new();
    for s in &plan.scorers {
        metrics_order.push((format!("{s}_is"), s.clone(), true));
        metrics_order.push((format!("{s}_fid"), s.clone(), false));
    }
    let pick = |labels: &[String], scorer: &str, is: bool| -> Vec<f64> {
        labels
            .iter()
            .filter_map(|l| scores.get(&(l.clone(), scorer.to_string())))
            .map(|&(i, f)| if is { i } else { f })
            .collect()
    };
    let random_labels: Vec<String> = (0..plan.random_archs.len()).map(random_label).collect();
    let mut group_labels: Vec<(String, Vec<String>)> = Vec::new();
    for strategy in &plan.strategies {
        let labels = plan
            .searches()
            .iter()
            .filter(|(s, _)| s == strategy)
            .filter_map(|(s, seed)| found.get(&search_label(s, *seed)).cloned())
            .collect();
        group_labels.push((strategy.clone(), labels));
    }
    group_labels.push(("random".into(), random_labels.clone()));
    group_labels.push((
        "paper".into(),
        plan.paper.iter().map(|p| paper_label(p)).collect(),
    ));
    for (group, labels) in &group_labels {
        let mut m = serde_json::Map::new();
        for (key, scorer, is) in &metrics_order {
            let values = pick(labels, scorer, *is);
            let random = pick(&random_labels, scorer, *is);
            let s = summarise(&values, &random, *is, group != "random");
            m.insert(key.clone(), serde_json::to_value(s)?);
        }
        groups.push(json!({"group": group, "labels": labels, "metrics": m}));
    }
    // Kendall tau of the supernet's scores of each search's trained top-K against their
    // stand-alone scores (FID negated, so that +1 means the same order as "better").
    let mut kendall = Vec::new();
    let mut taus: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    // Every search's trained top-K in one list: a top-K of 2 or 3 gives a per-search tau of
    // +-1 or +-1/3, the pooled tau over all of them says more.
    let mut pooled: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for (strategy, seed) in plan.searches() {
        let search = search_label(&strategy, seed);
        let tops: Vec<&Entry> = entries
            .iter()
            .filter(|e| matches!(&e.role, Role::Top { search: s, .. } if *s == search))
            .collect();
        let supernet: Vec<Option<f64>> =
            tops.iter().map(|e| supernet_score(&e.arch_file)).collect();
        let mut k = json!({"search": search, "group": strategy, "k": tops.len(),
                           "labels": tops.iter().map(|e| e.label.clone()).collect::<Vec<_>>(),
                           "supernet_score": supernet});
        for (key, scorer, is) in &metrics_order {
            let mut xs = Vec::new();
            let mut ys = Vec::new();
            for (e, sup) in tops.iter().zip(&supernet) {
                if let (Some(x), Some(&(i, f))) =
                    (sup, scores.get(&(e.label.clone(), scorer.clone())))
                {
                    xs.push(*x);
                    ys.push(if *is { i } else { -f });
                }
            }
            let tau = stats::kendall_tau(&xs, &ys);
            let all = pooled.entry(key.clone()).or_default();
            all.0.extend(&xs);
            all.1.extend(&ys);
            k[format!("trained_{key}")] = json!(ys
                .iter()
                .map(|y| if *is { *y } else { -*y })
                .collect::<Vec<_>>());
            k[format!("tau_{key}")] = json!(tau);
            if let Some(t) = tau {
                taus.entry(key.clone()).or_default().push(t);
            }
        }
        kendall.push(k);
    }
    // The same over every trained architecture, each search's supernet scoring all of them
    // (`arch score`, with the same latents for every architecture).
    let mut kendall_all = Vec::new();
    let mut taus_all: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (strategy, seed) in plan.searches() {
        let search = search_label(&strategy, seed);
        let sup = read_supernet_scores(&supernet_scores_file(&layout.search_dir(&strategy, seed)));
        if sup.is_empty() {
            continue;
        }
        let mut k = json!({"search": search, "group": strategy});
        for (key, scorer, is) in &metrics_order {
            let (mut xs, mut ys) = (Vec::new(), Vec::new());
            for e in &entries {
                let x = sup.get(&e.arch_file.display().to_string());
                if let (Some(x), Some(&(i, f))) =
                    (x, scores.get(&(e.label.clone(), scorer.clone())))
                {
                    xs.push(*x);
                    ys.push(if *is { i } else { -f });
                }
            }
            let tau = stats::kendall_tau(&xs, &ys);
            k["n"] = json!(xs.len());
            k[format!("tau_{key}")] = json!(tau);
            if let Some(t) = tau {
                taus_all.entry(key.clone()).or_default().push(t);
            }
        }
        kendall_all.push(k);
    }
    let tau_all_mean: BTreeMap<String, Option<f64>> = taus_all
        .iter()
        .map(|(k, v)| (k.clone(), stats::mean(v)))
        .collect();
    let tau_mean: BTreeMap<String, Option<f64>> = taus
        .iter()
        .map(|(k, v)| (k.clone(), stats::mean(v)))
        .collect();
    let tau_pooled: BTreeMap<String, serde_json::Value> = pooled
        .iter()
        .map(|(k, (xs, ys))| {
            (
                k.clone(),
                json!({"n": xs.len(), "tau": stats::kendall_tau(xs, ys)}),
            )
        })
        .collect();
    let mut wall_s: BTreeMap<&str, f64> = BTreeMap::new();
    for (job, s) in wall {
        if let Some(p) = Phase::of_job(job) {
            *wall_s.entry(p.name()).or_default() += s;
        }
    }
    Ok(json!({
        "command": "compare",
        "dir": layout.root.display().to_string(),
        "complete": complete,
        "plan": plan,
        "groups": groups,
        "runs": runs,
        "kendall": kendall,
        "kendall_tau_mean": tau_mean,
        "kendall_tau_pooled": tau_pooled,
        "kendall_all": kendall_all,
        "kendall_all_tau_mean": tau_all_mean,
        "wall_s": wall_s,
    }))
}

fn num(v: &Value, digits: usize) -> String {
    v.as_f64()
        .map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

/// The results as a table for a terminal.
pub fn table(results: &Value) -> String {
    use std::fmt::Write;
    let plan = &results["plan"];
    let mut s = String::new();
    let _ = writeln!(
        s,
        "trained {} G steps each (preset {}, seed {}), {} generated images per score; \
         mean ± sample std, best; p: Welch one-sided test of \"better than random\"",
        plan["train_steps"],
        plan["preset"].as_str().unwrap_or("?"),
        plan["seed"],
        plan["eval_images"]
    );
    let scorers: Vec<String> = plan["scorers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    for sc in &scorers {
        let _ = writeln!(
            s,
            "\n{:<11} {:>2}  {:>18} {:>7} {:>7}   {:>20} {:>8} {:>7}",
            "group",
            "n",
            format!("{sc} IS"),
            "best",
            "p",
            format!("{sc} FID"),
            "best",
            "p"
        );
        for g in results["groups"].as_array().into_iter().flatten() {
            let is = &g["metrics"][format!("{sc}_is")];
            let fid = &g["metrics"][format!("{sc}_fid")];
            let pm = |m: &Value, d: usize| {
                if m["std"].is_null() {
                    num(&m["mean"], d)
                } else {
                    format!("{} ± {}", num(&m["mean"], d), num(&m["std"], d))
                }
            };
            let _ = writeln!(
                s,
                "{:<11} {:>2}  {:>18} {:>7} {:>7}   {:>20} {:>8} {:>7}",
                g["group"].as_str().unwrap_or("?"),
                is["n"],
                pm(is, 3),
                num(&is["best"], 3),
                num(&is["vs_random"]["p"], 3),
                pm(fid, 2),
                num(&fid["best"], 2),
                num(&fid["vs_random"]["p"], 3),
            );
        }
    }
    let _ = writeln!(s, "\nper architecture:");
    for r in results["runs"].as_array().into_iter().flatten() {
        let vector: Vec<i64> = r["vector"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_i64)
            .collect();
        let vector = Arch::from_vector(&vector)
            .map(|a| a.vector_string())
            .unwrap_or_default();
        let mut line = format!(
            "  {:<26} {:<35}",
            format!(
                "{}{}",
                r["label"].as_str().unwrap_or("?"),
                if r["found"] == true { " (found)" } else { "" }
            ),
            vector
        );
        for sc in &scorers {
            let _ = write!(
                line,
                "  {sc} IS {:>6}  FID {:>8}",
                num(&r[format!("{sc}_is")], 3),
                num(&r[format!("{sc}_fid")], 2)
            );
        }
        if !r["supernet_score"].is_null() {
            let _ = write!(line, "  supernet {}", num(&r["supernet_score"], 3));
        }
        let _ = writeln!(s, "{line}");
    }
    let kendall = results["kendall"].as_array().cloned().unwrap_or_default();
    if !kendall.is_empty() {
        let _ = writeln!(
            s,
            "\nKendall tau of the supernet's score of each search's trained top-K against the \
             trained score (FID negated; +1 = same order):"
        );
        for k in &kendall {
            let mut line = format!("  {:<18} k={}", k["search"].as_str().unwrap_or("?"), k["k"]);
            for sc in &scorers {
                let _ = write!(
                    line,
                    "  tau({sc} IS) {:>6}  tau({sc} FID) {:>6}",
                    num(&k[format!("tau_{sc}_is")], 3),
                    num(&k[format!("tau_{sc}_fid")], 3)
                );
            }
            let _ = writeln!(s, "{line}");
        }
        let mut line = format!("  {:<18}    ", "mean");
        for sc in &scorers {
            let _ = write!(
                line,
                "  tau({sc} IS) {:>6}  tau({sc} FID) {:>6}",
                num(&results["kendall_tau_mean"][format!("{sc}_is")], 3),
                num(&results["kendall_tau_mean"][format!("{sc}_fid")], 3)
            );
        }
        let _ = writeln!(s, "{line}");
        let pooled = &results["kendall_tau_pooled"];
        let n = pooled[format!("{}_is", scorers.first().map(|x| x.as_str()).unwrap_or(""))]["n"]
            .as_u64()
            .unwrap_or(0);
        let mut line = format!("  {:<18} n={n}", "pooled");
        for sc in &scorers {
            let _ = write!(
                line,
                "  tau({sc} IS) {:>6}  tau({sc} FID) {:>6}",
                num(&pooled[format!("{sc}_is")]["tau"], 3),
                num(&pooled[format!("{sc}_fid")]["tau"], 3)
            );
        }
        let _ = writeln!(s, "{line}");
    }
    let all = results["kendall_all"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !all.is_empty() {
        let _ = writeln!(
            s,
            "\nKendall tau of each search's supernet score (arch score, the same latents for \
             every architecture) against the trained score, over every trained architecture:"
        );
        let mut rows: Vec<(String, &Value)> = all
            .iter()
            .map(|k| {
                (
                    format!("{} n={}", k["search"].as_str().unwrap_or("?"), k["n"]),
                    k,
                )
            })
            .collect();
        rows.push(("mean".into(), &results["kendall_all_tau_mean"]));
        for (name, k) in rows {
            let mut line = format!("  {name:<24}");
            for sc in &scorers {
                let key = |m: &str| match k.get(format!("tau_{sc}_{m}")) {
                    Some(v) => v.clone(),
                    None => k[format!("{sc}_{m}")].clone(),
                };
                let _ = write!(
                    line,
                    "  tau({sc} IS) {:>6}  tau({sc} FID) {:>6}",
                    num(&key("is"), 3),
                    num(&key("fid"), 3)
                );
            }
            let _ = writeln!(s, "{line}");
        }
    }
    if results["complete"] != true {
        let _ = writeln!(s, "\n(incomplete: some jobs have not finished)");
    }
    s
}
