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
use crate::launch::{self, Finished, LauncherConfig};
use crate::metrics::Scorer;
use crate::progress;
use crate::run::{self, Jsonl};
use crate::search::run::Search;
use crate::tb::mirror::{self, LogKind, RunLog};

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
    set!(reward_bn, args.reward_bn);
    set!(loss_read_every, args.loss_read_every);
    set!(scorer, args.scorer);
    set!(strategy, args.strategy);
    for (flag, given) in [
        ("--population", args.population.is_some()),
        ("--tournament", args.tournament.is_some()),
    ] {
        if given && c.strategy != crate::search::strategy::StrategyKind::Evolution {
            bail!(
                "{flag} applies to --strategy evolution only; this search's strategy is {}: drop \
                 {flag}, or add --strategy evolution",
                c.strategy.name()
            );
        }
    }
    set!(population, args.population);
    set!(tournament, args.tournament);
    set!(precision, args.precision);
    set!(scorer_precision, args.scorer_precision);
    set!(final_train_steps, args.final_train_steps);
    if args.no_tensorboard {
        c.tensorboard = false;
    }
    set!(final_metrics, args.metric.clone());
    set!(final_select_by, args.select_by.clone());
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

/// The flags a resumed search cannot change (everything its checkpoint fixed), each with
/// whether it was given.
fn fixed_flags(a: &SearchArgs) -> Vec<(&'static str, bool)> {
    vec![
        ("--dataset", a.data.dataset.is_some()),
        ("--preset", a.preset.is_some()),
        ("--out", a.out.is_some()),
        ("--gf-dim", a.size.gf_dim.is_some()),
        ("--df-dim", a.size.df_dim.is_some()),
        ("--latent-dim", a.size.latent_dim.is_some()),
        ("--bottom-width", a.size.bottom_width.is_some()),
        ("--iterations", a.iterations.is_some()),
        ("--stage-changes", a.stage_changes.is_some()),
        ("--shared-epochs", a.shared_epochs.is_some()),
        ("--max-shared-steps", a.max_shared_steps.is_some()),
        ("--ctrl-steps", a.ctrl_steps.is_some()),
        ("--ctrl-sample-batch", a.ctrl_sample_batch.is_some()),
        ("--rl-num-eval-img", a.rl_num_eval_img.is_some()),
        ("--num-candidate", a.num_candidate.is_some()),
        ("--topk", a.topk.is_some()),
        ("--batch-size", a.batch_size.is_some()),
        ("--gen-batch-size", a.gen_batch_size.is_some()),
        ("--dynamic-reset", a.dynamic_reset.is_some()),
        ("--reset-mode", a.reset_mode.is_some()),
        ("--reset-window", a.reset_window.is_some()),
        ("--reward-bn", a.reward_bn.is_some()),
        ("--scorer", a.scorer.is_some()),
        ("--final-train-steps", a.final_train_steps.is_some()),
        ("--metric", a.metric.is_some()),
        ("--select-by", a.select_by.is_some()),
    ]
}

pub(crate) fn data_spec(cfg: &SearchConfig, data_dir: Option<&Path>) -> DataSpec {
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
    let launcher = final_launcher(&args)?;
    let (mut search, dir, lock) = if let Some(dir) = &args.resume {
        super::refuse_fixed_on_resume(
            dir,
            &fixed_flags(&args),
            "only --data-dir, --json and --no-tensorboard can be given",
        )?;
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
        let mut s = if ckpt.is_file() {
            Search::load_checkpoint(&ckpt, ctx.device)?
        } else {
            // Stopped before its first checkpoint: start again as recorded.
            recorded_search(dir, &ckpt, ctx.device)?
        };
        if args.no_tensorboard {
            s.cfg.tensorboard = false;
        }
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
        let given = super::sweep::launcher_flags_given(&args.launcher);
        if cfg.final_train_steps == 0 && (args.metric.is_some() || args.select_by.is_some()) {
            bail!(
                "--metric and --select-by choose how the final training picks best.json: give \
                 --final-train-steps N too"
            );
        }
        if cfg.final_train_steps == 0 && !given.is_empty() {
            bail!(
                "{} only matter with --final-train-steps N (the launcher runs the final training)",
                given.join(", ")
            );
        }
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
        // Before the data and the scorer (which may train a classifier first).
        run::check_new_run_dir(&dir)?;
        let s = Search::new(cfg, ctx.seed, ctx.device)?;
        (s, dir, None)
    };
    let full = crate::data::load(&data_spec(&search.cfg, data_dir.as_deref()))?;
    full.check_batch(search.cfg.batch_size)?;
    let scorer = super::scoring::pick(
        search.cfg.scorer,
        &data_spec(&search.cfg, data_dir.as_deref()),
        None,
        ctx.device,
        ctx.quiet,
    )?;
    let scorer = crate::metrics::at_precision(scorer, ctx.device, search.cfg.scorer_precision);
    let run_dir = match lock {
        Some(lock) => run::RunDir::Resumed(lock),
        None => {
            let new_dir = run::NewRunDir::create(&dir)?;
            std::fs::create_dir_all(dir.join("archs"))?;
            let snapshot = json!({
                "command": "search",
                "autogan_version": env!("CARGO_PKG_VERSION"),
                "search": search.cfg,
                "strategy": search.cfg.strategy,
                "reward_budget_per_iteration": search.cfg.ctrl_steps * search.cfg.ctrl_sample_batch as u64,
                "seed": ctx.seed,
                "device": format!("{:?}", ctx.device),
                "scorer": scorer.name(),
                "launcher": launcher,
            });
            run::atomic_write(
                &dir.join("config.json"),
                serde_json::to_string_pretty(&snapshot)?.as_bytes(),
            )?;
            run::RunDir::New(new_dir)
        }
    };
    let jsonl = Jsonl::open_keep(
        &dir.join("search.jsonl"),
        "iteration",
        Some(search.iteration),
    )?;
    let kind = LogKind::Search {
        ctrl_steps: search.cfg.ctrl_steps,
    };
    let tb = RunLog::event_writer(&dir, search.cfg.tensorboard, kind, search.iteration)?;
    let mut log = RunLog::new(jsonl, tb, kind);
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
        let t_iteration = Instant::now();
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
            "images_per_s": (rep.d_steps * search.cfg.batch_size as u64) as f64
                / t_iteration.elapsed().as_secs_f64().max(1e-9),
            "wall_s": start.elapsed().as_secs_f64(),
        }))?;
        // The end of a stage: its best architecture (the first kept prefix, or the top-1).
        if search.is_done() || search.stage() > rep.stage {
            let best = match &search.beam {
                Some(b) if !search.is_done() => b.entries.first().map(|e| (&e.prefix, e.score)),
                _ => search.final_topk.first().map(|s| (&s.vector, s.score)),
            };
            if let (Some(tb), Some((v, score))) = (log.tb(), best) {
                let text = mirror::best_arch_text(v, score, scorer.name());
                let tag = format!("best_arch/cell{}", rep.stage + 1);
                tb.text(&tag, rep.iteration, &text)?;
            }
        }
        if !last_arch.is_empty() {
            let v: Vec<i64> = last_arch.iter().filter_map(|x| x.as_i64()).collect();
            let arch = Arch::from_prefix_vector(&v)?;
            let imgs = crate::data::from_gan(&search.sample_grid(&arch));
            let grid = run::grid(&imgs, 8)?;
            run::save_rgb(
                &grid,
                &dir.join("samples")
                    .join(format!("iter_{:03}.png", rep.iteration)),
            )?;
            if let Some(tb) = log.tb() {
                tb.image("samples", rep.iteration, &grid)?;
            }
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
    finish(ctx, &search, &dir, scorer.as_ref(), &args, &launcher).map_err(|e| {
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

/// The launcher of the final training: a resumed search keeps the one in its config.json
/// (or its job record), flags override.
fn final_launcher(args: &SearchArgs) -> Result<LauncherConfig> {
    let mut base = None;
    if let Some(dir) = &args.resume {
        base = launch::recorded(dir, FINAL)?.map(|r| r.launcher);
        if base.is_none() {
            let snap: serde_json::Value =
                crate::config::read_json(&dir.join("config.json")).unwrap_or_default();
            if !snap["launcher"].is_null() {
                base = Some(
                    serde_json::from_value(snap["launcher"].clone()).with_context(|| {
                        format!(
                            "{}: invalid \"launcher\"",
                            dir.join("config.json").display()
                        )
                    })?,
                );
            }
        }
    }
    super::sweep::launcher_config(&args.launcher, base.as_ref())
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
    let mut recorded = v["search"].clone();
    crate::config::RewardBn::fill_recorded(&mut recorded);
    let cfg: SearchConfig = serde_json::from_value(recorded)
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
    scorer: &dyn Scorer,
    args: &SearchArgs,
    launcher: &LauncherConfig,
) -> Result<()> {
    let json_out = args.json;
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
    let mut unfinished = Vec::new();
    let mut final_runs = Vec::new();
    // What the final selection reads (validated with the configuration).
    let (_, sel) = crate::metrics::registry::selection(&search.cfg.final_select_by)?;
    let label = sel.name.to_uppercase();
    if search.cfg.final_train_steps > 0 {
        // The jobs train archs/topI.json: written first, with the supernet's scores.
        for (rank, arch, s, _) in &rows {
            let mut v = arch.to_json();
            v["name"] = json!(format!("top{rank}"));
            v["scores"] = json!({ format!("{}_is", scorer.name()): s.score });
            run::atomic_write(
                &archs_dir.join(format!("top{rank}.json")),
                serde_json::to_string_pretty(&v)?.as_bytes(),
            )?;
        }
        let jobs = final_jobs(search, dir, rows.len(), args.data.data_dir.as_deref())?;
        let opts = launch::Options::from_ctx(ctx, args.resume.is_some(), !args.launcher.no_wait);
        let outcomes = match launch::run_jobs(launcher, FINAL, &jobs, dir, &opts)? {
            Finished::Done(o) => o,
            Finished::Submitted { job_ids } => {
                let collect = format!("autogan search --resume {}", dir.display());
                if json_out {
                    println!(
                        "{}",
                        json!({"run_dir": dir.display().to_string(), "submitted": job_ids,
                               "collect": collect})
                    );
                } else {
                    println!(
                        "submitted the final training of {} architectures as Slurm job {}; \
                         when it has ended, pick best.json with:\n  {collect}",
                        jobs.len(),
                        job_ids.join(", ")
                    );
                }
                return Ok(());
            }
        };
        for (row, o) in rows.iter_mut().zip(&outcomes) {
            let fid = match o.ok() {
                true => final_score(o, scorer.name(), search.cfg.final_train_steps, &sel),
                false => Err(anyhow::anyhow!("{}", o.describe())),
            };
            match fid {
                Ok(fid) => {
                    if !ctx.quiet {
                        eprintln!(
                            "final training of top-{}: {} {label} {:.6}",
                            row.0,
                            scorer.name(),
                            fid
                        );
                    }
                    row.3 = Some(fid);
                }
                Err(e) => unfinished.push(format!("{e:#}")),
            }
            final_runs.push(
                json!({"rank": row.0, "run_dir": o.run_dir, "state": o.state,
                "exit_code": o.exit_code, "log": o.log, "slurm_job": o.slurm_job,
                (sel.key): row.3}),
            );
        }
        if rows.iter().all(|r| r.3.is_none()) {
            bail!(
                "none of the {} final trainings finished, so best.json was not chosen:\n  {}\n\
                 fix the cause and run them again with `autogan search --resume {}`",
                rows.len(),
                unfinished.join("\n  "),
                dir.display()
            );
        }
    }
    let best = match search.cfg.final_train_steps {
        0 => 0,
        // Lower is better for FID and KID, higher for IS, precision and recall; an unfinished
        // training ranks last either way.
        _ => {
            let key = |r: &(usize, Arch, _, Option<f64>)| match (r.3, sel.higher_is_better) {
                (Some(v), true) => -v,
                (Some(v), false) => v,
                (None, _) => f64::INFINITY,
            };
            rows.iter()
                .enumerate()
                .min_by(|a, b| key(a.1).total_cmp(&key(b.1)))
                .map(|(i, _)| i)
                .unwrap_or(0)
        }
    };
    let mut out = Vec::new();
    for (rank, arch, s, fid) in &rows {
        let mut v = arch.to_json();
        let mut scores = json!({ format!("{}_is", scorer.name()): s.score });
        if let Some(f) = fid {
            scores[format!(
                "{}_{}_after_{}_steps",
                scorer.name(),
                sel.name,
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
        "selected_by": if search.cfg.final_train_steps > 0 { format!("{} {label} after final training", scorer.name()) } else { format!("{} IS of the supernet", scorer.name()) },
        "topk": out,
        "resets": search.resets,
        "scorer": scorer.name(),
        "final_training": final_runs,
    });
    if json_out {
        println!("{summary}");
    } else {
        // The result: printed with --quiet too (quiet drops progress and log lines only).
        println!(
            "search finished: {} iterations, {} dynamic resets",
            search.iteration, search.resets
        );
        println!(
            "{:<5} {:<34} {:>12} {:>14}",
            "rank",
            "vector",
            format!("{} IS", scorer.name()),
            format!("{} {label}", scorer.name())
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
    if !unfinished.is_empty() {
        bail!(
            "{} of {} final trainings did not finish, so best.json was chosen among the others:\n  \
             {}\nrun them again with `autogan search --resume {}`",
            unfinished.len(),
            rows.len(),
            unfinished.join("\n  "),
            dir.display()
        );
    }
    Ok(())
}

/// The batch name of the final training (RUN/jobs/final.json, RUN/jobs/final.sbatch).
const FINAL: &str = "final";

/// The top-K retraining as one `autogan train` job per architecture: archs/topI.json at the
/// search's sizes (the preset RUN/final/train.json), with the search's seed, into
/// RUN/final/topI; each job scores its EMA generator after the last step with the search's
/// scorer on `final_eval_images` images (its train.jsonl's last "eval" line).
fn final_jobs(
    search: &Search,
    dir: &Path,
    k: usize,
    data_dir: Option<&Path>,
) -> Result<Vec<launch::Job>> {
    let c = &search.cfg;
    let tc = TrainConfig {
        gan: c.gan.clone(),
        steps: c.final_train_steps,
        eval_every: c.final_train_steps,
        eval_images: c.final_eval_images,
        metrics: c.final_metrics.clone(),
        select_by: c.final_select_by.clone(),
        ..TrainConfig::default()
    };
    tc.validate()
        .context("the final training's configuration (from the search's)")?;
    let dir = launch::absolute(dir)?;
    let final_dir = dir.join("final");
    std::fs::create_dir_all(&final_dir)
        .with_context(|| format!("cannot create {}", final_dir.display()))?;
    let preset = final_dir.join("train.json");
    let p = json!({"description": "the final training of this search's top-K architectures",
                   "train": tc});
    run::atomic_write(&preset, serde_json::to_string_pretty(&p)?.as_bytes())?;
    let mut extra = Vec::new();
    if let Some(d) = data_dir {
        extra = vec![
            "--data-dir".into(),
            launch::absolute(d)?.display().to_string(),
        ];
    }
    Ok((1..=k)
        .map(|rank| launch::Job {
            name: format!("top{rank}"),
            global: vec!["--seed".into(), search.seed.to_string()],
            command: "train".into(),
            args: [
                "--preset".into(),
                preset.display().to_string(),
                "--arch".into(),
                dir.join("archs")
                    .join(format!("top{rank}.json"))
                    .display()
                    .to_string(),
            ]
            .into_iter()
            .chain(extra.iter().cloned())
            .collect(),
            run_dir: final_dir.join(format!("top{rank}")),
            resume_args: extra.clone(),
            ..launch::Job::default()
        })
        .collect())
}

/// The value of `sel` (FID by default) a finished final-training job logged after its last
/// step, by `scorer`.
fn final_score(
    o: &launch::Outcome,
    scorer: &str,
    steps: u64,
    sel: &crate::metrics::metric::Selectable,
) -> Result<f64> {
    let r = crate::run::result::read_train_result(&o.run_dir).with_context(|| o.describe())?;
    let e = r.eval.with_context(|| {
        format!(
            "{}: no evaluation in {}/train.jsonl",
            o.name,
            o.run_dir.display()
        )
    })?;
    let v = e.values.get(sel.key).copied().unwrap_or(f64::NAN);
    if e.step != steps || e.scorer != scorer || !v.is_finite() {
        bail!(
            "{}: its last evaluation ({} {} {v} at step {}) is not the {scorer} {} after {steps} \
             steps that the selection needs (log {})",
            o.name,
            e.scorer,
            sel.key,
            e.step,
            sel.key,
            o.log.display()
        );
    }
    Ok(v)
}
