//! `autogan report RUN_DIR`: write `report.html` into a run directory (and, with `--svg-dir`,
//! each chart as an SVG file of its own).
use anyhow::{Context, Result};

use crate::cli::ReportArgs;
use crate::device::Ctx;

pub fn run(ctx: &Ctx, args: ReportArgs) -> Result<()> {
    let (html, charts) = crate::report::build_with_charts(&args.run_dir)?;
    if let Some(dir) = &args.svg_dir {
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "cannot create the chart folder {} (--svg-dir): choose a folder you can write",
                dir.display()
            )
        })?;
        for (i, chart) in charts.iter().enumerate() {
            let path = dir.join(chart.file_name(i));
            crate::run::atomic_write(&path, chart.svg.as_bytes())?;
        }
        if !ctx.quiet {
            eprintln!("{} charts written to {}", charts.len(), dir.display());
        }
    }
    let out = crate::run::RunFiles::of(&args.run_dir).report();
    crate::run::atomic_write(&out, html.as_bytes())?;
    println!("{}", out.display());
    Ok(())
}
