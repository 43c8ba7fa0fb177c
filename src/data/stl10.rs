//! STL-10, binary version: `stl10_binary/train_X.bin` (5,000 labelled), `unlabeled_X.bin`
//! (100,000) and `test_X.bin` (8,000) of 96x96 RGB images; labels 1..10 in `train_y.bin` and
//! `test_y.bin` (one byte per image). Each image is 3 channel planes of 9,216 bytes, each plane
//! COLUMN-major: pixel (row r, col c) of channel ch is byte ch*9216 + c*96 + r.
//!
//! The train split (what AutoGAN trains on) is train + unlabeled, 105k images, resized to 48x48
//! while reading, in chunks: the 96x96 images are never all in memory, never as float.
use anyhow::{bail, Context, Result};
use std::io::Read;
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

use super::{check_file, resize_u8, Dataset, Split};

/// Where the STL-10 binary version is published (`autogan data fetch stl10`).
pub const URL: &str = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz";

/// Folder inside the data dir, as the official archive unpacks.
pub const FOLDER: &str = "stl10_binary";
/// Side of the stored images.
pub const NATIVE: usize = 96;
/// Size delivered when none is asked (the paper's STL-10 setting).
pub const DEFAULT_SIZE: i64 = 48;
pub const IMAGE_BYTES: usize = 3 * NATIVE * NATIVE;
pub const NUM_CLASSES: i64 = 10;
pub const CLASS_NAMES: [&str; 10] = [
    "airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck",
];

/// Images per file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub train: usize,
    pub unlabeled: usize,
    pub test: usize,
}

/// The counts of the official files.
pub const OFFICIAL: Counts = Counts {
    train: 5_000,
    unlabeled: 100_000,
    test: 8_000,
};

/// The parts of a split: (images file, labels file if any, count).
pub fn parts(split: Split, counts: Counts) -> Vec<(&'static str, Option<&'static str>, usize)> {
    match split {
        Split::Train => {
            vec![
                ("train_X.bin", Some("train_y.bin"), counts.train),
                ("unlabeled_X.bin", None, counts.unlabeled),
            ]
        }
        Split::Test => vec![("test_X.bin", Some("test_y.bin"), counts.test)],
    }
}

/// What to do when a file is missing or wrong.
pub fn fix_hint(data_dir: &Path) -> String {
    format!(
        "run `autogan data fetch stl10 --data-dir {}`, or extract stl10_binary.tar.gz (from {}) into {} so that {} holds all of train_X.bin, train_y.bin, unlabeled_X.bin, test_X.bin, test_y.bin",
        data_dir.display(),
        URL,
        data_dir.display(),
        data_dir.join(FOLDER).display()
    )
}

/// The official set in `data_dir`, images resized to `size`.
pub fn load(data_dir: &Path, split: Split, limit: Option<usize>, size: i64) -> Result<Dataset> {
    load_dir(data_dir, split, limit, size, OFFICIAL)
}

/// The set in `data_dir/stl10_binary` with the given file counts (tests use small files).
pub fn load_dir(
    data_dir: &Path,
    split: Split,
    limit: Option<usize>,
    size: i64,
    counts: Counts,
) -> Result<Dataset> {
    if size < 1 {
        bail!("image size {size}: must be positive");
    }
    let dir = data_dir.join(FOLDER);
    let fix = fix_hint(data_dir);
    let parts = parts(split, counts);
    for (x, y, n) in &parts {
        check_file(&dir.join(x), (n * IMAGE_BYTES) as u64, &fix)?;
        if let Some(y) = y {
            check_file(&dir.join(y), *n as u64, &fix)?;
        }
    }
    let total: usize = parts.iter().map(|p| p.2).sum();
    let n = limit.map_or(total, |l| l.min(total));
    if n == 0 {
        bail!("{}: no images in the {split} split", dir.display());
    }
    let s = size as usize;
    let images = Tensor::zeros([n as i64, 3, size, size], (Kind::Uint8, tch::Device::Cpu));
    let mut labels: Vec<i64> = Vec::with_capacity(n);
    let mut done = 0usize;
    for (x, y, count) in &parts {
        if done >= n {
            break;
        }
        let want = (n - done).min(*count);
        let xpath = dir.join(x);
        match y {
            Some(y) => {
                for (i, &b) in read_labels(&dir.join(y), want)?.iter().enumerate() {
                    if !(1..=10).contains(&b) {
                        bail!(
                            "{}: label {} of image {} is not in 1..10; the file is damaged ({fix})",
                            dir.join(y).display(),
                            b,
                            i + 1
                        );
                    }
                    labels.push(b as i64 - 1);
                }
            }
            None => labels.extend(std::iter::repeat_n(-1, want)),
        }
        read_images(&xpath, want, s, |start, chunk| {
            let len = chunk.len() / (3 * s * s);
            let t = Tensor::from_slice(chunk).view([len as i64, 3, size, size]);
            images
                .narrow(0, (done + start) as i64, len as i64)
                .copy_(&t);
        })?;
        done += want;
    }
    Dataset::new(
        "stl10",
        images,
        Some(Tensor::from_slice(&labels)),
        Some(NUM_CLASSES),
    )
}

/// Read the first `n` label bytes of a labels file.
pub fn read_labels(path: &Path, n: usize) -> Result<Vec<u8>> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut b = vec![0u8; n];
    f.read_exact(&mut b).with_context(|| {
        format!(
            "{}: could not read {n} labels (file truncated?)",
            path.display()
        )
    })?;
    Ok(b)
}

/// Read the first `n` images of an images file in chunks, each converted to row-major
/// NCHW uint8 of `size` x `size`; `sink(first_index, bytes)` receives each chunk.
/// Whole factors of 96 (96, 48, 32, 24, ...) are box-averaged here in plain Rust; other sizes go
/// through `resize_u8` one chunk at a time.
pub fn read_images(
    path: &Path,
    n: usize,
    size: usize,
    mut sink: impl FnMut(usize, &[u8]),
) -> Result<()> {
    const CHUNK: usize = 500;
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut r = std::io::BufReader::with_capacity(1 << 22, f);
    let mut raw = vec![0u8; CHUNK * IMAGE_BYTES];
    let mut start = 0usize;
    while start < n {
        let len = CHUNK.min(n - start);
        let buf = &mut raw[..len * IMAGE_BYTES];
        r.read_exact(buf).with_context(|| {
            format!(
                "{}: could not read images {}..{} (file truncated?)",
                path.display(),
                start + 1,
                start + len
            )
        })?;
        if NATIVE.is_multiple_of(size) {
            sink(start, &box_resize(buf, len, size));
        } else {
            let full = box_resize(buf, len, NATIVE);
            let t = Tensor::from_slice(&full).view([len as i64, 3, NATIVE as i64, NATIVE as i64]);
            let t = resize_u8(&t, size as i64).contiguous();
            let numel = len * 3 * size * size;
            let mut out = vec![0u8; numel];
            t.f_copy_data_u8(&mut out, numel)
                .context("copying resized STL-10 images")?;
            sink(start, &out);
        }
        start += len;
    }
    Ok(())
}

/// Column-major 96x96 images -> row-major `size` x `size` (size divides 96), each output
/// pixel the rounded mean of a k x k block (k = 96 / size; k = 1 is a plain transpose).
pub fn box_resize(raw: &[u8], n: usize, size: usize) -> Vec<u8> {
    let k = NATIVE / size;
    let area = (k * k) as u32;
    let plane = NATIVE * NATIVE;
    let mut out = vec![0u8; n * 3 * size * size];
    for i in 0..n {
        for ch in 0..3 {
            let src = &raw[i * IMAGE_BYTES + ch * plane..i * IMAGE_BYTES + (ch + 1) * plane];
            let dst = &mut out[(i * 3 + ch) * size * size..(i * 3 + ch + 1) * size * size];
            for c in 0..size {
                for r in 0..size {
                    let mut sum = 0u32;
                    for dc in 0..k {
                        let col =
                            &src[(c * k + dc) * NATIVE + r * k..(c * k + dc) * NATIVE + r * k + k];
                        sum += col.iter().map(|&b| b as u32).sum::<u32>();
                    }
                    dst[r * size + c] = ((sum + area / 2) / area) as u8;
                }
            }
        }
    }
    out
}

/// Paths of all files of the set (for `data info`).
pub fn all_files(data_dir: &Path) -> Vec<(PathBuf, u64)> {
    let dir = data_dir.join(FOLDER);
    let mut v = Vec::new();
    for split in [Split::Train, Split::Test] {
        for (x, y, n) in parts(split, OFFICIAL) {
            v.push((dir.join(x), (n * IMAGE_BYTES) as u64));
            if let Some(y) = y {
                v.push((dir.join(y), n as u64));
            }
        }
    }
    v
}
