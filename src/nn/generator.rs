//! The generator of one fixed architecture (SPEC section 2), for every point of the space.
//!
//! `l1` Linear(latent -> bw^2 * gf) reshaped to `[n, gf, bw, bw]` (no activation), three
//! cells that each double the resolution at constant width gf, then `to_rgb`
//! (BatchNorm2d -> ReLU -> Conv3x3(gf -> 3) -> tanh).
//!
//! A cell, pre-activation: `n1 -> ReLU -> up x2 -> c1`, giving h; `h += skip_in_ops[i](f_i
//! resized to h)` for each active skip source f_i (increasing source cell); the skip output is
//! that h; `n2 -> ReLU -> c2`; plus `c_sc(up x2 (x))` when the shortcut is on.
//! Post-activation: `up x2 -> c1 -> n1 -> ReLU`, skips added, skip output, `c2 -> n2 -> ReLU`,
//! shortcut as before. Nothing is done in place, so every point of the space trains.
//!
//! Names follow the reference state dict: `l1.*`, `cellK.c1.*`, `cellK.c2.*`, `cellK.c_sc.*`,
//! `cellK.n1.*`, `cellK.n2.*`, `cellK.skip_in_ops.i.*`, `to_rgb.0.*`, `to_rgb.2.*`.
//! Transposed-conv upsampling (ours): `cellK.up1` (main path), `cellK.up_sc` (shortcut) and
//! `cellK.skip_up.i` (skip input i). A skip from `d` cells back is upsampled by `2^d` with a
//! single ConvTranspose2d(gf, gf, kernel = stride = 2^d) (not a chain of x2 layers).
use tch::nn::{ModuleT, Path};
use tch::Tensor;

use super::layers::{instance_norm, BatchNorm2d, Conv2d, ConvTranspose2d, Linear};
use crate::arch::{Arch, Cell, ConvBlock, Norm, Up};

/// Sizes of the generator. Default: latent 128, gf 256, bottom width 4 (CIFAR-10, 32x32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenConfig {
    pub latent_dim: i64,
    pub gf_dim: i64,
    pub bottom_width: i64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            latent_dim: 128,
            gf_dim: 256,
            bottom_width: 4,
        }
    }
}

impl GenConfig {
    /// Checks that every size is positive (the constructors assume it).
    pub fn validate(&self) -> anyhow::Result<()> {
        for (name, v) in [
            ("--latent-dim", self.latent_dim),
            ("--gf-dim", self.gf_dim),
            ("--bottom-width", self.bottom_width),
        ] {
            if v <= 0 {
                anyhow::bail!("{name} must be a positive integer, got {v}");
            }
        }
        Ok(())
    }

    /// Output image side: `bottom_width * 2^3`.
    pub fn img_size(&self) -> i64 {
        self.bottom_width * 8
    }
}

/// The normalisation of a block.
#[derive(Debug)]
enum NormLayer {
    None,
    Batch(BatchNorm2d),
    Instance,
}

impl NormLayer {
    fn new(p: &Path, norm: Norm, c: i64) -> NormLayer {
        match norm {
            Norm::None => NormLayer::None,
            Norm::Batch => NormLayer::Batch(BatchNorm2d::new(p, c)),
            Norm::Instance => NormLayer::Instance,
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        match self {
            NormLayer::None => x.shallow_clone(),
            NormLayer::Batch(bn) => bn.forward_t(x, train),
            NormLayer::Instance => instance_norm(x),
        }
    }
}

/// Upsampling to a target size: interpolation, or a transposed conv of a fixed factor.
#[derive(Debug)]
enum Upsample {
    Bilinear,
    Nearest,
    Deconv(ConvTranspose2d),
}

impl Upsample {
    /// `factor` is used by the transposed conv only (interpolation takes the target size).
    fn new(p: &Path, up: Up, c: i64, factor: i64) -> Upsample {
        match up {
            Up::Bilinear => Upsample::Bilinear,
            Up::Nearest => Upsample::Nearest,
            Up::Deconv => Upsample::Deconv(ConvTranspose2d::new(p, c, c, factor)),
        }
    }

    /// `x` `[n, c, h, w]` -> `[n, c, size.0, size.1]`.
    fn forward(&self, x: &Tensor, size: [i64; 2]) -> Tensor {
        match self {
            Upsample::Bilinear => x.upsample_bilinear2d(size, false, None, None),
            Upsample::Nearest => x.upsample_nearest2d(size, None, None),
            Upsample::Deconv(d) => d.forward(x),
        }
    }
}

/// An active skip input: the source cell (1-based), its resize and its conv1x1.
#[derive(Debug)]
struct SkipIn {
    from: usize,
    up: Upsample,
    conv: Conv2d,
}

/// One generator cell (x2 resolution, gf channels in and out).
#[derive(Debug)]
struct GenCell {
    conv: ConvBlock,
    n1: NormLayer,
    n2: NormLayer,
    up1: Upsample,
    c1: Conv2d,
    c2: Conv2d,
    shortcut: Option<(Upsample, Conv2d)>,
    skips: Vec<SkipIn>,
}

impl GenCell {
    /// `index` is the 1-based cell number (decides the skip resize factors).
    fn new(p: &Path, cell: &Cell, index: usize, gf: i64) -> GenCell {
        let shortcut = cell.shortcut.then(|| {
            (
                Upsample::new(&(p / "up_sc"), cell.up, gf, 2),
                Conv2d::new(&(p / "c_sc"), gf, gf, 1),
            )
        });
        let skips = cell
            .skip_from
            .iter()
            .enumerate()
            .map(|(i, &from)| {
                let back = index.saturating_sub(from).clamp(1, 16) as u32;
                SkipIn {
                    from,
                    up: Upsample::new(&(p / "skip_up" / i), cell.up, gf, 1 << back),
                    conv: Conv2d::new(&(p / "skip_in_ops" / i), gf, gf, 1),
                }
            })
            .collect();
        GenCell {
            conv: cell.conv,
            n1: NormLayer::new(&(p / "n1"), cell.norm, gf),
            n2: NormLayer::new(&(p / "n2"), cell.norm, gf),
            up1: Upsample::new(&(p / "up1"), cell.up, gf, 2),
            c1: Conv2d::new(&(p / "c1"), gf, gf, 3),
            c2: Conv2d::new(&(p / "c2"), gf, gf, 3),
            shortcut,
            skips,
        }
    }

    /// `x` `[n, gf, s, s]`, `prev` the skip outputs of cells 1..k-1 -> (out, skip output),
    /// both `[n, gf, 2s, 2s]`.
    // `a = a + b`, not `a += b`: tch's `+=` adds in place, which would break the backward
    // pass through a ReLU output (the reference's fault, SPEC section 8).
    #[allow(clippy::assign_op_pattern)]
    fn forward_t(&self, x: &Tensor, prev: &[Tensor], train: bool) -> (Tensor, Tensor) {
        let s = x.size();
        let size = [s[2] * 2, s[3] * 2];
        let mut h = match self.conv {
            ConvBlock::Pre => {
                let a = self.n1.forward_t(x, train).relu();
                self.c1.forward(&self.up1.forward(&a, size))
            }
            ConvBlock::Post => {
                let a = self.c1.forward(&self.up1.forward(x, size));
                self.n1.forward_t(&a, train).relu()
            }
        };
        for skip in &self.skips {
            if let Some(f) = skip.from.checked_sub(1).and_then(|i| prev.get(i)) {
                h = h + skip.conv.forward(&skip.up.forward(f, size));
            }
        }
        let skip_out = h.shallow_clone();
        let mut out = match self.conv {
            ConvBlock::Pre => self.c2.forward(&self.n2.forward_t(&h, train).relu()),
            ConvBlock::Post => self.n2.forward_t(&self.c2.forward(&h), train).relu(),
        };
        if let Some((up, c)) = &self.shortcut {
            out = out + c.forward(&up.forward(x, size));
        }
        (out, skip_out)
    }
}

/// The fixed-architecture generator: latents `[n, latent_dim]` -> images `[n, 3, H, W]` in
/// `[-1, 1]`, `H = W = 8 * bottom_width`. `train` switches batch norm to batch statistics.
#[derive(Debug)]
pub struct Generator {
    cfg: GenConfig,
    l1: Linear,
    cells: Vec<GenCell>,
    to_rgb_bn: BatchNorm2d,
    to_rgb_conv: Conv2d,
}

impl Generator {
    /// Builds the layers of `arch` under `vs_path` with freshly initialised weights.
    /// The sizes in `cfg` must be positive ([`GenConfig::validate`]).
    pub fn new(vs_path: &Path, arch: &Arch, cfg: &GenConfig) -> Generator {
        let gf = cfg.gf_dim;
        let bw = cfg.bottom_width;
        let l1 = Linear::new(&(vs_path / "l1"), cfg.latent_dim, bw * bw * gf, true);
        let cells = arch
            .cells
            .iter()
            .enumerate()
            .map(|(i, c)| GenCell::new(&(vs_path / format!("cell{}", i + 1)), c, i + 1, gf))
            .collect();
        let rgb = vs_path / "to_rgb";
        Generator {
            cfg: *cfg,
            l1,
            cells,
            to_rgb_bn: BatchNorm2d::new(&(&rgb / "0"), gf),
            to_rgb_conv: Conv2d::new(&(&rgb / "2"), gf, 3, 3),
        }
    }

    pub fn config(&self) -> &GenConfig {
        &self.cfg
    }

    /// Output image side (`8 * bottom_width` with three cells).
    pub fn img_size(&self) -> i64 {
        self.cfg.bottom_width << self.cells.len()
    }
}

impl ModuleT for Generator {
    fn forward_t(&self, z: &Tensor, train: bool) -> Tensor {
        let n = z.size()[0];
        let bw = self.cfg.bottom_width;
        let h = self.l1.forward(z).view([n, self.cfg.gf_dim, bw, bw]);
        let mut h = crate::device::channels_last(&h);
        let mut skips: Vec<Tensor> = Vec::with_capacity(self.cells.len());
        for cell in &self.cells {
            let (out, skip) = cell.forward_t(&h, &skips, train);
            skips.push(skip);
            h = out;
        }
        let h = self.to_rgb_bn.forward_t(&h, train).relu();
        self.to_rgb_conv.forward(&h).tanh()
    }
}
