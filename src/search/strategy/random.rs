//! Random search, the standard NAS baseline (SPEC section 9): every architecture, for shared
//! training and for the reward phase, has each decision of the stage uniform in its range
//! (extending a kept prefix chosen uniformly). The reward phase spends the same budget as the
//! other strategies on uniform architectures; at the end of a stage the `num_candidate` best
//! distinct ones of the stage are the candidates, which the search scores again with the
//! stage's final G and ranks like every strategy's.
use anyhow::Result;
use rand::rngs::StdRng;
use std::collections::HashMap;
use tch::nn::VarStore;
use tch::Tensor;

use super::{
    best_seen_candidates, check_scores, mean, uniform_arch, Observation, Observed, Saved, Strategy,
    StrategyKind,
};
use crate::search::beam::{Beam, BeamEntry};

#[derive(Debug, Default)]
pub struct RandomSearch {
    pub stage: usize,
    /// Every architecture scored in this stage, in order.
    pub seen: Vec<Observed>,
}

impl RandomSearch {
    pub fn new() -> RandomSearch {
        RandomSearch::default()
    }
}

impl Strategy for RandomSearch {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Random
    }

    fn begin_stage(&mut self, stage: usize, _vars: &VarStore) -> Result<()> {
        self.stage = stage;
        self.seen.clear();
        Ok(())
    }

    fn propose_for_training(&mut self, kept: Option<&Beam>, rng: &mut StdRng) -> Result<Vec<i64>> {
        uniform_arch(self.stage, kept, rng)
    }

    fn propose(
        &mut self,
        n: usize,
        kept: Option<&Beam>,
        rng: &mut StdRng,
    ) -> Result<Vec<Vec<i64>>> {
        (0..n)
            .map(|_| uniform_arch(self.stage, kept, rng))
            .collect()
    }

    fn observe(&mut self, archs: &[Vec<i64>], scores: &[f64]) -> Result<Observation> {
        check_scores(archs, scores)?;
        for (a, &s) in archs.iter().zip(scores) {
            self.seen.push(Observed {
                arch: a.clone(),
                score: s,
            });
        }
        let mut m = Observation::new();
        m.insert("reward".into(), mean(scores).into());
        Ok(m)
    }

    fn candidates(
        &mut self,
        n: usize,
        _kept: Option<&Beam>,
        _rng: &mut StdRng,
    ) -> Result<Vec<BeamEntry>> {
        best_seen_candidates(&self.seen, n, "random search")
    }

    fn save(&self, _vars: &VarStore) -> Result<Saved> {
        Ok(Saved {
            tensors: Vec::new(),
            state: serde_json::json!({ "stage": self.stage, "seen": self.seen }),
        })
    }

    fn load(
        &mut self,
        _vars: &VarStore,
        _tensors: &HashMap<String, Tensor>,
        state: &serde_json::Value,
    ) -> Result<()> {
        self.seen = serde_json::from_value(state["seen"].clone())?;
        Ok(())
    }
}
