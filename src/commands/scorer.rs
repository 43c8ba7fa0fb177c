//! `autogan scorer train`: train the offline classifier scorer of a labelled data set (always
//! anew), write it to the cache (`$AUTOGAN_HOME/scorers/<key>.v<version>.safetensors`) and print its
//! held-out accuracy and where it went.
use anyhow::Result;

use crate::cli::ScorerCommand;
use crate::data::DataSpec;
use crate::device::Ctx;
use crate::metrics::classifier::{self, ClassifierConfig};

pub fn run(ctx: &Ctx, args: ScorerCommand) -> Result<()> {
    match args {
        ScorerCommand::Train { data } => {
            let spec = DataSpec::named(data.dataset.as_deref(), data.data_dir.as_deref());
            let cfg = ClassifierConfig {
                seed: ctx.seed,
                ..ClassifierConfig::default()
            };
            super::scoring::check_cache_writable(&classifier::cache_path(&spec)?)?;
            let mut progress = super::scoring::ScorerProgress::new(ctx.quiet);
            let (_, rep, path) =
                classifier::train_and_save(&spec, &cfg, ctx.device, &mut |e| progress.on(e))?;
            drop(progress);
            println!(
                "classifier scorer for {}: held-out accuracy {:.4} on {} images \
                 (train accuracy {:.4} on {} images, {} epochs, {:.1} s)",
                spec.display_name(),
                rep.heldout_acc,
                rep.n_heldout,
                rep.train_acc,
                rep.n_train,
                rep.epochs,
                rep.seconds
            );
            let low: Vec<String> = rep
                .heldout_acc_low_res
                .iter()
                .map(|(s, a)| format!("{a:.4} at {s}x{s}"))
                .collect();
            println!(
                "real images under it: classifier IS {:.3} ± {:.3} of the {} held-out images, \
                 classifier FID {:.3} between them and the {} training images",
                rep.heldout_is.0, rep.heldout_is.1, rep.n_heldout, rep.heldout_fid, rep.n_train
            );
            if !low.is_empty() {
                println!(
                    "classifier scorer held-out accuracy of images shrunk first: {}",
                    low.join(", ")
                );
            }
            println!("saved to {}", path.display());
            Ok(())
        }
    }
}
