//! What is on disk for a data set, without loading it: files and their sizes against the
//! expected ones, image counts per split, image size, labels. Used by `autogan data info`.
use anyhow::{bail, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

use super::{canonical, cifar10, fetch::Archive, folder, shapes, stl10};

#[derive(Debug, Clone, Serialize)]
pub struct FileInfo {
    pub path: String,
    /// Size found (None = missing).
    pub size: Option<u64>,
    pub expected: Option<u64>,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SplitInfo {
    pub split: String,
    pub images: u64,
    /// Images with a label among them.
    pub labelled: u64,
    /// Whether every file of this split is there with the right size.
    pub available: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SetInfo {
    pub name: String,
    /// `built-in`, `binary` (official files) or `folder`.
    pub kind: String,
    /// The folder read (None for the built-in set).
    pub location: Option<String>,
    /// Whether the set can be loaded as it is.
    pub available: bool,
    pub files: Vec<FileInfo>,
    pub splits: Vec<SplitInfo>,
    /// Side of the stored images (folder: the most common size found).
    pub stored_size: Option<u64>,
    /// Side of the images delivered when no size is asked.
    pub default_size: u64,
    pub labelled: bool,
    pub num_classes: Option<u64>,
    pub classes: Vec<String>,
    /// Folder sets: how many images of each stored size ("WxH" -> count).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub image_sizes: BTreeMap<String, u64>,
    /// Folder sets: total bytes of the image files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_bytes: Option<u64>,
    /// What is wrong, one line each.
    pub problems: Vec<String>,
    /// How to fix it.
    pub fix: Option<String>,
}

/// Info for every known set (`shapes`, `cifar10`, `stl10`).
pub fn all(data_dir: &Path) -> Vec<SetInfo> {
    vec![
        shapes_info(),
        binary_info("cifar10", data_dir),
        binary_info("stl10", data_dir),
    ]
}

/// Info for a named set or a folder path.
pub fn of(name: &str, data_dir: &Path) -> Result<SetInfo> {
    match canonical(name) {
        Some("shapes") => Ok(shapes_info()),
        Some(n @ ("cifar10" | "stl10")) => Ok(binary_info(n, data_dir)),
        _ => {
            let p = Path::new(name);
            if p.is_dir() {
                folder_info(p)
            } else {
                bail!("'{name}' is neither a known data set (shapes, cifar10, stl10) nor a folder")
            }
        }
    }
}

fn shapes_info() -> SetInfo {
    SetInfo {
        name: "shapes".into(),
        kind: "built-in".into(),
        location: None,
        available: true,
        files: vec![],
        splits: vec![SplitInfo {
            split: "train".into(),
            images: super::DEFAULT_SHAPES_COUNT as u64,
            labelled: super::DEFAULT_SHAPES_COUNT as u64,
            available: true,
        }],
        stored_size: Some(shapes::SIZE as u64),
        default_size: shapes::SIZE as u64,
        labelled: true,
        num_classes: Some(shapes::NUM_CLASSES as u64),
        classes: shapes::CLASS_NAMES.iter().map(|s| s.to_string()).collect(),
        image_sizes: BTreeMap::new(),
        total_bytes: None,
        problems: vec![],
        fix: None,
    }
}

fn binary_info(name: &str, data_dir: &Path) -> SetInfo {
    let a = Archive::known(name).unwrap_or_else(|| unreachable_archive(name));
    let dir = data_dir.join(&a.folder);
    let files: Vec<FileInfo> = a
        .files
        .iter()
        .map(|(f, want)| {
            let p = dir.join(f);
            let size = std::fs::metadata(&p)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len());
            FileInfo {
                path: p.display().to_string(),
                size,
                expected: Some(*want),
                ok: size == Some(*want),
            }
        })
        .collect();
    let ok = |f: &str| files.iter().any(|x| x.ok && x.path.ends_with(f));
    let (splits, stored, default, classes) = if name == "cifar10" {
        let per = cifar10::RECORDS_PER_FILE as u64;
        let train_ok = cifar10::files(super::Split::Train).iter().all(|f| ok(f));
        (
            vec![
                SplitInfo {
                    split: "train".into(),
                    images: 5 * per,
                    labelled: 5 * per,
                    available: train_ok,
                },
                SplitInfo {
                    split: "test".into(),
                    images: per,
                    labelled: per,
                    available: ok("test_batch.bin"),
                },
            ],
            cifar10::SIZE as u64,
            cifar10::SIZE as u64,
            cifar10::CLASS_NAMES,
        )
    } else {
        let c = stl10::OFFICIAL;
        (
            vec![
                SplitInfo {
                    split: "train".into(),
                    images: (c.train + c.unlabeled) as u64,
                    labelled: c.train as u64,
                    available: ok("train_X.bin") && ok("train_y.bin") && ok("unlabeled_X.bin"),
                },
                SplitInfo {
                    split: "test".into(),
                    images: c.test as u64,
                    labelled: c.test as u64,
                    available: ok("test_X.bin") && ok("test_y.bin"),
                },
            ],
            stl10::NATIVE as u64,
            stl10::DEFAULT_SIZE as u64,
            stl10::CLASS_NAMES,
        )
    };
    let problems: Vec<String> = files
        .iter()
        .filter(|f| !f.ok)
        .map(|f| match f.size {
            None => format!("{} is missing", f.path),
            Some(s) => format!(
                "{} has {s} bytes, expected {}",
                f.path,
                f.expected.unwrap_or(0)
            ),
        })
        .collect();
    let fix = (!problems.is_empty()).then(|| {
        format!(
            "run `autogan data fetch {name} --data-dir {}`; {}",
            data_dir.display(),
            a.manual_steps(data_dir)
        )
    });
    SetInfo {
        name: name.into(),
        kind: "binary".into(),
        location: Some(dir.display().to_string()),
        available: splits.first().is_some_and(|s| s.available),
        files,
        splits,
        stored_size: Some(stored),
        default_size: default,
        labelled: true,
        num_classes: Some(10),
        classes: classes.iter().map(|s| s.to_string()).collect(),
        image_sizes: BTreeMap::new(),
        total_bytes: None,
        problems,
        fix,
    }
}

fn unreachable_archive(name: &str) -> Archive {
    // Only called with names `Archive::known` accepts; an empty archive keeps this panic-free.
    Archive {
        name: name.into(),
        url: String::new(),
        file_name: String::new(),
        size: None,
        md5: String::new(),
        folder: name.into(),
        files: vec![],
    }
}

/// How many unreadable files `folder_info` names one by one.
const LIST_AT_MOST: usize = 10;

fn folder_info(root: &Path) -> Result<SetInfo> {
    let listing = folder::scan(root)?;
    let mut sizes: BTreeMap<String, u64> = BTreeMap::new();
    let mut sides: BTreeMap<u64, u64> = BTreeMap::new();
    let mut unreadable = Vec::new();
    let mut total = 0u64;
    // Every file is decoded: a header can be whole while the pixels after it are cut off.
    for p in &listing.files {
        total += std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        match image::open(p) {
            Ok(img) => {
                let (w, h) = (img.width(), img.height());
                *sizes.entry(format!("{w}x{h}")).or_default() += 1;
                *sides.entry(w.min(h) as u64).or_default() += 1;
            }
            Err(e) => unreadable.push(format!("{}: cannot be decoded: {e}", p.display())),
        }
    }
    let n = listing.files.len() as u64;
    let mut problems = Vec::new();
    if n == 0 {
        problems.push(format!("{} holds no PNG or JPEG images", root.display()));
    }
    if !unreadable.is_empty() {
        problems.push(format!(
            "{} of {n} image files cannot be decoded (damaged or truncated)",
            unreadable.len()
        ));
        let more = unreadable.len().saturating_sub(LIST_AT_MOST);
        unreadable.truncate(LIST_AT_MOST);
        problems.extend(unreadable);
        if more > 0 {
            problems.push(format!("... and {more} more"));
        }
    }
    if !listing.skipped.is_empty() {
        problems.push(format!(
            "{} entries named like images are not regular files (FIFOs, devices, broken links) \
             and are skipped: {}",
            listing.skipped.len(),
            listing
                .skipped
                .iter()
                .take(LIST_AT_MOST)
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let stored = sides.iter().max_by_key(|(_, c)| **c).map(|(s, _)| *s);
    let labelled = listing.labels.is_some();
    let decodable = n > 0 && sizes.values().sum::<u64>() == n;
    Ok(SetInfo {
        name: root.display().to_string(),
        kind: "folder".into(),
        location: Some(root.display().to_string()),
        available: decodable,
        files: vec![],
        splits: vec![SplitInfo {
            split: "train".into(),
            images: n,
            labelled: if labelled { n } else { 0 },
            available: decodable,
        }],
        stored_size: stored,
        default_size: folder::DEFAULT_SIZE as u64,
        labelled,
        num_classes: listing.classes.as_ref().map(|c| c.len() as u64),
        classes: listing.classes.unwrap_or_default(),
        image_sizes: sizes,
        total_bytes: Some(total),
        fix: (!problems.is_empty()).then(|| {
            "remove or convert the files named above (regular PNG or JPEG files only)".to_string()
        }),
        problems,
    })
}
