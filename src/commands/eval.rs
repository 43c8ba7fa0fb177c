//! `autogan eval`: Inception Score and FID of a folder of images (generators and run
//! directories are wired elsewhere), and `write_reference_stats`, the work behind
//! `autogan data stats`. Reads the images, streams them in batches through a `Scorer`,
//! prints a table or JSON. The metrics themselves live in `crate::metrics`.
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use tch::Tensor;

use crate::cli::EvalArgs;
use crate::data::{self, folder, DataSpec};
use crate::device::Ctx;
use crate::metrics::{
    frechet_distance, Accumulator, InceptionScorer, IsResult, Protocol, Scorer, Stats, IS_SPLITS,
};

/// Where pytorch-fid publishes the FID-Inception weights.
pub const INCEPTION_URL: &str =
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth";

/// Which metrics `--metric` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    pub is: bool,
    pub fid: bool,
}

/// Parse `is`, `fid`, `is,fid` (any order, any case).
pub fn parse_metrics(s: &str) -> Result<Wanted> {
    let mut w = Wanted {
        is: false,
        fid: false,
    };
    for part in s.split(',').map(|p| p.trim().to_ascii_lowercase()) {
        match part.as_str() {
            "is" => w.is = true,
            "fid" => w.fid = true,
            "" => {}
            other => bail!("--metric: '{other}' is not known; use is, fid or is,fid"),
        }
    }
    if !w.is && !w.fid {
        bail!("--metric '{s}': name at least one of is, fid (e.g. --metric is,fid)");
    }
    Ok(w)
}

/// Load the FID-Inception scorer from `--inception FILE` or the cache; when the file is not
/// there, the error says how to get it.
pub fn load_inception(
    ctx: &Ctx,
    flag: Option<&Path>,
    protocol: Protocol,
) -> Result<InceptionScorer> {
    let path = crate::paths::inception_weights(flag);
    if !path.is_file() {
        if flag.is_some() {
            bail!(
                "--inception {}: no such file; give the safetensors file written by \
                 `bash scripts/fetch_inception.sh` (or `bash scripts/fetch_inception.sh --from FILE.pth`), \
                 or leave the flag out to use {}",
                path.display(),
                crate::paths::inception_weights(None).display()
            );
        }
        bail!(
            "the FID-Inception weights are not at {}; get them with\n    bash scripts/fetch_inception.sh\n\
             (without network access from this machine: download {INCEPTION_URL} elsewhere, copy it here and run\n    \
             bash scripts/fetch_inception.sh --from pt_inception-2015-12-05-6726825d.pth)",
            path.display()
        );
    }
    InceptionScorer::load(&path, ctx.device, protocol)
}

/// Images to score, streamed in batches.
enum Source {
    /// Image files read at one size: the first file's shorter side (others are center-cropped
    /// and resized to it).
    Files {
        files: Vec<PathBuf>,
        size: u32,
        what: String,
    },
    /// A data set in memory (uint8 `[N,3,H,W]`).
    Dataset { images: Tensor, what: String },
    /// `n` images drawn from a generator (z ~ N(0, I) from the run's seed).
    Generator {
        gen: Box<super::gen_source::LoadedGenerator>,
        n: usize,
        what: String,
    },
}

impl Source {
    fn len(&self) -> usize {
        match self {
            Source::Files { files, .. } => files.len(),
            Source::Dataset { images, .. } => images.size()[0] as usize,
            Source::Generator { n, .. } => *n,
        }
    }

    fn describe(&self) -> &str {
        match self {
            Source::Files { what, .. }
            | Source::Dataset { what, .. }
            | Source::Generator { what, .. } => what,
        }
    }

    /// Images `lo..hi` as uint8 `[hi-lo, 3, H, W]` on the CPU.
    fn batch(&self, lo: usize, hi: usize) -> Result<Tensor> {
        match self {
            Source::Files { files, size, .. } => {
                let mut v = Vec::with_capacity(hi - lo);
                for p in &files[lo..hi] {
                    let img = folder::read_square(p, *size)?;
                    let (w, h) = img.dimensions();
                    let t = Tensor::from_slice(img.as_raw())
                        .view([h as i64, w as i64, 3])
                        .permute([2, 0, 1]);
                    v.push(t);
                }
                Ok(Tensor::stack(&v, 0))
            }
            Source::Dataset { images, .. } => Ok(images.narrow(0, lo as i64, (hi - lo) as i64)),
            Source::Generator { gen, .. } => {
                let z = Tensor::randn(
                    [(hi - lo) as i64, gen.cfg.latent_dim],
                    (tch::Kind::Float, gen.vs.device()),
                );
                Ok(data::from_gan(&gen.generate(&z)))
            }
        }
    }
}

/// A folder of images, the first `limit` in sorted path order.
fn folder_source(dir: &Path, limit: Option<usize>) -> Result<Source> {
    let listing = folder::scan(dir)?;
    let mut files = listing.files;
    if files.is_empty() {
        bail!(
            "{} holds no PNG or JPEG images (searched recursively for *.png, *.jpg, *.jpeg)",
            dir.display()
        );
    }
    if let Some(l) = limit {
        files.truncate(l);
    }
    let (w, h) = image::image_dimensions(&files[0]).with_context(|| {
        format!(
            "cannot read the size of {} (damaged image?)",
            files[0].display()
        )
    })?;
    let size = w.min(h);
    if size == 0 {
        bail!("{} is an empty image", files[0].display());
    }
    let what = format!("{} ({} images, {size}x{size})", dir.display(), files.len());
    Ok(Source::Files { files, size, what })
}

/// A folder (read at its own size) or a data set by name (`crate::data`, its train split).
fn named_source(name: &str, data_dir: Option<&Path>, limit: Option<usize>) -> Result<Source> {
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
    Ok(Source::Dataset {
        images: ds.images,
        what,
    })
}

/// Score every image of `src` into `acc`, `batch` at a time, with a progress bar.
fn score(
    ctx: &Ctx,
    scorer: &dyn Scorer,
    src: &Source,
    batch: usize,
    acc: &mut Accumulator,
    label: &str,
) -> Result<()> {
    let n = src.len();
    let pb = crate::progress::bar(n as u64, label, ctx.quiet);
    crate::progress::log(
        &pb,
        ctx.quiet,
        &format!("{label}: scoring {} with {}", src.describe(), scorer.name()),
    );
    let mut lo = 0;
    while lo < n {
        let hi = (lo + batch).min(n);
        let imgs = src.batch(lo, hi)?;
        acc.add_images(scorer, &imgs)?;
        pb.inc((hi - lo) as u64);
        lo = hi;
    }
    pb.finish_and_clear();
    Ok(())
}

/// Reference statistics for `--fid-ref`: an `.npz` file, a folder of images, or a data set.
fn reference_stats(ctx: &Ctx, scorer: &dyn Scorer, fid_ref: &str, batch: usize) -> Result<Stats> {
    let p = Path::new(fid_ref);
    if p.is_file() || fid_ref.to_ascii_lowercase().ends_with(".npz") {
        return Stats::read_npz(p).with_context(|| format!("--fid-ref {fid_ref}"));
    }
    let src = named_source(fid_ref, None, None).with_context(|| {
        format!("--fid-ref {fid_ref}: give a statistics file (.npz), a folder of images or a data set name")
    })?;
    if src.len() < 2 {
        bail!(
            "--fid-ref {fid_ref}: {} image(s); the covariance needs at least 2",
            src.len()
        );
    }
    let mut acc = Accumulator::new(false, true);
    score(ctx, scorer, &src, batch, &mut acc, "fid-ref")?;
    acc.stats()
}

fn check_batch(batch: i64) -> Result<usize> {
    if batch < 1 {
        bail!("--batch-size {batch}: must be at least 1");
    }
    Ok(batch as usize)
}

pub fn run(ctx: &Ctx, args: EvalArgs) -> Result<()> {
    let wanted = parse_metrics(&args.metric)?;
    let protocol: Protocol = args.protocol.parse().context("--protocol")?;
    let batch = check_batch(args.batch_size)?;
    if args.num_images < 1 {
        bail!("--num-images {}: must be at least 1", args.num_images);
    }
    let fid_ref = match (&args.fid_ref, wanted.fid) {
        (Some(r), true) => Some(r.clone()),
        (None, true) => bail!(
            "--metric fid needs --fid-ref: a statistics file (.npz, e.g. from `autogan data stats cifar10 --out \
             cifar10.npz`), a folder of images, or a data set name ({})",
            data::KNOWN.join(", ")
        ),
        (_, false) => None,
    };
    let from_generator = args.input.is_some() || args.generator.is_some();
    let src = match (args.images.as_deref(), from_generator) {
        (Some(_), true) => bail!("give either --images DIR or a generator (RUN_DIR / --generator), not both"),
        (Some(dir), false) => folder_source(dir, Some(args.num_images))?,
        (None, true) => {
            let gen = super::gen_source::load(
                args.input.as_deref(),
                args.generator.as_deref(),
                args.arch.as_deref(),
                &args.size,
                ctx.device,
            )?;
            let what = format!("{} ({} generated images)", gen.source, args.num_images);
            Source::Generator { gen: Box::new(gen), n: args.num_images, what }
        }
        (None, false) => bail!(
            "nothing to evaluate: give a run directory or checkpoint, --generator W.safetensors --arch FILE, \
             or --images DIR (a folder of PNG/JPEG images)"
        ),
    };
    let images = Path::new(src.describe());
    let n = src.len();
    if wanted.is && (n as i64) < IS_SPLITS {
        bail!(
            "{}: {n} image(s); the Inception Score needs at least {IS_SPLITS} (one per split)",
            images.display()
        );
    }
    if wanted.fid && n < 2 {
        bail!("{}: {n} image; FID needs at least 2", images.display());
    }
    // A statistics file is read (and checked) before the long part.
    let ref_file = fid_ref
        .as_deref()
        .filter(|r| Path::new(r).is_file() || r.to_ascii_lowercase().ends_with(".npz"));
    let early_ref = match ref_file {
        Some(r) => Some(Stats::read_npz(Path::new(r)).with_context(|| format!("--fid-ref {r}"))?),
        None => None,
    };
    let scorer: Box<dyn Scorer> = match args.scorer.as_str() {
        "inception" => Box::new(load_inception(ctx, args.inception.as_deref(), protocol)?),
        "classifier" => {
            let spec = DataSpec::named(args.dataset.as_deref(), args.data_dir.as_deref());
            Box::new(super::scoring::classifier(&spec, ctx.device, ctx.quiet)?)
        }
        other => bail!("--scorer '{other}' is not known: use inception or classifier"),
    };
    let scorer = scorer.as_ref();
    let mut acc = Accumulator::new(wanted.is, wanted.fid);
    score(ctx, scorer, &src, batch, &mut acc, "eval")?;
    let is: Option<IsResult> = if wanted.is {
        Some(acc.inception_score(IS_SPLITS)?)
    } else {
        None
    };
    let fid = match (&fid_ref, early_ref) {
        (Some(_), Some(r)) => Some(frechet_distance(&acc.stats()?, &r)?),
        (Some(name), None) => {
            let r = reference_stats(ctx, scorer, name, batch)?;
            Some(frechet_distance(&acc.stats()?, &r)?)
        }
        (None, _) => None,
    };
    if args.json {
        let v = serde_json::json!({
            "is_mean": is.map(|r| r.mean),
            "is_std": is.map(|r| r.std),
            "fid": fid,
            "num_images": n,
            "protocol": protocol.name(),
            "scorer": scorer.name(),
            "fid_ref": fid_ref,
        });
        println!("{v}");
    } else {
        println!("{:<10} {}", "images", src.describe());
        println!("{:<10} {} (protocol {protocol})", "scorer", scorer.name());
        if let Some(r) = is {
            println!(
                "{:<10} {:.3} ± {:.3} ({IS_SPLITS} splits)",
                "IS", r.mean, r.std
            );
        }
        if let (Some(f), Some(r)) = (fid, &fid_ref) {
            println!("{:<10} {f:.3} (reference: {r})", "FID");
        }
    }
    Ok(())
}

/// `autogan data stats NAME --out FILE`: mean and covariance of the scorer's features over a
/// data set (`cifar10`, `stl10`, `shapes`: its train split at its own size) or a folder of
/// images (at its first image's size), written as an `.npz` with float64 `mu`, `sigma` (the
/// format of the public CIFAR-10 statistics) and `n`. `inception`: the weights file (None =
/// the cache); `protocol`: the input pipeline (the reference statistics of papers use `Tf`).
pub fn write_reference_stats(
    ctx: &Ctx,
    name: &str,
    out: &Path,
    data_dir: Option<&Path>,
    protocol: Protocol,
    inception: Option<&Path>,
) -> Result<Stats> {
    if out.is_dir() {
        bail!(
            "--out {}: this is a folder; give a file name such as cifar10-stats.npz",
            out.display()
        );
    }
    let src = named_source(name, data_dir, None)?;
    if src.len() < 2 {
        bail!(
            "{name}: {} image(s); the covariance needs at least 2",
            src.len()
        );
    }
    let scorer = load_inception(ctx, inception, protocol)?;
    let mut acc = Accumulator::new(false, true);
    score(ctx, &scorer, &src, 100, &mut acc, "stats")?;
    let stats = acc.stats()?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    stats.write_npz(out)?;
    if !ctx.quiet {
        println!(
            "wrote {} (mu, sigma of {} {}-d {} features, protocol {protocol}) from {}",
            out.display(),
            stats.n,
            stats.dim(),
            scorer.name(),
            src.describe()
        );
    }
    Ok(stats)
}
