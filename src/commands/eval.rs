//! `autogan eval`: the metrics of `--metric` (IS, FID, KID, precision/recall: the registry in
//! `crate::metrics::metric`) of a folder of images or a generator, and
//! `write_reference_stats`, the work behind `autogan data stats`. Reads the images, streams
//! them in batches through a `Scorer` once for all metrics, prints a table or JSON. The
//! reference side of `--fid-ref` (a folder or data set) is cached by `refcache`.
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

use crate::cli::EvalArgs;
use crate::data::{self, DataSpec};
use crate::device::Ctx;
use crate::metrics::metric::{self, Metric};
use crate::metrics::source::{
    few_images_warning, folder_source, named_source, score, ImageSource, Reference,
};
use crate::metrics::{Accumulator, InceptionScorer, Needs, Protocol, Scorer, ScorerKind, Stats};
use crate::run::RunFiles;

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

/// Score `src` into `acc` behind a progress bar, after a line that says what is scored.
fn score_with_bar(
    ctx: &Ctx,
    scorer: &dyn Scorer,
    src: &dyn ImageSource,
    batch: usize,
    acc: &mut Accumulator,
    label: &str,
) -> Result<()> {
    let mut bar = Bar::new(label, ctx.quiet);
    bar.line(&format!(
        "{label}: scoring {} with {}",
        src.describe(),
        scorer.name()
    ));
    score(scorer, src, batch, acc, &mut |d, n| bar.at(d, n))?;
    bar.done();
    Ok(())
}

/// A progress bar over images scored, made when the first count arrives.
struct Bar {
    pb: indicatif::ProgressBar,
    quiet: bool,
}

impl Bar {
    fn new(label: &str, quiet: bool) -> Bar {
        Bar {
            pb: crate::progress::bar(0, label, quiet),
            quiet,
        }
    }
    fn line(&self, text: &str) {
        crate::progress::log(&self.pb, self.quiet, text);
    }
    fn at(&mut self, done: usize, n: usize) {
        self.pb.set_length(n as u64);
        self.pb.set_position(done as u64);
    }
    fn done(&self) {
        self.pb.finish_and_clear();
    }
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
        crate::metrics::refcache::file_identity(&weights)
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
            Some(p)
                if p.file_name()
                    .is_some_and(|n| n == crate::run::layout::CHECKPOINT_DIR) =>
            {
                p.parent().map(Path::to_path_buf).unwrap_or_default()
            }
            Some(p) => p.to_path_buf(),
            None => return Ok(None),
        }
    };
    let cfg = RunFiles::of(&run).config();
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
    let src: Box<dyn ImageSource> = match (args.images.as_deref(), from_generator) {
        (Some(_), true) => bail!("give either --images DIR or a generator (RUN_DIR / --generator), not both"),
        (Some(dir), false) => Box::new(folder_source(dir, Some(args.num_images))?),
        (None, true) => {
            let gen = crate::gan::load::load(
                args.input.as_deref(),
                args.generator.as_deref(),
                args.arch.as_deref(),
                &args.size.gen_sizes(),
                ctx.device,
            )?;
            Box::new(crate::gan::load::Generated::new(gen, args.num_images))
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
    score_with_bar(ctx, scorer, src.as_ref(), batch, &mut acc, "eval")?;
    let real = match reference {
        Some(r) => {
            if needs.real_stats {
                if let Some(w) = few_images_warning(n as u64, r.count(), scorer.feature_dim()) {
                    eprintln!("{w}");
                }
            }
            let quiet = ctx.quiet;
            let mut say = |line: &str| {
                if !quiet {
                    eprintln!("{line}");
                }
            };
            let mut bar = Bar::new("fid-ref", quiet);
            let side = r.side(scorer, &scorer_id, batch, needs, &mut say, &mut |d, n| {
                bar.at(d, n)
            })?;
            bar.done();
            Some(side)
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
    score_with_bar(ctx, &scorer, &src, batch, &mut acc, "stats")?;
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
