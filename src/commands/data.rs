//! `autogan data fetch|info|stats`: download the official archives, report what is on disk.
use anyhow::Result;

use crate::cli::DataCommand;
use crate::data::{fetch, info};
use crate::device::Ctx;
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
            super::eval::write_reference_stats(
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
