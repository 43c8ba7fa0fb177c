//! A stand-in scorer for device checks and dry runs (`autogan selftest`, `bench search
//! --tiny-scorer`): no weights to load, the same interface as the real scorers.
use anyhow::Result;
use tch::{Device, Kind, Tensor};

use super::Scorer;

/// A stand-in scorer for device checks and dry runs: 4x4 average-pooled pixels through fixed
/// random projections (48 -> 16 features -> 10 logits). Cheap; scores nothing meaningful.
pub struct TinyScorer {
    w1: Tensor,
    w2: Tensor,
}

impl TinyScorer {
    pub fn new(device: Device) -> TinyScorer {
        let g = |s: [i64; 2]| Tensor::randn(s, (Kind::Float, device)) * 0.2;
        TinyScorer {
            w1: g([48, 16]),
            w2: g([16, 10]),
        }
    }
}

impl Scorer for TinyScorer {
    fn name(&self) -> &str {
        "tiny"
    }
    fn feature_dim(&self) -> i64 {
        16
    }
    fn num_classes(&self) -> i64 {
        10
    }
    fn features_and_logits(&self, imgs: &Tensor) -> Result<(Tensor, Tensor)> {
        let x = imgs.to_device(self.w1.device()).to_kind(Kind::Float) / 127.5 - 1.0;
        let f = x
            .adaptive_avg_pool2d([4, 4])
            .flatten(1, -1)
            .matmul(&self.w1);
        let l = f.matmul(&self.w2);
        Ok((f, l))
    }
}
