//! `autogan arch`: show an architecture file in words or as canonical JSON (`show`); parameter
//! counts of G and D (`info`); scores of architectures on a search's supernet (`score`).
use anyhow::{bail, Context, Result};

use crate::arch::Arch;
use crate::cli::ArchCommand;
use crate::device::Ctx;
use crate::nn::{DiscConfig, GenConfig};
use crate::run::RunFiles;

pub fn run(ctx: &Ctx, args: ArchCommand) -> Result<()> {
    match args {
        ArchCommand::Show { file, json } => {
            let (arch, name) = Arch::load_with_name(&file)?;
            if json {
                print!("{}", arch.to_json_pretty(name.as_deref()));
            } else {
                match &name {
                    Some(n) => println!("{} ({n})", file.display()),
                    None => println!("{}", file.display()),
                }
                println!("vector: {}", arch.vector_string());
                print!("{}", arch.describe());
            }
            Ok(())
        }
        ArchCommand::Score(a) => score(ctx, &a),
        ArchCommand::Info { file, size, json } => {
            let arch = Arch::load(&file)?;
            let g = GenConfig {
                latent_dim: size.latent_dim.unwrap_or(128),
                gf_dim: size.gf_dim.unwrap_or(256),
                bottom_width: size.bottom_width.unwrap_or(4),
            };
            let d = DiscConfig {
                df_dim: size.df_dim.unwrap_or(128),
            };
            g.validate()?;
            d.validate()?;
            let (g_params, d_params) = crate::nn::arch_info(&arch, &g, &d);
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "g_params": g_params, "d_params": d_params })
                );
            } else {
                let side = g.bottom_width << arch.cells.len();
                println!(
                    "generator:     {g_params} parameters (latent {}, gf {}, bottom width {}, {side}x{side} images)",
                    g.latent_dim, g.gf_dim, g.bottom_width
                );
                println!("discriminator: {d_params} parameters (df {})", d.df_dim);
            }
            Ok(())
        }
    }
}

/// `arch score`: every architecture's IS under the search's scorer, from images of the
/// supernet in the search's last checkpoint. The latents are drawn anew from the seed for
/// every architecture, so all of them see the same ones.
fn score(ctx: &Ctx, args: &crate::cli::ArchScoreArgs) -> Result<()> {
    let dir = args.search.as_path();
    let files = &args.archs;
    let json_out = args.json_out.as_deref();
    let files_of = RunFiles::of(dir);
    let ckpt = match args.stage {
        Some(s) if s + 1 < crate::arch::NUM_CELLS => files_of.stage_checkpoint(s),
        Some(s) if s + 1 > crate::arch::NUM_CELLS => bail!(
            "--stage {s}: a search has stages 0 to {}",
            crate::arch::NUM_CELLS - 1
        ),
        _ => files_of.last_checkpoint(),
    };
    if args.stage.is_some() && !ckpt.is_file() {
        bail!(
            "{}: no checkpoint of stage {} ({} is missing): the search has not finished that \
             stage, or was made by a version that did not keep stage checkpoints",
            dir.display(),
            args.stage.unwrap_or(0),
            ckpt.display()
        );
    }
    if !ckpt.is_file() {
        bail!(
            "{}: no search checkpoint ({} is missing): give the run directory of `autogan \
             search` after its first iteration",
            dir.display(),
            ckpt.display()
        );
    }
    if let Some(n) = args.images {
        let min = crate::metrics::MIN_RANKING_IMAGES;
        if (n as i64) < min {
            bail!(
                "--images {n}: give at least {min} (2 per IS split; with fewer every \
                 architecture scores 1.0, as a search's reward needs too)"
            );
        }
    }
    if let Some(f) = json_out {
        crate::run::atomic::destination(f)
            .with_context(|| format!("--json-out {}", f.display()))?;
    }
    // Check every file before the (slow) loading of the supernet and the scorer.
    let mut archs = Vec::new();
    for f in files {
        let a = Arch::load(f)?;
        archs.push(match args.stage {
            Some(s) if a.cells.len() > s + 1 => a.prefix(s + 1),
            _ => a,
        });
    }
    let mut search = crate::search::run::Search::load_checkpoint(&ckpt, ctx.device)?;
    if let Some(bn) = args.reward_bn {
        search.cfg.reward_bn = bn;
    }
    if let Some(s) = args.stage_scorers {
        search.cfg.stage_scorers = s;
    }
    if let Some(w) = args.reward_fid {
        if !(w >= 0.0 && w.is_finite()) {
            bail!("--reward-fid {w}: give a weight of 0 or more");
        }
        search.cfg.reward_fid = w;
    }
    let cells = if search.iteration == 0 {
        0
    } else {
        search.cfg.stage_of(search.iteration - 1) + 1
    };
    for (f, a) in files.iter().zip(&archs) {
        if a.cells.len() > cells {
            bail!(
                "{}: {} cells, but the supernet in {} has trained only {cells} so far \
                 (iteration {} of {}): score complete architectures once the search has reached \
                 its last stage",
                f.display(),
                a.cells.len(),
                ckpt.display(),
                search.iteration,
                search.cfg.total_iterations()
            );
        }
    }
    let n = match args.images {
        Some(n) => n as i64,
        None => search.cfg.rl_num_eval_img,
    };
    let spec = crate::search::session::data_spec(&search.cfg, args.data_dir.as_deref());
    let scorer = super::scoring::pick_for_search(&search.cfg, &spec, ctx.device, ctx.quiet)
        .with_context(|| format!("the scorer of the search in {}", dir.display()))?;
    let scorer = crate::metrics::at_precision(scorer, ctx.device, search.cfg.scorer_precision);
    // The reward's FID compares with the real data at each prefix's stage size.
    let full = match search.cfg.reward_fid > 0.0 {
        true => Some(
            crate::data::load(&spec)
                .with_context(|| format!("the data of the search in {}", dir.display()))?,
        ),
        false => None,
    };
    let bar = crate::progress::bar(archs.len() as u64, "scoring", ctx.quiet);
    let mut rows = Vec::new();
    let mut ref_stage = None;
    for (f, a) in files.iter().zip(&archs) {
        let stage = a.cells.len().saturating_sub(1);
        if let Some(full) = full.as_ref().filter(|_| ref_stage != Some(stage)) {
            let data = full
                .resized(search.cfg.stage_size(stage))
                .to_device(ctx.device);
            search.prepare_reward_ref(stage, &data, scorer.as_ref())?;
            ref_stage = Some(stage);
        }
        tch::manual_seed(ctx.seed as i64);
        let parts = search.reward_parts(a, scorer.as_ref(), n)?;
        let mut row = serde_json::json!({
            "file": f.display().to_string(),
            "vector": a.to_vector(),
            "score": parts.reward(search.cfg.reward_fid),
        });
        if let (Some(fid), Some(m)) = (parts.fid, row.as_object_mut()) {
            m.insert("is".into(), parts.is.into());
            m.insert("fid".into(), fid.into());
        }
        rows.push(row);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let out = serde_json::json!({
        "search": dir.display().to_string(),
        "iteration": search.iteration,
        "iterations": search.cfg.total_iterations(),
        "scorer": scorer.name(),
        "images": n,
        "stage": args.stage,
        "reward_bn": search.cfg.reward_bn,
        "stage_scorers": search.cfg.stage_scorers,
        "reward_fid": search.cfg.reward_fid,
        "seed": ctx.seed,
        "archs": rows,
    });
    if let Some(f) = json_out {
        let text = serde_json::to_string_pretty(&out)? + "\n";
        crate::run::atomic::atomic_write(f, text.as_bytes())?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{} IS of {n} images from the supernet of {} (iteration {} of {}; {:?} batch-norm \
             statistics)",
            scorer.name(),
            dir.display(),
            search.iteration,
            search.cfg.total_iterations(),
            search.cfg.reward_bn
        );
        for r in &rows {
            println!(
                "{:>8.4}  {}",
                r["score"].as_f64().unwrap_or(f64::NAN),
                r["file"].as_str().unwrap_or("")
            );
        }
    }
    Ok(())
}
