//! Typed configuration: presets from `configs/<name>.json`, overridden by command-line flags,
//! then validated. A preset file holds a `train` section (and, for the search, `search`).
//!
//! What training and search have in common is one [`GanConfig`], flattened into their JSON
//! (a `config.json` looks as it always did) and reached through `Deref` (`cfg.lr` reads
//! `cfg.gan.lr`). Reading a configuration from JSON fills the fields it lacks from the
//! configuration's own default (the search's gf_dim is 128, training's 256) and refuses a
//! field it does not know.
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::path::{Path, PathBuf};

pub use crate::device::Precision;
use crate::metrics::ScorerKind;

// The search's vocabulary lives with its configuration (search/ re-exports it).

/// The search strategies, as `--strategy` and config.json spell them.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum StrategyKind {
    /// The paper's: an LSTM controller per stage trained by REINFORCE, multi-level beam
    #[default]
    Reinforce,
    /// Uniform architectures; the best scored ones are ranked at a stage change
    Random,
    /// Regularised (aging) evolution: tournament, one-decision mutation, oldest removed
    Evolution,
    /// E2GAN's off-policy agent: soft actor-critic over episodes of one cell per stage
    Sac,
}

impl StrategyKind {
    pub fn name(&self) -> &'static str {
        match self {
            StrategyKind::Reinforce => "reinforce",
            StrategyKind::Random => "random",
            StrategyKind::Evolution => "evolution",
            StrategyKind::Sac => "sac",
        }
    }
}

impl std::fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which spread of a loss window is compared with the threshold.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum ResetMode {
    /// Unbiased sample variance (n - 1), the reference code's test.
    Variance,
    /// Square root of the unbiased sample variance, the paper's wording.
    Std,
}

pub const DEFAULT_POPULATION: usize = 20;
pub const DEFAULT_TOURNAMENT: usize = 5;

/// The largest evolution population a search accepts.
pub const MAX_POPULATION: usize = 100_000;

/// The GAN that training and search share: data, sizes of G and D, optimiser, D/G schedule,
/// scorer and precision (SPEC sections 2-5).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GanConfig {
    /// Data set name or folder; None = the built-in `shapes` set.
    pub dataset: Option<String>,
    /// Output image size (32 for CIFAR-10, 48 for STL-10); bottom_width * 8 must equal it.
    /// The search's stage s trains at img_size / 2^(2-s).
    pub img_size: i64,
    pub gf_dim: i64,
    pub df_dim: i64,
    pub latent_dim: i64,
    pub bottom_width: i64,
    /// D batch size.
    pub batch_size: i64,
    /// G batch size.
    pub gen_batch_size: i64,
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    /// D steps per G step.
    pub n_critic: u64,
    /// Number of images of the built-in set (ignored by other data sets).
    pub shapes_count: usize,
    /// Scorer of evaluations (training) or of the reward (search).
    pub scorer: ScorerKind,
    /// Precision of the GAN's forward passes (fp32, or bf16 autocast).
    pub precision: Precision,
    /// Precision of the scorer's forward passes.
    pub scorer_precision: Precision,
    /// Write TensorBoard event files into the run's `tb/` (off with `--no-tensorboard`).
    pub tensorboard: bool,
}

impl GanConfig {
    /// The paper's CIFAR-10 training setting (SPEC section 5).
    pub fn training() -> GanConfig {
        GanConfig {
            dataset: Some("cifar10".into()),
            img_size: 32,
            gf_dim: 256,
            df_dim: 128,
            latent_dim: 128,
            bottom_width: 4,
            batch_size: 64,
            gen_batch_size: 128,
            lr: 2e-4,
            beta1: 0.0,
            beta2: 0.9,
            n_critic: 5,
            shapes_count: 20_000,
            scorer: ScorerKind::Auto,
            precision: Precision::Fp32,
            scorer_precision: Precision::Fp32,
            tensorboard: true,
        }
    }

    /// The paper's CIFAR-10 search: the training setting with gf_dim 128 and df_dim 64.
    pub fn search() -> GanConfig {
        GanConfig {
            gf_dim: 128,
            df_dim: 64,
            ..GanConfig::training()
        }
    }

    pub fn validate(&self) -> Result<()> {
        let pos = |v: i64, name: &str| -> Result<()> {
            if v < 1 {
                bail!("{name} = {v}: must be at least 1");
            }
            Ok(())
        };
        check_img_size(self.img_size)?;
        pos(self.gf_dim, "gf_dim")?;
        pos(self.df_dim, "df_dim")?;
        pos(self.latent_dim, "latent_dim")?;
        pos(self.bottom_width, "bottom_width")?;
        pos(self.batch_size, "batch_size")?;
        pos(self.gen_batch_size, "gen_batch_size")?;
        if self.bottom_width * 8 != self.img_size {
            bail!(
                "img_size {} does not match bottom_width {}: three cells each double the size, so \
                 img_size must be 8 x bottom_width (--bottom-width {} for {}x{} images)",
                self.img_size,
                self.bottom_width,
                self.img_size / 8,
                self.img_size,
                self.img_size
            );
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            bail!("lr = {}: must be a positive number", self.lr);
        }
        if !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) {
            bail!(
                "beta1 {} / beta2 {}: must be in [0, 1)",
                self.beta1,
                self.beta2
            );
        }
        if self.n_critic < 1 {
            bail!("n_critic = 0: must be at least 1");
        }
        Ok(())
    }
}

impl Default for GanConfig {
    fn default() -> Self {
        GanConfig::training()
    }
}

/// `given` (a JSON object) over the fields of `default`: the fields it lacks come from
/// `default`; a field `default` does not have is an error.
fn with_defaults<T: Serialize>(given: serde_json::Value, default: &T) -> Result<serde_json::Value> {
    let serde_json::Value::Object(given) = given else {
        bail!("a configuration must be a JSON object, got {given}");
    };
    let serde_json::Value::Object(mut all) = serde_json::to_value(default)? else {
        bail!("a configuration's default is not a JSON object");
    };
    for (k, v) in given {
        if !all.contains_key(&k) {
            let known: Vec<String> = all.keys().map(|k| format!("`{k}`")).collect();
            bail!("unknown field `{k}`, expected one of {}", known.join(", "));
        }
        all.insert(k, v);
    }
    Ok(serde_json::Value::Object(all))
}

/// Serialize / Deserialize for a configuration whose derived code is generated with
/// `#[serde(remote = "Self")]`: JSON is read through [`with_defaults`].
macro_rules! config_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                <$t>::serialize(self, s)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                use serde::de::Error;
                let v = with_defaults(serde_json::Value::deserialize(d)?, &<$t>::default())
                    .map_err(D::Error::custom)?;
                <$t>::deserialize(v).map_err(D::Error::custom)
            }
        }

        impl std::ops::Deref for $t {
            type Target = GanConfig;
            fn deref(&self) -> &GanConfig {
                &self.gan
            }
        }

        impl std::ops::DerefMut for $t {
            fn deref_mut(&mut self) -> &mut GanConfig {
                &mut self.gan
            }
        }
    };
}

/// Everything a training run depends on. Stored in the run directory as `config.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(remote = "Self")]
pub struct TrainConfig {
    #[serde(flatten)]
    pub gan: GanConfig,
    /// Number of G steps.
    pub steps: u64,
    /// Linear decay of both learning rates to 0 over `steps`.
    pub lr_decay: bool,
    /// EMA decay of G's parameters after every G step.
    pub ema: f64,
    /// Checkpoint every N G steps (and at the end).
    pub checkpoint_every: u64,
    /// Sample grid every N G steps (and at the end).
    pub sample_every: u64,
    /// A `train.jsonl` line every N G steps.
    pub log_every: u64,
    /// Score the EMA generator every N G steps (0 = never): IS and FID in train.jsonl,
    /// `checkpoint/best.*` kept by FID.
    pub eval_every: u64,
    /// Generated (and real reference) images per evaluation.
    pub eval_images: i64,
    /// The metrics of those evaluations, comma-separated (`is,fid,kid,pr`: the registry in
    /// `metrics::metric`).
    pub metrics: String,
    /// What `checkpoint/best.*` is chosen by: `fid`, `is`, `kid`, `precision` or `recall`
    /// (its metric must be in `metrics`).
    pub select_by: String,
}

config_serde!(TrainConfig);

/// The default metrics of evaluations during training and of the final training.
pub const DEFAULT_METRICS: &str = "is,fid";
/// The default quantity the best checkpoint / architecture is chosen by.
pub const DEFAULT_SELECT_BY: &str = "fid";

/// Check a metric list and a selection together: both known, the selection's metric in the
/// list, and `images` enough for every metric. `what` names the settings in errors.
pub fn check_metrics(metrics: &str, select_by: &str, images: i64, what: &str) -> Result<()> {
    let list = crate::metrics::registry::parse_list(metrics, &format!("{what} metric"))?;
    let (m, _) = crate::metrics::registry::selection(select_by)?;
    if !list.iter().any(|x| x.name() == m.name()) {
        bail!(
            "select_by = {select_by} needs the metric {} in metric = {metrics}: add it (e.g. \
             --metric {metrics},{})",
            m.name(),
            m.name()
        );
    }
    for m in &list {
        if (images.max(0) as u64) < m.min_images() {
            bail!(
                "{what} images = {images}: {} needs at least {}",
                m.describe(),
                m.min_images()
            );
        }
    }
    Ok(())
}

impl Default for TrainConfig {
    fn default() -> Self {
        // The paper's CIFAR-10 training setting (SPEC section 5).
        TrainConfig {
            gan: GanConfig::training(),
            steps: 50_000,
            lr_decay: false,
            ema: 0.999,
            checkpoint_every: 1000,
            sample_every: 1000,
            log_every: 50,
            eval_every: 0,
            eval_images: 5000,
            metrics: DEFAULT_METRICS.into(),
            select_by: DEFAULT_SELECT_BY.into(),
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<()> {
        self.gan.validate()?;
        if self.steps < 1 {
            bail!("steps = 0: 0 steps would train nothing; give at least 1");
        }
        if !(0.0..1.0).contains(&self.ema) {
            bail!("ema = {}: must be in [0, 1)", self.ema);
        }
        if self.eval_every > 0 {
            check_metrics(&self.metrics, &self.select_by, self.eval_images, "eval")?;
        }
        if self.checkpoint_every < 1 || self.sample_every < 1 || self.log_every < 1 {
            bail!("checkpoint_every, sample_every and log_every must be at least 1");
        }
        Ok(())
    }
}

/// The output size of three cells that each double it: 8 x bottom_width, so a positive
/// multiple of 8. Checked before bottom_width, which `--img-size` alone sets to img_size / 8.
fn check_img_size(img_size: i64) -> Result<()> {
    if img_size < 8 || img_size % 8 != 0 {
        bail!(
            "img_size {img_size}: the generator's three cells each double the size, so img_size \
             must be 8 x bottom_width, a multiple of 8 (e.g. 32 for CIFAR-10, 48 for STL-10)"
        );
    }
    Ok(())
}

/// A preset file: `configs/<name>.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub train: Option<TrainConfig>,
    #[serde(default)]
    pub search: Option<SearchConfig>,
}

/// Folder of the preset files: `$AUTOGAN_CONFIGS`, else `configs/` beside the working
/// directory, else the `configs/` of the source tree this binary was built from.
pub fn configs_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("AUTOGAN_CONFIGS").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let local = PathBuf::from("configs");
    if local.join("quick.json").is_file() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("configs")
}

/// The preset for a data set when none is named: cifar10 / stl10 for those, `quick` otherwise.
pub fn default_preset(dataset: Option<&str>) -> &'static str {
    match dataset {
        Some("cifar10") => "cifar10",
        Some("stl10") => "stl10",
        _ => "quick",
    }
}

/// Read a preset by name (`quick`, `cifar10`, `stl10`) or by path to a JSON file.
pub fn load_preset(name: &str) -> Result<(PathBuf, Preset)> {
    let path = if name.ends_with(".json") || name.contains('/') {
        PathBuf::from(name)
    } else {
        configs_dir().join(format!("{name}.json"))
    };
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "preset '{name}': cannot read {} (known presets: quick, cifar10, stl10 in {})",
            path.display(),
            configs_dir().display()
        )
    })?;
    let preset: Preset = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a valid preset file", path.display()))?;
    Ok((path, preset))
}

/// Read a JSON file into T, naming the file in any error.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: invalid JSON", path.display()))
}

/// The batch-norm statistics a supernet scores an architecture with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RewardBn {
    /// The architecture's own batch statistics (the default)
    #[default]
    Batch,
    /// The running statistics that every architecture through a batch norm updates in shared
    /// training (the reference code scores in eval mode with these)
    Running,
}

impl RewardBn {
    pub fn mode(self) -> crate::nn::layers::BnMode {
        match self {
            RewardBn::Batch => crate::nn::layers::BnMode::Batch,
            RewardBn::Running => crate::nn::layers::BnMode::Eval,
        }
    }

    /// A recorded search configuration (`config.json`'s "search", a checkpoint's "config")
    /// without `reward_bn` was written before it existed, when rewards used the running
    /// statistics: mark it so, so that such a search resumes as it began.
    pub fn fill_recorded(v: &mut serde_json::Value) {
        if let Some(m) = v.as_object_mut() {
            m.entry("reward_bn").or_insert_with(|| "running".into());
        }
    }
}

/// The SAC strategy's settings (E2GAN, Tian et al. 2020; the defaults are the values of its
/// public code: 100 episodes, the last 30 deterministic with 10 updates per step).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SacConfig {
    /// Episodes (one architecture each, built one cell per step).
    pub sac_episodes: u64,
    /// The last episodes act deterministically (the policy's mean) and their best complete
    /// architectures are the result.
    pub sac_exploit_episodes: u64,
    /// Epochs of shared GAN training after each step.
    pub sac_step_epochs: u64,
    /// At most this many D steps after each step (None: `sac_step_epochs` epochs).
    pub sac_max_steps: Option<u64>,
    /// Hidden width of the policy and of each Q network.
    pub sac_hidden: i64,
    /// Adam learning rate of the policy and the critics.
    pub sac_lr: f64,
    /// Entropy temperature (fixed).
    pub sac_alpha: f64,
    /// Discount of the next step's value.
    pub sac_gamma: f64,
    /// Soft update rate of the target critics.
    pub sac_tau: f64,
    /// Transitions per update (at most; fewer while the buffer holds fewer).
    pub sac_batch: usize,
    /// Transitions in the buffer before the updates after each step begin.
    pub sac_start: usize,
    /// Updates after each step of an exploring episode.
    pub sac_updates: u64,
    /// Updates after each step of an exploiting episode.
    pub sac_exploit_updates: u64,
}

impl Default for SacConfig {
    fn default() -> Self {
        SacConfig {
            sac_episodes: 100,
            sac_exploit_episodes: 30,
            sac_step_epochs: 1,
            sac_max_steps: None,
            sac_hidden: 128,
            sac_lr: 3e-4,
            sac_alpha: 0.1,
            sac_gamma: 1.0,
            sac_tau: 0.005,
            sac_batch: 256,
            sac_start: 64,
            sac_updates: 1,
            sac_exploit_updates: 10,
        }
    }
}

impl SacConfig {
    pub fn validate(&self) -> Result<()> {
        if self.sac_episodes < 1 {
            bail!("sac_episodes = 0: must be at least 1");
        }
        if self.sac_exploit_episodes > self.sac_episodes {
            bail!(
                "sac_exploit_episodes = {} of {} episodes: at most all of them",
                self.sac_exploit_episodes,
                self.sac_episodes
            );
        }
        if self.sac_max_steps == Some(0) {
            bail!("sac_max_steps = 0: must be at least 1 (D steps after each step)");
        }
        if self.sac_step_epochs < 1 || self.sac_hidden < 1 || self.sac_batch < 1 {
            bail!(
                "sac_step_epochs {} / sac_hidden {} / sac_batch {}: each must be at least 1",
                self.sac_step_epochs,
                self.sac_hidden,
                self.sac_batch
            );
        }
        for (v, n) in [(self.sac_lr, "sac_lr"), (self.sac_tau, "sac_tau")] {
            if !(v > 0.0 && v <= 1.0) {
                bail!("{n} = {v}: must be in (0, 1]");
            }
        }
        if !(self.sac_alpha >= 0.0 && self.sac_alpha.is_finite()) {
            bail!("sac_alpha = {}: must be 0 or more", self.sac_alpha);
        }
        if !(0.0..=1.0).contains(&self.sac_gamma) {
            bail!("sac_gamma = {}: must be in [0, 1]", self.sac_gamma);
        }
        Ok(())
    }
}

/// Everything a search depends on (SPEC sections 6 and 9). Stored in the run directory.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(remote = "Self")]
pub struct SearchConfig {
    #[serde(flatten)]
    pub gan: GanConfig,
    /// Search iterations in all.
    pub iterations: u64,
    /// Iterations at which stage 1 and stage 2 begin.
    pub stage_changes: [u64; 2],
    /// Epochs of shared GAN training per iteration.
    pub shared_epochs: u64,
    /// Optional cap on D steps per iteration (for small presets).
    pub max_shared_steps: Option<u64>,
    /// The share of shared-training architectures drawn uniformly (every decision of the
    /// stage uniform, extending a kept prefix chosen uniformly) instead of from the strategy.
    /// 0 in the paper (the controller's samples train the supernet); 1 trains the supernet
    /// the same way for every strategy, so it does not come to favour what the policy
    /// happened to pick early.
    pub shared_uniform: f64,
    /// Controller updates per iteration.
    pub ctrl_steps: u64,
    /// Architectures sampled per controller update.
    pub ctrl_sample_batch: i64,
    pub ctrl_lr: f64,
    pub hid_size: i64,
    pub entropy_coeff: f64,
    pub baseline_decay: f64,
    /// REINFORCE: normalise the advantages within each controller batch (reward minus the
    /// batch mean, divided by the batch's standard deviation) instead of subtracting the
    /// moving-average baseline. Off in the paper and its presets.
    pub ctrl_adv_norm: bool,
    /// With the classifier scorer: score the images of a stage smaller than the scorer's input
    /// with a classifier trained on the data at that stage's size (a stage scorer, trained once
    /// and cached like the scorer), instead of growing them to the scorer's size. Off in the
    /// paper's presets (the paper scores every stage with Inception).
    pub stage_scorers: bool,
    /// Images generated to score one architecture (the reward's IS).
    pub rl_num_eval_img: i64,
    /// Weight of the FID in the reward: reward = IS - reward_fid x FID, the FID between the
    /// scored images and the real data at the stage's size, in the scorer's features. 0 (the
    /// paper's IS alone) in the paper's presets; E2GAN's reward weighs FID by 0.01.
    pub reward_fid: f64,
    /// Architectures sampled and scored at each stage change (and at the end).
    pub num_candidate: usize,
    /// REINFORCE: draw `num_candidate` distinct candidates from the controller (sampling
    /// again past duplicates, up to 20 draws per candidate) instead of `num_candidate` draws
    /// that may repeat. Off in the paper.
    pub distinct_candidates: bool,
    /// Prefixes kept in the beam / architectures written at the end.
    pub topk: usize,
    pub dynamic_reset: bool,
    pub reset_window: usize,
    pub reset_threshold: f64,
    /// Spread of the reset windows: variance (the reference code) or std (the paper's wording).
    pub reset_mode: ResetMode,
    /// Read the D and G losses from the device every N D steps (and at the end of the shared
    /// training): the dynamic-reset check and the non-finite check run at these reads.
    pub loss_read_every: u64,
    /// Which batch-norm statistics the supernet scores an architecture with (rewards and
    /// candidates): its own batch statistics, or the running ones all architectures share.
    pub reward_bn: RewardBn,
    /// How architectures are proposed (SPEC section 9).
    pub strategy: StrategyKind,
    /// Evolution: architectures in the population of a stage.
    pub population: usize,
    /// Evolution: members drawn (with replacement) for each tournament.
    pub tournament: usize,
    /// SAC (E2GAN): its episodes, agent and replay buffer.
    #[serde(flatten)]
    pub sac: SacConfig,
    /// Train each top-K arch from scratch for this many G steps and choose best.json by FID.
    pub final_train_steps: u64,
    /// Images for the FID of that final selection.
    pub final_eval_images: i64,
    /// The metrics of the final training's evaluation (`is,fid,kid,pr`).
    pub final_metrics: String,
    /// What best.json is chosen by after the final training (`fid`, `is`, `kid`, ...).
    pub final_select_by: String,
}

config_serde!(SearchConfig);

impl Default for SearchConfig {
    fn default() -> Self {
        // The paper's CIFAR-10 search.
        SearchConfig {
            gan: GanConfig::search(),
            iterations: 65,
            stage_changes: [15, 35],
            shared_epochs: 15,
            max_shared_steps: None,
            shared_uniform: 0.0,
            ctrl_steps: 30,
            ctrl_sample_batch: 1,
            ctrl_lr: 3.5e-4,
            hid_size: 100,
            entropy_coeff: 1e-3,
            baseline_decay: 0.9,
            ctrl_adv_norm: false,
            stage_scorers: false,
            rl_num_eval_img: 5000,
            reward_fid: 0.0,
            num_candidate: 10,
            distinct_candidates: false,
            topk: 5,
            dynamic_reset: true,
            reset_window: 500,
            reset_threshold: 1e-3,
            reset_mode: ResetMode::Variance,
            loss_read_every: 20,
            reward_bn: RewardBn::Batch,
            strategy: StrategyKind::Reinforce,
            population: DEFAULT_POPULATION,
            tournament: DEFAULT_TOURNAMENT,
            sac: SacConfig::default(),
            final_train_steps: 0,
            final_eval_images: 2000,
            final_metrics: DEFAULT_METRICS.into(),
            final_select_by: DEFAULT_SELECT_BY.into(),
        }
    }
}

impl SearchConfig {
    pub fn validate(&self) -> Result<()> {
        self.gan.validate()?;
        for (v, n) in [
            (self.ctrl_sample_batch, "ctrl_sample_batch"),
            (self.hid_size, "hid_size"),
        ] {
            if v < 1 {
                bail!("{n} = {v}: must be at least 1");
            }
        }
        if self.rl_num_eval_img < crate::metrics::MIN_RANKING_IMAGES {
            bail!(
                "rl_num_eval_img = {}: the reward needs at least {} images (2 per IS split; with \
                 fewer every architecture scores 1.0)",
                self.rl_num_eval_img,
                crate::metrics::MIN_RANKING_IMAGES
            );
        }
        let [a, b] = self.stage_changes;
        if !(0 < a && a < b && b < self.iterations) {
            bail!(
                "stage_changes {:?} with {} iterations: need 0 < first < second < iterations",
                self.stage_changes,
                self.iterations
            );
        }
        if self.topk < 1 || self.num_candidate < self.topk {
            bail!(
                "topk {} / num_candidate {}: need 1 <= topk <= num_candidate",
                self.topk,
                self.num_candidate
            );
        }
        if self.ctrl_steps < 1 {
            bail!("ctrl_steps = 0: must be at least 1");
        }
        if !(self.reward_fid >= 0.0 && self.reward_fid.is_finite()) {
            bail!(
                "reward_fid = {}: must be 0 or more (the weight of the FID subtracted from the \
                 reward's IS)",
                self.reward_fid
            );
        }
        if !(0.0..=1.0).contains(&self.shared_uniform) {
            bail!(
                "shared_uniform = {}: must be in [0, 1] (the share of shared-training \
                 architectures drawn uniformly)",
                self.shared_uniform
            );
        }
        if !(self.ctrl_lr > 0.0 && self.ctrl_lr.is_finite()) {
            bail!("ctrl_lr = {}: must be a positive number", self.ctrl_lr);
        }
        if !(self.entropy_coeff >= 0.0 && self.entropy_coeff.is_finite()) {
            bail!("entropy_coeff = {}: must be 0 or more", self.entropy_coeff);
        }
        if !(0.0..1.0).contains(&self.baseline_decay) {
            bail!(
                "baseline_decay = {}: must be in [0, 1) (the weight of the old baseline)",
                self.baseline_decay
            );
        }
        if self.strategy == StrategyKind::Reinforce
            && self.ctrl_adv_norm
            && self.ctrl_sample_batch < 2
        {
            bail!(
                "ctrl_adv_norm needs at least 2 architectures per controller update \
                 (ctrl_sample_batch = {}): a batch of one has no spread to normalise by",
                self.ctrl_sample_batch
            );
        }
        if self.final_train_steps > 0 {
            check_metrics(
                &self.final_metrics,
                &self.final_select_by,
                self.final_eval_images,
                "final",
            )?;
        }
        if self.loss_read_every < 1 {
            bail!("loss_read_every = 0: must be at least 1 (D steps between loss reads)");
        }
        if self.population > MAX_POPULATION {
            bail!(
                "population {}: at most {MAX_POPULATION} (each member is an architecture scored \
                 by the reward; the paper-scale searches score a few thousand in all)",
                self.population
            );
        }
        if self.strategy == StrategyKind::Sac {
            self.sac.validate()?;
        }
        if self.strategy == StrategyKind::Evolution
            && (self.population < 1 || self.tournament < 1 || self.tournament > self.population)
        {
            bail!(
                "population {} / tournament {}: evolution needs 1 <= tournament <= population",
                self.population,
                self.tournament
            );
        }
        Ok(())
    }

    /// Whether the strategy runs episodes (one cell per stage on a shared GAN re-initialised
    /// for each episode) instead of the progressive stages: one iteration is one episode.
    pub fn episodic(&self) -> bool {
        self.strategy == StrategyKind::Sac
    }

    /// Iterations of the search: `iterations`, or the episodes of an episodic strategy.
    pub fn total_iterations(&self) -> u64 {
        match self.episodic() {
            true => self.sac.sac_episodes,
            false => self.iterations,
        }
    }

    /// Architectures scored per iteration: the reward phase's, or one per cell of an episode.
    pub fn reward_budget_per_iteration(&self) -> u64 {
        match self.episodic() {
            true => crate::arch::NUM_CELLS as u64,
            false => self.ctrl_steps * self.ctrl_sample_batch as u64,
        }
    }

    /// Reward-phase steps per iteration (the numbering of the `controller` log lines): one per
    /// cell for an episodic strategy.
    pub fn log_steps_per_iteration(&self) -> u64 {
        match self.episodic() {
            true => crate::arch::NUM_CELLS as u64,
            false => self.ctrl_steps,
        }
    }

    /// The stage (0, 1, 2) of a 0-based iteration (an episode covers all three: 2).
    pub fn stage_of(&self, iteration: u64) -> usize {
        if self.episodic() {
            return 2;
        }
        self.stage_changes
            .iter()
            .filter(|&&c| iteration >= c)
            .count()
    }

    /// Image size of a stage: bottom_width * 2^(stage+1).
    pub fn stage_size(&self, stage: usize) -> i64 {
        self.bottom_width << (stage + 1)
    }
}
