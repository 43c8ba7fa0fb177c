//! Flags -> configurations: each command's clap struct turned into the library's config, and
//! the flags a resumed run cannot change. The library never sees a clap type.
use anyhow::{bail, Context, Result};

use super::{SearchArgs, TrainArgs};
use crate::config::{default_preset, load_preset, SearchConfig, TrainConfig};

impl SearchArgs {
    /// Preset + flags -> a validated search config.
    pub fn config(&self) -> Result<SearchConfig> {
        let args = self;
        let name = args
            .preset
            .clone()
            .unwrap_or_else(|| crate::config::default_preset(args.data.dataset.as_deref()).into());
        let (path, preset) = load_preset(&name)?;
        let mut c = preset.search.with_context(|| {
            format!("{}: this preset has no \"search\" section", path.display())
        })?;
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
        set!(shared_uniform, args.shared_uniform);
        set!(reward_fid, args.reward_fid);
        set!(distinct_candidates, args.distinct_candidates);
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
            ("--distinct-candidates", args.distinct_candidates.is_some()),
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
        for (flag, given, what) in [
            (
                "--shared-uniform",
                args.shared_uniform.is_some(),
                "trains its episodes' GAN on the agent's own prefixes",
            ),
            (
                "--reward-fid",
                args.reward_fid.is_some(),
                "has its own reward (the change of IS and 0.01 FID per cell)",
            ),
        ] {
            if given && c.strategy == crate::search::strategy::StrategyKind::Sac {
                bail!(
                    "{flag} sets the progressive stages' search; --strategy sac {what}: drop {flag}"
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
        let given = args.launcher.given();
        if c.final_train_steps == 0 && (args.metric.is_some() || args.select_by.is_some()) {
            bail!(
                "--metric and --select-by choose how the final training picks best.json: give \
                 --final-train-steps N too"
            );
        }
        if c.final_train_steps == 0 && !given.is_empty() {
            bail!(
                "{} only matter with --final-train-steps N (the launcher runs the final training)",
                given.join(", ")
            );
        }
        Ok(c)
    }

    /// The flags a resumed search cannot change (everything its checkpoint fixed), each with
    /// whether it was given.
    pub fn fixed(&self) -> Vec<(&'static str, bool)> {
        let a = self;
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
            ("--shared-uniform", a.shared_uniform.is_some()),
            ("--reward-fid", a.reward_fid.is_some()),
            ("--distinct-candidates", a.distinct_candidates.is_some()),
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
}

impl TrainArgs {
    /// Preset + flags -> a validated training config.
    pub fn config(&self) -> Result<TrainConfig> {
        let args = self;
        let name = args
            .preset
            .clone()
            .unwrap_or_else(|| default_preset(args.data.dataset.as_deref()).into());
        let (path, preset) = load_preset(&name)?;
        let mut c = preset
            .train
            .with_context(|| format!("{}: this preset has no \"train\" section", path.display()))?;
        if let Some(d) = &args.data.dataset {
            c.dataset = Some(d.clone());
        }
        args.gan.apply(&mut c);
        let s = &args.gan.size;
        macro_rules! set {
            ($field:ident, $val:expr) => {
                if let Some(v) = $val {
                    c.$field = v;
                }
            };
        }
        set!(steps, args.steps);
        set!(lr, args.lr);
        set!(n_critic, args.n_critic);
        set!(lr_decay, args.lr_decay);
        set!(ema, args.ema);
        set!(checkpoint_every, args.checkpoint_every);
        set!(sample_every, args.sample_every);
        set!(log_every, args.log_every);
        set!(eval_every, args.eval_every);
        set!(eval_images, args.eval_images);
        set!(metrics, args.metric.clone());
        set!(select_by, args.select_by.clone());
        match (s.bottom_width, args.img_size) {
            (Some(bw), Some(im)) => {
                c.bottom_width = bw;
                c.img_size = im;
            }
            (Some(bw), None) => {
                c.bottom_width = bw;
                c.img_size = bw * 8;
            }
            (None, Some(im)) => {
                c.img_size = im;
                c.bottom_width = im / 8;
            }
            (None, None) => {}
        }
        if c.eval_every == 0 && (args.metric.is_some() || args.select_by.is_some()) {
            bail!(
                "--metric and --select-by choose what --eval-every N computes: give --eval-every too"
            );
        }
        c.validate()
            .with_context(|| format!("configuration from preset {} and flags", path.display()))?;
        Ok(c)
    }

    /// The flags a resumed run cannot change (its arch, directory, models, data, optimiser and
    /// evaluation are fixed), each with whether it was given.
    pub fn fixed(&self) -> Vec<(&'static str, bool)> {
        let args = self;
        vec![
            ("--arch", args.arch.is_some()),
            ("--preset", args.preset.is_some()),
            ("--out", args.out.is_some()),
            ("--dataset", args.data.dataset.is_some()),
            ("--img-size", args.img_size.is_some()),
            ("--n-critic", args.n_critic.is_some()),
            ("--lr-decay", args.lr_decay.is_some()),
            ("--ema", args.ema.is_some()),
            ("--eval-every", args.eval_every.is_some()),
            ("--eval-images", args.eval_images.is_some()),
            ("--metric", args.metric.is_some()),
            ("--select-by", args.select_by.is_some()),
        ]
        .into_iter()
        .chain(args.gan.fixed())
        .collect()
    }
}

/// On `--resume DIR`, refuse the flags that a resumed run cannot change. `flags` pairs each
/// such flag's name with whether it was given; `can_change` says which flags may be given.
/// Shared by `train --resume` and `search --resume`.
pub fn refuse_fixed_on_resume(
    dir: &std::path::Path,
    flags: &[(&str, bool)],
    can_change: &str,
) -> anyhow::Result<()> {
    let given: Vec<&str> = flags.iter().filter(|(_, g)| *g).map(|(n, _)| *n).collect();
    if given.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "--resume {} continues that run with its own settings: {} cannot change ({can_change})",
        dir.display(),
        given.join(", ")
    )
}
