//! CIFAR-10, binary version: `cifar-10-batches-bin/data_batch_{1..5}.bin` (train, 50k) and
//! `test_batch.bin` (test, 10k). Each file holds 10,000 records of 1 label byte (0..9) and
//! 3,072 pixel bytes: the 1,024 red values of the 32x32 image row by row, then green, then
//! blue, which is already the NCHW layout of one image.
use anyhow::{bail, Context, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{check_file, Dataset, Split};

/// Where the CIFAR-10 binary version is published (`autogan data fetch cifar10`).
pub const URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";

/// Folder inside the data dir, as the official archive unpacks.
pub const FOLDER: &str = "cifar-10-batches-bin";
pub const SIZE: i64 = 32;
pub const RECORD: usize = 1 + 3 * 32 * 32;
pub const RECORDS_PER_FILE: usize = 10_000;
pub const NUM_CLASSES: i64 = 10;
pub const CLASS_NAMES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// The files of a split, in reading order.
pub fn files(split: Split) -> Vec<String> {
    match split {
        Split::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
        Split::Test => vec!["test_batch.bin".to_string()],
    }
}

/// What to do when a file is missing or wrong.
pub fn fix_hint(data_dir: &Path) -> String {
    format!(
        "run `autogan data fetch cifar10 --data-dir {}`, or extract cifar-10-binary.tar.gz (from {}) into {} so that {} holds all of {}",
        data_dir.display(),
        URL,
        data_dir.display(),
        data_dir.join(FOLDER).display(),
        files(Split::Train)
            .into_iter()
            .chain(files(Split::Test))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The official set in `data_dir`.
pub fn load(data_dir: &Path, split: Split, limit: Option<usize>) -> Result<Dataset> {
    load_dir(data_dir, split, limit, RECORDS_PER_FILE)
}

/// The set in `data_dir/cifar-10-batches-bin`, with `records_per_file` records per file
/// (10,000 for the official files; tests use small files).
pub fn load_dir(
    data_dir: &Path,
    split: Split,
    limit: Option<usize>,
    records_per_file: usize,
) -> Result<Dataset> {
    let dir = data_dir.join(FOLDER);
    let fix = fix_hint(data_dir);
    let paths: Vec<PathBuf> = files(split).iter().map(|f| dir.join(f)).collect();
    // Check every size first: a wrong file fails before minutes of reading.
    for p in &paths {
        check_file(p, (records_per_file * RECORD) as u64, &fix)?;
    }
    let total = paths.len() * records_per_file;
    let n = limit.map_or(total, |l| l.min(total));
    let mut px = Vec::with_capacity(n * (RECORD - 1));
    let mut labels = Vec::with_capacity(n);
    for p in &paths {
        if labels.len() >= n {
            break;
        }
        let want = (n - labels.len()).min(records_per_file);
        read_records(p, want, &mut px, &mut labels)?;
    }
    Dataset::from_u8("cifar10", px, SIZE, Some(labels), Some(NUM_CLASSES))
}

/// Read the first `count` records of one file, appending pixels (3x32x32 per image) and labels.
pub fn read_records(
    path: &Path,
    count: usize,
    px: &mut Vec<u8>,
    labels: &mut Vec<u8>,
) -> Result<()> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, f);
    let mut rec = vec![0u8; RECORD];
    for i in 0..count {
        r.read_exact(&mut rec).with_context(|| {
            format!(
                "{}: could not read record {} of {} (file truncated?)",
                path.display(),
                i + 1,
                count
            )
        })?;
        if rec[0] as i64 >= NUM_CLASSES {
            bail!(
                "{}: record {} has label {}, CIFAR-10 labels are 0..9; this is not a CIFAR-10 binary file (the python version is a different format)",
                path.display(),
                i + 1,
                rec[0]
            );
        }
        labels.push(rec[0]);
        px.extend_from_slice(&rec[1..]);
    }
    Ok(())
}
