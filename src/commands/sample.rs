//! `autogan sample`: images from a trained generator, as a grid, one PNG each, or raw tensor.
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use tch::{Kind, Tensor};

use super::gen_source;
use crate::cli::SampleArgs;
use crate::device::Ctx;
use crate::run;

pub fn run(ctx: &Ctx, args: SampleArgs) -> Result<()> {
    if args.n < 1 {
        bail!("--n {}: must be at least 1", args.n);
    }
    let gen = gen_source::load(
        args.checkpoint.as_deref(),
        args.generator.as_deref(),
        args.arch.as_deref(),
        &args.size,
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
    if args.out.is_none() && args.out_dir.is_none() && args.save_tensor.is_none() {
        bail!("nothing to write: give --out grid.png, --out-dir DIR and/or --save-tensor FILE.safetensors");
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
            run::save_image(&u8s.get(i), &d.join(format!("{i:06}.png")))?;
        }
    }
    if !ctx.quiet {
        eprintln!("{} images from {}", u8s.size()[0], gen.source);
    }
    Ok(())
}
