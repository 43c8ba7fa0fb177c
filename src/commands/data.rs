//! `autogan data fetch|info|stats`: download the official archives, report what is on disk,
//! write a data set's reference statistics.
use anyhow::{bail, Result};
use std::path::Path;

use crate::cli::DataCommand;
use crate::data::{fetch, info};
use crate::device::Ctx;
use crate::metrics::inception::load_inception;
use crate::metrics::source::{few_images_warning, named_source, ImageSource};
use crate::metrics::{Accumulator, Protocol, Scorer, Stats};
use crate::paths;

pub fn run(ctx: &Ctx, args: DataCommand) -> Result<()> {
    match args {
        DataCommand::Fetch { name, data_dir } => {
            let dir = paths::data_dir(data_dir.as_deref());
            let folder = fetch::fetch(&name, &dir, ctx.quiet)?;
            println!("{}", folder.display());
            Ok(())
        }
        DataCommand::Info {
            name,
            data_dir,
            json,
        } => {
            let dir = paths::data_dir(data_dir.as_deref());
            let sets = match name {
                Some(n) => vec![info::of(&n, &dir)?],
                None => info::all(&dir),
            };
            if json {
                let v = if sets.len() == 1 {
                    serde_json::to_value(&sets[0])?
                } else {
                    serde_json::to_value(&sets)?
                };
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("data folder: {}", dir.display());
                for s in &sets {
                    print_set(s);
                }
            }
            Ok(())
        }
        DataCommand::Stats {
            name,
            out,
            data_dir,
        } => {
            write_reference_stats(
                ctx,
                &name,
                &out,
                data_dir.as_deref(),
                crate::metrics::Protocol::Tf,
                None,
            )?;
            Ok(())
        }
    }
}

fn print_set(s: &info::SetInfo) {
    println!();
    let state = if s.available {
        "ready"
    } else if s.problems.is_empty() || s.kind == "folder" {
        "not ready"
    } else {
        "missing or incomplete"
    };
    println!("{} ({}): {}", s.name, s.kind, state);
    if let Some(loc) = &s.location {
        println!("  location     {loc}");
    }
    for f in &s.files {
        let found = match f.size {
            Some(sz) => format!("{sz} bytes"),
            None => "missing".into(),
        };
        let mark = if f.ok {
            "ok".to_string()
        } else {
            format!("expected {} bytes", f.expected.unwrap_or(0))
        };
        println!("  {:<40} {found:>16}  {mark}", short(&f.path));
    }
    for sp in &s.splits {
        let lab = if sp.labelled == sp.images {
            "labelled".to_string()
        } else if sp.labelled == 0 {
            "no labels".to_string()
        } else {
            format!("{} labelled", sp.labelled)
        };
        let avail = if sp.available { "" } else { " (not available)" };
        println!("  {:<12} {} images, {lab}{avail}", sp.split, sp.images);
    }
    if s.kind == "folder" {
        println!(
            "  image size   center-cropped to a square and resized to {0}x{0} unless another size is asked",
            s.default_size
        );
    } else {
        let stored = s
            .stored_size
            .map(|v| format!("{v}x{v}"))
            .unwrap_or_else(|| "?".into());
        println!(
            "  image size   stored {stored}, delivered {0}x{0} unless another size is asked",
            s.default_size
        );
    }
    for (size, count) in &s.image_sizes {
        println!("    {size:<10} {count} image(s)");
    }
    if let Some(b) = s.total_bytes {
        println!("  total        {b} bytes");
    }
    match s.num_classes {
        Some(k) if !s.classes.is_empty() => {
            println!("  classes      {k}: {}", s.classes.join(", "))
        }
        Some(k) => println!("  classes      {k}"),
        None => println!(
            "  classes      none (no labels: put each class in its own subfolder to have them)"
        ),
    }
    // Binary sets show their problems in the file table above.
    if s.files.is_empty() {
        for p in &s.problems {
            println!("  problem      {p}");
        }
    }
    if let Some(fix) = &s.fix {
        println!("  fix          {fix}");
    }
}

/// The last two path components, for a readable table.
fn short(p: &str) -> String {
    let path = std::path::Path::new(p);
    let mut comps: Vec<String> = path
        .iter()
        .rev()
        .take(2)
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    comps.reverse();
    comps.join("/")
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
    let scorer = load_inception(inception, protocol, ctx.device)?;
    let mut acc = Accumulator::new(false, true);
    let batch = crate::metrics::scoring_batch(ctx.device) as usize;
    super::score_with_bar(&scorer, &src, batch, &mut acc, "stats", ctx.quiet)?;
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
