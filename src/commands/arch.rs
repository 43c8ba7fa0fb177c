//! `autogan arch`: show an architecture file in words or as canonical JSON (`show`); parameter
//! counts of G and D (`info`).
use anyhow::Result;

use crate::arch::Arch;
use crate::cli::ArchCommand;
use crate::device::Ctx;
use crate::nn::{DiscConfig, GenConfig};

pub fn run(_ctx: &Ctx, args: ArchCommand) -> Result<()> {
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
