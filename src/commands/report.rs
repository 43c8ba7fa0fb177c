//! `autogan report RUN_DIR`: write `report.html` into a run directory.
use anyhow::Result;

use crate::cli::ReportArgs;
use crate::device::Ctx;

pub fn run(_ctx: &Ctx, args: ReportArgs) -> Result<()> {
    let html = crate::report::build(&args.run_dir)?;
    let out = crate::run::RunFiles::of(&args.run_dir).report();
    crate::run::atomic_write(&out, html.as_bytes())?;
    println!("{}", out.display());
    Ok(())
}
