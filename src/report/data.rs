//! Reading a run directory for the report: its kind, its JSONL log (lenient: a bad line is
//! skipped and reported, not fatal), config.json, the top-K arch files and the sample grids.
use crate::run::RunFiles;
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// What wrote the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Train,
    Search,
    /// A comparison directory of `autogan compare` (its `compare.json`).
    Compare,
}

/// A JSONL log read line by line: the parsed objects and one message per line that was not.
#[derive(Debug, Default)]
pub struct Log {
    pub lines: Vec<Value>,
    pub problems: Vec<String>,
}

/// The kind of run in `dir`, from its log file; a folder with neither log is refused.
pub fn run_kind(dir: &Path) -> Result<RunKind> {
    if !dir.is_dir() {
        bail!(
            "{}: no such folder: give the directory of a run written by `autogan train` or \
             `autogan search` (its --out)",
            dir.display()
        );
    }
    if RunFiles::of(dir).compare_results().is_file() {
        Ok(RunKind::Compare)
    } else if RunFiles::of(dir).search_log().is_file() {
        Ok(RunKind::Search)
    } else if RunFiles::of(dir).train_log().is_file() {
        Ok(RunKind::Train)
    } else if read_config(dir).is_ok_and(|c| c["command"] == "compare") {
        bail!(
            "{}: this comparison has no compare.json yet; `autogan compare --resume {}` writes \
             it when its jobs have ended",
            dir.display(),
            dir.display()
        )
    } else {
        bail!(
            "{} is not a run directory: it has neither train.jsonl nor search.jsonl (nor \
             compare.json); give the --out folder of `autogan train`, `autogan search` or \
             `autogan compare`",
            dir.display()
        )
    }
}

/// Read a JSONL file. Unreadable file: error naming it. A line that is not a JSON object
/// (a torn last line after a crash, a hand edit) is skipped and named in `problems`.
pub fn read_log(path: &Path) -> Result<Log> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let mut log = Log::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(v) if v.is_object() => log.lines.push(v),
            Ok(_) => log.problems.push(format!(
                "{} line {}: not a JSON object, skipped",
                path.display(),
                i + 1
            )),
            Err(e) => log.problems.push(format!(
                "{} line {}: invalid JSON ({e}), skipped",
                path.display(),
                i + 1
            )),
        }
    }
    Ok(log)
}

/// config.json, or a message saying why there is none.
pub fn read_config(dir: &Path) -> std::result::Result<Value, String> {
    let p = RunFiles::of(dir).config();
    let text =
        std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: invalid JSON ({e})", p.display()))
}

/// A JSON file of the run (top-K arch, best.json), with its path.
pub struct JsonFile {
    pub path: PathBuf,
    pub value: std::result::Result<Value, String>,
}

/// `archs/top*.json` by rank (top1, top2, ...).
pub fn top_archs(dir: &Path) -> Vec<JsonFile> {
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(RunFiles::of(dir).archs())
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().to_string();
                    let k = name
                        .strip_prefix("top")?
                        .strip_suffix(".json")?
                        .parse()
                        .ok()?;
                    Some((k, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.into_iter().map(|(_, p)| read_json_file(p)).collect()
}

/// Read one JSON file, keeping the error as text.
pub fn read_json_file(path: PathBuf) -> JsonFile {
    let value = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
        .and_then(|t| {
            serde_json::from_str(&t).map_err(|e| format!("{}: invalid JSON ({e})", path.display()))
        });
    JsonFile { path, value }
}

/// The PNG files of `dir/samples`, sorted by name (the names carry zero-padded steps).
pub fn sample_grids(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(RunFiles::of(dir).samples())
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "png"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The final-training run directories of a search (`final/top1`, `final/top2`, ...), by rank.
pub fn final_runs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<(u64, PathBuf)> = std::fs::read_dir(RunFiles::of(dir).final_dir())
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .filter_map(|e| {
                    let k = e
                        .file_name()
                        .to_string_lossy()
                        .strip_prefix("top")?
                        .parse()
                        .ok()?;
                    Some((k, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v.into_iter().map(|(_, p)| p).collect()
}

/// At most `n` of `v`, evenly spaced, always with the last.
pub fn spaced<T: Clone>(v: &[T], n: usize) -> Vec<T> {
    if v.len() <= n || n == 0 {
        return v.to_vec();
    }
    (0..n)
        .map(|i| v[(i * (v.len() - 1)) / (n - 1).max(1)].clone())
        .collect()
}

/// A number field of a log line.
pub fn f(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}
