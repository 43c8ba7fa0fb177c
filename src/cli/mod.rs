//! Command-line structure (clap derive) and nothing else: every field here is parsed input;
//! the work happens in `commands/`. `config` turns each command's flags into its config.
mod config;
mod jobs;
pub use config::refuse_fixed_on_resume;
pub use jobs::check_pass_through;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

use crate::launch::LauncherKind;
use crate::metrics::{Protocol, ScorerKind};
use crate::search::reset::Mode as ResetMode;
use crate::search::strategy::StrategyKind;

#[derive(Parser, Debug)]
#[command(
    name = "autogan",
    version,
    about = "GAN architecture search (AutoGAN, ICCV 2019) on libtorch: search, train, evaluate",
    long_about = None
)]
pub struct Cli {
    /// Where to compute: auto (CUDA if available, else CPU), cpu, cuda or cuda:N [default: auto]
    #[arg(long, global = true)]
    pub device: Option<crate::device::DeviceChoice>,
    /// Intra-op CPU threads for libtorch (default: libtorch's own choice)
    #[arg(long, global = true, allow_negative_numbers = true)]
    pub threads: Option<i32>,
    /// Seed for libtorch and for every random choice of autogan (same seed, same run on CPU)
    /// [default: 0]
    #[arg(long, global = true, allow_negative_numbers = true, value_parser = whole)]
    pub seed: Option<u64>,
    /// Print results only: no progress bars, no log lines
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The first line of a clap error without its `error: ` prefix, for messages that quote a
/// command line built from a file or a flag's string.
pub fn first_error_line(e: &clap::Error) -> String {
    e.to_string()
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("error: ")
        .to_string()
}

impl Cli {
    /// The run context of the global flags (threads and seed set, device resolved).
    pub fn ctx(&self) -> anyhow::Result<crate::device::Ctx> {
        crate::device::Ctx::new(self.device, self.threads, self.seed, self.quiet)
    }
}

// Parsed once per process: the size of its largest variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Search the generator space (RNN controller, shared weights, multi-level beam search)
    Search(SearchArgs),
    /// Train a fixed architecture from scratch
    Train(TrainArgs),
    /// Inception Score / FID of a generator, a run or a folder of images
    Eval(EvalArgs),
    /// Draw images from a trained generator
    Sample(SampleArgs),
    /// Train a list of architectures, seeds or configurations, here or on a Slurm cluster
    Sweep(SweepArgs),
    /// Inspect architecture files
    #[command(subcommand)]
    Arch(ArchCommand),
    /// Data sets: where they are, download, reference statistics
    #[command(subcommand)]
    Data(DataCommand),
    /// Offline classifier scorer for labelled data sets
    #[command(subcommand)]
    Scorer(ScorerCommand),
    /// Report libtorch, CUDA, threads, weights and data locations
    Doctor(DoctorArgs),
    /// Write report.html (plots, top-K, sample grids, config) into a train, search or compare
    /// directory
    Report(ReportArgs),
    /// Time training steps or feature extraction
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Check the device against the CPU: models' outputs, Adam, a short train and search
    #[command(hide = true)]
    Selftest(SelftestArgs),
    /// Searches per strategy vs random and the paper's architectures, trained and scored alike
    Compare(CompareArgs),
}

/// Data set selection shared by every command that reads data.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// shapes (built-in, the default), cifar10, stl10, or a folder of PNG/JPEG images
    #[arg(long)]
    pub dataset: Option<String>,
    /// Where named data sets live (default: $AUTOGAN_DATA, else ./data)
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Model size flags shared by train, sample, arch info and bench.
#[derive(Args, Debug, Clone, Default)]
pub struct SizeArgs {
    /// Generator channels per cell
    #[arg(long, allow_negative_numbers = true)]
    pub gf_dim: Option<i64>,
    /// Discriminator channels
    #[arg(long, allow_negative_numbers = true)]
    pub df_dim: Option<i64>,
    /// Latent dimension
    #[arg(long, allow_negative_numbers = true)]
    pub latent_dim: Option<i64>,
    /// Spatial size after l1 (4 for 32x32 output, 6 for 48x48)
    #[arg(long, allow_negative_numbers = true)]
    pub bottom_width: Option<i64>,
}

impl SizeArgs {
    /// The sizes a bare generator weight file needs.
    pub fn gen_sizes(&self) -> crate::gan::load::Sizes {
        crate::gan::load::Sizes {
            latent_dim: self.latent_dim,
            gf_dim: self.gf_dim,
            bottom_width: self.bottom_width,
        }
    }
}

/// The flags `train` and `search` share, applied to the GAN configuration they share in one
/// place ([`GanFlags::apply`]); each is fixed once a run has begun ([`GanFlags::fixed`]).
#[derive(Args, Debug, Clone, Default)]
pub struct GanFlags {
    #[command(flatten)]
    pub size: SizeArgs,
    /// Discriminator batch size
    #[arg(long, allow_negative_numbers = true)]
    pub batch_size: Option<i64>,
    /// Generator batch size
    #[arg(long, allow_negative_numbers = true)]
    pub gen_batch_size: Option<i64>,
    /// Scorer of the search's reward (IS) and of training's evaluations
    #[arg(long, value_enum)]
    pub scorer: Option<ScorerKind>,
    /// Precision of the GAN's forward passes: fp32 (default) or bf16 (autocast)
    #[arg(long, value_enum)]
    pub precision: Option<crate::device::Precision>,
    /// Precision of the scorer's forward passes (the reward / evaluation): fp32 or bf16
    #[arg(long, value_enum)]
    pub scorer_precision: Option<crate::device::Precision>,
    /// Write no TensorBoard event files (RUN/tb/); recorded in config.json
    #[arg(long)]
    pub no_tensorboard: bool,
}

impl GanFlags {
    /// Set the given flags in `g` (all but --bottom-width, whose image size each command
    /// derives its own way).
    pub fn apply(&self, g: &mut crate::config::GanConfig) {
        macro_rules! set {
            ($($field:ident <- $val:expr),*) => {$(
                if let Some(v) = $val {
                    g.$field = v;
                }
            )*};
        }
        set!(
            gf_dim <- self.size.gf_dim,
            df_dim <- self.size.df_dim,
            latent_dim <- self.size.latent_dim,
            batch_size <- self.batch_size,
            gen_batch_size <- self.gen_batch_size,
            scorer <- self.scorer,
            precision <- self.precision,
            scorer_precision <- self.scorer_precision
        );
        if self.no_tensorboard {
            g.tensorboard = false;
        }
    }

    /// The flags a resumed run cannot change, each with whether it was given (not
    /// --no-tensorboard, which a resumed run may turn on).
    pub fn fixed(&self) -> Vec<(&'static str, bool)> {
        let s = &self.size;
        vec![
            ("--gf-dim", s.gf_dim.is_some()),
            ("--df-dim", s.df_dim.is_some()),
            ("--latent-dim", s.latent_dim.is_some()),
            ("--bottom-width", s.bottom_width.is_some()),
            ("--batch-size", self.batch_size.is_some()),
            ("--gen-batch-size", self.gen_batch_size.is_some()),
            ("--scorer", self.scorer.is_some()),
            ("--precision", self.precision.is_some()),
            ("--scorer-precision", self.scorer_precision.is_some()),
        ]
    }
}

#[derive(Args, Debug)]
pub struct SearchArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// cifar10, stl10, quick (configs/*.json) or a preset file; default: cifar10 with --dataset
    /// cifar10, stl10 with --dataset stl10, else quick
    #[arg(long)]
    pub preset: Option<String>,
    /// Run directory (default runs/search-<dataset>-<timestamp>)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue a search from its last completed iteration
    #[arg(long)]
    pub resume: Option<PathBuf>,
    #[command(flatten)]
    pub gan: GanFlags,
    /// Search iterations in all
    #[arg(long, allow_negative_numbers = true, value_parser = whole)]
    pub iterations: Option<u64>,
    /// Iterations at which stages 1 and 2 begin, e.g. 15,35
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true, value_parser = whole)]
    pub stage_changes: Option<Vec<u64>>,
    /// Epochs of shared GAN training per iteration
    #[arg(long, allow_negative_numbers = true, value_parser = whole)]
    pub shared_epochs: Option<u64>,
    /// Cap on D steps per iteration
    #[arg(long, allow_negative_numbers = true, value_parser = whole)]
    pub max_shared_steps: Option<u64>,
    /// Controller updates per iteration
    #[arg(long, allow_negative_numbers = true, value_parser = whole)]
    pub ctrl_steps: Option<u64>,
    /// Architectures per controller update
    #[arg(long, allow_negative_numbers = true)]
    pub ctrl_sample_batch: Option<i64>,
    /// REINFORCE: the controller's Adam learning rate
    #[arg(long, allow_negative_numbers = true)]
    pub ctrl_lr: Option<f64>,
    /// REINFORCE: weight of the policy's entropy added to each reward
    #[arg(long, allow_negative_numbers = true)]
    pub entropy_coeff: Option<f64>,
    /// REINFORCE: weight of the old value in the moving-average baseline, in [0, 1)
    #[arg(long, allow_negative_numbers = true)]
    pub baseline_decay: Option<f64>,
    /// REINFORCE: normalise advantages within each controller batch (true/false)
    #[arg(long)]
    pub ctrl_adv_norm: Option<bool>,
    /// Classifier scorer: score each low-resolution stage with a classifier trained at that
    /// stage's size (true/false)
    #[arg(long)]
    pub stage_scorers: Option<bool>,
    /// Images generated to score one architecture
    #[arg(long, allow_negative_numbers = true)]
    pub rl_num_eval_img: Option<i64>,
    /// Weight W of the FID in the reward, IS - W x FID, the FID against the real data at the
    /// stage's size (0 in the paper)
    #[arg(long, allow_negative_numbers = true)]
    pub reward_fid: Option<f64>,
    /// Share of shared-training architectures drawn uniformly instead of from the strategy,
    /// in [0, 1] (0 in the paper)
    #[arg(long, allow_negative_numbers = true)]
    pub shared_uniform: Option<f64>,
    /// REINFORCE: draw distinct end-of-stage candidates from the controller (true/false)
    #[arg(long)]
    pub distinct_candidates: Option<bool>,
    /// Architectures scored at each stage change
    #[arg(long, allow_negative_numbers = true, value_parser = whole_usize)]
    pub num_candidate: Option<usize>,
    /// Prefixes kept in the beam / architectures written at the end
    #[arg(long, allow_negative_numbers = true, value_parser = whole_usize)]
    pub topk: Option<usize>,
    /// Dynamic reset on or off
    #[arg(long)]
    pub dynamic_reset: Option<bool>,
    /// Spread of the reset windows: variance (default, as the reference code) or std (the
    /// paper's wording)
    #[arg(long, value_enum)]
    pub reset_mode: Option<ResetMode>,
    /// Batch-norm statistics for scoring an architecture on the supernet: batch (its own,
    /// the default) or running (shared by all architectures; the reference code)
    #[arg(long, value_enum)]
    pub reward_bn: Option<crate::config::RewardBn>,
    /// Loss window of the dynamic reset
    #[arg(long, allow_negative_numbers = true, value_parser = whole_usize)]
    pub reset_window: Option<usize>,
    /// Read the losses from the device every N D steps; the dynamic-reset check runs there
    #[arg(long)]
    pub loss_read_every: Option<u64>,
    /// Search strategy: reinforce (the paper's), random, evolution or sac (E2GAN's agent)
    #[arg(long, value_enum)]
    pub strategy: Option<StrategyKind>,
    #[command(flatten)]
    pub sac: SacArgs,
    /// Evolution: population per stage
    #[arg(long)]
    pub population: Option<usize>,
    /// Evolution: tournament size
    #[arg(long)]
    pub tournament: Option<usize>,
    /// Train each top-K arch from scratch for N G steps and pick best.json by FID (or
    /// --select-by)
    #[arg(long, allow_negative_numbers = true, value_parser = whole)]
    pub final_train_steps: Option<u64>,
    /// Metrics of the final training's evaluation, any of is,fid,kid,pr (default is,fid)
    #[arg(long)]
    pub metric: Option<String>,
    /// Pick best.json after the final training by fid (default), is, kid, precision or recall
    #[arg(long)]
    pub select_by: Option<String>,
    /// Where those final trainings run (see "Running on a cluster" in the README)
    #[command(flatten)]
    pub launcher: Box<LauncherArgs>,
    /// Print the final summary as JSON
    #[arg(long)]
    pub json: bool,
}

/// Where the jobs of a fan-out command run: here, or as a Slurm job array.
#[derive(Args, Debug, Clone, Default)]
pub struct LauncherArgs {
    /// local (default: the jobs run on this machine) or slurm (one job array)
    #[arg(long, value_enum)]
    pub launcher: Option<LauncherKind>,
    /// A JSON file of launcher settings: {"launcher": "slurm", "partition": "gpu", "time":
    /// "1-00:00:00", "gpus_per_task": 1, "cpus_per_task": 8, "mem": "32G", "sbatch_args":
    /// [...], "poll_interval": 10}; flags override it
    #[arg(long, value_name = "FILE")]
    pub launcher_config: Option<PathBuf>,
    /// local: run one job per GPU at a time on these GPUs (CUDA_VISIBLE_DEVICES), e.g. 0,1
    #[arg(long, value_delimiter = ',')]
    pub gpus: Option<Vec<u32>>,
    /// local: run up to N jobs at a time on this machine (each with --threads; on a CPU of C
    /// cores, e.g. --parallel C --threads 1)
    #[arg(long, value_name = "N")]
    pub parallel: Option<u32>,
    /// slurm: partition of the tasks
    #[arg(long)]
    pub partition: Option<String>,
    /// slurm: time limit of each task, e.g. 2-00:00:00
    #[arg(long)]
    pub time: Option<String>,
    /// slurm: GPUs of each task
    #[arg(long)]
    pub gpus_per_task: Option<u32>,
    /// slurm: CPUs of each task (also its --threads)
    #[arg(long)]
    pub cpus_per_task: Option<u32>,
    /// slurm: memory of each task, e.g. 32G
    #[arg(long)]
    pub mem: Option<String>,
    /// slurm: any other sbatch option, as one word, e.g. --sbatch-arg=--qos=long (repeatable)
    #[arg(long, allow_hyphen_values = true, value_name = "OPTION")]
    pub sbatch_arg: Vec<String>,
    /// slurm: seconds between two looks at the queue (default 10)
    #[arg(long, value_name = "SECONDS")]
    pub poll_interval: Option<f64>,
    /// slurm: submit and exit; the command that collects the results is printed
    #[arg(long)]
    pub no_wait: bool,
}

impl LauncherArgs {
    /// The launcher flags given on the command line, by name.
    pub fn given(&self) -> Vec<&'static str> {
        let a = self;
        [
            ("--launcher", a.launcher.is_some()),
            ("--launcher-config", a.launcher_config.is_some()),
            ("--gpus", a.gpus.is_some()),
            ("--parallel", a.parallel.is_some()),
            ("--partition", a.partition.is_some()),
            ("--time", a.time.is_some()),
            ("--gpus-per-task", a.gpus_per_task.is_some()),
            ("--cpus-per-task", a.cpus_per_task.is_some()),
            ("--mem", a.mem.is_some()),
            ("--sbatch-arg", !a.sbatch_arg.is_empty()),
            ("--poll-interval", a.poll_interval.is_some()),
            ("--no-wait", a.no_wait),
        ]
        .into_iter()
        .filter(|(_, g)| *g)
        .map(|(n, _)| n)
        .collect()
    }

    /// Launcher settings: `base` (what a resumed run recorded, else the defaults), then
    /// `--launcher-config FILE`, then the flags.
    pub fn config(
        &self,
        base: Option<&crate::launch::LauncherConfig>,
    ) -> anyhow::Result<crate::launch::LauncherConfig> {
        let a = self;
        let mut c = base.cloned().unwrap_or_default();
        if let Some(f) = &a.launcher_config {
            c = crate::config::read_json(f).with_context(|| {
                format!(
                    "--launcher-config {}: expected a JSON object with keys launcher, gpus, \
                 parallel, partition, time, gpus_per_task, cpus_per_task, mem, sbatch_args, poll_interval",
                    f.display()
                )
            })?;
        }
        if let Some(k) = a.launcher {
            c.launcher = k;
        }
        if let Some(g) = &a.gpus {
            c.gpus = g.clone();
        }
        if let Some(n) = a.parallel {
            c.parallel = n;
        }
        macro_rules! set {
            ($field:ident, $val:expr) => {
                if let Some(v) = $val.clone() {
                    c.$field = Some(v);
                }
            };
        }
        set!(partition, a.partition);
        set!(time, a.time);
        set!(gpus_per_task, a.gpus_per_task);
        set!(cpus_per_task, a.cpus_per_task);
        set!(mem, a.mem);
        if !a.sbatch_arg.is_empty() {
            c.sbatch_args = a.sbatch_arg.clone();
        }
        if let Some(p) = a.poll_interval {
            c.poll_interval = p;
        }
        crate::launch::check(&c, !a.no_wait)?;
        Ok(c)
    }
}

#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Architecture files: one job per file and seed (repeat the flag or list several)
    #[arg(long, num_args = 1..)]
    pub arch: Vec<PathBuf>,
    /// Seeds, e.g. 0,1,2: one job per architecture and seed (default: the global --seed)
    #[arg(long, value_delimiter = ',')]
    pub seeds: Option<Vec<u64>>,
    /// G steps of every job
    #[arg(long)]
    pub steps: Option<u64>,
    /// Preset of every job (quick, cifar10, stl10 or a preset file)
    #[arg(long)]
    pub preset: Option<String>,
    /// A JSON file of further jobs: [{"name": "a-lr1", "seed": 0, "args": ["--arch", "a.json",
    /// "--lr", "0.0001"]}, ...]; "args" are `autogan train` flags
    #[arg(long, value_name = "FILE")]
    pub jobs: Option<PathBuf>,
    /// Run directory (default runs/sweep-<timestamp>)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Re-attach to the sweep in this run directory; jobs that did not finish run again
    #[arg(long, value_name = "RUN_DIR")]
    pub resume: Option<PathBuf>,
    #[command(flatten)]
    pub launcher: LauncherArgs,
    /// Print the outcome as JSON
    #[arg(long)]
    pub json: bool,
    /// Further `autogan train` flags for every job, after `--` (e.g. -- --gf-dim 64)
    #[arg(last = true, value_name = "TRAIN_FLAGS")]
    pub train_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Architecture file (JSON cells or {"vector": [...]})
    #[arg(long)]
    pub arch: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
    /// cifar10, stl10, quick (configs/*.json) or a preset file; default: cifar10 with --dataset
    /// cifar10, stl10 with --dataset stl10, else quick
    #[arg(long)]
    pub preset: Option<String>,
    /// Number of generator steps
    #[arg(long, allow_negative_numbers = true, value_parser = at_least_one)]
    pub steps: Option<u64>,
    /// Run directory (default runs/<arch>-<timestamp>)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in this directory from its last checkpoint
    #[arg(long)]
    pub resume: Option<PathBuf>,
    #[command(flatten)]
    pub gan: GanFlags,
    /// Learning rate of G and D
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// D steps per G step
    #[arg(long, allow_negative_numbers = true, value_parser = whole)]
    pub n_critic: Option<u64>,
    /// Decay the learning rate linearly to 0
    #[arg(long)]
    pub lr_decay: Option<bool>,
    /// EMA decay of the generator weights
    #[arg(long, allow_negative_numbers = true)]
    pub ema: Option<f64>,
    /// Write a checkpoint every N G steps
    #[arg(long, allow_negative_numbers = true, value_parser = whole)]
    pub checkpoint_every: Option<u64>,
    /// Write a sample grid every N G steps
    #[arg(long, allow_negative_numbers = true, value_parser = whole)]
    pub sample_every: Option<u64>,
    /// Score the EMA generator every N G steps (IS and FID into train.jsonl, checkpoint/best.*)
    #[arg(long, allow_negative_numbers = true, value_parser = whole)]
    pub eval_every: Option<u64>,
    /// Images generated for each of those evaluations
    #[arg(long, allow_negative_numbers = true)]
    pub eval_images: Option<i64>,
    /// Metrics of those evaluations, any of is,fid,kid,pr (default is,fid)
    #[arg(long)]
    pub metric: Option<String>,
    /// Keep checkpoint/best.* by fid (default), is, kid, precision or recall
    #[arg(long)]
    pub select_by: Option<String>,
    /// Append a line to train.jsonl every N G steps
    #[arg(long, allow_negative_numbers = true, value_parser = whole)]
    pub log_every: Option<u64>,
    /// Image size (default from the preset / data set)
    #[arg(long, allow_negative_numbers = true)]
    pub img_size: Option<i64>,
    /// Print the final summary as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A run directory or a checkpoint file
    pub input: Option<PathBuf>,
    /// Generator weights (safetensors), with --arch
    #[arg(long)]
    pub generator: Option<PathBuf>,
    #[arg(long)]
    pub arch: Option<PathBuf>,
    /// Score a folder of images instead of a generator
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// Any of is, fid, kid, pr (comma-separated), computed in one pass over the images
    #[arg(long, default_value = "is,fid")]
    pub metric: String,
    #[arg(long, default_value_t = 50_000, allow_negative_numbers = true, value_parser = whole_usize)]
    pub num_images: usize,
    /// Images per scorer batch (default: 100 on the CPU, 500 on CUDA)
    #[arg(long, allow_negative_numbers = true)]
    pub batch_size: Option<i64>,
    /// Precision of the scorer's forward passes: fp32 (default) or bf16 (autocast)
    #[arg(long, value_enum, default_value_t)]
    pub scorer_precision: crate::device::Precision,
    /// Reference for FID: a data set name, a folder of images or a statistics file (.npz)
    #[arg(long)]
    pub fid_ref: Option<String>,
    /// Input pipeline: tf (the paper's, default) or pytorch-fid
    #[arg(long, value_enum, ignore_case = true, default_value_t = Protocol::Tf)]
    pub protocol: Protocol,
    /// Inception weights (safetensors); default in $AUTOGAN_HOME
    #[arg(long)]
    pub inception: Option<PathBuf>,
    /// inception (default); classifier: the offline scorer trained on --dataset; auto: as
    /// search and train choose
    #[arg(long, value_enum, default_value_t = ScorerKind::Inception)]
    pub scorer: ScorerKind,
    /// Data set of the classifier scorer (default: the built-in shapes set)
    #[arg(long)]
    pub dataset: Option<String>,
    /// Where named data sets live (default: $AUTOGAN_DATA, else ./data)
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    pub size: SizeArgs,
    #[arg(long)]
    pub json: bool,
    /// Also write the result (as --json prints it) to FILE, whole or not at all
    #[arg(long, value_name = "FILE")]
    pub json_out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct SampleArgs {
    /// A run directory or a checkpoint file
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Generator weights (safetensors), with --arch
    #[arg(long)]
    pub generator: Option<PathBuf>,
    #[arg(long)]
    pub arch: Option<PathBuf>,
    #[command(flatten)]
    pub size: SizeArgs,
    /// Number of images
    #[arg(long, default_value_t = 64, allow_negative_numbers = true)]
    pub n: i64,
    /// Images per grid row
    #[arg(long, default_value_t = 8, allow_negative_numbers = true)]
    pub nrow: i64,
    /// Grid PNG to write
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write one PNG per image into this folder
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Latents to use (safetensors with tensor `z` of shape [n, latent_dim])
    #[arg(long)]
    pub latents: Option<PathBuf>,
    /// Save the raw generator output (tensor `images`, [n,3,H,W] float) as safetensors
    #[arg(long)]
    pub save_tensor: Option<PathBuf>,
}

/// `autogan arch score`.
#[derive(Args, Debug)]
pub struct ArchScoreArgs {
    /// A run directory of `autogan search`
    pub search: PathBuf,
    /// Architecture files (complete, or with as many cells as the scored stage has)
    #[arg(required = true)]
    pub archs: Vec<PathBuf>,
    /// Images per architecture (default: the search's rl_num_eval_img)
    #[arg(long)]
    pub images: Option<usize>,
    /// Score each architecture's first STAGE+1 cells with the supernet as it was at the end of
    /// that stage (checkpoint/stageSTAGE.safetensors): the reward that stage's ranking saw
    #[arg(long)]
    pub stage: Option<usize>,
    /// Batch-norm statistics: batch or running (default: the search's reward_bn)
    #[arg(long, value_enum)]
    pub reward_bn: Option<crate::config::RewardBn>,
    /// Score low-resolution stages with stage scorers, true or false (default: the search's
    /// stage_scorers)
    #[arg(long)]
    pub stage_scorers: Option<bool>,
    /// Weight of the FID in the score, IS - W x FID (default: the search's reward_fid); with
    /// W > 0 each architecture's IS and FID are reported too
    #[arg(long, allow_negative_numbers = true)]
    pub reward_fid: Option<f64>,
    /// Where named data sets live (for the scorer of the search's data set)
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON result to this file (atomically)
    #[arg(long)]
    pub json_out: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum ArchCommand {
    /// Print an architecture's cells in words
    Show {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Score architectures with a search's supernet (its last checkpoint): the search's
    /// scorer's IS of images the shared weights generate at each architecture, the same latents
    /// for every one. With the architectures' trained scores this measures how well weight
    /// sharing ranks them.
    Score(ArchScoreArgs),
    /// Parameter counts of G and D for an architecture
    Info {
        file: PathBuf,
        #[command(flatten)]
        size: SizeArgs,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Download and unpack cifar10 or stl10 into the data folder
    Fetch {
        name: String,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Report what is found for a data set (name or folder); all known sets when none is named
    Info {
        name: Option<String>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Write reference statistics (mu, sigma) of a data set for FID
    Stats {
        name: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ScorerCommand {
    /// Train the offline classifier scorer on a labelled data set
    Train {
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Search strategies to compare, e.g. reinforce,evolution (each run with --seeds seeds)
    #[arg(long, value_delimiter = ',')]
    pub strategies: Option<Vec<String>>,
    /// Searches per strategy (seeds --seed, --seed + 1, ...)
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Random architectures (uniform over the search space, drawn from --seed)
    #[arg(long)]
    pub random: Option<usize>,
    /// The paper's architectures to train too: some of a,b,c, or none
    #[arg(long, value_delimiter = ',')]
    pub paper: Option<Vec<String>>,
    /// G steps of every training (found, random and paper architectures alike)
    #[arg(long)]
    pub train_steps: Option<u64>,
    /// Preset of the searches and trainings; default: cifar10 with --dataset cifar10, stl10 with
    /// --dataset stl10, else quick
    #[arg(long)]
    pub preset: Option<String>,
    /// Generated images per evaluation
    #[arg(long)]
    pub eval_images: Option<usize>,
    /// Trainings of every architecture (seeds --seed, --seed + 1, ...), its scores the means
    /// over them (default 1). With --resume: raises the count of a comparison, whose finished
    /// trainings are kept
    #[arg(long)]
    pub train_seeds: Option<u64>,
    /// Architectures of each search's top-K to train, for the rank correlation (default 3)
    #[arg(long)]
    pub topk_train: Option<usize>,
    /// Extra flags for every search, in one string, e.g. "--iterations 30 --ctrl-steps 10"
    /// (with --resume: replaces the recorded ones while no search has run yet)
    #[arg(long, allow_hyphen_values = true)]
    pub search_args: Option<String>,
    /// Extra flags for every training, in one string, e.g. "--gf-dim 64 --df-dim 64"
    /// (with --resume: replaces the recorded ones while no training has run yet)
    #[arg(long, allow_hyphen_values = true)]
    pub train_args: Option<String>,
    /// Comparison directory (default runs/compare-<timestamp>)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue a comparison: re-attach to its Slurm jobs, run only the jobs that have not
    /// finished
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Print the jobs that would run now, without running them and without writing anything
    /// (the trainings of found architectures follow their searches)
    #[arg(long)]
    pub dry_run: bool,
    /// Where the jobs run (see "Running on a cluster" in the README); each phase (searches,
    /// trainings, evaluations) is one batch
    #[command(flatten)]
    pub launcher: Box<LauncherArgs>,
    /// Print the results as JSON (compare.json) instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The run directory (the --out of `autogan train`, `autogan search` or `autogan compare`)
    pub run_dir: PathBuf,
    /// Also write every chart of the page as its own SVG file into this folder
    /// (`NN-title.svg`, page order; files of the same name are replaced)
    #[arg(long, value_name = "DIR")]
    pub svg_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct DoctorArgs {
    #[arg(long)]
    pub json: bool,
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Time full training steps (n_critic D steps + one G step) after a warm-up
    Train {
        #[arg(long)]
        arch: PathBuf,
        #[command(flatten)]
        size: SizeArgs,
        #[arg(long, default_value_t = 64)]
        batch_size: i64,
        #[arg(long)]
        gen_batch_size: Option<i64>,
        #[arg(long, default_value_t = 5)]
        n_critic: u64,
        #[arg(long, default_value_t = 10)]
        steps: u64,
        #[arg(long, default_value_t = 2)]
        warmup: u64,
        #[arg(long, default_value_t = 32)]
        img_size: i64,
        /// Read the losses back every N steps (the training loop's cadence)
        #[arg(long, default_value_t = crate::gan::trainer::READ_EVERY)]
        read_every: u64,
        /// Precision of the forward passes: fp32 or bf16 (autocast)
        #[arg(long, value_enum, default_value_t)]
        precision: crate::device::Precision,
        /// Random images of the data set (50,000 as CIFAR-10: one data epoch = 781 D steps)
        #[arg(long, default_value_t = 50_000)]
        images: i64,
        #[arg(long)]
        json: bool,
    },
    /// Time the scorer's Inception features (TF1 resize to 299 + network) on random 32x32
    /// images in memory, after a warm-up batch
    Inception {
        /// Images to score
        #[arg(long, default_value_t = 1000)]
        images: i64,
        /// Images per batch (default: 100 on the CPU, 500 on CUDA)
        #[arg(long)]
        batch_size: Option<i64>,
        /// Weights (safetensors); default: random weights, the same work per image
        #[arg(long)]
        inception: Option<PathBuf>,
        /// Precision of the forward passes: fp32 or bf16 (autocast)
        #[arg(long, value_enum, default_value_t)]
        precision: crate::device::Precision,
        #[arg(long)]
        json: bool,
    },
    /// Time a slice of a search schedule at its sizes (shared GAN steps and reward scoring
    /// at each stage, random data and random-weight Inception) and extrapolate the whole
    /// schedule's time
    Search {
        /// Preset whose search schedule and sizes are timed
        #[arg(long, default_value = "cifar10")]
        preset: String,
        #[command(flatten)]
        size: SizeArgs,
        /// Timed D steps per stage
        #[arg(long, default_value_t = 200)]
        d_steps: u64,
        /// Untimed D steps per stage first (warm-up)
        #[arg(long, default_value_t = 20)]
        warmup: u64,
        /// Images per reward (default: the preset's)
        #[arg(long)]
        rl_num_eval_img: Option<i64>,
        /// Random images of the data set, as the real one's size (CIFAR-10: 50,000)
        #[arg(long, default_value_t = 50_000)]
        images: i64,
        #[arg(long, value_enum, default_value_t)]
        precision: crate::device::Precision,
        #[arg(long, value_enum, default_value_t)]
        scorer_precision: crate::device::Precision,
        /// A tiny stand-in scorer instead of Inception (dry runs of scripts/gpu_check.sh)
        #[arg(long, hide = true)]
        tiny_scorer: bool,
        #[arg(long)]
        json: bool,
    },
}

/// Value parser of counts (u64): a whole number of 0 or more, with a message that says so.
fn whole(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .map_err(|_| format!("'{s}' is not a whole number of 0 or more"))
}

/// [`whole`] for `usize` flags.
fn whole_usize(s: &str) -> Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .map_err(|_| format!("'{s}' is not a whole number of 0 or more"))
}

/// Value parser of `--steps`: a whole number of at least 1 (0 steps would train nothing).
fn at_least_one(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(0) => Err("0 steps would train nothing: give at least 1".to_string()),
        Ok(v) => Ok(v),
        Err(_) => Err(format!("'{s}' is not a whole number of at least 1")),
    }
}

/// Device checks (`autogan selftest`): the run's device against the CPU.
#[derive(Args, Debug)]
pub struct SelftestArgs {
    /// Tiny sizes (a dry run on the CPU)
    #[arg(long)]
    pub toy: bool,
    #[arg(long)]
    pub json: bool,
}

/// The SAC strategy's settings (`--strategy sac`; preset fields of the same names with `_`).
#[derive(Args, Debug, Clone, Default)]
pub struct SacArgs {
    /// SAC: episodes (one architecture each, one cell per step)
    #[arg(long)]
    pub sac_episodes: Option<u64>,
    /// SAC: the last N episodes act deterministically; their best architectures are the result
    #[arg(long)]
    pub sac_exploit_episodes: Option<u64>,
    /// SAC: epochs of shared GAN training after each step
    #[arg(long)]
    pub sac_step_epochs: Option<u64>,
    /// SAC: at most N D steps of shared GAN training after each step
    #[arg(long)]
    pub sac_max_steps: Option<u64>,
    /// SAC: hidden width of the policy and the Q networks
    #[arg(long)]
    pub sac_hidden: Option<i64>,
    /// SAC: Adam learning rate of the policy and the Q networks
    #[arg(long)]
    pub sac_lr: Option<f64>,
    /// SAC: entropy temperature (fixed)
    #[arg(long)]
    pub sac_alpha: Option<f64>,
    /// SAC: discount of the next step's value
    #[arg(long)]
    pub sac_gamma: Option<f64>,
    /// SAC: soft update rate of the target Q networks
    #[arg(long)]
    pub sac_tau: Option<f64>,
    /// SAC: transitions per update (at most)
    #[arg(long)]
    pub sac_batch: Option<usize>,
    /// SAC: transitions in the replay buffer before updates begin
    #[arg(long)]
    pub sac_start: Option<usize>,
    /// SAC: updates after each step of an exploring episode
    #[arg(long)]
    pub sac_updates: Option<u64>,
    /// SAC: updates after each step of an exploiting episode
    #[arg(long)]
    pub sac_exploit_updates: Option<u64>,
}

impl SacArgs {
    /// Each flag with whether it was given.
    pub fn given(&self) -> Vec<(&'static str, bool)> {
        vec![
            ("--sac-episodes", self.sac_episodes.is_some()),
            (
                "--sac-exploit-episodes",
                self.sac_exploit_episodes.is_some(),
            ),
            ("--sac-step-epochs", self.sac_step_epochs.is_some()),
            ("--sac-max-steps", self.sac_max_steps.is_some()),
            ("--sac-hidden", self.sac_hidden.is_some()),
            ("--sac-lr", self.sac_lr.is_some()),
            ("--sac-alpha", self.sac_alpha.is_some()),
            ("--sac-gamma", self.sac_gamma.is_some()),
            ("--sac-tau", self.sac_tau.is_some()),
            ("--sac-batch", self.sac_batch.is_some()),
            ("--sac-start", self.sac_start.is_some()),
            ("--sac-updates", self.sac_updates.is_some()),
            ("--sac-exploit-updates", self.sac_exploit_updates.is_some()),
        ]
    }

    /// Set the given flags in `c`.
    pub fn apply(&self, c: &mut crate::config::SacConfig) {
        if let Some(v) = self.sac_max_steps {
            c.sac_max_steps = Some(v);
        }
        macro_rules! set {
            ($($f:ident),*) => {$(
                if let Some(v) = self.$f {
                    c.$f = v;
                }
            )*};
        }
        set!(
            sac_episodes,
            sac_exploit_episodes,
            sac_step_epochs,
            sac_hidden,
            sac_lr,
            sac_alpha,
            sac_gamma,
            sac_tau,
            sac_batch,
            sac_start,
            sac_updates,
            sac_exploit_updates
        );
    }
}
