//! The device checks of `autogan selftest` on CUDA (SKIP without a GPU), and the dry run of
//! `scripts/gpu_check.sh` on the CPU, so the prepared GPU check cannot fail for a typo.
//! Tolerances are stated in `src/commands/selftest.rs`: generator, discriminator and
//! Inception outputs within 2e-2 of their largest magnitude (TF32 convolutions), Adam within
//! 1e-5, bf16 images within 0.02 on average; the short train and search must run with finite
//! losses and rewards.
mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn cuda_outputs_match_the_cpu_and_short_runs_work() {
    if !tch::Cuda::is_available() {
        println!("SKIP cuda: no CUDA device visible to libtorch");
        return;
    }
    let checks = autogan::diag::selftest::run_checks(tch::Device::Cuda(0), false)
        .expect("running the device checks");
    for c in &checks {
        println!(
            "{} {}: {:.3e} (tolerance {:.1e}) {}",
            if c.ok { "ok  " } else { "FAIL" },
            c.name,
            c.value,
            c.tol,
            c.note
        );
    }
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.as_str())
        .collect();
    assert!(failed.is_empty(), "failed on CUDA: {failed:?}");
}

#[test]
fn gpu_check_dry_run_produces_its_summary() {
    let Some(_) = common::venv_python(
        "gpu_check dry run",
        "torch, torch_fidelity",
        "scripts/setup.sh --with-metrics",
    ) else {
        return;
    };
    let out =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("gpu-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new("bash")
        .arg(common::root().join("scripts/gpu_check.sh"))
        .arg("--dry-run")
        .env("AUTOGAN_BIN", env!("CARGO_BIN_EXE_autogan"))
        .env("OUT", &out)
        .output()
        .expect("running scripts/gpu_check.sh");
    let summary = std::fs::read_to_string(out.join("gpu_check_summary.md")).unwrap_or_default();
    assert!(
        run.status.success(),
        "gpu_check.sh --dry-run failed:\n{}\n{summary}",
        String::from_utf8_lossy(&run.stderr)
    );
    for want in [
        "DRY RUN",
        "ratio autogan / eager =",
        "host syncs per step",
        "ratio autogan / torch-fidelity =",
        "whole schedule extrapolated:",
        "autogan bf16 autocast:",
        "NCHW activations",
        "## Raw outputs",
    ] {
        assert!(
            summary.contains(want),
            "the summary lacks '{want}':\n{summary}"
        );
    }
    let line = summary
        .lines()
        .find(|l| l.contains("selftest (cpu against the CPU):"))
        .expect("a selftest line");
    let n: Vec<&str> = line
        .split_whitespace()
        .filter(|w| w.parse::<u32>().is_ok())
        .collect();
    assert!(n.len() == 2 && n[0] == n[1] && n[0] != "0", "{line}");
    std::fs::remove_dir_all(&out).ok();
}
