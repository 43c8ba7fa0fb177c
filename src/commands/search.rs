//! `autogan search`: the architecture search, its run directory, resume and final selection.
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::path::Path;

use crate::cli::SearchArgs;
use crate::config::{load_preset, SearchConfig};
use crate::data::DataSpec;
use crate::device::Ctx;
use crate::launch::{self, LauncherConfig};
use crate::progress;
use crate::run;
use crate::run::RunFiles;
use crate::search::run::Search;
use crate::search::session::{self, Finish, SearchEnd, SearchObserver};

fn build_config(args: &SearchArgs) -> Result<SearchConfig> {
    let name = args
        .preset
        .clone()
        .unwrap_or_else(|| crate::config::default_preset(args.data.dataset.as_deref()).into());
    let (path, preset) = load_preset(&name)?;
    let mut c = preset
        .search
        .with_context(|| format!("{}: this preset has no \"search\" section", path.display()))?;
    if let Some(d) = &args.data.dataset {
        c.dataset = Some(d.clone());
    }
    args.gan.apply(&mut c);
    macro_rules! set {
        ($field:ident, $val:expr) => {
            if let Some(v) = $val.clone() {
                c.$field = v;
            }
        };
    }
    set!(iterations, args.iterations);
    set!(shared_epochs, args.shared_epochs);
    set!(ctrl_steps, args.ctrl_steps);
    set!(ctrl_sample_batch, args.ctrl_sample_batch);
    set!(rl_num_eval_img, args.rl_num_eval_img);
    set!(ctrl_lr, args.ctrl_lr);
    set!(entropy_coeff, args.entropy_coeff);
    set!(baseline_decay, args.baseline_decay);
    set!(ctrl_adv_norm, args.ctrl_adv_norm);
    set!(stage_scorers, args.stage_scorers);
    set!(num_candidate, args.num_candidate);
    set!(topk, args.topk);
    set!(dynamic_reset, args.dynamic_reset);
    set!(reset_mode, args.reset_mode);
    set!(reset_window, args.reset_window);
    set!(reward_bn, args.reward_bn);
    set!(loss_read_every, args.loss_read_every);
    set!(strategy, args.strategy);
    for (flag, given) in [
        ("--ctrl-lr", args.ctrl_lr.is_some()),
        ("--entropy-coeff", args.entropy_coeff.is_some()),
        ("--baseline-decay", args.baseline_decay.is_some()),
        ("--ctrl-adv-norm", args.ctrl_adv_norm.is_some()),
    ] {
        if given && c.strategy != crate::search::strategy::StrategyKind::Reinforce {
            bail!(
                "{flag} sets the REINFORCE controller; this search's strategy is {}: drop {flag}",
                c.strategy.name()
            );
        }
    }
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
    for (flag, given) in args.sac.given() {
        if given && c.strategy != crate::search::strategy::StrategyKind::Sac {
            bail!(
                "{flag} applies to --strategy sac only; this search's strategy is {}: drop \
                 {flag}, or add --strategy sac",
                c.strategy.name()
            );
        }
    }
    args.sac.apply(&mut c.sac);
    set!(population, args.population);
    set!(tournament, args.tournament);
    set!(final_train_steps, args.final_train_steps);
    set!(final_metrics, args.metric.clone());
    set!(final_select_by, args.select_by.clone());
    if let Some(m) = args.max_shared_steps {
        c.max_shared_steps = Some(m);
    }
    if let Some(bw) = args.gan.size.bottom_width {
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
        ("--iterations", a.iterations.is_some()),
        ("--stage-changes", a.stage_changes.is_some()),
        ("--shared-epochs", a.shared_epochs.is_some()),
        ("--max-shared-steps", a.max_shared_steps.is_some()),
        ("--ctrl-steps", a.ctrl_steps.is_some()),
        ("--ctrl-sample-batch", a.ctrl_sample_batch.is_some()),
        ("--rl-num-eval-img", a.rl_num_eval_img.is_some()),
        ("--ctrl-lr", a.ctrl_lr.is_some()),
        ("--entropy-coeff", a.entropy_coeff.is_some()),
        ("--baseline-decay", a.baseline_decay.is_some()),
        ("--ctrl-adv-norm", a.ctrl_adv_norm.is_some()),
        ("--stage-scorers", a.stage_scorers.is_some()),
        ("--num-candidate", a.num_candidate.is_some()),
        ("--topk", a.topk.is_some()),
        ("--dynamic-reset", a.dynamic_reset.is_some()),
        ("--reset-mode", a.reset_mode.is_some()),
        ("--reset-window", a.reset_window.is_some()),
        ("--reward-bn", a.reward_bn.is_some()),
        ("--final-train-steps", a.final_train_steps.is_some()),
        ("--metric", a.metric.is_some()),
        ("--select-by", a.select_by.is_some()),
        ("--loss-read-every", a.loss_read_every.is_some()),
        ("--strategy", a.strategy.is_some()),
        ("--population", a.population.is_some()),
        ("--tournament", a.tournament.is_some()),
    ]
    .into_iter()
    .chain(a.gan.fixed())
    .chain(a.sac.given())
    .collect()
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
        let ckpt = RunFiles::of(dir).last_checkpoint();
        if !ckpt.is_file() && !RunFiles::of(dir).config().is_file() {
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
            session::recorded_search(dir, &ckpt, ctx.device)?
        };
        if args.gan.no_tensorboard {
            s.cfg.tensorboard = false;
        }
        if !ctx.quiet {
            eprintln!(
                "resuming {} after iteration {} of {}",
                dir.display(),
                s.iteration,
                s.cfg.total_iterations()
            );
        }
        (s, dir.clone(), Some(lock))
    } else {
        let cfg = build_config(&args)?;
        let given = args.launcher.given();
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
    let full = crate::data::load(&session::data_spec(&search.cfg, data_dir.as_deref()))?;
    full.check_batch(search.cfg.batch_size)?;
    let scorer = super::scoring::pick_for_search(
        &search.cfg,
        &session::data_spec(&search.cfg, data_dir.as_deref()),
        ctx.device,
        ctx.quiet,
    )?;
    let scorer = crate::metrics::at_precision(scorer, ctx.device, search.cfg.scorer_precision);
    let run_dir = match lock {
        Some(lock) => run::RunDir::Resumed(lock),
        None => {
            let new_dir = run::NewRunDir::create(&dir)?;
            std::fs::create_dir_all(RunFiles::of(&dir).archs())?;
            let snapshot = json!({
                "command": "search",
                "autogan_version": env!("CARGO_PKG_VERSION"),
                "search": search.cfg,
                "strategy": search.cfg.strategy,
                "reward_budget_per_iteration": search.cfg.reward_budget_per_iteration(),
                "seed": ctx.seed,
                "device": format!("{:?}", ctx.device),
                "scorer": scorer.name(),
                "launcher": launcher,
            });
            run::atomic_write(
                &RunFiles::of(&dir).config(),
                serde_json::to_string_pretty(&snapshot)?.as_bytes(),
            )?;
            run::RunDir::New(new_dir)
        }
    };
    let resume = || run::interrupt::resume_command("search", &dir, ctx.device, data_dir.as_deref());
    let ckpt = RunFiles::of(&dir).last_checkpoint();
    let total = search.cfg.total_iterations();
    let mut obs = Terminal::new(ctx.quiet);
    let end = session::run_loop(
        &mut search,
        &dir,
        &full,
        scorer.as_ref(),
        run_dir,
        ctx.device,
        &mut obs,
    )?;
    match end {
        SearchEnd::InterruptedDuring { iteration: it } => {
            return Err(run::interrupt::Interrupted::new(format!(
                "interrupted during iteration {it} of {total}: the checkpoint {} after \
                 iteration {} is kept, and iteration {it} will be repeated; continue with\n  {}",
                ckpt.display(),
                it - 1,
                resume()
            ))
            .into());
        }
        SearchEnd::InterruptedAfter { iteration } => {
            return Err(run::interrupt::Interrupted::new(format!(
                "interrupted: stopped after iteration {iteration} of {total} with a checkpoint \
                 ({}); continue with\n  {}",
                ckpt.display(),
                resume()
            ))
            .into());
        }
        SearchEnd::Done => {}
    }
    let opts = launch::Options::from_ctx(ctx, args.resume.is_some(), !args.launcher.no_wait);
    let finished = session::finish(
        &search,
        &dir,
        scorer.name(),
        &launcher,
        &opts,
        data_dir.as_deref(),
        &mut obs,
    )
    .map_err(|e| {
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
    })?;
    print_finish(&search, &dir, scorer.name(), finished, args.json)
}

/// The launcher of the final training: a resumed search keeps the one in its config.json
/// (or its job record), flags override.
fn final_launcher(args: &SearchArgs) -> Result<LauncherConfig> {
    let mut base = None;
    if let Some(dir) = &args.resume {
        base = launch::recorded(dir, session::FINAL)?.map(|r| r.launcher);
        if base.is_none() {
            let snap: serde_json::Value =
                crate::config::read_json(&RunFiles::of(dir).config()).unwrap_or_default();
            if !snap["launcher"].is_null() {
                base = Some(
                    serde_json::from_value(snap["launcher"].clone()).with_context(|| {
                        format!(
                            "{}: invalid \"launcher\"",
                            RunFiles::of(dir).config().display()
                        )
                    })?,
                );
            }
        }
    }
    args.launcher.config(base.as_ref())
}

/// Print the end of a search: the submission, or the ranking and best.json.
fn print_finish(
    search: &Search,
    dir: &Path,
    scorer: &str,
    finished: Finish,
    json_out: bool,
) -> Result<()> {
    let r = match finished {
        Finish::Submitted { jobs, job_ids } => {
            let collect = format!("autogan search --resume {}", dir.display());
            if json_out {
                println!(
                    "{}",
                    json!({"run_dir": dir.display().to_string(), "submitted": job_ids,
                           "collect": collect})
                );
            } else {
                println!(
                    "submitted the final training of {jobs} architectures as Slurm job {}; \
                     when it has ended, pick best.json with:\n  {collect}",
                    job_ids.join(", ")
                );
            }
            return Ok(());
        }
        Finish::Ranked(r) => r,
    };
    let label = &r.label;
    if json_out {
        println!("{}", r.summary);
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
            format!("{scorer} IS"),
            format!("{scorer} {label}")
        );
        for row in &r.rows {
            println!(
                "{:<5} {:<34} {:>12.3} {:>14}",
                row.rank,
                row.arch.vector_string(),
                row.score,
                row.final_value
                    .map(|f| format!("{f:.3}"))
                    .unwrap_or_else(|| "-".into())
            );
        }
        println!(
            "best architecture  {} ({})",
            RunFiles::of(dir).best_arch().display(),
            r.rows[r.best].arch.vector_string()
        );
        println!(
            "train it with      autogan train --arch {}",
            RunFiles::of(dir).best_arch().display()
        );
    }
    if !r.unfinished.is_empty() {
        bail!(
            "{} of {} final trainings did not finish, so best.json was chosen among the others:\n  \
             {}\nrun them again with `autogan search --resume {}`",
            r.unfinished.len(),
            r.rows.len(),
            r.unfinished.join("\n  "),
            dir.display()
        );
    }
    Ok(())
}

/// The search drawn on a terminal: a progress bar over the iterations and its log lines.
struct Terminal {
    pb: indicatif::ProgressBar,
    quiet: bool,
}

impl Terminal {
    fn new(quiet: bool) -> Terminal {
        Terminal {
            pb: progress::bar(0, "search", quiet),
            quiet,
        }
    }
}

impl SearchObserver for Terminal {
    fn start(&mut self, iteration: u64, total: u64) {
        self.pb.set_length(total);
        self.pb.set_position(iteration);
    }
    fn status(&mut self, text: &str) {
        self.pb.set_message(text.to_string());
    }
    fn line(&mut self, text: &str) {
        // After the loop (the final training's scores) the bar is gone: plain stderr lines.
        if self.pb.is_finished() {
            if !self.quiet {
                eprintln!("{text}");
            }
        } else {
            progress::log(&self.pb, self.quiet, text);
        }
    }
    fn iteration(&mut self, _iteration: u64) {
        self.pb.inc(1);
    }
    fn stop(&mut self, finished: bool) {
        match finished {
            true => self.pb.finish_and_clear(),
            false => self.pb.abandon(),
        }
    }
}
