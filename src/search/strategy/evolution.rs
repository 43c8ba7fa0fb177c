//! Regularised (aging) evolution (Real et al., AAAI 2019) on the shared weights, stage by
//! stage (SPEC section 9).
//!
//! Per stage, a population of at most `population` architectures of the stage with their
//! rewards, oldest first. Each reward-phase proposal is either, while the population is not
//! yet full, a uniform architecture, or a child: a tournament of `tournament` members drawn
//! uniformly with replacement, its best member (the earliest drawn among equals) mutated in
//! one decision of the stage's cell to a different value (uniform among the other values).
//! Each scored architecture joins the population and, once it holds more than `population`,
//! the oldest leaves. The number of evolution steps per iteration is the reward budget every
//! strategy gets: `ctrl_steps` x `ctrl_sample_batch`.
//!
//! Shared training trains members of the population, chosen uniformly (a uniform
//! architecture while the population is empty). At the end of a stage the candidates are the
//! `num_candidate` best distinct architectures scored in the stage, which the search scores
//! again with the stage's final G and ranks; the kept prefixes start every architecture of
//! the next stage's population, which the mutations never change.
use anyhow::{bail, Result};
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::{HashMap, VecDeque};
use tch::nn::VarStore;
use tch::Tensor;

use super::decision_sizes;
use super::{
    best_seen_candidates, check_scores, mean, uniform_arch, Observation, Observed, Saved, Strategy,
    StrategyKind,
};
use crate::arch::prefix_len;
use crate::search::beam::{Beam, BeamEntry};

pub use crate::config::{DEFAULT_POPULATION, DEFAULT_TOURNAMENT};

#[derive(Debug)]
pub struct Evolution {
    pub population_size: usize,
    pub tournament_size: usize,
    pub stage: usize,
    /// The living population, oldest first.
    pub population: VecDeque<Observed>,
    /// Every architecture scored in this stage, in order.
    pub seen: Vec<Observed>,
}

/// Draw `k` members of `population` uniformly with replacement; returns the indices drawn and
/// the winner: the drawn member with the highest score, the earliest drawn among equals.
/// `population` must not be empty.
pub fn tournament(population: &[Observed], k: usize, rng: &mut StdRng) -> (Vec<usize>, usize) {
    let drawn: Vec<usize> = (0..k.max(1))
        .map(|_| rng.gen_range(0..population.len()))
        .collect();
    let mut best = drawn[0];
    for &i in &drawn[1..] {
        if population[i].score > population[best].score {
            best = i;
        }
    }
    (drawn, best)
}

/// `arch` (a prefix vector of `stage`) with one decision of the stage's cell changed to a
/// different value: the decision uniform among the cell's, the value uniform among the others.
pub fn mutate(arch: &[i64], stage: usize, rng: &mut StdRng) -> Vec<i64> {
    let sizes = decision_sizes(stage);
    let start = prefix_len(stage);
    let i = rng.gen_range(0..sizes.len());
    let old = arch[start + i];
    let mut new = rng.gen_range(0..sizes[i] - 1);
    if new >= old {
        new += 1;
    }
    let mut child = arch.to_vec();
    child[start + i] = new;
    child
}

impl Evolution {
    pub fn new(population_size: usize, tournament_size: usize) -> Result<Evolution> {
        if population_size < 1 || tournament_size < 1 || tournament_size > population_size {
            bail!(
                "evolution: population {population_size} and tournament {tournament_size}: \
                 need 1 <= tournament <= population"
            );
        }
        Ok(Evolution {
            population_size,
            tournament_size,
            stage: 0,
            population: VecDeque::new(),
            seen: Vec::new(),
        })
    }

    /// Add a scored architecture; the oldest member leaves once there are too many.
    pub fn add(&mut self, arch: Vec<i64>, score: f64) {
        let o = Observed { arch, score };
        self.seen.push(o.clone());
        self.population.push_back(o);
        while self.population.len() > self.population_size {
            self.population.pop_front();
        }
    }

    fn check_len(&self, arch: &[i64]) -> Result<()> {
        let want = prefix_len(self.stage) + decision_sizes(self.stage).len();
        if arch.len() != want {
            bail!(
                "evolution at stage {}: architectures have {want} integers, got {arch:?}",
                self.stage
            );
        }
        Ok(())
    }
}

impl Strategy for Evolution {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Evolution
    }

    fn begin_stage(&mut self, stage: usize, _vars: &VarStore) -> Result<()> {
        self.stage = stage;
        self.population.clear();
        self.seen.clear();
        Ok(())
    }

    fn propose_for_training(&mut self, kept: Option<&Beam>, rng: &mut StdRng) -> Result<Vec<i64>> {
        if self.population.is_empty() {
            return uniform_arch(self.stage, kept, rng);
        }
        let i = rng.gen_range(0..self.population.len());
        Ok(self.population[i].arch.clone())
    }

    fn propose(
        &mut self,
        n: usize,
        kept: Option<&Beam>,
        rng: &mut StdRng,
    ) -> Result<Vec<Vec<i64>>> {
        let members: Vec<Observed> = self.population.iter().cloned().collect();
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            if members.is_empty() || members.len() + out.len() < self.population_size {
                out.push(uniform_arch(self.stage, kept, rng)?);
            } else {
                let (_, best) = tournament(&members, self.tournament_size, rng);
                out.push(mutate(&members[best].arch, self.stage, rng));
            }
        }
        Ok(out)
    }

    fn observe(&mut self, archs: &[Vec<i64>], scores: &[f64]) -> Result<Observation> {
        check_scores(archs, scores)?;
        for (a, &s) in archs.iter().zip(scores) {
            self.check_len(a)?;
            self.add(a.clone(), s);
        }
        let best = self
            .population
            .iter()
            .map(|o| o.score)
            .fold(f64::NEG_INFINITY, f64::max);
        let mut m = Observation::new();
        m.insert("reward".into(), mean(scores).into());
        m.insert("population".into(), self.population.len().into());
        m.insert("population_best".into(), best.into());
        Ok(m)
    }

    fn candidates(
        &mut self,
        n: usize,
        _kept: Option<&Beam>,
        _rng: &mut StdRng,
    ) -> Result<Vec<BeamEntry>> {
        best_seen_candidates(&self.seen, n, "evolution")
    }

    fn save(&self, _vars: &VarStore) -> Result<Saved> {
        Ok(Saved {
            tensors: Vec::new(),
            state: serde_json::json!({
                "stage": self.stage,
                "population": self.population,
                "seen": self.seen,
            }),
        })
    }

    fn load(
        &mut self,
        _vars: &VarStore,
        _tensors: &HashMap<String, Tensor>,
        state: &serde_json::Value,
    ) -> Result<()> {
        self.population = serde_json::from_value(state["population"].clone())?;
        self.seen = serde_json::from_value(state["seen"].clone())?;
        for o in self.population.iter().chain(&self.seen) {
            self.check_len(&o.arch)?;
        }
        Ok(())
    }
}
