//! `autogan search`: the architecture search, its run directory, resume and final selection.
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::path::Path;
use std::time::Instant;

use crate::arch::Arch;
use crate::cli::SearchArgs;
use crate::config::{load_preset, SearchConfig, TrainConfig};
use crate::data::{DataSpec, Dataset};
use crate::device::Ctx;
use crate::gan::trainer::Trainer;
use crate::metrics::{frechet_distance, Accumulator, Scorer};
use crate::progress;
use crate::run::{self, Jsonl};
use crate::search::run::Search;

fn build_config(args: &SearchArgs) -> Result<SearchConfig> {
    let name = args
        .preset
        .clone()
        .unwrap_or_else(|| super::train::default_preset(args.data.dataset.as_deref()).into());
    let (path, preset) = load_preset(&name)?;
    let mut c = preset
        .search
        .with_context(|| format!("{}: this preset has no \"search\" section", path.display()))?;
    if let Some(d) = &args.data.dataset {
        c.dataset = Some(d.clone());
    }
    macro_rules! set {
        ($field:ident, $val:expr) => {
            if let Some(v) = $val.clone() {
                c.$field = v;
            }
        };
    }
    set!(gf_dim, args.size.gf_dim);
    set!(df_dim, args.size.df_dim);
    set!(latent_dim, args.size.latent_dim);
    set!(iterations, args.iterations);
    set!(shared_epochs, args.shared_epochs);
    set!(ctrl_steps, args.ctrl_steps);
    set!(ctrl_sample_batch, args.ctrl_sample_batch);
    set!(rl_num_eval_img, args.rl_num_eval_img);
    set!(num_candidate, args.num_candidate);
    set!(topk, args.topk);
    set!(batch_size, args.batch_size);
    set!(gen_batch_size, args.gen_batch_size);
    set!(dynamic_reset, args.dynamic_reset);
    set!(reset_mode, args.reset_mode);
    set!(reset_window, args.reset_window);
    set!(scorer, args.scorer);
    set!(final_train_steps, args.final_train_steps);
    if let Some(m) = args.max_shared_steps {
        c.max_shared_steps = Some(m);
    }
    if let Some(bw) = args.size.bottom_width {
        c.bottom_width = bw;
        c.img_size = bw * 8;
    }
    if let Some(sc) = &args.stage_changes {
        if sc.len() != 2 {
            bail!("--stage-changes takes two iterations, e.g. 15,35 (got {sc:?})");
        }
        c.stage_changes = [sc[0], sc[1]];
    } else if args.iterations.is_some() && c.stage_changes[1] >= c.iterations {
        // Keep the preset's proportions when only the iteration count changes.
        let n = c.iterations;
        c.stage_changes = [(n * 15 / 65).max(1), (n * 35 / 65).max(2)];
    }
    c.validate()
        .with_context(|| format!("search configuration from {} and flags", path.display()))?;
    Ok(c)
}

fn data_spec(cfg: &SearchConfig, data_dir: Option<&Path>) -> DataSpec {
    DataSpec::for_training(
        cfg.dataset.as_deref(),
        data_dir,
        cfg.img_size,
        cfg.shapes_count,
        0,
    )
}

pub fn run(ctx: &Ctx, args: SearchArgs) -> Result<()> {
    let data_dir = args.data.data_dir.clone();
    let (mut search, dir, lock) = if let Some(dir) = &args.resume {
        let ckpt = dir.join("checkpoint").join("last.safetensors");
        if !ckpt.is_file() && !dir.join("config.json").is_file() {
            bail!(
                "{}: no search checkpoint to resume from (expected {}) and no config.json: not \
                 a run directory of autogan search",
                dir.display(),
                ckpt.display()
            );
        }
        let lock = run::lock::lock_run_dir(dir)?;
        let s = if ckpt.is_file() {
            Search::load_checkpoint(&ckpt, ctx.device)?
        } else {
            // Stopped before its first checkpoint: start again as recorded.
            recorded_search(dir, &ckpt, ctx.device)?
        };
        if !ctx.quiet {
            eprintln!(
                "resuming {} after iteration {} of {}",
                dir.display(),
                s.iteration,
                s.cfg.iterations
            );
        }
        (s, dir.clone(), Some(lock))
    } else {
        let cfg = build_config(&args)?;
        let name = format!(
            "search-{}",
            DataSpec::named(cfg.dataset.as_deref(), None)
                .display_name()
                .replace('/', "_")
        );
        let dir = args
            .out
            .clone()
            .unwrap_or_else(|| run::default_run_dir(&name));
        let s = Search::new(cfg, ctx.seed, ctx.device)?;
        (s, dir, None)
    };
    let full = crate::data::load(&data_spec(&search.cfg, data_dir.as_deref()))?;
    full.check_batch(search.cfg.batch_size)?;
    let scorer = super::scoring::pick(
        &search.cfg.scorer,
        &data_spec(&search.cfg, data_dir.as_deref()),
        None,
        ctx.device,
        ctx.quiet,
    )?;
    let run_dir = match lock {
        Some(lock) => run::RunDir::Resumed(lock),
        None => {
            let new_dir = run::NewRunDir::create(&dir)?;
            std::fs::create_dir_all(dir.join("archs"))?;
            let snapshot = json!({
                "command": "search",
                "autogan_version": env!("CARGO_PKG_VERSION"),
                "search": search.cfg,
                "seed": ctx.seed,
                "device": format!("{:?}", ctx.device),
                "scorer": scorer.name(),
            });
            run::atomic_write(
                &dir.join("config.json"),
                serde_json::to_string_pretty(&snapshot)?.as_bytes(),
            )?;
            run::RunDir::New(new_dir)
        }
    };
    let mut log = Jsonl::open_keep(
        &dir.join("search.jsonl"),
        "iteration",
        Some(search.iteration),
    )?;
    let ckpt = dir.join("checkpoint").join("last.safetensors");
    // The first checkpoint, before iteration 1: a search stopped at any point can be resumed.
    if !ckpt.is_file() {
        search.save_checkpoint(&ckpt)?;
    }
    let _lock = run_dir.keep();
    run::interrupt::catch_ctrl_c()?;
    let resume = || run::interrupt::resume_command("search", &dir, ctx.device, data_dir.as_deref());
    let start = Instant::now();
    let total = search.cfg.iterations;
    let overall = progress::bar(total, "search", ctx.quiet);
    overall.set_position(search.iteration);
    let mut stage_data: Vec<Option<Dataset>> = vec![None, None, None];
    while !search.is_done() {
        let stage = search.stage();
        if stage_data[stage].is_none() {
            let size = search.cfg.stage_size(stage);
            let d = if size == full.img_size() {
                full.take(full.len())
            } else {
                full.resized(size)
            };
            stage_data[stage] = Some(d.to_device(ctx.device));
        }
        let data = stage_data[stage].as_ref().context("stage data")?;
        let it = search.iteration + 1;
        overall.set_message(format!(
            "iteration {it}, stage {stage} ({0}x{0})",
            search.cfg.stage_size(stage)
        ));
        let mut on_step = |s: u64, n: u64| {
            if s == 1 || s == n || s.is_multiple_of(20) {
                overall.set_message(format!(
                    "iteration {it}, stage {stage}: shared step {s}/{n}"
                ));
            }
        };
        let rep = match search.run_iteration(data, scorer.as_ref(), &mut on_step) {
            Ok(rep) => rep,
            Err(e) if run::interrupt::is_interrupted(&e) => {
                overall.abandon();
                return Err(run::interrupt::Interrupted::new(format!(
                    "interrupted during iteration {it} of {total}: the checkpoint {} after \
                     iteration {} is kept, and iteration {it} will be repeated; continue with\n  {}",
                    ckpt.display(),
                    it - 1,
                    resume()
                ))
                .into());
            }
            Err(e) => return Err(e),
        };
        for line in &rep.ctrl {
            log.write(line)?;
        }
        let best_ctrl = rep
            .ctrl
            .iter()
            .filter_map(|l| l["reward"].as_f64())
            .fold(f64::NAN, f64::max);
        let last_arch = rep
            .ctrl
            .last()
            .and_then(|l| l["archs"][0].as_array().cloned())
            .unwrap_or_default();
        log.write(&json!({
            "kind": "iteration",
            "iteration": rep.iteration,
            "stage": rep.stage,
            "d_steps": rep.d_steps,
            "g_steps": rep.g_steps,
            "d_loss": rep.d_loss,
            "g_loss": rep.g_loss,
            "reset": rep.reset,
            "resets": search.resets,
            "beam": search.beam.as_ref().map(|b| b.to_json()),
            "scorer": scorer.name(),
            "wall_s": start.elapsed().as_secs_f64(),
        }))?;
        if !last_arch.is_empty() {
            let v: Vec<i64> = last_arch.iter().filter_map(|x| x.as_i64()).collect();
            let arch = Arch::from_prefix_vector(&v)?;
            let imgs = crate::data::from_gan(&search.sample_grid(&arch));
            run::save_grid(
                &imgs,
                8,
                &dir.join("samples")
                    .join(format!("iter_{:03}.png", rep.iteration)),
            )?;
        }
        progress::log(&overall, ctx.quiet, &format!(
            "iteration {}/{total} stage {}: D {:.3} G {:.3}, {} D steps{}, best {} IS of the controller {:.3}",
            rep.iteration, rep.stage, rep.d_loss, rep.g_loss, rep.d_steps,
            if rep.reset { ", dynamic reset" } else { "" },
            scorer.name(), best_ctrl
        ));
        search.save_checkpoint(&ckpt)?;
        overall.inc(1);
        if run::interrupt::requested() && !search.is_done() {
            overall.abandon();
            return Err(run::interrupt::Interrupted::new(format!(
                "interrupted: stopped after iteration {} of {total} with a checkpoint ({}); \
                 continue with\n  {}",
                search.iteration,
                ckpt.display(),
                resume()
            ))
            .into());
        }
    }
    overall.finish_and_clear();
    finish(ctx, &search, &dir, &full, scorer.as_ref(), args.json).map_err(|e| {
        if run::interrupt::is_interrupted(&e) {
            run::interrupt::Interrupted::new(format!(
                "interrupted during the final training: the search itself is complete ({}); \
                 the final training starts again when you continue with\n  {}",
                ckpt.display(),
                resume()
            ))
            .into()
        } else {
            e
        }
    })
}

/// A fresh search from the `config.json` of a search run that has no checkpoint yet.
fn recorded_search(dir: &Path, ckpt: &Path, device: tch::Device) -> Result<Search> {
    let config = dir.join("config.json");
    let text = std::fs::read_to_string(&config).with_context(|| {
        format!(
            "{}: no checkpoint to resume from (expected {}) and {} cannot be read",
            dir.display(),
            ckpt.display(),
            config.display()
        )
    })?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", config.display()))?;
    if v["command"] != "search" {
        bail!(
            "{}: this run directory was written by `autogan {}`, not by `autogan search`",
            dir.display(),
            v["command"].as_str().unwrap_or("?")
        );
    }
    let cfg: SearchConfig = serde_json::from_value(v["search"].clone())
        .with_context(|| format!("{}: the \"search\" section is invalid", config.display()))?;
    let seed = v["seed"]
        .as_u64()
        .with_context(|| format!("{}: no \"seed\"", config.display()))?;
    for sub in ["checkpoint", "samples"] {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
    }
    Search::new(cfg, seed, device)
}

/// Write the top-K archs and best.json (after the optional final training), print a summary.
fn finish(
    ctx: &Ctx,
    search: &Search,
    dir: &Path,
    data: &Dataset,
    scorer: &dyn Scorer,
    json_out: bool,
) -> Result<()> {
    let archs_dir = dir.join("archs");
    std::fs::create_dir_all(&archs_dir)?;
    let mut rows = Vec::new();
    for (i, s) in search.final_topk.iter().enumerate() {
        let arch = Arch::from_vector(&s.vector)?;
        rows.push((i + 1, arch, s.clone(), None::<f64>));
    }
    if rows.is_empty() {
        bail!(
            "the search ended without a ranked top-K (checkpoint {} is from an unfinished search?)",
            dir.display()
        );
    }
    if search.cfg.final_train_steps > 0 {
        let real_stats = real_stats(data, scorer, search.cfg.final_eval_images, ctx.device)?;
        for row in rows.iter_mut() {
            let fid = final_train(ctx, search, &row.1, data, scorer, &real_stats)?;
            if !ctx.quiet {
                eprintln!(
                    "final training of top-{}: {} FID {:.3}",
                    row.0,
                    scorer.name(),
                    fid
                );
            }
            row.3 = Some(fid);
        }
    }
    let best = match search.cfg.final_train_steps {
        0 => 0,
        _ => rows
            .iter()
            .enumerate()
            .min_by(|a, b| {
                a.1 .3
                    .unwrap_or(f64::INFINITY)
                    .total_cmp(&b.1 .3.unwrap_or(f64::INFINITY))
            })
            .map(|(i, _)| i)
            .unwrap_or(0),
    };
    let mut out = Vec::new();
    for (rank, arch, s, fid) in &rows {
        let mut v = arch.to_json();
        let mut scores = json!({ format!("{}_is", scorer.name()): s.score });
        if let Some(f) = fid {
            scores[format!(
                "{}_fid_after_{}_steps",
                scorer.name(),
                search.cfg.final_train_steps
            )] = json!(f);
        }
        v["name"] = json!(format!("top{rank}"));
        v["scores"] = scores.clone();
        run::atomic_write(
            &archs_dir.join(format!("top{rank}.json")),
            serde_json::to_string_pretty(&v)?.as_bytes(),
        )?;
        out.push(json!({"rank": rank, "vector": arch.to_vector(), "scores": scores}));
    }
    let (_, best_arch, _, _) = &rows[best];
    let mut b = best_arch.to_json();
    b["name"] = json!("best");
    b["scores"] = out[best]["scores"].clone();
    run::atomic_write(
        &dir.join("best.json"),
        serde_json::to_string_pretty(&b)?.as_bytes(),
    )?;
    let summary = json!({
        "run_dir": dir.display().to_string(),
        "best": best_arch.to_vector(),
        "selected_by": if search.cfg.final_train_steps > 0 { format!("{} FID after final training", scorer.name()) } else { format!("{} IS of the supernet", scorer.name()) },
        "topk": out,
        "resets": search.resets,
        "scorer": scorer.name(),
    });
    if json_out {
        println!("{summary}");
    } else if !ctx.quiet {
        println!(
            "search finished: {} iterations, {} dynamic resets",
            search.iteration, search.resets
        );
        println!(
            "{:<5} {:<34} {:>12} {:>14}",
            "rank",
            "vector",
            format!("{} IS", scorer.name()),
            format!("{} FID", scorer.name())
        );
        for (rank, arch, s, fid) in &rows {
            println!(
                "{:<5} {:<34} {:>12.3} {:>14}",
                rank,
                arch.vector_string(),
                s.score,
                fid.map(|f| format!("{f:.3}")).unwrap_or_else(|| "-".into())
            );
        }
        println!(
            "best architecture  {} ({})",
            dir.join("best.json").display(),
            best_arch.vector_string()
        );
        println!(
            "train it with      autogan train --arch {}",
            dir.join("best.json").display()
        );
    }
    Ok(())
}

fn real_stats(
    data: &Dataset,
    scorer: &dyn Scorer,
    n: i64,
    device: tch::Device,
) -> Result<crate::metrics::Stats> {
    let n = n.min(data.len() as i64);
    let mut acc = Accumulator::new(false, true);
    let mut i = 0;
    while i < n {
        let b = 100.min(n - i);
        acc.add_images(scorer, &data.images.narrow(0, i, b).to_device(device))?;
        i += b;
    }
    acc.stats()
}

/// Train `arch` from scratch for `final_train_steps` G steps at the search's sizes and return
/// the scorer's FID of its EMA generator against the real data.
fn final_train(
    ctx: &Ctx,
    search: &Search,
    arch: &Arch,
    data: &Dataset,
    scorer: &dyn Scorer,
    real: &crate::metrics::Stats,
) -> Result<f64> {
    let c = &search.cfg;
    let tc = TrainConfig {
        dataset: c.dataset.clone(),
        img_size: c.img_size,
        gf_dim: c.gf_dim,
        df_dim: c.df_dim,
        latent_dim: c.latent_dim,
        bottom_width: c.bottom_width,
        batch_size: c.batch_size,
        gen_batch_size: c.gen_batch_size,
        lr: c.lr,
        beta1: c.beta1,
        beta2: c.beta2,
        n_critic: c.n_critic,
        steps: c.final_train_steps,
        ..TrainConfig::default()
    };
    let mut tr = Trainer::new(tc, arch.clone(), search.seed, ctx.device)?;
    let data = data.take(data.len()).to_device(ctx.device);
    let pb = progress::bar(c.final_train_steps, "final training", ctx.quiet);
    for _ in 0..c.final_train_steps {
        tr.step(&data)?;
        pb.inc(1);
        run::interrupt::check()?;
    }
    pb.finish_and_clear();
    let mut acc = Accumulator::new(false, true);
    let n = c.final_eval_images;
    let mut i = 0;
    while i < n {
        let b = 100.min(n - i);
        let z = tch::Tensor::randn([b, c.latent_dim], (tch::Kind::Float, ctx.device));
        acc.add_images(scorer, &crate::data::from_gan(&tr.sample_ema(&z)))?;
        i += b;
    }
    frechet_distance(&acc.stats()?, real)
}
