//! The SNGAN CIFAR ResNet discriminator (SPEC section 4), spectral norm on every conv and on
//! the final linear, with the reference names: `block1` (optimised block: c1, c2, c_sc),
//! `block2`..`block4` (c1, c2, and c_sc where the shortcut is learnable: block2 only), `l5`.
//!
//! - block1: conv3x3 -> ReLU -> conv3x3 -> avgpool2; shortcut avgpool2 -> conv1x1.
//! - block2: ReLU -> conv3x3 -> ReLU -> conv3x3 -> avgpool2; shortcut conv1x1 -> avgpool2.
//! - block3, block4: ReLU -> conv3x3 -> ReLU -> conv3x3; identity shortcut.
//! - ReLU -> sum over H and W -> `l5` Linear(df -> 1, no bias): scores `[n, 1]`.
use tch::nn::{ModuleT, Path};
use tch::Tensor;

use super::spectral::{SnConv2d, SnLinear};

/// Width of the discriminator (64 in search, 128 in training).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscConfig {
    pub df_dim: i64,
}

impl Default for DiscConfig {
    fn default() -> Self {
        DiscConfig { df_dim: 128 }
    }
}

impl DiscConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.df_dim <= 0 {
            anyhow::bail!("--df-dim must be a positive integer, got {}", self.df_dim);
        }
        Ok(())
    }
}

fn avg_pool2(x: &Tensor) -> Tensor {
    x.avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None)
}

/// The first block: no ReLU before its first conv, and a pool-then-conv shortcut.
#[derive(Debug)]
struct OptimizedBlock {
    c1: SnConv2d,
    c2: SnConv2d,
    c_sc: SnConv2d,
}

impl OptimizedBlock {
    fn new(p: &Path, c_in: i64, c_out: i64) -> Self {
        OptimizedBlock {
            c1: SnConv2d::new(&(p / "c1"), c_in, c_out, 3),
            c2: SnConv2d::new(&(p / "c2"), c_out, c_out, 3),
            c_sc: SnConv2d::new(&(p / "c_sc"), c_in, c_out, 1),
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let h = self.c1.forward_t(x, train).relu();
        let h = avg_pool2(&self.c2.forward_t(&h, train));
        h + self.c_sc.forward_t(&avg_pool2(x), train)
    }
}

/// A pre-activation residual block, optionally downsampling (learnable shortcut then).
#[derive(Debug)]
struct DisBlock {
    c1: SnConv2d,
    c2: SnConv2d,
    c_sc: Option<SnConv2d>,
    downsample: bool,
}

impl DisBlock {
    fn new(p: &Path, c_in: i64, c_out: i64, downsample: bool) -> Self {
        let learnable_sc = c_in != c_out || downsample;
        DisBlock {
            c1: SnConv2d::new(&(p / "c1"), c_in, c_out, 3),
            c2: SnConv2d::new(&(p / "c2"), c_out, c_out, 3),
            c_sc: learnable_sc.then(|| SnConv2d::new(&(p / "c_sc"), c_in, c_out, 1)),
            downsample,
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let h = self.c1.forward_t(&x.relu(), train);
        let mut h = self.c2.forward_t(&h.relu(), train);
        if self.downsample {
            h = avg_pool2(&h);
        }
        let sc = match &self.c_sc {
            Some(c) => {
                let s = c.forward_t(x, train);
                if self.downsample {
                    avg_pool2(&s)
                } else {
                    s
                }
            }
            None => x.shallow_clone(),
        };
        h + sc
    }
}

/// The discriminator: images `[n, 3, H, W]` -> scores `[n, 1]`.
#[derive(Debug)]
pub struct Discriminator {
    block1: OptimizedBlock,
    block2: DisBlock,
    block3: DisBlock,
    block4: DisBlock,
    l5: SnLinear,
}

impl Discriminator {
    /// Builds the layers under `path` with fresh weights; `cfg.df_dim` must be positive.
    pub fn new(path: &Path, cfg: &DiscConfig) -> Discriminator {
        let df = cfg.df_dim;
        Discriminator {
            block1: OptimizedBlock::new(&(path / "block1"), 3, df),
            block2: DisBlock::new(&(path / "block2"), df, df, true),
            block3: DisBlock::new(&(path / "block3"), df, df, false),
            block4: DisBlock::new(&(path / "block4"), df, df, false),
            l5: SnLinear::new(&(path / "l5"), df, 1),
        }
    }

    /// The full discriminator (= stage 2). `train`: one power iteration per spectral norm,
    /// updating `weight_u` / `weight_v` in place.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.forward_stage(x, train, 2)
    }

    /// Search stage `stage` (0, 1, 2; larger values act as 2): blocks
    /// `[block1, block2, block3][..=stage]`, then block4, then the head. At stage s the
    /// images are `8 * 2^s` pixels wide in the search (H, W divisible by 2^(min(s,1)+1)).
    pub fn forward_stage(&self, x: &Tensor, train: bool, stage: usize) -> Tensor {
        let mut h = self
            .block1
            .forward_t(&crate::device::channels_last(x), train);
        if stage >= 1 {
            h = self.block2.forward_t(&h, train);
        }
        if stage >= 2 {
            h = self.block3.forward_t(&h, train);
        }
        let h = self.block4.forward_t(&h, train).relu().sum_dim_intlist(
            [2i64, 3].as_slice(),
            false,
            None,
        );
        self.l5.forward_t(&h, train)
    }
}

impl ModuleT for Discriminator {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.forward_stage(x, train, 2)
    }
}
