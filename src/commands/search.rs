//! `autogan search`: the architecture search, its run directory, resume and final selection.
use anyhow::{bail, Result};
use serde_json::json;
use std::path::Path;

use crate::cli::SearchArgs;
use crate::device::Ctx;
use crate::launch::{self, LauncherConfig};
use crate::progress;
use crate::run;
use crate::run::RunFiles;
use crate::search::run::Search;
use crate::search::session::{self, Finish, SearchEnd, SearchObserver};

pub fn run(ctx: &Ctx, args: SearchArgs) -> Result<()> {
    let data_dir = args.data.data_dir.clone();
    let launcher = final_launcher(&args)?;
    let (mut search, dir, lock) = if let Some(dir) = &args.resume {
        crate::cli::refuse_fixed_on_resume(
            dir,
            &args.fixed(),
            "only --data-dir, --json and --no-tensorboard can be given",
        )?;
        let (mut s, lock) = session::resume(dir, ctx.device)?;
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
        let cfg = args.config()?;
        let dir = args
            .out
            .clone()
            .unwrap_or_else(|| session::default_dir(&cfg));
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
            let new_dir = session::create_run_dir(
                &dir,
                &search,
                ctx.seed,
                ctx.device,
                scorer.name(),
                &launcher,
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
    let base = match &args.resume {
        Some(dir) => session::recorded_launcher(dir)?,
        None => None,
    };
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
