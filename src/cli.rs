//! Command-line structure (clap derive) and nothing else: every field here is parsed input;
//! the work happens in `commands/`.
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "autogan",
    version,
    about = "GAN architecture search (AutoGAN, ICCV 2019) on libtorch: search, train, evaluate",
    long_about = None
)]
pub struct Cli {
    /// Where to compute: auto (CUDA if available, else CPU), cpu, cuda or cuda:N
    #[arg(long, global = true, default_value = "auto")]
    pub device: String,
    /// Intra-op CPU threads for libtorch (default: libtorch's own choice)
    #[arg(long, global = true)]
    pub threads: Option<i32>,
    /// Seed for libtorch and for every random choice of autogan (same seed, same run on CPU)
    #[arg(long, global = true, default_value_t = 0)]
    pub seed: u64,
    /// Print results only: no progress bars, no log lines
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

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
    /// Time training steps or feature extraction
    #[command(subcommand)]
    Bench(BenchCommand),
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
    #[arg(long)]
    pub gf_dim: Option<i64>,
    /// Discriminator channels
    #[arg(long)]
    pub df_dim: Option<i64>,
    /// Latent dimension
    #[arg(long)]
    pub latent_dim: Option<i64>,
    /// Spatial size after l1 (4 for 32x32 output, 6 for 48x48)
    #[arg(long)]
    pub bottom_width: Option<i64>,
}

#[derive(Args, Debug)]
pub struct SearchArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// cifar10, stl10 or quick (configs/*.json); default quick
    #[arg(long)]
    pub preset: Option<String>,
    /// Run directory (default runs/search-<dataset>-<timestamp>)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue a search from its last completed iteration
    #[arg(long)]
    pub resume: Option<PathBuf>,
    #[command(flatten)]
    pub size: SizeArgs,
    /// Search iterations in all
    #[arg(long)]
    pub iterations: Option<u64>,
    /// Iterations at which stages 1 and 2 begin, e.g. 15,35
    #[arg(long, value_delimiter = ',')]
    pub stage_changes: Option<Vec<u64>>,
    /// Epochs of shared GAN training per iteration
    #[arg(long)]
    pub shared_epochs: Option<u64>,
    /// Cap on D steps per iteration
    #[arg(long)]
    pub max_shared_steps: Option<u64>,
    /// Controller updates per iteration
    #[arg(long)]
    pub ctrl_steps: Option<u64>,
    /// Architectures per controller update
    #[arg(long)]
    pub ctrl_sample_batch: Option<i64>,
    /// Images generated to score one architecture
    #[arg(long)]
    pub rl_num_eval_img: Option<i64>,
    /// Architectures scored at each stage change
    #[arg(long)]
    pub num_candidate: Option<usize>,
    /// Prefixes kept in the beam / architectures written at the end
    #[arg(long)]
    pub topk: Option<usize>,
    /// D batch size
    #[arg(long)]
    pub batch_size: Option<i64>,
    /// G batch size
    #[arg(long)]
    pub gen_batch_size: Option<i64>,
    /// Dynamic reset on or off
    #[arg(long)]
    pub dynamic_reset: Option<bool>,
    /// variance (default, as the reference code) or std (the paper's wording)
    #[arg(long)]
    pub reset_mode: Option<String>,
    /// Loss window of the dynamic reset
    #[arg(long)]
    pub reset_window: Option<usize>,
    /// auto, inception or classifier
    #[arg(long)]
    pub scorer: Option<String>,
    /// Train each top-K arch from scratch for N G steps and pick best.json by FID
    #[arg(long)]
    pub final_train_steps: Option<u64>,
    /// Print the final summary as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Architecture file (JSON cells or {"vector": [...]})
    #[arg(long)]
    pub arch: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
    /// cifar10, stl10 or quick (configs/*.json)
    #[arg(long)]
    pub preset: Option<String>,
    /// Number of generator steps
    #[arg(long)]
    pub steps: Option<u64>,
    /// Run directory (default runs/<arch>-<timestamp>)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in this directory from its last checkpoint
    #[arg(long)]
    pub resume: Option<PathBuf>,
    #[command(flatten)]
    pub size: SizeArgs,
    /// Discriminator batch size
    #[arg(long)]
    pub batch_size: Option<i64>,
    /// Generator batch size
    #[arg(long)]
    pub gen_batch_size: Option<i64>,
    /// Learning rate of G and D
    #[arg(long)]
    pub lr: Option<f64>,
    /// D steps per G step
    #[arg(long)]
    pub n_critic: Option<u64>,
    /// Decay the learning rate linearly to 0
    #[arg(long)]
    pub lr_decay: Option<bool>,
    /// EMA decay of the generator weights
    #[arg(long)]
    pub ema: Option<f64>,
    /// Write a checkpoint every N G steps
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// Write a sample grid every N G steps
    #[arg(long)]
    pub sample_every: Option<u64>,
    /// Score the EMA generator every N G steps (IS and FID into train.jsonl, checkpoint/best.*)
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Images generated for each of those evaluations
    #[arg(long)]
    pub eval_images: Option<i64>,
    /// Scorer of those evaluations: auto, inception or classifier
    #[arg(long)]
    pub scorer: Option<String>,
    /// Append a line to train.jsonl every N G steps
    #[arg(long)]
    pub log_every: Option<u64>,
    /// Image size (default from the preset / data set)
    #[arg(long)]
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
    /// is, fid or is,fid
    #[arg(long, default_value = "is,fid")]
    pub metric: String,
    #[arg(long, default_value_t = 50_000)]
    pub num_images: usize,
    #[arg(long, default_value_t = 100)]
    pub batch_size: i64,
    /// Reference for FID: a data set name, a folder of images or a statistics file (.npz)
    #[arg(long)]
    pub fid_ref: Option<String>,
    /// tf (default) or pytorch-fid
    #[arg(long, default_value = "tf")]
    pub protocol: String,
    /// Inception weights (safetensors); default in $AUTOGAN_HOME
    #[arg(long)]
    pub inception: Option<PathBuf>,
    /// inception (default), or classifier: the offline scorer trained on --dataset
    #[arg(long, default_value = "inception")]
    pub scorer: String,
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
    #[arg(long, default_value_t = 64)]
    pub n: i64,
    /// Images per grid row
    #[arg(long, default_value_t = 8)]
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

#[derive(Subcommand, Debug)]
pub enum ArchCommand {
    /// Print an architecture's cells in words
    Show {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
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
    /// Preset of the searches and trainings (default quick)
    #[arg(long)]
    pub preset: Option<String>,
    /// Generated images per evaluation
    #[arg(long)]
    pub eval_images: Option<usize>,
    /// Architectures of each search's top-K to train, for the rank correlation (default 3)
    #[arg(long)]
    pub topk_train: Option<usize>,
    /// Extra flags for every search, in one string, e.g. "--iterations 30 --ctrl-steps 10"
    #[arg(long, allow_hyphen_values = true)]
    pub search_args: Option<String>,
    /// Extra flags for every training, in one string, e.g. "--gf-dim 64 --df-dim 64"
    #[arg(long, allow_hyphen_values = true)]
    pub train_args: Option<String>,
    /// Comparison directory (default runs/compare-<timestamp>)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue a comparison: run only the jobs that have not finished
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Write the plan (or read it with --resume) and print the jobs that would run now, without
    /// running them (the trainings of found architectures follow their searches)
    #[arg(long)]
    pub dry_run: bool,
    /// Print the results as JSON (compare.json) instead of a table
    #[arg(long)]
    pub json: bool,
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
        #[arg(long)]
        json: bool,
    },
}
