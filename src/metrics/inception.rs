//! The FID-Inception network (SPEC section 7): torchvision's Inception-v3 layout with
//! batch-norm eps 1e-3 and fc 2048 -> 1008, where Mixed_5b..5d, 6b..6e and 7b average-pool
//! their pool branch without counting the padding and Mixed_7c max-pools it (3x3, s1, p1).
//!
//! Weights come from a safetensors file with the state-dict names of pytorch-fid's
//! `pt_inception-2015-12-05-6726825d.pth` (= torch-fidelity's), e.g.
//! `Conv2d_1a_3x3.conv.weight`, `Mixed_5b.branch1x1.bn.running_var`, `fc.weight`;
//! `scripts/convert_inception.py` writes that file from the `.pth`.
//!
//! Input of `forward`: float32 `[N, 3, 299, 299]` in [-1, 1] (see `resize::preprocess`).
//! Output: pool features float32 `[N, 2048]` and bias-free logits float32 `[N, 1008]`
//! (`pool @ fc.weight^T`), as torch-fidelity's `2048` and `logits_unbiased`.
use anyhow::{bail, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

use super::{Protocol, Scorer};

/// Width of the pool features.
pub const FEATURE_DIM: i64 = 2048;
/// Number of logits.
pub const NUM_CLASSES: i64 = 1008;
const BN_EPS: f64 = 1e-3;

/// Conv (no bias) -> batch norm (eval mode, eps 1e-3) -> ReLU, run as one convolution with
/// the batch norm folded into its weight and bias (`w * s`, `beta - mean * s` with
/// `s = gamma / sqrt(var + eps)` per output channel, computed in float64): the same function
/// up to float rounding, one pass over the activations fewer.
struct BasicConv {
    weight: Tensor,
    bias: Tensor,
    stride: [i64; 2],
    padding: [i64; 2],
}

impl BasicConv {
    fn folded(weight: &Tensor, bn: [&Tensor; 4], stride: [i64; 2], padding: [i64; 2]) -> BasicConv {
        let [gamma, beta, mean, var] = bn.map(|t| t.to_kind(Kind::Double));
        let scale = gamma / (var + BN_EPS).sqrt();
        let w = (weight.to_kind(Kind::Double) * scale.view([-1, 1, 1, 1])).to_kind(Kind::Float);
        BasicConv {
            weight: crate::device::channels_last(&w),
            bias: (beta - mean * scale).to_kind(Kind::Float),
            stride,
            padding,
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        x.conv2d(
            &self.weight,
            Some(&self.bias),
            self.stride,
            self.padding,
            [1, 1],
            1,
        )
        .relu()
    }
}

/// Takes tensors out of a weight file by name, recording what is missing or misshapen; or,
/// when `random`, draws them.
struct Loader {
    tensors: HashMap<String, Tensor>,
    device: Device,
    problems: Vec<String>,
    random: bool,
    /// Everything taken so far, by name.
    taken: Vec<(String, Tensor)>,
}

impl Loader {
    fn take(&mut self, name: &str, shape: &[i64]) -> Tensor {
        let t = self.take_inner(name, shape);
        self.taken.push((name.to_string(), t.shallow_clone()));
        t
    }

    fn take_inner(&mut self, name: &str, shape: &[i64]) -> Tensor {
        if self.random {
            let opts = (Kind::Float, self.device);
            let fan_in: i64 = shape.iter().skip(1).product();
            return match name.rsplit('.').next() {
                Some("running_var") | Some("weight") if name.contains(".bn.") => {
                    Tensor::ones(shape, opts)
                }
                Some("running_mean") | Some("bias") => Tensor::zeros(shape, opts),
                _ if name == "fc.weight" => Tensor::randn(shape, opts) * 0.01,
                _ => Tensor::randn(shape, opts) * (2.0 / fan_in.max(1) as f64).sqrt(),
            };
        }
        match self.tensors.remove(name) {
            Some(t) if t.size() == shape && t.is_floating_point() => {
                t.to_kind(Kind::Float).to_device(self.device)
            }
            Some(t) => {
                self.problems.push(format!(
                    "{name}: shape {:?} {:?}, expected {shape:?} float",
                    t.size(),
                    t.kind()
                ));
                Tensor::zeros(shape, (Kind::Float, self.device))
            }
            None => {
                self.problems
                    .push(format!("{name}: missing (expected shape {shape:?})"));
                Tensor::zeros(shape, (Kind::Float, self.device))
            }
        }
    }

    /// `prefix.conv.weight` `[cout, cin, kh, kw]` and `prefix.bn.{weight,bias,running_mean,running_var}`.
    fn conv(
        &mut self,
        prefix: &str,
        cin: i64,
        cout: i64,
        k: (i64, i64),
        stride: i64,
        pad: (i64, i64),
    ) -> BasicConv {
        let c = [cout];
        let weight = self.take(&format!("{prefix}.conv.weight"), &[cout, cin, k.0, k.1]);
        let bn = [
            self.take(&format!("{prefix}.bn.weight"), &c),
            self.take(&format!("{prefix}.bn.bias"), &c),
            self.take(&format!("{prefix}.bn.running_mean"), &c),
            self.take(&format!("{prefix}.bn.running_var"), &c),
        ];
        BasicConv::folded(
            &weight,
            [&bn[0], &bn[1], &bn[2], &bn[3]],
            [stride, stride],
            [pad.0, pad.1],
        )
    }

    /// A 1x1 conv.
    fn c1(&mut self, prefix: &str, cin: i64, cout: i64) -> BasicConv {
        self.conv(prefix, cin, cout, (1, 1), 1, (0, 0))
    }
}

/// The pool branch of a mixed block after the conv branches.
#[derive(Clone, Copy)]
enum PoolBranch {
    /// 3x3 s1 p1 average pool without counting the padding, then a 1x1 conv.
    AvgNoPad,
    /// 3x3 s1 p1 max pool, then a 1x1 conv (Mixed_7c only).
    Max,
}

fn pool_branch(x: &Tensor, kind: PoolBranch) -> Tensor {
    match kind {
        PoolBranch::AvgNoPad => x.avg_pool2d([3, 3], [1, 1], [1, 1], false, false, None),
        PoolBranch::Max => x.max_pool2d([3, 3], [1, 1], [1, 1], [1, 1], false),
    }
}

fn max_pool_3s2(x: &Tensor) -> Tensor {
    x.max_pool2d([3, 3], [2, 2], [0, 0], [1, 1], false)
}

/// Mixed_5b/5c/5d (InceptionA).
struct BlockA {
    b1x1: BasicConv,
    b5x5: [BasicConv; 2],
    b3x3dbl: [BasicConv; 3],
    pool: BasicConv,
}

impl BlockA {
    fn load(l: &mut Loader, p: &str, cin: i64, pool_features: i64) -> BlockA {
        BlockA {
            b1x1: l.c1(&format!("{p}.branch1x1"), cin, 64),
            b5x5: [
                l.c1(&format!("{p}.branch5x5_1"), cin, 48),
                l.conv(&format!("{p}.branch5x5_2"), 48, 64, (5, 5), 1, (2, 2)),
            ],
            b3x3dbl: [
                l.c1(&format!("{p}.branch3x3dbl_1"), cin, 64),
                l.conv(&format!("{p}.branch3x3dbl_2"), 64, 96, (3, 3), 1, (1, 1)),
                l.conv(&format!("{p}.branch3x3dbl_3"), 96, 96, (3, 3), 1, (1, 1)),
            ],
            pool: l.c1(&format!("{p}.branch_pool"), cin, pool_features),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let a = self.b1x1.forward(x);
        let b = chain(&self.b5x5, x);
        let c = chain(&self.b3x3dbl, x);
        let d = self.pool.forward(&pool_branch(x, PoolBranch::AvgNoPad));
        Tensor::cat(&[a, b, c, d], 1)
    }
}

/// Mixed_6a (InceptionB).
struct BlockB {
    b3x3: BasicConv,
    b3x3dbl: [BasicConv; 3],
}

impl BlockB {
    fn load(l: &mut Loader, p: &str, cin: i64) -> BlockB {
        BlockB {
            b3x3: l.conv(&format!("{p}.branch3x3"), cin, 384, (3, 3), 2, (0, 0)),
            b3x3dbl: [
                l.c1(&format!("{p}.branch3x3dbl_1"), cin, 64),
                l.conv(&format!("{p}.branch3x3dbl_2"), 64, 96, (3, 3), 1, (1, 1)),
                l.conv(&format!("{p}.branch3x3dbl_3"), 96, 96, (3, 3), 2, (0, 0)),
            ],
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let a = self.b3x3.forward(x);
        let b = chain(&self.b3x3dbl, x);
        Tensor::cat(&[a, b, max_pool_3s2(x)], 1)
    }
}

/// Mixed_6b..6e (InceptionC).
struct BlockC {
    b1x1: BasicConv,
    b7x7: [BasicConv; 3],
    b7x7dbl: [BasicConv; 5],
    pool: BasicConv,
}

impl BlockC {
    fn load(l: &mut Loader, p: &str, cin: i64, c7: i64) -> BlockC {
        let row = (1, 7);
        let col = (7, 1);
        BlockC {
            b1x1: l.c1(&format!("{p}.branch1x1"), cin, 192),
            b7x7: [
                l.c1(&format!("{p}.branch7x7_1"), cin, c7),
                l.conv(&format!("{p}.branch7x7_2"), c7, c7, row, 1, (0, 3)),
                l.conv(&format!("{p}.branch7x7_3"), c7, 192, col, 1, (3, 0)),
            ],
            b7x7dbl: [
                l.c1(&format!("{p}.branch7x7dbl_1"), cin, c7),
                l.conv(&format!("{p}.branch7x7dbl_2"), c7, c7, col, 1, (3, 0)),
                l.conv(&format!("{p}.branch7x7dbl_3"), c7, c7, row, 1, (0, 3)),
                l.conv(&format!("{p}.branch7x7dbl_4"), c7, c7, col, 1, (3, 0)),
                l.conv(&format!("{p}.branch7x7dbl_5"), c7, 192, row, 1, (0, 3)),
            ],
            pool: l.c1(&format!("{p}.branch_pool"), cin, 192),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let a = self.b1x1.forward(x);
        let b = chain(&self.b7x7, x);
        let c = chain(&self.b7x7dbl, x);
        let d = self.pool.forward(&pool_branch(x, PoolBranch::AvgNoPad));
        Tensor::cat(&[a, b, c, d], 1)
    }
}

/// Mixed_7a (InceptionD).
struct BlockD {
    b3x3: [BasicConv; 2],
    b7x7x3: [BasicConv; 4],
}

impl BlockD {
    fn load(l: &mut Loader, p: &str, cin: i64) -> BlockD {
        BlockD {
            b3x3: [
                l.c1(&format!("{p}.branch3x3_1"), cin, 192),
                l.conv(&format!("{p}.branch3x3_2"), 192, 320, (3, 3), 2, (0, 0)),
            ],
            b7x7x3: [
                l.c1(&format!("{p}.branch7x7x3_1"), cin, 192),
                l.conv(&format!("{p}.branch7x7x3_2"), 192, 192, (1, 7), 1, (0, 3)),
                l.conv(&format!("{p}.branch7x7x3_3"), 192, 192, (7, 1), 1, (3, 0)),
                l.conv(&format!("{p}.branch7x7x3_4"), 192, 192, (3, 3), 2, (0, 0)),
            ],
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let a = chain(&self.b3x3, x);
        let b = chain(&self.b7x7x3, x);
        Tensor::cat(&[a, b, max_pool_3s2(x)], 1)
    }
}

/// Mixed_7b (average pool branch) and Mixed_7c (max pool branch) (InceptionE).
struct BlockE {
    b1x1: BasicConv,
    b3x3_1: BasicConv,
    b3x3_2: [BasicConv; 2],
    b3x3dbl_12: [BasicConv; 2],
    b3x3dbl_3: [BasicConv; 2],
    pool: BasicConv,
    pool_kind: PoolBranch,
}

impl BlockE {
    fn load(l: &mut Loader, p: &str, cin: i64, pool_kind: PoolBranch) -> BlockE {
        BlockE {
            b1x1: l.c1(&format!("{p}.branch1x1"), cin, 320),
            b3x3_1: l.c1(&format!("{p}.branch3x3_1"), cin, 384),
            b3x3_2: [
                l.conv(&format!("{p}.branch3x3_2a"), 384, 384, (1, 3), 1, (0, 1)),
                l.conv(&format!("{p}.branch3x3_2b"), 384, 384, (3, 1), 1, (1, 0)),
            ],
            b3x3dbl_12: [
                l.c1(&format!("{p}.branch3x3dbl_1"), cin, 448),
                l.conv(&format!("{p}.branch3x3dbl_2"), 448, 384, (3, 3), 1, (1, 1)),
            ],
            b3x3dbl_3: [
                l.conv(&format!("{p}.branch3x3dbl_3a"), 384, 384, (1, 3), 1, (0, 1)),
                l.conv(&format!("{p}.branch3x3dbl_3b"), 384, 384, (3, 1), 1, (1, 0)),
            ],
            pool: l.c1(&format!("{p}.branch_pool"), cin, 192),
            pool_kind,
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let a = self.b1x1.forward(x);
        let h = self.b3x3_1.forward(x);
        let b = Tensor::cat(&[self.b3x3_2[0].forward(&h), self.b3x3_2[1].forward(&h)], 1);
        let h = chain(&self.b3x3dbl_12, x);
        let c = Tensor::cat(
            &[self.b3x3dbl_3[0].forward(&h), self.b3x3dbl_3[1].forward(&h)],
            1,
        );
        let d = self.pool.forward(&pool_branch(x, self.pool_kind));
        Tensor::cat(&[a, b, c, d], 1)
    }
}

fn chain(convs: &[BasicConv], x: &Tensor) -> Tensor {
    let mut h = convs[0].forward(x);
    for c in &convs[1..] {
        h = c.forward(&h);
    }
    h
}

/// The FID-Inception network with its weights, on one device, inference only.
pub struct Inception {
    stem: [BasicConv; 3],
    stem2: [BasicConv; 2],
    mixed_5: [BlockA; 3],
    mixed_6a: BlockB,
    mixed_6: [BlockC; 4],
    mixed_7a: BlockD,
    mixed_7: [BlockE; 2],
    /// `fc.weight`, float32 `[1008, 2048]`.
    fc_weight: Tensor,
    /// Every weight by name (shallow copies of the ones above).
    named: Vec<(String, Tensor)>,
    device: Device,
    source: PathBuf,
}

impl Inception {
    /// Load the weights from a safetensors file onto `device`. Every missing or misshapen
    /// tensor is listed in the error, with the file's name.
    pub fn load(path: &Path, device: Device) -> Result<Inception> {
        let tensors = crate::safetensors::read(path)?;
        Self::from_tensors(tensors, device).map_err(|e| {
            anyhow::anyhow!(
                "{}: not FID-Inception weights as pytorch-fid / torch-fidelity name them ({e}); \
                 convert pt_inception-2015-12-05-6726825d.pth with `bash scripts/fetch_inception.sh --from FILE.pth`",
                path.display()
            )
        })
        .map(|mut net| {
            net.source = path.to_path_buf();
            net
        })
    }

    /// Build the network from named tensors (state-dict names); extra tensors are ignored.
    pub fn from_tensors(tensors: Vec<(String, Tensor)>, device: Device) -> Result<Inception> {
        Self::build(Loader {
            tensors: tensors.into_iter().collect(),
            device,
            problems: Vec::new(),
            random: false,
            taken: Vec::new(),
        })
    }

    /// The network with random weights drawn from libtorch's generator (He-normal convs,
    /// identity batch norms): the same work per image as the real weights, for benchmarks and
    /// device checks where the weight file is not at hand. Not a scorer of anything.
    pub fn random(device: Device) -> Inception {
        Self::build(Loader {
            tensors: HashMap::new(),
            device,
            problems: Vec::new(),
            random: true,
            taken: Vec::new(),
        })
        .expect("random weights have every tensor")
    }

    /// The weights as named tensors (the state-dict names of `from_tensors`), e.g. to build
    /// the same network on another device.
    pub fn tensors(&self) -> Vec<(String, Tensor)> {
        self.named
            .iter()
            .map(|(n, t)| (n.clone(), t.shallow_clone()))
            .collect()
    }

    fn build(mut l: Loader) -> Result<Inception> {
        let _guard = tch::no_grad_guard();
        let mut net = Inception {
            stem: [
                l.conv("Conv2d_1a_3x3", 3, 32, (3, 3), 2, (0, 0)),
                l.conv("Conv2d_2a_3x3", 32, 32, (3, 3), 1, (0, 0)),
                l.conv("Conv2d_2b_3x3", 32, 64, (3, 3), 1, (1, 1)),
            ],
            stem2: [
                l.c1("Conv2d_3b_1x1", 64, 80),
                l.conv("Conv2d_4a_3x3", 80, 192, (3, 3), 1, (0, 0)),
            ],
            mixed_5: [
                BlockA::load(&mut l, "Mixed_5b", 192, 32),
                BlockA::load(&mut l, "Mixed_5c", 256, 64),
                BlockA::load(&mut l, "Mixed_5d", 288, 64),
            ],
            mixed_6a: BlockB::load(&mut l, "Mixed_6a", 288),
            mixed_6: [
                BlockC::load(&mut l, "Mixed_6b", 768, 128),
                BlockC::load(&mut l, "Mixed_6c", 768, 160),
                BlockC::load(&mut l, "Mixed_6d", 768, 160),
                BlockC::load(&mut l, "Mixed_6e", 768, 192),
            ],
            mixed_7a: BlockD::load(&mut l, "Mixed_7a", 768),
            mixed_7: [
                BlockE::load(&mut l, "Mixed_7b", 1280, PoolBranch::AvgNoPad),
                BlockE::load(&mut l, "Mixed_7c", 2048, PoolBranch::Max),
            ],
            fc_weight: l.take("fc.weight", &[NUM_CLASSES, FEATURE_DIM]),
            named: Vec::new(),
            device: l.device,
            source: PathBuf::new(),
        };
        if !l.problems.is_empty() {
            let n = l.problems.len();
            // Misshapen tensors first: they are the telling ones when a few are wrong.
            let mut problems = l.problems;
            problems.sort_by_key(|p| p.contains(": missing"));
            let shown: Vec<&str> = problems.iter().take(20).map(String::as_str).collect();
            let more = if n > 20 {
                format!("; and {} more", n - 20)
            } else {
                String::new()
            };
            bail!(
                "{n} tensor(s) missing or misshapen: {}{more}",
                shown.join("; ")
            );
        }
        net.named = l.taken;
        Ok(net)
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The file the weights came from (empty when built from tensors).
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// `x`: float32 `[N, 3, 299, 299]` in [-1, 1] on any device. Returns (pool features
    /// float32 `[N, 2048]`, bias-free logits float32 `[N, 1008]`) on the network's device.
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let sz = x.size();
        if sz.len() != 4 || sz[1] != 3 || sz[2] < 75 || sz[3] < 75 || x.kind() != Kind::Float {
            bail!(
                "Inception input must be float32 [N,3,299,299], got {:?} {:?}",
                x.kind(),
                sz
            );
        }
        let _guard = tch::no_grad_guard();
        let x = crate::device::channels_last(&x.to_device(self.device));
        let mut h = chain(&self.stem, &x);
        h = max_pool_3s2(&h);
        h = max_pool_3s2(&chain(&self.stem2, &h));
        for b in &self.mixed_5 {
            h = b.forward(&h);
        }
        h = self.mixed_6a.forward(&h);
        for b in &self.mixed_6 {
            h = b.forward(&h);
        }
        h = self.mixed_7a.forward(&h);
        for b in &self.mixed_7 {
            h = b.forward(&h);
        }
        let pool = h.adaptive_avg_pool2d([1, 1]).flatten(1, -1);
        // A transposed view, as torch-fidelity's `x.mm(fc.weight.T)`.
        let logits = pool.mm(&self.fc_weight.tr());
        Ok((pool, logits))
    }
}

/// The Inception network with a protocol: the default scorer.
pub struct InceptionScorer {
    pub net: Inception,
    pub protocol: Protocol,
}

impl InceptionScorer {
    /// Load the weights from `path` (safetensors) onto `device`.
    pub fn load(path: &Path, device: Device, protocol: Protocol) -> Result<InceptionScorer> {
        Ok(InceptionScorer {
            net: Inception::load(path, device)?,
            protocol,
        })
    }
}

impl Scorer for InceptionScorer {
    fn name(&self) -> &str {
        "inception"
    }

    fn data_set(&self) -> Option<String> {
        Some("imagenet".into())
    }

    fn feature_dim(&self) -> i64 {
        FEATURE_DIM
    }

    fn num_classes(&self) -> i64 {
        NUM_CLASSES
    }

    fn features_and_logits(&self, imgs: &Tensor) -> Result<(Tensor, Tensor)> {
        let _guard = tch::no_grad_guard();
        let x = super::resize::preprocess(&imgs.to_device(self.net.device()), self.protocol)?;
        self.net.forward(&x)
    }
}

/// Where pytorch-fid publishes the FID-Inception weights.
pub const INCEPTION_URL: &str =
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth";

/// Load the FID-Inception scorer from `flag` (`--inception FILE`) or the cache; when the file is not
/// there, the error says how to get it.
pub fn load_inception(
    flag: Option<&Path>,
    protocol: Protocol,
    device: Device,
) -> Result<InceptionScorer> {
    let path = crate::paths::inception_weights(flag);
    if !path.is_file() {
        if flag.is_some() {
            bail!(
                "--inception {}: no such file; give the safetensors file written by \
                 `bash scripts/fetch_inception.sh` (or `bash scripts/fetch_inception.sh --from FILE.pth`), \
                 or leave the flag out to use {}",
                path.display(),
                crate::paths::inception_weights(None).display()
            );
        }
        bail!(
            "the FID-Inception weights are not at {}; get them with\n    bash scripts/fetch_inception.sh\n\
             (without network access from this machine: download {INCEPTION_URL} elsewhere, copy it here and run\n    \
             bash scripts/fetch_inception.sh --from pt_inception-2015-12-05-6726825d.pth)",
            path.display()
        );
    }
    InceptionScorer::load(&path, device, protocol)
}
