//! The shared-weight supernet of the search (SPEC section 3): one generator that holds every
//! candidate op of every cell once, and runs only the path of the architecture it is given.
//!
//! A forward pass takes an [`Arch`] of 1, 2 or 3 cells (the multi-level search's prefixes)
//! and returns `to_rgb` of its last cell: latents `[n, latent_dim]` -> images `[n, 3, S, S]`
//! in `[-1, 1]` with `S = bottom_width * 2^cells` (8, 16, 32 at bottom width 4). The cell
//! semantics are exactly those of the fixed [`Generator`](super::Generator) (skip output taken
//! after the incoming skips are added, shortcut from the cell input, nothing in place so
//! post-activation cells with shortcut or skips train). Every layer is built once in
//! [`SuperGenerator::new`]; a forward allocates no modules, so drawing a new architecture for
//! every D step costs only the forward itself.
//!
//! Variable names (relative to the `Path` given to `new`; K = 1, 2, 3):
//! - `l1.*`: Linear(latent -> bw^2 * gf), shared by all stages.
//! - `cellK.pre.*` / `cellK.post.*`: the pre- and post-activation variants, each with its own
//!   `c1`, `c2` (Conv2d 3x3, shared by every normalisation and upsampling choice), `n1`, `n2`
//!   (BatchNorm2d: one per cell, block and variant, whose running statistics every arch that
//!   picks batch norm there shares; pre `n1` sees the cell input, post `n1` the output of
//!   `c1`, so the variants keep apart) and `up1` (ConvTranspose2d k2 s2 of the main path).
//!   Instance norm has no parameters; bilinear and nearest upsampling none either.
//! - `cellK.c_sc` (Conv2d 1x1) and `cellK.up_sc` (ConvTranspose2d k2 s2): the in-cell shortcut,
//!   shared by both variants (it reads the cell input either way).
//! - `cellK.skip_in_ops.j` (Conv2d 1x1) and `cellK.skip_up.j` (ConvTranspose2d with kernel =
//!   stride = `2^(K-1-j)`): the skip input from cell `j + 1`, one per possible source
//!   (cell 2: j = 0; cell 3: j = 0, 1). The index is the *source cell*, where the fixed
//!   generator's index counts the active skips; [`SuperGenerator::chosen_variables`] maps one
//!   to the other. A single transposed conv per source, like the fixed generator's, so the
//!   copy into a fixed generator is exact for every arch.
//! - `to_rgb.0.*` (BatchNorm2d) and `to_rgb.2.*` (Conv2d 3x3 gf -> 3): shared by all stages.
//!
//! The names keep the conventions of [`init_weights`](super::init_weights) (transposed convs
//! named `up*` or under `skip_up`), so that too re-draws a supernet VarStore correctly.
//! Initialisation (SPEC section 2): conv xavier-uniform, batch-norm weight N(1, 0.02) and
//! bias 0, Linear / ConvTranspose2d / conv biases PyTorch's default.
use anyhow::{anyhow, bail, Result};
use tch::nn::{Path, VarStore};
use tch::Tensor;

use super::generator::GenConfig;
use super::layers::{instance_norm, BatchNorm2d, BnMode, Conv2d, ConvTranspose2d, Linear};
use crate::arch::{Arch, Cell, ConvBlock, Norm, Up, NUM_CELLS};

/// Conv `k x k` from `c_in` to `c_out` with bias (also a transposed conv with kernel `k`).
fn conv_count(c_in: i64, c_out: i64, k: i64) -> i64 {
    c_in * c_out * k * k + c_out
}

/// Trainable parameters of the supernet at sizes `g` (closed form, no tensors built):
/// 3,125,635 at latent 128, gf 128, bottom width 4.
pub fn super_params(g: &GenConfig) -> i64 {
    let gf = g.gf_dim;
    let bw2 = g.bottom_width * g.bottom_width;
    let mut n = g.latent_dim * bw2 * gf + bw2 * gf;
    for k in 1..=NUM_CELLS {
        // two variants x (c1, c2, n1, n2, up1), then the shortcut
        n += 2 * (2 * conv_count(gf, gf, 3) + 2 * 2 * gf + conv_count(gf, gf, 2));
        n += conv_count(gf, gf, 1) + conv_count(gf, gf, 2);
        for j in 0..k - 1 {
            n += conv_count(gf, gf, 1) + conv_count(gf, gf, 1 << (k - 1 - j));
        }
    }
    n + 2 * gf + conv_count(gf, 3, 3)
}

/// One variable of an architecture's path: its name in the fixed generator of that arch, its
/// name in the supernet (relative to the supernet's `Path`) and the supernet's tensor (shared
/// storage, not a copy).
#[derive(Debug)]
pub struct ChosenVar {
    pub fixed_name: String,
    pub super_name: String,
    pub tensor: Tensor,
}

/// Appends the variables of one layer under both names.
fn push(out: &mut Vec<ChosenVar>, fixed: &str, sup: &str, vars: &[(&str, &Tensor)]) {
    for (leaf, t) in vars {
        out.push(ChosenVar {
            fixed_name: format!("{fixed}.{leaf}"),
            super_name: format!("{sup}.{leaf}"),
            tensor: t.shallow_clone(),
        });
    }
}

fn conv_vars(c: &Conv2d) -> [(&'static str, &Tensor); 2] {
    [("weight", &c.weight), ("bias", &c.bias)]
}

fn deconv_vars(c: &ConvTranspose2d) -> [(&'static str, &Tensor); 2] {
    [("weight", &c.weight), ("bias", &c.bias)]
}

fn bn_vars(b: &BatchNorm2d) -> [(&'static str, &Tensor); 4] {
    [
        ("weight", &b.weight),
        ("bias", &b.bias),
        ("running_mean", &b.running_mean),
        ("running_var", &b.running_var),
    ]
}

/// Normalisation `norm`, with `bn` the batch norm of this (cell, block, variant).
fn normalise(x: &Tensor, norm: Norm, bn: &BatchNorm2d, mode: BnMode) -> Tensor {
    match norm {
        Norm::None => x.shallow_clone(),
        Norm::Batch => bn.forward_mode(x, mode),
        Norm::Instance => instance_norm(x),
    }
}

/// `x` `[n, c, h, w]` -> `[n, c, size.0, size.1]` by `up`; `deconv` is used for `Up::Deconv`
/// only and must upsample by exactly the needed factor.
fn upsample(x: &Tensor, up: Up, deconv: &ConvTranspose2d, size: [i64; 2]) -> Tensor {
    match up {
        Up::Bilinear => x.upsample_bilinear2d(size, false, None, None),
        Up::Nearest => x.upsample_nearest2d(size, None, None),
        Up::Deconv => deconv.forward(x),
    }
}

/// The layers of one conv-block variant (pre- or post-activation) of a cell.
#[derive(Debug)]
struct Variant {
    c1: Conv2d,
    c2: Conv2d,
    n1: BatchNorm2d,
    n2: BatchNorm2d,
    up1: ConvTranspose2d,
}

impl Variant {
    fn new(p: &Path, gf: i64) -> Variant {
        Variant {
            c1: Conv2d::new(&(p / "c1"), gf, gf, 3),
            c2: Conv2d::new(&(p / "c2"), gf, gf, 3),
            n1: BatchNorm2d::new(&(p / "n1"), gf),
            n2: BatchNorm2d::new(&(p / "n2"), gf),
            up1: ConvTranspose2d::new(&(p / "up1"), gf, gf, 2),
        }
    }

    fn reset(&self) {
        self.c1.reset();
        self.c2.reset();
        self.n1.reset();
        self.n2.reset();
        self.up1.reset();
    }
}

/// A possible skip input of a cell: from cell `j + 1`.
#[derive(Debug)]
struct SkipOp {
    conv: Conv2d,
    up: ConvTranspose2d,
}

/// Every candidate op of one cell (x2 resolution, gf channels in and out).
#[derive(Debug)]
struct SuperCell {
    /// 1-based cell number.
    index: usize,
    pre: Variant,
    post: Variant,
    c_sc: Conv2d,
    up_sc: ConvTranspose2d,
    /// Indexed by source cell - 1 (`index - 1` entries).
    skips: Vec<SkipOp>,
}

impl SuperCell {
    fn new(p: &Path, index: usize, gf: i64) -> SuperCell {
        let skips = (0..index - 1)
            .map(|j| SkipOp {
                conv: Conv2d::new(&(p / "skip_in_ops" / j), gf, gf, 1),
                up: ConvTranspose2d::new(&(p / "skip_up" / j), gf, gf, 1 << (index - 1 - j)),
            })
            .collect();
        SuperCell {
            index,
            pre: Variant::new(&(p / "pre"), gf),
            post: Variant::new(&(p / "post"), gf),
            c_sc: Conv2d::new(&(p / "c_sc"), gf, gf, 1),
            up_sc: ConvTranspose2d::new(&(p / "up_sc"), gf, gf, 2),
            skips,
        }
    }

    fn reset(&self) {
        self.pre.reset();
        self.post.reset();
        self.c_sc.reset();
        self.up_sc.reset();
        for s in &self.skips {
            s.conv.reset();
            s.up.reset();
        }
    }

    fn variant(&self, conv: ConvBlock) -> &Variant {
        match conv {
            ConvBlock::Pre => &self.pre,
            ConvBlock::Post => &self.post,
        }
    }

    /// `x` `[n, gf, s, s]`, `prev` the skip outputs of cells 1..k-1 -> (out, skip output),
    /// both `[n, gf, 2s, 2s]`. Same computation as the fixed generator's cell.
    // `a = a + b`, not `a += b`: tch's `+=` adds in place, which would break the backward
    // pass through a ReLU output (SPEC section 8).
    #[allow(clippy::assign_op_pattern)]
    fn forward_t(
        &self,
        x: &Tensor,
        cell: &Cell,
        prev: &[Tensor],
        mode: BnMode,
    ) -> (Tensor, Tensor) {
        let s = x.size();
        let size = [s[2] * 2, s[3] * 2];
        let v = self.variant(cell.conv);
        let mut h = match cell.conv {
            ConvBlock::Pre => {
                let a = normalise(x, cell.norm, &v.n1, mode).relu();
                v.c1.forward(&upsample(&a, cell.up, &v.up1, size))
            }
            ConvBlock::Post => {
                let a = v.c1.forward(&upsample(x, cell.up, &v.up1, size));
                normalise(&a, cell.norm, &v.n1, mode).relu()
            }
        };
        for &from in &cell.skip_from {
            let j = from.wrapping_sub(1);
            let (Some(op), Some(f)) = (self.skips.get(j), prev.get(j)) else {
                panic!(
                    "cell {} cannot take a skip from cell {from} (valid: 1..{})",
                    self.index, self.index
                );
            };
            h = h + op.conv.forward(&upsample(f, cell.up, &op.up, size));
        }
        let skip_out = h.shallow_clone();
        let mut out = match cell.conv {
            ConvBlock::Pre => v.c2.forward(&normalise(&h, cell.norm, &v.n2, mode).relu()),
            ConvBlock::Post => normalise(&v.c2.forward(&h), cell.norm, &v.n2, mode).relu(),
        };
        if cell.shortcut {
            out = out + self.c_sc.forward(&upsample(x, cell.up, &self.up_sc, size));
        }
        (out, skip_out)
    }

    /// The variables `cell` uses, under the fixed generator's and the supernet's names.
    fn chosen_variables(&self, cell: &Cell, out: &mut Vec<ChosenVar>) {
        let k = self.index;
        let fixed = format!("cell{k}");
        let vname = match cell.conv {
            ConvBlock::Pre => "pre",
            ConvBlock::Post => "post",
        };
        let sup = format!("cell{k}.{vname}");
        let v = self.variant(cell.conv);
        let deconv = cell.up == Up::Deconv;
        push(
            out,
            &format!("{fixed}.c1"),
            &format!("{sup}.c1"),
            &conv_vars(&v.c1),
        );
        push(
            out,
            &format!("{fixed}.c2"),
            &format!("{sup}.c2"),
            &conv_vars(&v.c2),
        );
        if cell.norm == Norm::Batch {
            push(
                out,
                &format!("{fixed}.n1"),
                &format!("{sup}.n1"),
                &bn_vars(&v.n1),
            );
            push(
                out,
                &format!("{fixed}.n2"),
                &format!("{sup}.n2"),
                &bn_vars(&v.n2),
            );
        }
        if deconv {
            let (f, s) = (format!("{fixed}.up1"), format!("{sup}.up1"));
            push(out, &f, &s, &deconv_vars(&v.up1));
        }
        if cell.shortcut {
            let (f, s) = (format!("{fixed}.c_sc"), format!("cell{k}.c_sc"));
            push(out, &f, &s, &conv_vars(&self.c_sc));
            if deconv {
                let (f, s) = (format!("{fixed}.up_sc"), format!("cell{k}.up_sc"));
                push(out, &f, &s, &deconv_vars(&self.up_sc));
            }
        }
        for (i, &from) in cell.skip_from.iter().enumerate() {
            let j = from.wrapping_sub(1);
            let Some(op) = self.skips.get(j) else {
                continue;
            };
            let f = format!("{fixed}.skip_in_ops.{i}");
            let s = format!("cell{k}.skip_in_ops.{j}");
            push(out, &f, &s, &conv_vars(&op.conv));
            if deconv {
                let f = format!("{fixed}.skip_up.{i}");
                let s = format!("cell{k}.skip_up.{j}");
                push(out, &f, &s, &deconv_vars(&op.up));
            }
        }
    }
}

/// The shared-weight generator of the search. See the module comment for the layout.
#[derive(Debug)]
pub struct SuperGenerator {
    cfg: GenConfig,
    l1: Linear,
    cells: Vec<SuperCell>,
    to_rgb_bn: BatchNorm2d,
    to_rgb_conv: Conv2d,
}

impl SuperGenerator {
    /// Builds every candidate op under `path` with freshly initialised weights
    /// ([`super_params`] trainable parameters). The sizes in `cfg` must be positive
    /// ([`GenConfig::validate`]).
    pub fn new(path: &Path, cfg: &GenConfig) -> SuperGenerator {
        let gf = cfg.gf_dim;
        let bw = cfg.bottom_width;
        let l1 = Linear::new(&(path / "l1"), cfg.latent_dim, bw * bw * gf, true);
        let cells = (1..=NUM_CELLS)
            .map(|k| SuperCell::new(&(path / format!("cell{k}")), k, gf))
            .collect();
        let rgb = path / "to_rgb";
        SuperGenerator {
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

    /// Output side for an arch of `cells` cells: `bottom_width * 2^cells`.
    pub fn img_size(&self, cells: usize) -> i64 {
        self.cfg.bottom_width << cells
    }

    /// Re-draws every parameter with the initialisation of a fresh model (batch-norm running
    /// statistics back to 0 / 1), in place, so optimisers holding the variables stay valid.
    pub fn reset_parameters(&self) {
        self.l1.reset();
        for c in &self.cells {
            c.reset();
        }
        self.to_rgb_bn.reset();
        self.to_rgb_conv.reset();
    }

    /// Runs the path of `arch` (1, 2 or 3 cells): latents `z` `[n, latent_dim]` -> images
    /// `[n, 3, S, S]` in `[-1, 1]`, `S = bottom_width * 2^cells`, `to_rgb` after the last
    /// given cell. `train` switches batch norm to batch statistics (and updates the shared
    /// running statistics of the batch norms on the path).
    ///
    /// Panics when `arch` has no cell or more than three, or a skip from a cell that is not
    /// an earlier one ([`Arch::validate`] rules these out; archs come from code, not users).
    pub fn forward_t(&self, z: &Tensor, arch: &Arch, train: bool) -> Tensor {
        self.forward_mode(z, arch, train.into())
    }

    /// [`SuperGenerator::forward_t`] with the batch norms in `mode`: [`BnMode::Batch`] scores
    /// an architecture with its own batch statistics instead of the running ones that every
    /// architecture through the same batch norm has shared in training.
    pub fn forward_mode(&self, z: &Tensor, arch: &Arch, mode: BnMode) -> Tensor {
        self.forward_cells(z, arch, mode).0
    }

    /// [`SuperGenerator::forward_mode`] and the last cell's output averaged over its pixels,
    /// `[n, gf_dim]` (the state E2GAN's agent sees of a partial architecture).
    pub fn forward_pooled(&self, z: &Tensor, arch: &Arch, mode: BnMode) -> (Tensor, Tensor) {
        let (img, h) = self.forward_cells(z, arch, mode);
        (
            img,
            h.mean_dim([2i64, 3].as_slice(), false, tch::Kind::Float),
        )
    }

    /// Images and the last cell's output.
    fn forward_cells(&self, z: &Tensor, arch: &Arch, mode: BnMode) -> (Tensor, Tensor) {
        let n_cells = arch.cells.len();
        assert!(
            (1..=NUM_CELLS).contains(&n_cells),
            "the supernet runs 1 to {NUM_CELLS} cells, got {n_cells}"
        );
        let n = z.size()[0];
        let bw = self.cfg.bottom_width;
        let h = self.l1.forward(z).view([n, self.cfg.gf_dim, bw, bw]);
        let mut h = crate::device::channels_last(&h);
        let mut skips: Vec<Tensor> = Vec::with_capacity(n_cells);
        for (cell, ops) in arch.cells.iter().zip(&self.cells) {
            let (out, skip) = ops.forward_t(&h, cell, &skips, mode);
            skips.push(skip);
            h = out;
        }
        let x = self.to_rgb_bn.forward_mode(&h, mode).relu();
        (self.to_rgb_conv.forward(&x).tanh(), h)
    }

    /// The variables on the path of `arch` (trainable ones and batch-norm running statistics),
    /// each under its name in the fixed [`Generator`](super::Generator) of `arch` built at a
    /// VarStore's root and its name in the supernet. Skips from cells that `arch` cannot have
    /// are left out (see [`Arch::validate`]).
    pub fn chosen_variables(&self, arch: &Arch) -> Vec<ChosenVar> {
        let mut out = Vec::new();
        push(&mut out, "l1", "l1", &linear_vars(&self.l1));
        for (cell, ops) in arch.cells.iter().zip(&self.cells) {
            ops.chosen_variables(cell, &mut out);
        }
        push(&mut out, "to_rgb.0", "to_rgb.0", &bn_vars(&self.to_rgb_bn));
        push(
            &mut out,
            "to_rgb.2",
            "to_rgb.2",
            &conv_vars(&self.to_rgb_conv),
        );
        out
    }

    /// Copies the path of `arch` (weights and batch-norm running statistics) into `dst`, the
    /// VarStore of a fixed [`Generator`](super::Generator) built for the same `arch` and sizes
    /// at the store's root. Afterwards that generator computes exactly what
    /// `self.forward_t(z, arch, train)` does. Errors, with nothing copied, when a variable of
    /// either side has no counterpart or a different shape.
    pub fn extract_fixed(&self, arch: &Arch, dst: &VarStore) -> Result<()> {
        arch.validate()?;
        let dst_vars = dst.variables();
        let chosen = self.chosen_variables(arch);
        for c in &chosen {
            let d = dst_vars.get(&c.fixed_name).ok_or_else(|| {
                anyhow!(
                    "the fixed generator has no variable '{}' (is it built for arch {} at \
                     the VarStore's root?)",
                    c.fixed_name,
                    arch.vector_string()
                )
            })?;
            if d.size() != c.tensor.size() {
                bail!(
                    "'{}': the fixed generator has shape {:?}, the supernet {:?} (are the \
                     sizes the same?)",
                    c.fixed_name,
                    d.size(),
                    c.tensor.size()
                );
            }
        }
        if let Some(extra) = dst_vars
            .keys()
            .find(|k| !chosen.iter().any(|c| &c.fixed_name == *k))
        {
            bail!(
                "the fixed generator's variable '{extra}' is not on the path of arch {}",
                arch.vector_string()
            );
        }
        tch::no_grad(|| {
            for c in &chosen {
                let mut d = dst_vars[&c.fixed_name].shallow_clone();
                d.copy_(&c.tensor.to_device(d.device()));
            }
        });
        Ok(())
    }
}

/// A Linear's variables (the bias is always present in `l1`).
fn linear_vars(l: &Linear) -> Vec<(&'static str, &Tensor)> {
    let mut v = vec![("weight", &l.weight)];
    if let Some(b) = &l.bias {
        v.push(("bias", b));
    }
    v
}
