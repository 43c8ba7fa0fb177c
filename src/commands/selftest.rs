//! `autogan selftest` (hidden): runs the checks of [`crate::diag::selftest`] on the run's
//! device and prints them.
use anyhow::{bail, Result};
use serde_json::json;

use crate::cli::SelftestArgs;
use crate::device::Ctx;
use crate::diag::selftest::run_checks;

pub fn run(ctx: &Ctx, args: SelftestArgs) -> Result<()> {
    let checks = run_checks(ctx.device, args.toy)?;
    let failed = checks.iter().filter(|c| !c.ok).count();
    if args.json {
        println!(
            "{}",
            json!({"device": crate::device::device_name(ctx.device), "checks": checks, "failed": failed})
        );
    } else {
        println!(
            "selftest: {} against the CPU{}",
            crate::device::device_name(ctx.device),
            if args.toy { " (toy sizes)" } else { "" }
        );
        for c in &checks {
            println!(
                "{:<4} {:<34} {:>11.3e} (tolerance {:.1e})  {}",
                if c.ok { "ok" } else { "FAIL" },
                c.name,
                c.value,
                c.tol,
                c.note
            );
        }
    }
    if failed > 0 {
        bail!("selftest: {failed} check(s) failed");
    }
    Ok(())
}
