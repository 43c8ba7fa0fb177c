//! `autogan bench`: timings on random data after a warm-up, with the device synchronised
//! around the timed part.
//! - `train`: full training steps (n_critic D steps + one G step) of a fixed architecture; the
//!   PyTorch eager equivalent is `scripts/bench/train_eager.py`, `scripts/bench/train.sh`
//!   runs both. Also counts the host syncs per step.
//! - `inception`: the scorer's features (TF1 resize + FID-Inception) of random images; the
//!   torch-fidelity equivalent is `scripts/bench/inception_fidelity.py`.
//! - `search`: a slice of a search schedule at its sizes, and the whole schedule's time
//!   extrapolated from it (`scripts/gpu_check.sh` runs the paper's).
use anyhow::{bail, Context, Result};
use serde_json::json;
use tch::{Kind, Tensor};

use crate::arch::Arch;
use crate::cli::BenchCommand;
use crate::config::{load_preset, GanConfig, TrainConfig};
use crate::device::Ctx;
use crate::diag::bench::{device_name, search, time_scoring, train};
use crate::metrics::{at_precision, scoring_batch, Inception, InceptionScorer, Protocol};

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
            read_every,
            precision,
            images,
            json,
        } => {
            let arch = Arch::load(&arch)?;
            if steps < 1 || read_every < 1 {
                bail!("--steps {steps} / --read-every {read_every}: must be at least 1");
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
                    precision,
                    ..GanConfig::training()
                },
                steps: warmup + steps,
                ..TrainConfig::default()
            };
            let bench = train(ctx, cfg, arch, warmup, steps, read_every, images)?;
            if json {
                println!("{bench}");
            } else {
                println!(
                    "bench train: {:.3} steps/s ({:.1} D images/s) on {} with {} threads: gf {} df {} latent {} batch {}/{} n_critic {} img {} {} ({} steps after {} warm-up); {:.3} host syncs per step",
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
                    precision.name(),
                    bench["steps"],
                    bench["warmup"],
                    bench["host_syncs_per_step"].as_f64().unwrap_or(f64::NAN),
                );
            }
            Ok(())
        }
        BenchCommand::Inception {
            images,
            batch_size,
            inception,
            precision,
            json,
        } => {
            let batch = batch_size.unwrap_or_else(|| scoring_batch(ctx.device));
            if images < 1 || batch < 1 {
                bail!("--images {images} / --batch-size {batch}: must be at least 1");
            }
            let net = match &inception {
                Some(p) => Inception::load(p, ctx.device)?,
                None => {
                    tch::manual_seed(ctx.seed as i64);
                    Inception::random(ctx.device)
                }
            };
            let scorer = at_precision(
                Box::new(InceptionScorer {
                    net,
                    protocol: Protocol::Tf,
                }),
                ctx.device,
                precision,
            );
            tch::manual_seed(ctx.seed as i64);
            let imgs = Tensor::randint(256, [images, 3, 32, 32], (Kind::Uint8, ctx.device));
            let (secs, cpu) = time_scoring(ctx.device, scorer.as_ref(), &imgs, batch)?;
            let v = json!({
                "bench": "inception",
                "impl": "autogan",
                "images": images,
                "batch": batch,
                "seconds": secs,
                "images_per_s": images as f64 / secs,
                "cpu_seconds_per_image": cpu / images as f64,
                "device": device_name(ctx.device),
                "threads": tch::get_num_threads(),
                "precision": precision.name(),
                "weights": inception.map_or("random".to_string(), |p| p.display().to_string()),
            });
            if json {
                println!("{v}");
            } else {
                println!(
                    "bench inception: {:.1} images/s ({} images of 32x32, batch {batch}, {}) on {} with {} threads",
                    images as f64 / secs,
                    images,
                    precision.name(),
                    device_name(ctx.device),
                    tch::get_num_threads()
                );
            }
            Ok(())
        }
        BenchCommand::Search {
            preset,
            size,
            d_steps,
            warmup,
            rl_num_eval_img,
            images,
            precision,
            scorer_precision,
            tiny_scorer,
            json,
        } => {
            let (path, p) = load_preset(&preset)?;
            let mut cfg = p.search.with_context(|| {
                format!("{}: this preset has no \"search\" section", path.display())
            })?;
            if let Some(v) = size.gf_dim {
                cfg.gf_dim = v;
            }
            if let Some(v) = size.df_dim {
                cfg.df_dim = v;
            }
            if let Some(v) = size.latent_dim {
                cfg.latent_dim = v;
            }
            if let Some(v) = rl_num_eval_img {
                cfg.rl_num_eval_img = v;
            }
            cfg.precision = precision;
            cfg.scorer_precision = scorer_precision;
            cfg.validate()?;
            if d_steps < 1 || images < cfg.batch_size {
                bail!("--d-steps must be at least 1 and --images at least the batch size");
            }
            let v = search(ctx, cfg, d_steps, warmup, images, tiny_scorer)?;
            if json {
                println!("{v}");
            } else {
                for s in v["stages"].as_array().into_iter().flatten() {
                    println!(
                        "stage {}: {:.2} ms per D step, {:.3} s per reward ({} images)",
                        s["stage"],
                        s["d_step_ms"].as_f64().unwrap_or(f64::NAN),
                        s["reward_s"].as_f64().unwrap_or(f64::NAN),
                        v["rl_num_eval_img"]
                    );
                }
                println!(
                    "whole schedule ({} iterations, {} D steps, {} rewards): {:.2} h extrapolated \
                     (no dynamic reset; shared training {:.2} h, rewards {:.2} h)",
                    v["iterations"],
                    v["total_d_steps"],
                    v["total_rewards"],
                    v["total_h"].as_f64().unwrap_or(f64::NAN),
                    v["train_h"].as_f64().unwrap_or(f64::NAN),
                    v["reward_h"].as_f64().unwrap_or(f64::NAN),
                );
            }
            Ok(())
        }
    }
}
