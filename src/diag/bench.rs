//! The timings of `autogan bench`: on random data after a warm-up, with the device synchronised
//! around the timed part.
//! - `train`: full training steps (n_critic D steps + one G step) of a fixed architecture; the
//!   PyTorch eager equivalent is `scripts/bench/train_eager.py`, `scripts/bench/train.sh`
//!   runs both. Also counts the host syncs per step.
//! - `inception`: the scorer's features (TF1 resize + FID-Inception) of random images; the
//!   torch-fidelity equivalent is `scripts/bench/inception_fidelity.py`.
//! - `search`: a slice of a search schedule at its sizes, and the whole schedule's time
//!   extrapolated from it (`scripts/gpu_check.sh` runs the paper's).
use anyhow::Result;
use serde_json::json;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

use crate::arch::Arch;
use crate::config::{SearchConfig, TrainConfig};
use crate::data::Dataset;
use crate::device::Ctx;
use crate::gan::trainer::Trainer;
use crate::metrics::{
    at_precision, score_stream, Accumulator, Inception, InceptionScorer, Protocol, Scorer,
};
use crate::search::run::Search;

pub use crate::device::device_name;

/// CPU time (user + system) this process has used, in seconds: on a machine shared with
/// other work it varies far less than the wall clock.
pub fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes one rusage struct, which we provide.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut u) != 0 {
            return f64::NAN;
        }
        let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
        t(u.ru_utime) + t(u.ru_stime)
    }
}

/// Wait for everything queued on `d`.
pub fn sync(d: Device) {
    if let Device::Cuda(i) = d {
        tch::Cuda::synchronize(i as i64);
    }
}

/// Seconds (wall, CPU) to compute the features and logits of `imgs` in batches of `batch`,
/// after one untimed batch.
pub fn time_scoring(
    device: Device,
    scorer: &dyn Scorer,
    imgs: &Tensor,
    batch: i64,
) -> Result<(f64, f64)> {
    let n = imgs.size()[0];
    let _ = scorer.features_and_logits(&imgs.narrow(0, 0, batch.min(n)))?;
    sync(device);
    let (t0, cpu0) = (Instant::now(), cpu_seconds());
    let mut acc = Accumulator::new(false, false);
    score_stream(
        &mut acc,
        scorer,
        n,
        batch,
        |i, b| Ok(imgs.narrow(0, i, b)),
        |_| {},
    )?;
    sync(device);
    Ok((t0.elapsed().as_secs_f64(), cpu_seconds() - cpu0))
}

/// Build a trainer for `cfg`, run `warmup` steps, time `steps` steps reading the losses back
/// every `read_every` steps (and after the last); the result as JSON.
pub fn train(
    ctx: &Ctx,
    cfg: TrainConfig,
    arch: Arch,
    warmup: u64,
    steps: u64,
    read_every: u64,
    images: i64,
) -> Result<serde_json::Value> {
    cfg.validate()?;
    let mut tr = Trainer::new(cfg.clone(), arch, ctx.seed, ctx.device)?;
    tch::manual_seed(ctx.seed as i64);
    let images = Tensor::randint(
        256,
        [images.max(cfg.batch_size), 3, cfg.img_size, cfg.img_size],
        (Kind::Uint8, ctx.device),
    );
    let data = Dataset::new("random", images, None, None)?;
    let run = |n: u64, tr: &mut Trainer| -> Result<()> {
        for i in 1..=n {
            tr.step_deferred(&data)?;
            if i.is_multiple_of(read_every) || i == n {
                tr.read_losses()?;
            }
        }
        Ok(())
    };
    run(warmup, &mut tr)?;
    sync(ctx.device);
    let syncs0 = crate::device::host_syncs();
    let (t0, cpu0) = (Instant::now(), cpu_seconds());
    run(steps, &mut tr)?;
    sync(ctx.device);
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let syncs = crate::device::host_syncs() - syncs0;
    let sps = steps as f64 / secs;
    Ok(json!({
        "bench": "train",
        "impl": "autogan",
        "steps_per_s": sps,
        "seconds": secs,
        "cpu_seconds_per_step": cpu / steps as f64,
        "d_images_per_s": sps * (cfg.n_critic as f64) * cfg.batch_size as f64,
        "host_syncs_per_step": syncs as f64 / steps as f64,
        "read_every": read_every,
        "precision": cfg.precision.name(),
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

/// The paper's arch "a", whose prefixes stand for the architectures scored at each stage.
const ARCH_A: [i64; 14] = [1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3];

/// Time a slice of `full`'s schedule and extrapolate it. For each stage: one warm-up
/// iteration (`warmup` D steps, one controller step), then the stage's last iteration with
/// `d_steps` D steps, one controller step and the ranking that moves to the next stage (2
/// candidates instead of `num_candidate`), then two more rewards timed on their own. The D
/// step time is the timed iteration's, less its rewards.
pub fn search(
    ctx: &Ctx,
    full: SearchConfig,
    d_steps: u64,
    warmup: u64,
    images: i64,
    tiny_scorer: bool,
) -> Result<serde_json::Value> {
    let dev = ctx.device;
    let scorer: Box<dyn Scorer> = if tiny_scorer {
        Box::new(crate::metrics::tiny::TinyScorer::new(dev))
    } else {
        tch::manual_seed(ctx.seed as i64);
        Box::new(InceptionScorer {
            net: Inception::random(dev),
            protocol: Protocol::Tf,
        })
    };
    let scorer = at_precision(scorer, dev, full.scorer_precision);
    let mut slice = full.clone();
    slice.ctrl_steps = 1;
    slice.num_candidate = 2;
    slice.topk = 1;
    // the per-epoch length of the real data set (CIFAR-10: 781 D batches of 64)
    let steps_per_iteration = slice.shared_epochs * (images as u64 / slice.batch_size as u64);
    let mut s = Search::new(slice.clone(), ctx.seed, dev)?;
    let [c1, c2] = full.stage_changes;
    let stage_iters = [(0, c1 - 1), (c1, c2 - 1), (c2, full.iterations - 1)];
    let mut stages = Vec::new();
    for (stage, (first, last)) in stage_iters.into_iter().enumerate() {
        let size = full.stage_size(stage);
        tch::manual_seed(ctx.seed as i64 + stage as i64);
        let n = images.max(slice.batch_size);
        let data = Dataset::new(
            "random",
            Tensor::randint(256, [n, 3, size, size], (Kind::Uint8, dev)),
            None,
            None,
        )?;
        // warm-up: an iteration that is not the stage's last (no ranking)
        if first < last {
            s.cfg.max_shared_steps = Some(warmup.max(1));
            s.run_iteration_at(first, &data, scorer.as_ref())?;
        }
        sync(dev);
        s.cfg.max_shared_steps = Some(d_steps);
        let t0 = Instant::now();
        let rep = s.run_iteration_at(last, &data, scorer.as_ref())?;
        sync(dev);
        let t_iter = t0.elapsed().as_secs_f64();
        let prefix = Arch::from_prefix_vector(&ARCH_A[..[4, 9, 14][stage]])?;
        let t1 = Instant::now();
        for _ in 0..2 {
            s.score_arch(&prefix, scorer.as_ref())?;
        }
        sync(dev);
        let reward_s = t1.elapsed().as_secs_f64() / 2.0;
        // the timed iteration scored 1 (controller) + num_candidate (ranking) architectures
        let rewards_in_iter = (slice.ctrl_steps as usize * slice.ctrl_sample_batch as usize
            + slice.num_candidate) as f64;
        let d_step_s = ((t_iter - rewards_in_iter * reward_s) / rep.d_steps.max(1) as f64).max(0.0);
        stages.push(json!({
            "stage": stage,
            "img_size": size,
            "iterations": last - first + 1,
            "d_steps_timed": rep.d_steps,
            // reads of the losses from the device (the shared training's only host syncs)
            "host_syncs_per_d_step": rep.loss_reads as f64 / rep.d_steps.max(1) as f64,
            "iteration_s": t_iter,
            "d_step_ms": d_step_s * 1e3,
            "reward_s": reward_s,
        }));
    }
    // the whole schedule: every iteration's shared steps and controller rewards, plus the
    // rankings at the two stage changes and at the end
    let mut train_s = 0.0;
    let mut reward_s = 0.0;
    let (mut total_d, mut total_r) = (0u64, 0u64);
    for st in &stages {
        let its = st["iterations"].as_u64().unwrap_or(0);
        let d = its * steps_per_iteration;
        let r = its * full.ctrl_steps * full.ctrl_sample_batch as u64 + full.num_candidate as u64;
        train_s += d as f64 * st["d_step_ms"].as_f64().unwrap_or(0.0) / 1e3;
        reward_s += r as f64 * st["reward_s"].as_f64().unwrap_or(0.0);
        total_d += d;
        total_r += r;
    }
    Ok(json!({
        "bench": "search",
        "impl": "autogan",
        "device": device_name(dev),
        "threads": tch::get_num_threads(),
        "scorer": if tiny_scorer { "tiny (dry run)" } else { "inception (random weights)" },
        "gf_dim": full.gf_dim,
        "df_dim": full.df_dim,
        "latent_dim": full.latent_dim,
        "batch_size": full.batch_size,
        "gen_batch_size": full.gen_batch_size,
        "rl_num_eval_img": full.rl_num_eval_img,
        "precision": full.precision.name(),
        "scorer_precision": full.scorer_precision.name(),
        "iterations": full.iterations,
        "d_steps_per_iteration": steps_per_iteration,
        "stages": stages,
        "total_d_steps": total_d,
        "total_rewards": total_r,
        "train_h": train_s / 3600.0,
        "reward_h": reward_s / 3600.0,
        "total_h": (train_s + reward_s) / 3600.0,
        "note": "extrapolated without dynamic reset (which only shortens iterations) and without \
                 controller updates, sample grids and checkpoints (small)",
    }))
}
