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

/// Where to compute, as `--device` spells it: `auto`, `cpu`, `cuda` or `cuda:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// CUDA when libtorch sees a GPU, else the CPU.
    #[default]
    Auto,
    Cpu,
    /// CUDA device N.
    Cuda(usize),
}

impl std::str::FromStr for DeviceChoice {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<DeviceChoice> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" | "gpu" => Ok(DeviceChoice::Cuda(0)),
            _ => match s.strip_prefix("cuda:") {
                Some(n) => match n.parse::<usize>() {
                    Ok(i) => Ok(DeviceChoice::Cuda(i)),
                    Err(_) => {
                        bail!("--device '{s}': the CUDA index must be a number, e.g. cuda:0")
                    }
                },
                None => bail!("--device '{s}' is not known: use auto, cpu, cuda or cuda:N"),
            },
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceChoice::Auto => f.write_str("auto"),
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl serde::Serialize for DeviceChoice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DeviceChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl DeviceChoice {
    /// The libtorch device; an error when CUDA is asked for and not there.
    pub fn resolve(self) -> Result<Device> {
        match self {
            DeviceChoice::Auto => Ok(Device::cuda_if_available()),
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Cuda(i) => cuda(i),
        }
    }
}

/// Parse `auto|cpu|cuda|cuda:N` and resolve it.
pub fn parse_device(s: &str) -> Result<Device> {
    s.parse::<DeviceChoice>()?.resolve()
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

impl Ctx {
    pub fn from_cli(cli: &Cli) -> Result<Ctx> {
        if let Some(t) = cli.threads {
            if t < 1 {
                bail!("--threads {t}: must be at least 1");
            }
            tch::set_num_threads(t);
        }
        let device = cli.device.resolve()?;
        tch::manual_seed(cli.seed as i64);
        Ok(Ctx {
            device,
            seed: cli.seed,
            quiet: cli.quiet,
        })
    }
}
