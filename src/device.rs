//! The run context from the global flags: device, threads, seed, quietness.
use anyhow::{bail, Result};
use tch::Device;

use crate::cli::Cli;

#[derive(Debug, Clone)]
pub struct Ctx {
    pub device: Device,
    pub seed: u64,
    pub quiet: bool,
}

/// Parse `auto|cpu|cuda|cuda:N`.
pub fn parse_device(s: &str) -> Result<Device> {
    let s = s.trim().to_ascii_lowercase();
    match s.as_str() {
        "auto" => Ok(Device::cuda_if_available()),
        "cpu" => Ok(Device::Cpu),
        "cuda" | "gpu" => cuda(0),
        _ => {
            if let Some(n) = s.strip_prefix("cuda:") {
                match n.parse::<usize>() {
                    Ok(i) => cuda(i),
                    Err(_) => bail!("--device '{s}': the CUDA index must be a number, e.g. cuda:0"),
                }
            } else {
                bail!("--device '{s}' is not known: use auto, cpu, cuda or cuda:N")
            }
        }
    }
}

fn cuda(i: usize) -> Result<Device> {
    if !tch::Cuda::is_available() {
        bail!(
            "--device cuda{}: CUDA is not available to this build (run `autogan doctor`); use --device cpu",
            if i > 0 { format!(":{i}") } else { String::new() }
        );
    }
    let n = tch::Cuda::device_count() as usize;
    if i >= n {
        bail!(
            "--device cuda:{i}: only {n} CUDA device(s) found (cuda:0..cuda:{})",
            n - 1
        );
    }
    Ok(Device::Cuda(i))
}

/// `--threads N` capped at the cores this process may use: more threads than cores only
/// make libtorch's threads wait for each other (1000 stalled a 2-step run for minutes).
fn cap_threads(t: i32) -> i32 {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let cores = i32::try_from(cores).unwrap_or(i32::MAX);
    if t > cores {
        eprintln!(
            "warning: --threads {t}: this machine has {cores} cores available; using {cores}"
        );
        return cores;
    }
    t
}

impl Ctx {
    pub fn from_cli(cli: &Cli) -> Result<Ctx> {
        if let Some(t) = cli.threads {
            if t < 1 {
                bail!("--threads {t}: must be at least 1");
            }
            tch::set_num_threads(cap_threads(t));
        }
        let device = parse_device(&cli.device)?;
        tch::manual_seed(cli.seed as i64);
        Ok(Ctx {
            device,
            seed: cli.seed,
            quiet: cli.quiet,
        })
    }
}
