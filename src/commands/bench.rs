//! `autogan bench train`: time full training steps (n_critic D steps + one G step) of a
//! fixed architecture on random data after a warm-up, and print steps/s. The PyTorch eager
//! equivalent is `scripts/bench/train_eager.py`; `scripts/bench/train.sh` runs both.
use anyhow::{bail, Result};
use serde_json::json;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

use crate::arch::Arch;
use crate::cli::BenchCommand;
use crate::config::{GanConfig, TrainConfig};
use crate::data::Dataset;
use crate::device::Ctx;
use crate::gan::trainer::Trainer;

/// Images of the random data set: enough for a few D batches without repeating.
const BENCH_IMAGES: i64 = 512;

pub fn run(ctx: &Ctx, args: BenchCommand) -> Result<()> {
    match args {
        BenchCommand::Train {
            arch,
            size,
            batch_size,
            gen_batch_size,
            n_critic,
            steps,
            warmup,
            img_size,
            json,
        } => {
            let arch = Arch::load(&arch)?;
            if steps < 1 {
                bail!("--steps {steps}: must be at least 1");
            }
            let bottom_width = size.bottom_width.unwrap_or(img_size / 8);
            let cfg = TrainConfig {
                gan: GanConfig {
                    dataset: Some("random".into()),
                    img_size,
                    gf_dim: size.gf_dim.unwrap_or(256),
                    df_dim: size.df_dim.unwrap_or(128),
                    latent_dim: size.latent_dim.unwrap_or(128),
                    bottom_width,
                    batch_size,
                    gen_batch_size: gen_batch_size.unwrap_or(2 * batch_size),
                    n_critic,
                    ..GanConfig::training()
                },
                steps: warmup + steps,
                ..TrainConfig::default()
            };
            let bench = train(ctx, cfg, arch, warmup, steps)?;
            if json {
                println!("{bench}");
            } else {
                println!(
                    "bench train: {:.3} steps/s ({:.1} D images/s) on {} with {} threads: gf {} df {} latent {} batch {}/{} n_critic {} img {} ({} steps after {} warm-up)",
                    bench["steps_per_s"].as_f64().unwrap_or(0.0),
                    bench["d_images_per_s"].as_f64().unwrap_or(0.0),
                    bench["device"].as_str().unwrap_or("?"),
                    bench["threads"],
                    bench["gf_dim"],
                    bench["df_dim"],
                    bench["latent_dim"],
                    bench["batch_size"],
                    bench["gen_batch_size"],
                    bench["n_critic"],
                    bench["img_size"],
                    bench["steps"],
                    bench["warmup"],
                );
            }
            Ok(())
        }
    }
}

fn device_name(d: Device) -> String {
    match d {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn sync(d: Device) {
    if let Device::Cuda(i) = d {
        tch::Cuda::synchronize(i as i64);
    }
}

/// Build a trainer for `cfg`, run `warmup` steps, time `steps` steps; the result as JSON.
fn train(
    ctx: &Ctx,
    cfg: TrainConfig,
    arch: Arch,
    warmup: u64,
    steps: u64,
) -> Result<serde_json::Value> {
    cfg.validate()?;
    let mut tr = Trainer::new(cfg.clone(), arch, ctx.seed, ctx.device)?;
    tch::manual_seed(ctx.seed as i64);
    let images = Tensor::randint(
        256,
        [BENCH_IMAGES, 3, cfg.img_size, cfg.img_size],
        (Kind::Uint8, ctx.device),
    );
    let data = Dataset::new("random", images, None, None)?;
    for _ in 0..warmup {
        tr.step(&data)?;
    }
    sync(ctx.device);
    let t0 = Instant::now();
    for _ in 0..steps {
        tr.step(&data)?;
    }
    sync(ctx.device);
    let secs = t0.elapsed().as_secs_f64();
    let sps = steps as f64 / secs;
    Ok(json!({
        "bench": "train",
        "impl": "autogan",
        "steps_per_s": sps,
        "seconds": secs,
        "d_images_per_s": sps * (cfg.n_critic as f64) * cfg.batch_size as f64,
        "device": device_name(ctx.device),
        "threads": tch::get_num_threads(),
        "arch": tr.arch.to_vector(),
        "gf_dim": cfg.gf_dim,
        "df_dim": cfg.df_dim,
        "latent_dim": cfg.latent_dim,
        "bottom_width": cfg.bottom_width,
        "img_size": cfg.img_size,
        "batch_size": cfg.batch_size,
        "gen_batch_size": cfg.gen_batch_size,
        "n_critic": cfg.n_critic,
        "steps": steps,
        "warmup": warmup,
    }))
}
