//! `autogan eval`: the metrics of `--metric` (IS, FID, KID, precision/recall: the registry in
//! `crate::metrics::metric`) of a folder of images or a generator. Reads the images, streams
//! them in batches through a `Scorer` once for all metrics, prints a table or JSON. The
//! reference side of `--fid-ref` (a folder or data set) is cached by `refcache`.
use anyhow::{bail, Context, Result};
use std::path::Path;

use crate::cli::EvalArgs;
use crate::data::{self, DataSpec};
use crate::device::Ctx;
use crate::metrics::metric::{self, Metric};
use crate::metrics::source::{few_images_warning, folder_source, ImageSource, Reference};
use crate::metrics::{Accumulator, Needs, Scorer, ScorerKind};

fn check_batch(batch: i64) -> Result<usize> {
    if batch < 1 {
        bail!("--batch-size {batch}: must be at least 1");
    }
    Ok(batch as usize)
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
        (Some(input), true) => crate::gan::run::recorded_dataset(input)?,
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
        ScorerKind::Inception => Box::new(crate::metrics::inception::load_inception(
            args.inception.as_deref(),
            protocol,
            ctx.device,
        )?),
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
    let scorer_id = crate::metrics::refcache::scorer_identity(
        scorer.as_ref(),
        args.inception.as_deref(),
        protocol,
        args.scorer_precision,
        &spec,
    );
    let scorer = crate::metrics::at_precision(scorer, ctx.device, args.scorer_precision);
    let scorer = scorer.as_ref();
    if let (Some(r), Some(name)) = (&reference, &fid_ref) {
        r.check_width(name, scorer)?;
    }
    let mut acc = Accumulator::for_needs(needs);
    super::score_with_bar(scorer, src.as_ref(), batch, &mut acc, "eval", ctx.quiet)?;
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
            let mut bar = crate::progress::CountBar::new("fid-ref", quiet);
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
