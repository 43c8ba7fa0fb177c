//! Run directories: creation without clobbering, atomic file writes, the lock that keeps a
//! second process out, Ctrl-C, the JSONL log, PNG image grids.
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

pub mod atomic;
pub mod interrupt;
pub mod layout;
pub mod lock;
pub mod result;

pub use atomic::{atomic_write, atomic_write_with, tmp_name};
pub use layout::RunFiles;

/// Check, creating nothing, that `path` can become a new run directory: it is missing (and
/// can be created) or an empty folder. Called before the long work of a run.
pub fn check_new_run_dir(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Err(_) => crate::paths::check_can_create(path, "--out"),
        Ok(m) if !m.is_dir() => bail!(
            "--out {}: this is a file, not a folder; a run writes a folder: choose another --out",
            path.display()
        ),
        Ok(_) => {
            let non_empty = std::fs::read_dir(path)
                .with_context(|| format!("{} exists and cannot be read", path.display()))?
                .next()
                .is_some();
            if non_empty {
                bail!(
                    "{} already exists and is not empty: pass --resume {} to continue that run, \
                     or choose another --out",
                    path.display(),
                    path.display()
                );
            }
            Ok(())
        }
    }
}

/// A new run directory while its run is set up: created (a non-empty directory is refused, so
/// a run never overwrites another), locked against other processes, and removed again when
/// dropped before [`NewRunDir::keep`], so a run refused before its first checkpoint leaves
/// nothing behind (a directory that existed empty is left empty).
#[derive(Debug)]
pub struct NewRunDir {
    path: PathBuf,
    created: bool,
    lock: Option<lock::RunLock>,
}

impl NewRunDir {
    /// Create `path` with `checkpoint/` and `samples/` and take its lock.
    pub fn create(path: &Path) -> Result<NewRunDir> {
        check_new_run_dir(path)?;
        let existed = path.exists();
        std::fs::create_dir_all(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        // Locked before anything is written; a process that created the same directory at
        // the same moment and holds it is not disturbed (nothing is removed without the lock).
        let lock = lock::lock_run_dir(path)?;
        let dir = NewRunDir {
            path: path.to_path_buf(),
            created: !existed,
            lock: Some(lock),
        };
        for sub in layout::SUBDIRS {
            let p = path.join(sub);
            std::fs::create_dir_all(&p)
                .with_context(|| format!("cannot create {}", p.display()))?;
        }
        Ok(dir)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run has its first checkpoint: keep the directory; the lock stays held.
    pub fn keep(mut self) -> lock::RunLock {
        self.lock.take().expect("the lock of a new run directory")
    }
}

impl Drop for NewRunDir {
    fn drop(&mut self) {
        if self.lock.is_none() {
            return; // kept
        }
        if self.created {
            let _ = std::fs::remove_dir_all(&self.path);
        } else if let Ok(entries) = std::fs::read_dir(&self.path) {
            for e in entries.flatten() {
                let p = e.path();
                let _ = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
    }
}

/// The run directory a command works in, locked: a new one (removed again if the run fails
/// before its first checkpoint) or one being resumed.
#[derive(Debug)]
pub enum RunDir {
    New(NewRunDir),
    Resumed(lock::RunLock),
}

impl RunDir {
    /// The first checkpoint is written: from here on the directory stays. Returns the lock,
    /// to be held until the command ends.
    pub fn keep(self) -> lock::RunLock {
        match self {
            RunDir::New(d) => d.keep(),
            RunDir::Resumed(l) => l,
        }
    }
}

/// The configuration of a run that stopped before its first checkpoint (`ckpt`, named in
/// messages), as `autogan COMMAND` recorded it in `dir/config.json`, with its recorded seed;
/// `checkpoint/` and `samples/` are made again so that the run can start as recorded.
pub fn recorded_config(
    dir: &Path,
    ckpt: &Path,
    command: &str,
) -> Result<(serde_json::Value, u64, PathBuf)> {
    let config = RunFiles::of(dir).config();
    let text = std::fs::read_to_string(&config).with_context(|| {
        format!(
            "{}: no checkpoint to resume from (expected {}) and {} cannot be read",
            dir.display(),
            ckpt.display(),
            config.display()
        )
    })?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", config.display()))?;
    if v["command"] != command {
        bail!(
            "{}: this run directory was written by `autogan {}`, not by `autogan {command}`",
            dir.display(),
            v["command"].as_str().unwrap_or("?")
        );
    }
    let seed = v["seed"]
        .as_u64()
        .with_context(|| format!("{}: no \"seed\"", config.display()))?;
    for sub in layout::SUBDIRS {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
    }
    Ok((v, seed, config))
}

/// `runs/<name>-<UTC timestamp>`.
pub fn default_run_dir(name: &str) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    PathBuf::from("runs").join(format!("{name}-{}", timestamp(secs)))
}

/// `YYYYmmdd-HHMMSS` of a Unix time (UTC).
pub fn timestamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Append-only JSON-lines log, flushed after every line.
pub struct Jsonl {
    file: std::fs::File,
}

impl Jsonl {
    /// Open for appending. With `keep_until = Some(step)`, first drop every line whose
    /// `"step"` is greater (lines written after the checkpoint a resumed run starts from).
    pub fn open(path: &Path, keep_until: Option<u64>) -> Result<Jsonl> {
        Jsonl::open_keep(path, "step", keep_until)
    }

    /// [`Jsonl::open`] with the counter read from `key` instead of `"step"`.
    pub fn open_keep(path: &Path, key: &str, keep_until: Option<u64>) -> Result<Jsonl> {
        if let Some(limit) = keep_until {
            if path.exists() {
                let text = std::fs::read_to_string(path)?;
                let mut kept = String::new();
                for line in text.lines() {
                    let v: serde_json::Value = match serde_json::from_str(line) {
                        Ok(v) => v,
                        Err(_) => continue, // a line cut by a crash
                    };
                    if v[key].as_u64().is_some_and(|s| s > limit) {
                        continue;
                    }
                    kept.push_str(line);
                    kept.push('\n');
                }
                atomic_write(path, kept.as_bytes())?;
            }
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(Jsonl { file })
    }

    pub fn write(&mut self, v: &serde_json::Value) -> Result<()> {
        let mut line = serde_json::to_string(v)?;
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.flush()?;
        Ok(())
    }
}

/// Save uint8 images [N,3,H,W] as one PNG (or JPEG, by extension) grid with `nrow` images per row and 2 px gaps.
pub fn save_grid(images: &Tensor, nrow: i64, path: &Path) -> Result<()> {
    save_rgb(&grid(images, nrow)?, path)
}

/// uint8 images [N,3,H,W] as one grid with `nrow` images per row and 2 px gaps.
pub fn grid(images: &Tensor, nrow: i64) -> Result<image::RgbImage> {
    let imgs = images
        .to_device(tch::Device::Cpu)
        .to_kind(Kind::Uint8)
        .contiguous();
    let (n, c, h, w) = imgs.size4()?;
    if c != 3 {
        bail!("save_grid: expected 3 channels, got {c}");
    }
    let nrow = nrow.clamp(1, n.max(1));
    let ncol = (n + nrow - 1) / nrow;
    let pad = 2;
    let (gw, gh) = (nrow * (w + pad) + pad, ncol * (h + pad) + pad);
    let mut buf = vec![0u8; (n * c * h * w) as usize];
    let len = buf.len();
    imgs.f_copy_data_u8(&mut buf, len)?;
    let mut grid = image::RgbImage::new(gw as u32, gh as u32);
    for i in 0..n {
        let (gx, gy) = (pad + (i % nrow) * (w + pad), pad + (i / nrow) * (h + pad));
        for y in 0..h {
            for x in 0..w {
                let px = |ch: i64| buf[(((i * 3 + ch) * h + y) * w + x) as usize];
                grid.put_pixel(
                    (gx + x) as u32,
                    (gy + y) as u32,
                    image::Rgb([px(0), px(1), px(2)]),
                );
            }
        }
    }
    Ok(grid)
}

/// Save one uint8 image [3,H,W] as PNG (or JPEG, by extension).
pub fn save_image(img: &Tensor, path: &Path) -> Result<()> {
    let img = img
        .to_device(tch::Device::Cpu)
        .to_kind(Kind::Uint8)
        .permute([1, 2, 0])
        .contiguous();
    let (h, w, _) = img.size3()?;
    let mut buf = vec![0u8; (h * w * 3) as usize];
    let len = buf.len();
    img.f_copy_data_u8(&mut buf, len)?;
    let im = image::RgbImage::from_raw(w as u32, h as u32, buf)
        .ok_or_else(|| anyhow::anyhow!("save_image: bad buffer size"))?;
    save_rgb(&im, path)
}

/// The image format of an output file from its extension: PNG (`.png`) or JPEG (`.jpg`,
/// `.jpeg`); anything else is an error that names the file.
pub fn image_format(path: &Path) -> Result<image::ImageFormat> {
    match image::ImageFormat::from_path(path) {
        Ok(f @ (image::ImageFormat::Png | image::ImageFormat::Jpeg)) => Ok(f),
        _ => bail!(
            "{}: give an image file name ending in .png or .jpg (PNG is lossless, JPEG is not)",
            path.display()
        ),
    }
}

/// Write an RGB image in the format its extension names (see [`image_format`]), atomically.
pub fn save_rgb(im: &image::RgbImage, path: &Path) -> Result<()> {
    let format = image_format(path)?;
    atomic_write_with(path, |tmp| {
        im.save_with_format(tmp, format)
            .with_context(|| format!("cannot write {}", tmp.display()))
    })
}
