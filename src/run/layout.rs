//! The files of a run directory of `autogan train` and `autogan search`, spelled in one place
//! (a comparison's directory has its own, `compare::Layout`):
//!
//! ```text
//! RUN/config.json                 the configuration snapshot (command, config, seed, device)
//! RUN/arch.json                   train: the architecture trained
//! RUN/train.jsonl, search.jsonl   the log, one JSON object a line
//! RUN/checkpoint/last.safetensors everything needed to resume
//! RUN/checkpoint/best.safetensors train: the best evaluation's checkpoint, best.json its scores
//! RUN/samples/                    image grids
//! RUN/generator.safetensors       train: the EMA generator at the end
//! RUN/archs/topK.json, best.json  search: the ranked architectures and the one chosen
//! RUN/final/topK/, final/train.json search: the final training of the top-K and its preset
//! RUN/sweep.json                  sweep: the outcome of every job
//! RUN/compare.json                compare: the results (its other files: `compare::Layout`)
//! RUN/report.html                 any run: `autogan report`
//! RUN/tb/, RUN/jobs/, RUN/.lock   TensorBoard events, launcher records, the run lock
//! ```
use std::path::{Path, PathBuf};

/// The checkpoint folder's name (also how a checkpoint file's run is found from the file).
pub const CHECKPOINT_DIR: &str = "checkpoint";
/// The folders a new run directory gets at once.
pub const SUBDIRS: [&str; 2] = [CHECKPOINT_DIR, "samples"];

/// Paths inside one run directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFiles {
    root: PathBuf,
}

impl RunFiles {
    pub fn of(root: &Path) -> RunFiles {
        RunFiles {
            root: root.to_path_buf(),
        }
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn config(&self) -> PathBuf {
        self.root.join("config.json")
    }
    pub fn arch(&self) -> PathBuf {
        self.root.join("arch.json")
    }
    pub fn train_log(&self) -> PathBuf {
        self.root.join("train.jsonl")
    }
    pub fn search_log(&self) -> PathBuf {
        self.root.join("search.jsonl")
    }
    pub fn last_checkpoint(&self) -> PathBuf {
        self.root.join(CHECKPOINT_DIR).join("last.safetensors")
    }
    /// The search's supernet (and strategy) as it was at the end of stage `stage`, kept at
    /// each stage change so a stage's rewards can be measured afterwards (`arch score --stage`).
    pub fn stage_checkpoint(&self, stage: usize) -> PathBuf {
        self.root
            .join(CHECKPOINT_DIR)
            .join(format!("stage{stage}.safetensors"))
    }
    pub fn best_checkpoint(&self) -> PathBuf {
        self.root.join(CHECKPOINT_DIR).join("best.safetensors")
    }
    /// The scores of the best checkpoint (train).
    pub fn best_eval(&self) -> PathBuf {
        self.root.join(CHECKPOINT_DIR).join("best.json")
    }
    pub fn samples(&self) -> PathBuf {
        self.root.join("samples")
    }
    pub fn generator(&self) -> PathBuf {
        self.root.join("generator.safetensors")
    }
    /// The architecture a search chose.
    pub fn best_arch(&self) -> PathBuf {
        self.root.join("best.json")
    }
    pub fn archs(&self) -> PathBuf {
        self.root.join("archs")
    }
    /// Rank `rank` (from 1) of a search's top-K.
    pub fn top_arch(&self, rank: usize) -> PathBuf {
        self.archs().join(format!("top{rank}.json"))
    }
    /// The final training of a search's top-K.
    pub fn final_dir(&self) -> PathBuf {
        self.root.join("final")
    }
    /// The preset (a `train` section) the final trainings of a search run with.
    pub fn final_preset(&self) -> PathBuf {
        self.final_dir().join("train.json")
    }
    /// A sweep's outcomes.
    pub fn sweep_results(&self) -> PathBuf {
        self.root.join("sweep.json")
    }
    /// A comparison's results.
    pub fn compare_results(&self) -> PathBuf {
        self.root.join("compare.json")
    }
    /// The page `autogan report` writes.
    pub fn report(&self) -> PathBuf {
        self.root.join("report.html")
    }
}
