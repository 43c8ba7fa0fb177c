//! A folder of PNG/JPEG images as a data set: found recursively, read in sorted path order
//! (so the same folder always gives the same set), center-cropped to a square and resized to
//! the requested size (default 32). Labelled when every image sits in a subfolder of the root:
//! the class is the first path component, classes numbered in sorted name order.
use anyhow::{bail, Context, Result};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::Dataset;

/// Size delivered when none is asked.
pub const DEFAULT_SIZE: i64 = 32;

/// What `scan` finds.
#[derive(Debug, Clone)]
pub struct Listing {
    /// Image files, sorted; each file once, however many links lead to it.
    pub files: Vec<PathBuf>,
    /// Class names (sorted) when the folder has one subfolder per class, else None.
    pub classes: Option<Vec<String>>,
    /// The class index of each file (same order as `files`) when labelled.
    pub labels: Option<Vec<usize>>,
    /// Entries named like images that are not regular files (FIFOs, sockets, devices, broken
    /// links), sorted: never opened, never counted.
    pub skipped: Vec<PathBuf>,
}

/// Whether a path names a PNG or JPEG file (by extension).
pub fn is_image(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref(),
        Some("png" | "jpg" | "jpeg")
    )
}

/// Find the images under `root` (recursively, sorted, hidden entries skipped) and the labels.
///
/// Links are followed as the shell does, but every folder is entered once (by its canonical
/// path, so a link to a parent or to itself ends there) and every file is counted once (the
/// first path in sorted order wins). Only regular files are listed: the type is read from the
/// file system (`metadata`) and nothing is opened, so a FIFO named `x.png` cannot block.
pub fn scan(root: &Path) -> Result<Listing> {
    if !root.is_dir() {
        bail!(
            "{} is not a folder: give a folder of PNG/JPEG images",
            root.display()
        );
    }
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    let mut seen_dirs = HashSet::new();
    walk(root, &mut seen_dirs, &mut found, &mut skipped)?;
    found.sort();
    let mut seen_files = HashSet::new();
    let mut files = Vec::with_capacity(found.len());
    for (path, canon) in found {
        if seen_files.insert(canon) {
            files.push(path);
        }
    }
    skipped.sort();
    // Labelled when no image lies directly in the root and there are at least two classes.
    let first: Vec<Option<String>> = files
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(root).ok()?;
            let mut comps = rel.components();
            let c = comps.next()?;
            comps.next()?; // there must be something below the first component
            Some(c.as_os_str().to_string_lossy().into_owned())
        })
        .collect();
    let (classes, labels) = if !first.is_empty() && first.iter().all(Option::is_some) {
        let mut names: Vec<String> = first.iter().flatten().cloned().collect();
        names.sort();
        names.dedup();
        if names.len() >= 2 {
            let labels = first
                .iter()
                .flatten()
                .map(|c| names.binary_search(c).unwrap_or(0))
                .collect();
            (Some(names), Some(labels))
        } else {
            (None, None)
        }
    } else {
        (None, None)
    };
    Ok(Listing {
        files,
        classes,
        labels,
        skipped,
    })
}

/// Depth-first walk of `dir` in sorted name order: image files go to `found` as (path as
/// reached, canonical path), entries named like images that are not regular files to
/// `skipped`. A folder whose canonical path is in `seen` is not entered again.
fn walk(
    dir: &Path,
    seen: &mut HashSet<PathBuf>,
    found: &mut Vec<(PathBuf, PathBuf)>,
    skipped: &mut Vec<PathBuf>,
) -> Result<()> {
    let canon =
        std::fs::canonicalize(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    if !seen.insert(canon) {
        return Ok(());
    }
    let mut entries = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let e = e.with_context(|| format!("cannot list {}", dir.display()))?;
        if !e.file_name().to_string_lossy().starts_with('.') {
            entries.push(e.path());
        }
    }
    entries.sort();
    for p in entries {
        // `metadata` follows links and opens nothing; a broken link has none.
        let Ok(meta) = std::fs::metadata(&p) else {
            if is_image(&p) {
                skipped.push(p);
            }
            continue;
        };
        if meta.is_dir() {
            walk(&p, seen, found, skipped)?;
        } else if is_image(&p) {
            if meta.is_file() {
                let canon = std::fs::canonicalize(&p)
                    .with_context(|| format!("cannot read {}", p.display()))?;
                found.push((p, canon));
            } else {
                skipped.push(p);
            }
        }
    }
    Ok(())
}

/// Load the images under `root` as a data set of `size` x `size` images.
pub fn load(root: &Path, size: i64, limit: Option<usize>) -> Result<Dataset> {
    if !(1..=4096).contains(&size) {
        bail!("image size {size}: must be between 1 and 4096");
    }
    let listing = scan(root)?;
    if listing.files.is_empty() {
        bail!(
            "{} holds no PNG or JPEG images (searched recursively for *.png, *.jpg, *.jpeg)",
            root.display()
        );
    }
    let n = limit.map_or(listing.files.len(), |l| l.min(listing.files.len()));
    let s = size as u32;
    let plane = (s * s) as usize;
    let mut px = Vec::with_capacity(n * 3 * plane);
    for p in &listing.files[..n] {
        let rgb = read_square(p, s)?;
        // Interleaved RGB -> three planes.
        let raw = rgb.as_raw();
        for ch in 0..3 {
            px.extend(raw.iter().skip(ch).step_by(3));
        }
    }
    let labels = listing
        .labels
        .map(|l| l[..n].iter().map(|&c| c as u8).collect::<Vec<u8>>());
    let num_classes = listing.classes.as_ref().map(|c| c.len() as i64);
    if num_classes.is_some_and(|k| k > 255) {
        bail!(
            "{}: more than 255 class subfolders; a folder data set supports at most 255 classes",
            root.display()
        );
    }
    let name = root.display().to_string();
    Dataset::from_u8(&name, px, size, labels, num_classes)
}

/// Decode one image whole as RGB8; a file that does not decode, or has no pixels, is an error
/// that names it.
pub fn read_rgb(path: &Path) -> Result<image::RgbImage> {
    let img = image::open(path)
        .with_context(|| {
            format!(
                "cannot decode {} as PNG/JPEG (damaged file? remove it or convert it)",
                path.display()
            )
        })?
        .to_rgb8();
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        bail!("{} is an empty image ({w}x{h})", path.display());
    }
    Ok(img)
}

/// Decode one image, center-crop it to a square and resize it to `size` (antialiased
/// triangle filter); RGB8.
pub fn read_square(path: &Path, size: u32) -> Result<image::RgbImage> {
    let img = read_rgb(path)?;
    let (w, h) = img.dimensions();
    let side = w.min(h);
    let cropped = if w == h {
        img
    } else {
        image::imageops::crop_imm(&img, (w - side) / 2, (h - side) / 2, side, side).to_image()
    };
    if side == size {
        return Ok(cropped);
    }
    Ok(image::imageops::resize(
        &cropped,
        size,
        size,
        image::imageops::FilterType::Triangle,
    ))
}
