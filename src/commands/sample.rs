//! `autogan sample`: images from a trained generator, as a grid, one PNG each, or raw tensor.
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::Path;
use tch::{Kind, Tensor};

use crate::cli::SampleArgs;
use crate::device::Ctx;
use crate::gan::load as gen_source;
use crate::run;

pub fn run(ctx: &Ctx, args: SampleArgs) -> Result<()> {
    if args.n < 1 {
        bail!("--n {}: must be at least 1", args.n);
    }
    if args.out.is_none() && args.out_dir.is_none() && args.save_tensor.is_none() {
        bail!("nothing to write: give --out grid.png, --out-dir DIR and/or --save-tensor FILE.safetensors");
    }
    check_outputs(&args)?;
    let gen = gen_source::load(
        args.checkpoint.as_deref(),
        args.generator.as_deref(),
        args.arch.as_deref(),
        &args.size.gen_sizes(),
        ctx.device,
    )?;
    let z = match &args.latents {
        Some(p) => {
            let t = crate::safetensors::read(p)?;
            let z = t
                .into_iter()
                .find(|(n, _)| n == "z")
                .map(|(_, t)| t)
                .with_context(|| {
                    format!(
                        "{}: no tensor named 'z' (expected [n, latent_dim])",
                        p.display()
                    )
                })?;
            if z.dim() != 2 || z.size()[1] != gen.cfg.latent_dim {
                bail!(
                    "{}: tensor 'z' has shape {:?}, expected [n, {}] (the generator's latent_dim)",
                    p.display(),
                    z.size(),
                    gen.cfg.latent_dim
                );
            }
            z.to_kind(Kind::Float).to_device(ctx.device)
        }
        None => Tensor::randn([args.n, gen.cfg.latent_dim], (Kind::Float, ctx.device)),
    };
    let images = gen.generate(&z);
    if let Some(d) = &args.out_dir {
        // The latents file decides how many images there are: check those names again.
        check_out_dir(d, images.size()[0])?;
    }
    if let Some(p) = &args.save_tensor {
        let mut meta = BTreeMap::new();
        meta.insert("generator".to_string(), gen.source.clone());
        crate::safetensors::write(p, &[("images".to_string(), images.shallow_clone())], &meta)?;
    }
    let u8s = crate::data::from_gan(&images);
    if let Some(p) = &args.out {
        run::save_grid(&u8s, args.nrow, p)?;
    }
    if let Some(d) = &args.out_dir {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
        for i in 0..u8s.size()[0] {
            run::save_image(&u8s.get(i), &d.join(single_name(i)))?;
        }
    }
    if !ctx.quiet {
        eprintln!("{} images from {}", u8s.size()[0], gen.source);
    }
    Ok(())
}

/// The file name of image `i` in `--out-dir`.
fn single_name(i: i64) -> String {
    format!("{i:06}.png")
}

/// Every output location is checked before the generator runs: a grid file is a file of a
/// known image format, a tensor file is not a folder, and `--out-dir` overwrites nothing.
fn check_outputs(args: &SampleArgs) -> Result<()> {
    if let Some(p) = &args.out {
        if p.is_dir() {
            bail!(
                "--out {}: this is a folder; --out takes the grid's file name (e.g. grid.png), \
                 --out-dir a folder for one PNG per image",
                p.display()
            );
        }
        run::image_format(p).context("--out")?;
    }
    if let Some(p) = &args.save_tensor {
        if p.is_dir() {
            bail!(
                "--save-tensor {}: this is a folder; give a file name such as images.safetensors",
                p.display()
            );
        }
    }
    if let Some(d) = &args.out_dir {
        if d.exists() && !d.is_dir() {
            bail!(
                "--out-dir {}: this is a file, not a folder; give a new or empty folder",
                d.display()
            );
        }
        check_out_dir(d, args.n)?;
    }
    Ok(())
}

/// `--out-dir` never overwrites: refuse when any of the `n` names it would write exists.
fn check_out_dir(d: &Path, n: i64) -> Result<()> {
    let taken: Vec<String> = (0..n)
        .map(single_name)
        .filter(|f| d.join(f).exists())
        .collect();
    if let Some(first) = taken.first() {
        bail!(
            "--out-dir {}: {} already exists ({} of the {n} file names this would write are \
             taken); sample never overwrites: choose a new or empty folder",
            d.display(),
            d.join(first).display(),
            taken.len()
        );
    }
    Ok(())
}
