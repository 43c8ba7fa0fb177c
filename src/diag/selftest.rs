//! The checks of `autogan selftest` (hidden): the run's device against the CPU, runnable from
//! the binary alone (GPU machines have no Rust toolchain; `scripts/gpu_check.sh` runs it, and
//! `tests/cuda.rs` calls [`run_checks`]). Each check states its tolerance:
//! - generator, discriminator (output and gradients) and FID-Inception (features, logits) with
//!   the same weights and inputs as on the CPU: within 2e-2 of the largest magnitude (on
//!   CUDA, cuDNN convolutions run in TF32, about 3 decimal digits);
//! - Adam over flat buffers, 6 steps with the per-element bias corrections of a supernet:
//!   within 1e-5 relative (CUDA divides by a scalar through its reciprocal);
//! - bf16 autocast: a matmul comes out bfloat16, the generator's output within 0.02 of fp32
//!   on average;
//! - ten training steps on CUDA under libtorch's sync debug mode "error": no host sync;
//! - a short training (3 steps, a checkpoint written, read back and continued) and a short
//!   three-stage search: they run and their losses and rewards are finite.
use anyhow::{ensure, Result};
use serde_json::json;
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

use crate::arch::Arch;
use crate::config::{GanConfig, SearchConfig, TrainConfig};
use crate::data::Dataset;
use crate::device::Precision;
use crate::gan::trainer::Trainer;
use crate::metrics::{Inception, InceptionScorer, Protocol, Scorer};
use crate::nn::{DiscConfig, Discriminator, GenConfig, Generator};
use crate::search::run::Search;

/// The outcome of one check: `value` against `tol` (ok when `value <= tol`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub name: String,
    pub value: f64,
    pub tol: f64,
    pub ok: bool,
    pub note: String,
}

fn check(name: &str, value: f64, tol: f64, note: &str) -> Check {
    Check {
        name: name.into(),
        value,
        tol,
        ok: value <= tol,
        note: note.into(),
    }
}

/// max |a - b| / max(1, max |b|): both tensors compared on the CPU in float64.
fn rel_diff(a: &Tensor, b: &Tensor) -> f64 {
    let a = a.detach().to_device(Device::Cpu).to_kind(Kind::Double);
    let b = b.detach().to_device(Device::Cpu).to_kind(Kind::Double);
    let scale = b.abs().max().double_value(&[]).max(1.0);
    (a - b).abs().max().double_value(&[]) / scale
}

/// Every check on `device` (the CPU against itself when `device` is the CPU: a dry run of
/// the code paths). `toy`: small models.
pub fn run_checks(device: Device, toy: bool) -> Result<Vec<Check>> {
    let (gf, df, latent) = if toy { (16, 16, 16) } else { (256, 128, 128) };
    let conv_tol = 2e-2;
    let mut out = Vec::new();

    // generator, eval and train mode
    let arch = Arch::from_vector(&[1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3])?;
    let gcfg = GenConfig {
        latent_dim: latent,
        gf_dim: gf,
        bottom_width: 4,
    };
    tch::manual_seed(1);
    let cpu_vs = VarStore::new(Device::Cpu);
    let g_cpu = Generator::new(&cpu_vs.root(), &arch, &gcfg);
    let mut dev_vs = VarStore::new(device);
    let g_dev = Generator::new(&dev_vs.root(), &arch, &gcfg);
    dev_vs.copy(&cpu_vs)?;
    let z = Tensor::randn([8, latent], (Kind::Float, Device::Cpu));
    let zd = z.to_device(device);
    let (e_cpu, e_dev) = tch::no_grad(|| (g_cpu.forward_t(&z, false), g_dev.forward_t(&zd, false)));
    out.push(check(
        "generator eval output",
        rel_diff(&e_dev, &e_cpu),
        conv_tol,
        "arch a",
    ));
    let (t_cpu, t_dev) = tch::no_grad(|| (g_cpu.forward_t(&z, true), g_dev.forward_t(&zd, true)));
    out.push(check(
        "generator train output",
        rel_diff(&t_dev, &t_cpu),
        conv_tol,
        "batch statistics",
    ));

    // bf16 autocast on the device
    let mm = crate::device::autocast(device, Precision::Bf16, || zd.matmul(&zd.tr()));
    out.push(check(
        "bf16 autocast engages",
        (mm.kind() != Kind::BFloat16) as u8 as f64,
        0.0,
        &format!("matmul under autocast gives {:?}", mm.kind()),
    ));
    let b_dev = tch::no_grad(|| {
        crate::device::autocast(device, Precision::Bf16, || g_dev.forward_t(&zd, false))
    });
    let d = (b_dev.to_kind(Kind::Float) - &e_dev).abs();
    let (mean, max) = (
        d.mean(Kind::Float).double_value(&[]),
        d.max().double_value(&[]),
    );
    out.push(check(
        "generator bf16 vs fp32",
        mean,
        0.02,
        &format!("mean |diff| of images in [-1, 1] (max {max:.3})"),
    ));

    // discriminator: output of a training forward (one power iteration) and gradients
    tch::manual_seed(2);
    let dcfg = DiscConfig { df_dim: df };
    let dcpu_vs = VarStore::new(Device::Cpu);
    let d_cpu = Discriminator::new(&dcpu_vs.root(), &dcfg);
    let mut ddev_vs = VarStore::new(device);
    let d_dev = Discriminator::new(&ddev_vs.root(), &dcfg);
    ddev_vs.copy(&dcpu_vs)?;
    let x = Tensor::rand([8, 3, 32, 32], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
    let y_cpu = d_cpu.forward_t(&x, true);
    let y_dev = d_dev.forward_t(&x.to_device(device), true);
    out.push(check(
        "discriminator output",
        rel_diff(&y_dev, &y_cpu),
        conv_tol,
        "spectral norm, training mode",
    ));
    y_cpu.sum(Kind::Float).backward();
    y_dev.sum(Kind::Float).backward();
    let dv = ddev_vs.variables();
    let worst = crate::gan::named_trainable(&dcpu_vs)
        .iter()
        .map(|(n, t)| rel_diff(&dv[n].grad(), &t.grad()))
        .fold(0.0, f64::max);
    out.push(check(
        "discriminator gradients",
        worst,
        conv_tol,
        "worst parameter",
    ));

    // FID-Inception, random weights (the same work as the real ones)
    tch::manual_seed(3);
    let net_cpu = Inception::random(Device::Cpu);
    let net_dev = Inception::from_tensors(net_cpu.tensors(), device)?;
    let s_cpu = InceptionScorer {
        net: net_cpu,
        protocol: Protocol::Tf,
    };
    let s_dev = InceptionScorer {
        net: net_dev,
        protocol: Protocol::Tf,
    };
    let imgs = Tensor::randint(
        256,
        [if toy { 1 } else { 8 }, 3, 32, 32],
        (Kind::Uint8, Device::Cpu),
    );
    let (f_cpu, l_cpu) = s_cpu.features_and_logits(&imgs)?;
    let (f_dev, l_dev) = s_dev.features_and_logits(&imgs.to_device(device))?;
    out.push(check(
        "inception features",
        rel_diff(&f_dev, &f_cpu),
        conv_tol,
        "TF1 resize + network",
    ));
    out.push(check(
        "inception logits",
        rel_diff(&l_dev, &l_cpu),
        conv_tol,
        "",
    ));

    out.push(adam_check(device)?);
    out.push(no_sync_in_train_steps(device)?);
    out.push(short_train(device)?);
    out.push(short_search(device)?);
    Ok(out)
}

/// Six Adam steps with the gradients of a supernet (a parameter reached late, one off the
/// path for two steps, one never reached) on the device and on the CPU.
fn adam_check(device: Device) -> Result<Check> {
    tch::manual_seed(4);
    let shapes: [&[i64]; 4] = [&[3, 4], &[5], &[2, 3, 3, 3], &[7]];
    let init: Vec<Tensor> = shapes
        .iter()
        .map(|s| Tensor::randn(*s, (Kind::Float, Device::Cpu)))
        .collect();
    let grads: Vec<Vec<Option<Tensor>>> = (1..=6)
        .map(|t| {
            (0..4)
                .map(|i| {
                    let on = match i {
                        0 => true,
                        1 => t >= 3,
                        2 => !(3..=4).contains(&t),
                        _ => false,
                    };
                    on.then(|| Tensor::randn(shapes[i], (Kind::Float, Device::Cpu)))
                })
                .collect()
        })
        .collect();
    let run = |dev: Device| -> Vec<Tensor> {
        let vs = VarStore::new(dev);
        let vars: Vec<Tensor> = init
            .iter()
            .enumerate()
            .map(|(i, p)| vs.root().var_copy(&format!("p{i}"), &p.to_device(dev)))
            .collect();
        let mut opt = crate::gan::adam::Adam::new(&vs, 1e-3, 0.0, 0.9);
        for gs in &grads {
            opt.zero_grad();
            let terms: Vec<Tensor> = vars
                .iter()
                .zip(gs)
                .filter_map(|(p, g)| g.as_ref().map(|g| (p * g.to_device(dev)).sum(Kind::Float)))
                .collect();
            Tensor::stack(&terms, 0).sum(Kind::Float).backward();
            opt.step();
        }
        vars
    };
    let (a, b) = (run(device), run(Device::Cpu));
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| rel_diff(x, y))
        .fold(0.0, f64::max);
    Ok(check(
        "adam (flat, per-parameter steps)",
        worst,
        1e-5,
        "6 steps",
    ))
}

/// Ten training steps after a warm-up, with libtorch's CUDA sync debug mode at "error": no
/// step may make the host wait for the GPU (the losses are read afterwards). On the CPU there
/// is no such thing and the check only runs the steps.
fn no_sync_in_train_steps(device: Device) -> Result<Check> {
    let arch = Arch::from_vector(&[1, 1, 2, 1, 0, 2, 0, 1, 1, 1, 0, 1, 0, 3])?;
    let data = random_data(512, 32, device)?;
    let mut tr = Trainer::new(tiny_train_config(), arch, 7, device)?;
    for _ in 0..2 {
        tr.step_deferred(&data)?;
    }
    tr.read_losses()?;
    let res = crate::device::forbid_cuda_syncs(|| -> Result<()> {
        for _ in 0..10 {
            tr.step_deferred(&data)?;
        }
        Ok(())
    });
    let (value, note) = match res {
        Ok(r) => {
            r?;
            tr.read_losses()?;
            let note = if device.is_cuda() {
                "sync debug mode: error"
            } else {
                "CPU: nothing to check"
            };
            (0.0, note.to_string())
        }
        Err(msg) => (1.0, msg.lines().next().unwrap_or("").to_string()),
    };
    Ok(check("no host sync in 10 train steps", value, 0.0, &note))
}

/// Tiny settings shared by the short runs.
fn tiny_train_config() -> TrainConfig {
    TrainConfig {
        gan: GanConfig {
            dataset: Some("random".into()),
            gf_dim: 16,
            df_dim: 16,
            latent_dim: 16,
            batch_size: 8,
            gen_batch_size: 8,
            ..GanConfig::training()
        },
        steps: 4,
        ..TrainConfig::default()
    }
}

fn random_data(n: i64, size: i64, device: Device) -> Result<Dataset> {
    Dataset::new(
        "random",
        Tensor::randint(256, [n, 3, size, size], (Kind::Uint8, device)),
        None,
        None,
    )
}

/// Three training steps, a checkpoint written and read back on the device, one more step.
fn short_train(device: Device) -> Result<Check> {
    let arch = Arch::from_vector(&[1, 1, 2, 1, 0, 2, 0, 1, 1, 1, 0, 1, 0, 3])?;
    let data = random_data(64, 32, device)?;
    let mut tr = Trainer::new(tiny_train_config(), arch, 5, device)?;
    for _ in 0..3 {
        tr.step_deferred(&data)?;
    }
    let s = tr.read_losses()?.expect("3 steps");
    let dir = std::env::temp_dir().join(format!("autogan-selftest-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let ckpt = dir.join("last.safetensors");
    tr.save_checkpoint(&ckpt, &json!({}))?;
    let (mut back, _) = Trainer::load_checkpoint(&ckpt, device)?;
    let _ = std::fs::remove_dir_all(&dir);
    ensure!(
        back.g_step == 3,
        "the reloaded trainer is at G step {}",
        back.g_step
    );
    let t = back.step(&data)?;
    let worst = [s.d_loss, s.g_loss, t.d_loss, t.g_loss]
        .iter()
        .all(|v| v.is_finite());
    Ok(check(
        "short train + checkpoint round trip",
        (!worst) as u8 as f64,
        0.0,
        &format!("losses after 4 steps: D {:.3} G {:.3}", t.d_loss, t.g_loss),
    ))
}

/// A three-stage search with tiny models and a tiny scorer, one iteration per stage.
fn short_search(device: Device) -> Result<Check> {
    let cfg = SearchConfig {
        gan: GanConfig {
            dataset: Some("random".into()),
            gf_dim: 16,
            df_dim: 16,
            latent_dim: 16,
            batch_size: 8,
            gen_batch_size: 8,
            ..GanConfig::search()
        },
        iterations: 3,
        stage_changes: [1, 2],
        max_shared_steps: Some(6),
        ctrl_steps: 2,
        rl_num_eval_img: 20,
        num_candidate: 2,
        topk: 1,
        ..SearchConfig::default()
    };
    let scorer = crate::metrics::tiny::TinyScorer::new(device);
    let mut s = Search::new(cfg, 6, device)?;
    while !s.is_done() {
        let data = random_data(64, s.cfg.stage_size(s.stage()), device)?;
        s.run_iteration(&data, &scorer, &mut |_, _| {})?;
    }
    let top = s.final_topk.first().map(|t| t.score).unwrap_or(f64::NAN);
    Ok(check(
        "short search (3 stages)",
        (!top.is_finite()) as u8 as f64,
        0.0,
        &format!("best reward {top:.3} (tiny scorer)"),
    ))
}
