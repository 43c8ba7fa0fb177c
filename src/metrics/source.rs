//! The images a scorer reads and the reference they are compared with: folders and data sets
//! as image sources (a generator is one too, in `gan::load`), one scoring pass over a source
//! into an `Accumulator`, and `--fid-ref` resolved to statistics or images whose features are
//! cached (`refcache`). `eval` and `data stats` drive these; progress is reported through
//! callbacks, nothing here draws.
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use tch::Tensor;

use super::{Accumulator, Needs, RealSide, Scorer, Stats};
use crate::data::{self, folder, DataSpec};

/// Images to score, streamed in batches: a folder, a data set in memory, or (implemented
/// above the metrics, in `gan::load`) a generator.
pub trait ImageSource {
    /// Number of images.
    fn len(&self) -> usize;
    /// No images at all.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// What the images are, for results and messages.
    fn describe(&self) -> &str;
    /// Images `lo..hi` in order, as uint8 `[b, 3, H, W]` tensors on the CPU or the scorer's
    /// device: one tensor, or for files of mixed sizes one per run of same-size images.
    fn batch(&self, lo: usize, hi: usize) -> Result<Vec<Tensor>>;
}

/// Real images: image files, each read whole at its own size (the scorer's protocol resizes
/// every image to its input, 299x299 for Inception, independently, as the TF code does), or
/// a data set in memory (uint8 `[N,3,H,W]`).
pub enum Images {
    Files { files: Vec<PathBuf>, what: String },
    Dataset { images: Tensor, what: String },
}

impl ImageSource for Images {
    fn len(&self) -> usize {
        match self {
            Images::Files { files, .. } => files.len(),
            Images::Dataset { images, .. } => images.size()[0] as usize,
        }
    }

    fn describe(&self) -> &str {
        match self {
            Images::Files { what, .. } | Images::Dataset { what, .. } => what,
        }
    }

    fn batch(&self, lo: usize, hi: usize) -> Result<Vec<Tensor>> {
        match self {
            Images::Files { files, .. } => {
                let mut groups: Vec<Vec<Tensor>> = Vec::new();
                for p in &files[lo..hi] {
                    let img = read_whole(p)?;
                    let same = groups
                        .last()
                        .and_then(|g| g.last())
                        .is_some_and(|t| t.size() == img.size());
                    match groups.last_mut() {
                        Some(g) if same => g.push(img),
                        _ => groups.push(vec![img]),
                    }
                }
                Ok(groups.iter().map(|g| Tensor::stack(g, 0)).collect())
            }
            Images::Dataset { images, .. } => {
                Ok(vec![images.narrow(0, lo as i64, (hi - lo) as i64)])
            }
        }
    }
}

/// One image file, whole, as uint8 `[3, H, W]`.
pub fn read_whole(p: &Path) -> Result<Tensor> {
    let img = folder::read_rgb(p)?;
    let (w, h) = img.dimensions();
    Ok(Tensor::from_slice(img.as_raw())
        .view([h as i64, w as i64, 3])
        .permute([2, 0, 1]))
}

/// Seeds the order in which a folder with one subfolder per class is read.
const CLASS_FOLDER_ORDER_SEED: u64 = 0x5EED_F01D;

/// A folder of images, the first `limit` in sorted path order. A folder with one subfolder per
/// class (a labelled data set) is read in one fixed shuffled order instead: sorted, it would
/// come class after class, so IS's splits would each hold about one class (real images scoring
/// near 1) and the first `limit` would be the first classes only.
pub fn folder_source(dir: &Path, limit: Option<usize>) -> Result<Images> {
    use rand::{seq::SliceRandom, SeedableRng};
    let listing = folder::scan(dir)?;
    let mut files = listing.files;
    if files.is_empty() {
        bail!(
            "{} holds no PNG or JPEG images (searched recursively for *.png, *.jpg, *.jpeg)",
            dir.display()
        );
    }
    let classes = listing.classes.as_ref().map(Vec::len);
    if classes.is_some() {
        files.shuffle(&mut rand::rngs::StdRng::seed_from_u64(
            CLASS_FOLDER_ORDER_SEED,
        ));
    }
    if let Some(l) = limit {
        files.truncate(l);
    }
    let order = match classes {
        Some(k) => format!(" from {k} class subfolders, in a fixed shuffled order"),
        None => String::new(),
    };
    let what = format!(
        "{} ({} images{order}, each at its own size)",
        dir.display(),
        files.len()
    );
    Ok(Images::Files { files, what })
}

/// A folder (read at its own size) or a data set by name (`crate::data`, its train split).
pub fn named_source(name: &str, data_dir: Option<&Path>, limit: Option<usize>) -> Result<Images> {
    let p = Path::new(name);
    if p.is_dir() {
        return folder_source(p, limit);
    }
    if data::canonical(name).is_none() {
        bail!(
            "'{name}' is neither a folder nor a known data set; use a folder of PNG/JPEG images or one of {}",
            data::KNOWN.join(", ")
        );
    }
    let mut spec = DataSpec::named(Some(name), data_dir);
    spec.limit = limit;
    let ds = data::load(&spec)?;
    let what = format!(
        "{} ({} images, {}x{})",
        ds.name,
        ds.len(),
        ds.img_size(),
        ds.img_size()
    );
    Ok(Images::Dataset {
        images: ds.images,
        what,
    })
}

/// Score every image of `src` into `acc`, `batch` at a time; `progress(done, n)` after each
/// batch.
pub fn score(
    scorer: &dyn Scorer,
    src: &dyn ImageSource,
    batch: usize,
    acc: &mut Accumulator,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<()> {
    let n = src.len();
    let mut lo = 0;
    while lo < n {
        let hi = (lo + batch).min(n);
        for imgs in src.batch(lo, hi)? {
            acc.add_images(scorer, &imgs)?;
        }
        progress(hi, n);
        lo = hi;
    }
    Ok(())
}

/// The FID reference of `--fid-ref`, resolved (read, listed, loaded) before any scoring.
pub enum Reference {
    /// Statistics read from an `.npz` file.
    Stats(Stats),
    /// Images to score: a folder or a data set; the short name of its cache file (the data
    /// set's or the real folder's name); for a data set where it was read from (its
    /// canonical name and the absolute data folder, for the cache key).
    Images(Images, String, String),
}

impl Reference {
    /// `--fid-ref`: an `.npz` file, a folder of images, or a data set name (in `data_dir`).
    pub fn resolve(fid_ref: &str, data_dir: Option<&Path>) -> Result<Reference> {
        let p = Path::new(fid_ref);
        if p.is_file() || fid_ref.to_ascii_lowercase().ends_with(".npz") {
            let st = Stats::read_npz(p).with_context(|| format!("--fid-ref {fid_ref}"))?;
            return Ok(Reference::Stats(st));
        }
        let src = named_source(fid_ref, data_dir, None).with_context(|| {
            format!("--fid-ref {fid_ref}: give a statistics file (.npz), a folder of images or a data set name")
        })?;
        if src.len() < 2 {
            bail!(
                "--fid-ref {fid_ref}: {} image(s); the covariance needs at least 2",
                src.len()
            );
        }
        let (label, origin) = match data::canonical(fid_ref).filter(|_| !p.is_dir()) {
            Some(name) => {
                let dir = crate::paths::data_dir(data_dir);
                let origin = format!("{name} in {}", super::refcache::file_identity(&dir));
                (name.to_string(), origin)
            }
            None => {
                let real = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
                let label = real
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_else(|| "folder".into());
                (label, String::new())
            }
        };
        Ok(Reference::Images(src, label, origin))
    }

    /// Statistics from a file must have the scorer's feature width.
    pub fn check_width(&self, fid_ref: &str, scorer: &dyn Scorer) -> Result<()> {
        if let Reference::Stats(st) = self {
            if st.dim() != scorer.feature_dim() {
                bail!(
                    "--fid-ref {fid_ref}: its statistics are {}-dimensional, but the {} scorer's \
                     features are {}-dimensional: the file was written for another network \
                     (Inception's pool features are 2048-d); write matching statistics with \
                     `autogan data stats NAME --out FILE.npz`",
                    st.dim(),
                    scorer.name(),
                    scorer.feature_dim()
                );
            }
        }
        Ok(())
    }

    /// Number of reference images (0 = unknown: a file that does not say).
    pub fn count(&self) -> u64 {
        match self {
            Reference::Stats(st) => st.n,
            Reference::Images(src, ..) => src.len() as u64,
        }
    }

    /// What the images are, for the cache key: a data set's name, folder and image size, or
    /// a folder's listing with sizes and modification times. None for a statistics file.
    fn identity(&self) -> Option<(String, String)> {
        match self {
            Reference::Stats(_) => None,
            Reference::Images(Images::Dataset { images, .. }, label, origin) => {
                let sz = images.size();
                Some((label.clone(), format!("data set {origin} shape {sz:?}")))
            }
            Reference::Images(Images::Files { files, .. }, label, _) => {
                use md5::{Digest, Md5};
                let mut h = Md5::new();
                for f in files {
                    h.update(super::refcache::file_identity(f).as_bytes());
                    h.update(b"\n");
                }
                let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
                // The listing names every file by its absolute path, size and time.
                Some((label.clone(), format!("folder listing {hex}")))
            }
        }
    }

    /// The reference side the metrics need: statistics from a file, or the images' statistics
    /// and features, from the cache (`scorer_id` names the features' maker) or scored and
    /// cached. `say` hears what the cache did; `progress` the scoring, as in [`score`].
    pub fn side(
        self,
        scorer: &dyn Scorer,
        scorer_id: &str,
        batch: usize,
        needs: Needs,
        say: &mut dyn FnMut(&str),
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<RealSide> {
        let id = self.identity();
        let src = match self {
            Reference::Stats(st) => {
                return Ok(RealSide {
                    stats: Some(st),
                    features: None,
                })
            }
            Reference::Images(src, ..) => src,
        };
        let n = src.len();
        let k = id.map(|(label, source)| super::refcache::key(&label, &source, n, scorer_id));
        let cached = |say: &mut dyn FnMut(&str), again: bool| {
            let k = k.as_ref()?;
            match super::refcache::lookup(k, n, scorer.feature_dim()) {
                super::refcache::Lookup::Hit(stats, features) => {
                    say(&format!(
                        "fid-ref: using the cached reference features {}",
                        k.path.display()
                    ));
                    Some(RealSide {
                        stats: Some(stats),
                        features: needs.real_features.then_some(features),
                    })
                }
                super::refcache::Lookup::Invalid(why) if !again => {
                    say(&format!(
                        "fid-ref: the cached reference {} cannot be used ({why}); rebuilding it",
                        k.path.display()
                    ));
                    None
                }
                _ => None,
            }
        };
        if let Some(side) = cached(say, false) {
            return Ok(side);
        }
        // Parallel jobs (a comparison's evaluations) may all miss the cache: one scores the
        // reference, the others wait for its file. The cache is an optimisation, so a lock
        // that cannot be taken (a read-only home) only means scoring without it.
        let held = k.as_ref().and_then(|k| {
            let lock = crate::run::lock::cache_lock(&k.path).ok()?;
            crate::run::lock::lock_file_waiting(&lock, &mut || {
                say(&format!(
                    "fid-ref: another process is scoring the reference for {}; waiting for it",
                    k.path.display()
                ))
            })
            .ok()
        });
        // Written by another process while this one waited?
        if held.is_some() {
            if let Some(side) = cached(say, true) {
                return Ok(side);
            }
        }
        // Cached: statistics and features both, so one file serves every metric.
        let mut acc = Accumulator::for_needs(Needs {
            stats: true,
            features: needs.real_features || k.is_some(),
            ..Needs::default()
        });
        score(scorer, &src, batch, &mut acc, progress)?;
        let stats = acc.stats()?;
        let features = acc.features();
        if let (Some(k), Some(f)) = (&k, &features) {
            match super::refcache::store(k, &stats, f) {
                Ok(()) => say(&format!(
                    "fid-ref: cached the reference features in {}",
                    k.path.display()
                )),
                // The cache is an optimisation: a failed write is said, not fatal.
                Err(e) => say(&format!(
                    "fid-ref: could not cache the reference features: {e:#}"
                )),
            }
        }
        Ok(RealSide {
            stats: Some(stats),
            features: if needs.real_features { features } else { None },
        })
    }
}

/// The warning for an FID computed from fewer images than its feature width: the covariance
/// is then singular and the distance is biased and not comparable (None when enough).
pub fn few_images_warning(generated: u64, reference: u64, dim: i64) -> Option<String> {
    let dim = dim.max(0) as u64;
    let few: Vec<String> = [("evaluated", generated), ("reference", reference)]
        .iter()
        .filter(|(_, n)| *n > 0 && *n < dim)
        .map(|(what, n)| format!("{n} {what}"))
        .collect();
    (!few.is_empty()).then(|| {
        format!(
            "warning: FID from {} images, fewer than the {dim} feature dimensions: the \
             covariance is singular, so this FID is biased upward and not comparable with \
             published ones (use at least {dim} images; papers use 50,000)",
            few.join(" and ")
        )
    })
}
