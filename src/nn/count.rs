//! Parameter counts: the closed form for an architecture and sizes (no tensors built), and
//! the count of a built model's trainable variables. Counted are trainable parameters only:
//! spectral-norm `weight_orig` and biases, not `weight_u` / `weight_v`; batch-norm weight and
//! bias, not its running statistics.
use tch::nn::VarStore;

use super::discriminator::DiscConfig;
use super::generator::GenConfig;
use crate::arch::{Arch, Norm, Up};

/// Conv `k x k` from `c_in` to `c_out` with bias.
fn conv(c_in: i64, c_out: i64, k: i64) -> i64 {
    c_in * c_out * k * k + c_out
}

/// Trainable parameters of the generator of `arch` at sizes `g`.
pub fn gen_params(arch: &Arch, g: &GenConfig) -> i64 {
    let gf = g.gf_dim;
    let bw2 = g.bottom_width * g.bottom_width;
    let mut n = g.latent_dim * bw2 * gf + bw2 * gf;
    for (i, cell) in arch.cells.iter().enumerate() {
        let index = i + 1;
        let deconv = cell.up == Up::Deconv;
        n += 2 * conv(gf, gf, 3);
        if cell.norm == Norm::Batch {
            n += 2 * 2 * gf;
        }
        if deconv {
            n += conv(gf, gf, 2);
        }
        if cell.shortcut {
            n += conv(gf, gf, 1);
            if deconv {
                n += conv(gf, gf, 2);
            }
        }
        for &from in &cell.skip_from {
            n += conv(gf, gf, 1);
            if deconv {
                let back = index.saturating_sub(from).clamp(1, 16) as u32;
                n += conv(gf, gf, 1 << back);
            }
        }
    }
    n + 2 * gf + conv(gf, 3, 3)
}

/// Trainable parameters of the discriminator at width `d` (1,053,824 at df 128).
pub fn disc_params(d: &DiscConfig) -> i64 {
    let df = d.df_dim;
    let block1 = conv(3, df, 3) + conv(df, df, 3) + conv(3, df, 1);
    let block2 = 2 * conv(df, df, 3) + conv(df, df, 1);
    let block34 = 2 * 2 * conv(df, df, 3);
    block1 + block2 + block34 + df
}

/// `(generator, discriminator)` trainable parameter counts, for `autogan arch info`.
pub fn arch_info(arch: &Arch, g: &GenConfig, d: &DiscConfig) -> (i64, i64) {
    (gen_params(arch, g), disc_params(d))
}

/// Number of elements of the trainable variables of `vs`.
pub fn trainable_params(vs: &VarStore) -> i64 {
    vs.trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum()
}
