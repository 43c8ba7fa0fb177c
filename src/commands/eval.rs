//! `autogan eval`: the metrics of `--metric` (IS, FID, KID, precision/recall: the registry in
//! `crate::metrics::metric`) of a folder of images or a generator, and
//! `write_reference_stats`, the work behind `autogan data stats`. Reads the images, streams
//! them in batches through a `Scorer` once for all metrics, prints a table or JSON. The
//! reference side of `--fid-ref` (a folder or data set) is cached by `refcache`.
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use tch::Tensor;

use crate::cli::EvalArgs;
use crate::data::{self, folder, DataSpec};
use crate::device::Ctx;
use crate::metrics::metric::{self, Metric};
use crate::metrics::{
    Accumulator, InceptionScorer, Needs, Protocol, RealSide, Scorer, ScorerKind, Stats,
};

/// Where pytorch-fid publishes the FID-Inception weights.
pub const INCEPTION_URL: &str =
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth";

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
    /// Image files, each read whole at its own size: the scorer's protocol resizes every
    /// image to its input (299x299 for Inception) independently, as the TF code does.
    Files { files: Vec<PathBuf>, what: String },
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

    /// Images `lo..hi` in order, as uint8 `[b, 3, H, W]` tensors on the CPU: one tensor, or
    /// for files of mixed sizes one per run of consecutive images of the same size.
    fn batch(&self, lo: usize, hi: usize) -> Result<Vec<Tensor>> {
        match self {
            Source::Files { files, .. } => {
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
            Source::Dataset { images, .. } => {
                Ok(vec![images.narrow(0, lo as i64, (hi - lo) as i64)])
            }
            Source::Generator { gen, .. } => {
                let z = Tensor::randn(
                    [(hi - lo) as i64, gen.cfg.latent_dim],
                    (tch::Kind::Float, gen.vs.device()),
                );
                Ok(vec![data::from_gan(&gen.generate(&z))])
            }
        }
    }
}

/// One image file, whole, as uint8 `[3, H, W]`.
fn read_whole(p: &Path) -> Result<Tensor> {
    let img = image::open(p)
        .with_context(|| {
            format!(
                "cannot decode {} as PNG/JPEG (damaged file? remove it or convert it)",
                p.display()
            )
        })?
        .to_rgb8();
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        bail!("{} is an empty image ({w}x{h})", p.display());
    }
    Ok(Tensor::from_slice(img.as_raw())
        .view([h as i64, w as i64, 3])
        .permute([2, 0, 1]))
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
    let what = format!(
        "{} ({} images, each at its own size)",
        dir.display(),
        files.len()
    );
    Ok(Source::Files { files, what })
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
        for imgs in src.batch(lo, hi)? {
            acc.add_images(scorer, &imgs)?;
        }
        pb.inc((hi - lo) as u64);
        lo = hi;
    }
    pb.finish_and_clear();
    Ok(())
}

/// The FID reference of `--fid-ref`, resolved (read, listed, loaded) before any scoring.
enum Reference {
    /// Statistics read from an `.npz` file.
    Stats(Stats),
    /// Images to score: a folder or a data set; the short name of its cache file (the data
    /// set's or the real folder's name); for a data set where it was read from (its
    /// canonical name and the absolute data folder, for the cache key).
    Images(Source, String, String),
}

impl Reference {
    /// `--fid-ref`: an `.npz` file, a folder of images, or a data set name (in `data_dir`).
    fn resolve(fid_ref: &str, data_dir: Option<&Path>) -> Result<Reference> {
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
    fn check_width(&self, fid_ref: &str, scorer: &dyn Scorer) -> Result<()> {
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
    fn count(&self) -> u64 {
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
            Reference::Images(Source::Dataset { images, .. }, label, origin) => {
                let sz = images.size();
                Some((label.clone(), format!("data set {origin} shape {sz:?}")))
            }
            Reference::Images(Source::Files { files, .. }, label, _) => {
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
            Reference::Images(Source::Generator { .. }, ..) => None,
        }
    }

    /// The reference side the metrics need: statistics from a file, or the images' statistics
    /// and features, from the cache (`scorer_id` names the features' maker) or scored and
    /// cached.
    fn side(
        self,
        ctx: &Ctx,
        scorer: &dyn Scorer,
        scorer_id: &str,
        batch: usize,
        needs: Needs,
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
        let quiet = ctx.quiet;
        let say = |line: &str| {
            if !quiet {
                eprintln!("{line}");
            }
        };
        let k = id.map(|(label, source)| super::refcache::key(&label, &source, n, scorer_id));
        if let Some(k) = &k {
            match super::refcache::lookup(k, n, scorer.feature_dim()) {
                super::refcache::Lookup::Hit(stats, features) => {
                    say(&format!(
                        "fid-ref: using the cached reference features {}",
                        k.path.display()
                    ));
                    return Ok(RealSide {
                        stats: Some(stats),
                        features: needs.real_features.then_some(features),
                    });
                }
                super::refcache::Lookup::Invalid(why) => say(&format!(
                    "fid-ref: the cached reference {} cannot be used ({why}); rebuilding it",
                    k.path.display()
                )),
                super::refcache::Lookup::Missing => {}
            }
        }
        // Cached: statistics and features both, so one file serves every metric.
        let mut acc = Accumulator::for_needs(Needs {
            stats: true,
            features: needs.real_features || k.is_some(),
            ..Needs::default()
        });
        score(ctx, scorer, &src, batch, &mut acc, "fid-ref")?;
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

fn check_batch(batch: i64) -> Result<usize> {
    if batch < 1 {
        bail!("--batch-size {batch}: must be at least 1");
    }
    Ok(batch as usize)
}

/// The identity of `scorer`'s features for the reference cache key: its name, protocol and
/// precision, and the file of its weights (Inception's, or the cached classifier's).
fn scorer_identity(scorer: &dyn Scorer, args: &EvalArgs, spec: &DataSpec) -> String {
    let weights = match scorer.name() {
        "inception" => crate::paths::inception_weights(args.inception.as_deref()),
        _ => crate::metrics::classifier::cache_path(spec).unwrap_or_default(),
    };
    format!(
        "{} protocol {} precision {:?} weights {}",
        scorer.name(),
        args.protocol.name(),
        args.scorer_precision,
        super::refcache::file_identity(&weights)
    )
}

/// The data set a training run was trained on (`shapes` for the built-in set) and its run
/// directory, when `input` is a training run directory or a file in one (its
/// `generator.safetensors`, `checkpoint/*.safetensors`); None for anything else.
fn recorded_dataset(input: &Path) -> Result<Option<(String, PathBuf)>> {
    let run = if input.is_dir() {
        input.to_path_buf()
    } else {
        match input.parent() {
            Some(p) if p.file_name().is_some_and(|n| n == "checkpoint") => {
                p.parent().map(Path::to_path_buf).unwrap_or_default()
            }
            Some(p) => p.to_path_buf(),
            None => return Ok(None),
        }
    };
    let cfg = run.join("config.json");
    if !cfg.is_file() {
        return Ok(None);
    }
    let v: serde_json::Value = crate::config::read_json(&cfg)?;
    if v["command"] != "train" || !v["train"].is_object() {
        return Ok(None); // not a training run's configuration
    }
    let name = v["train"]["dataset"]
        .as_str()
        .unwrap_or(data::DEFAULT_NAME)
        .to_string();
    Ok(Some((name, run)))
}

pub fn run(ctx: &Ctx, args: EvalArgs) -> Result<()> {
    let metrics = crate::metrics::registry::parse_list(&args.metric, "--metric")?;
    let needs = Needs::of(&metrics);
    let protocol = args.protocol;
    let batch = check_batch(
        args.batch_size
            .unwrap_or_else(|| crate::metrics::scoring_batch(ctx.device)),
    )?;
    if args.num_images < 1 {
        bail!("--num-images {}: must be at least 1", args.num_images);
    }
    if let Some(f) = &args.json_out {
        if f.is_dir() {
            bail!(
                "--json-out {}: this is a folder; give a file name such as eval.json",
                f.display()
            );
        }
        // A FIFO, a device or a dangling link is refused now, before the slow scoring.
        let f = &crate::run::atomic::destination(f)
            .with_context(|| format!("--json-out {}", f.display()))?;
        let parent = f.parent().filter(|p| !p.as_os_str().is_empty());
        crate::paths::ensure_writable_dir(
            parent.unwrap_or(Path::new(".")),
            &format!("--json-out {}", f.display()),
            "choose another --json-out",
        )?;
    }
    let names = |ms: &[&dyn Metric]| ms.iter().map(|m| m.name()).collect::<Vec<_>>().join(",");
    // A training run records its data set: its classifier scorer and its FID reference are
    // that data set's unless --dataset / --fid-ref say otherwise.
    let recorded = match (&args.input, args.images.is_none()) {
        (Some(input), true) => recorded_dataset(input)?,
        _ => None,
    };
    let dataset = args.dataset.clone().or_else(|| {
        recorded
            .as_ref()
            .and_then(|(d, _)| (d != data::DEFAULT_NAME).then(|| d.clone()))
    });
    let fid_ref = match (&args.fid_ref, needs.reference(), &recorded) {
        (None, true, Some((d, run))) => {
            if !ctx.quiet {
                eprintln!(
                    "--fid-ref {d}: the data set {} was trained on (give --fid-ref to compare \
                     with another reference)",
                    run.display()
                );
            }
            Some(d.clone())
        }
        (r, need, _) => match (r, need) {
        (Some(r), true) => Some(r.clone()),
        (None, true) => bail!(
            "--metric {} needs --fid-ref: a statistics file (.npz, e.g. from `autogan data stats cifar10 --out \
             cifar10.npz`; FID only), a folder of images, or a data set name ({})",
            names(&metrics),
            data::KNOWN.join(", ")
        ),
        (_, false) => None,
        },
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
    for m in &metrics {
        if (n as u64) < m.min_images() {
            bail!(
                "{}: {n} image(s); {} needs at least {}",
                images.display(),
                m.describe(),
                m.min_images()
            );
        }
    }
    // Every input is read or found before the long part: the reference (a statistics file,
    // a folder, a data set in --data-dir), then the scorer, then the widths are compared.
    let reference = match fid_ref.as_deref() {
        Some(r) => Some(Reference::resolve(r, args.data_dir.as_deref())?),
        None => None,
    };
    if let (Some(Reference::Stats(_)), true, Some(r)) = (&reference, needs.real_features, &fid_ref)
    {
        let want: Vec<&dyn Metric> = metrics
            .iter()
            .copied()
            .filter(|m| m.needs().real_features)
            .collect();
        bail!(
            "--fid-ref {r}: a statistics file holds no features, and --metric {} needs the \
             reference's features; give a folder of images or a data set name instead (it is \
             scored once and cached in {})",
            names(&want),
            crate::paths::home().join("refs").display()
        );
    }
    let spec = DataSpec::named(dataset.as_deref(), args.data_dir.as_deref());
    let scorer: Box<dyn Scorer> = match args.scorer {
        ScorerKind::Inception => {
            Box::new(load_inception(ctx, args.inception.as_deref(), protocol)?)
        }
        ScorerKind::Classifier => {
            Box::new(super::scoring::classifier(&spec, ctx.device, ctx.quiet)?)
        }
        ScorerKind::Auto => super::scoring::pick_with_protocol(
            ScorerKind::Auto,
            &spec,
            args.inception.as_deref(),
            protocol,
            ctx.device,
            ctx.quiet,
        )?,
    };
    let scorer_id = scorer_identity(scorer.as_ref(), &args, &spec);
    let scorer = crate::metrics::at_precision(scorer, ctx.device, args.scorer_precision);
    let scorer = scorer.as_ref();
    if let (Some(r), Some(name)) = (&reference, &fid_ref) {
        r.check_width(name, scorer)?;
    }
    let mut acc = Accumulator::for_needs(needs);
    score(ctx, scorer, &src, batch, &mut acc, "eval")?;
    let real = match reference {
        Some(r) => {
            if needs.real_stats {
                if let Some(w) = few_images_warning(n as u64, r.count(), scorer.feature_dim()) {
                    eprintln!("{w}");
                }
            }
            Some(r.side(ctx, scorer, &scorer_id, batch, needs)?)
        }
        None => None,
    };
    let values = metric::compute_all(&metrics, &acc.collected()?, real.as_ref())?;
    let mut v = serde_json::json!({
        // Today's keys, present (null when not asked for) so readers of is/fid keep working.
        "is_mean": metric::value(&values, "is_mean"),
        "is_std": metric::value(&values, "is_std"),
        "fid": metric::value(&values, "fid"),
        "num_images": n,
        "protocol": protocol.name(),
        "scorer": scorer.name(),
        "scorer_dataset": scorer.data_set(),
        "fid_ref": fid_ref,
        "metrics": metrics.iter().map(|m| m.name()).collect::<Vec<_>>(),
    });
    for (k, x) in &values {
        v[*k] = serde_json::json!(x);
    }
    if let Some(f) = &args.json_out {
        crate::run::atomic_write(f, format!("{v}\n").as_bytes())?;
    }
    if args.json {
        println!("{v}");
    } else {
        println!("{:<10} {}", "images", src.describe());
        let on = scorer
            .data_set()
            .map(|d| format!(", trained on {d}"))
            .unwrap_or_default();
        println!(
            "{:<10} {} (protocol {protocol}{on})",
            "scorer",
            scorer.name()
        );
        for m in &metrics {
            let v: Vec<f64> = m
                .keys()
                .iter()
                .filter_map(|k| metric::value(&values, k))
                .collect();
            let mut line = m.format(&v);
            if let (true, Some(r)) = (m.needs().reference(), &fid_ref) {
                line.push_str(&format!(" (reference: {r})"));
            }
            println!("{:<10} {line}", m.label());
        }
    }
    Ok(())
}

/// `autogan data stats NAME --out FILE`: mean and covariance of the scorer's features over a
/// data set (`cifar10`, `stl10`, `shapes`: its train split at its own size) or a folder of
/// images (each at its own size), written as an `.npz` with float64 `mu`, `sigma` (the
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
    // The output folder is checked before the images are scored.
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    crate::paths::ensure_writable_dir(
        parent,
        &format!("--out {}", out.display()),
        "choose another --out",
    )?;
    let src = named_source(name, data_dir, None)?;
    if src.len() < 2 {
        bail!(
            "{name}: {} image(s); the covariance needs at least 2",
            src.len()
        );
    }
    let scorer = load_inception(ctx, inception, protocol)?;
    let mut acc = Accumulator::new(false, true);
    let batch = crate::metrics::scoring_batch(ctx.device) as usize;
    score(ctx, &scorer, &src, batch, &mut acc, "stats")?;
    let stats = acc.stats()?;
    if let Some(w) = few_images_warning(stats.n, 0, stats.dim()) {
        eprintln!("{w}");
    }
    stats.write_npz(out)?;
    // The result line: printed with --quiet too (quiet drops progress, not results).
    println!(
        "wrote {} (mu, sigma of {} {}-d {} features, protocol {protocol}) from {}",
        out.display(),
        stats.n,
        stats.dim(),
        scorer.name(),
        src.describe()
    );
    Ok(stats)
}
