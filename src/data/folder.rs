//! A folder of PNG/JPEG images as a data set: found recursively, read in sorted path order
//! (so the same folder always gives the same set), center-cropped to a square and resized to
//! the requested size (default 32). Labelled when every image sits in a subfolder of the root:
//! the class is the first path component, classes numbered in sorted name order.
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

use super::Dataset;

/// Size delivered when none is asked.
pub const DEFAULT_SIZE: i64 = 32;

/// What `scan` finds.
#[derive(Debug, Clone)]
pub struct Listing {
    /// Image files, sorted.
    pub files: Vec<PathBuf>,
    /// Class names (sorted) when the folder has one subfolder per class, else None.
    pub classes: Option<Vec<String>>,
    /// The class index of each file (same order as `files`) when labelled.
    pub labels: Option<Vec<usize>>,
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
pub fn scan(root: &Path) -> Result<Listing> {
    if !root.is_dir() {
        bail!(
            "{} is not a folder: give a folder of PNG/JPEG images",
            root.display()
        );
    }
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rd =
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for e in rd {
            let e = e.with_context(|| format!("cannot list {}", dir.display()))?;
            let p = e.path();
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let ft = e
                .file_type()
                .with_context(|| format!("cannot read {}", p.display()))?;
            // Follow links to folders and files like the shell does.
            let is_dir = ft.is_dir() || (ft.is_symlink() && p.is_dir());
            if is_dir {
                stack.push(p);
            } else if is_image(&p) {
                files.push(p);
            }
        }
    }
    files.sort();
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
    })
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

/// Decode one image, center-crop it to a square and resize it to `size` (antialiased
/// triangle filter); RGB8.
pub fn read_square(path: &Path, size: u32) -> Result<image::RgbImage> {
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
