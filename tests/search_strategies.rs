//! The search strategies behind the seam (SPEC section 9) and the search loop's batched loss
//! reads: random search is uniform, evolution's mutation, aging and tournament, every
//! strategy resumes exactly from a checkpoint, reading the losses in batches changes no
//! number. Tiny sizes and fixed seeds; libtorch's generator is global, so the tests that run
//! searches take turns.
mod common;

use autogan::arch::prefix_len;
use autogan::config::{GanConfig, SacConfig, SearchConfig};
use autogan::data::{DataSpec, Dataset};
use autogan::metrics::Scorer;
use autogan::search::beam::{Beam, BeamEntry};
use autogan::search::run::{IterationReport, Search};
use autogan::search::strategy::decision_sizes;
use autogan::search::strategy::evolution::{mutate, tournament, Evolution};
use autogan::search::strategy::random::RandomSearch;
use autogan::search::strategy::{Observed, Strategy, StrategyKind};
use common::ProjectionScorer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    SEEDED.lock().unwrap_or_else(|e| e.into_inner())
}

fn tiny_config(strategy: StrategyKind) -> SearchConfig {
    SearchConfig {
        gan: GanConfig {
            dataset: Some("shapes".into()),
            gf_dim: 8,
            df_dim: 8,
            latent_dim: 8,
            batch_size: 4,
            gen_batch_size: 4,
            shapes_count: 200,
            ..GanConfig::search()
        },
        iterations: 4,
        stage_changes: [1, 2],
        shared_epochs: 1,
        max_shared_steps: Some(6),
        ctrl_steps: 3,
        ctrl_sample_batch: 2,
        rl_num_eval_img: 20,
        num_candidate: 4,
        topk: 2,
        reset_window: 4,
        strategy,
        population: 4,
        tournament: 2,
        sac: SacConfig {
            sac_episodes: 4,
            sac_exploit_episodes: 1,
            sac_max_steps: Some(6),
            sac_hidden: 16,
            sac_batch: 4,
            sac_start: 2,
            sac_exploit_updates: 3,
            ..SacConfig::default()
        },
        ..SearchConfig::default()
    }
}

fn data(cfg: &SearchConfig) -> Dataset {
    let mut spec = DataSpec::shapes(0);
    spec.shapes_count = cfg.shapes_count;
    autogan::data::load(&spec).unwrap()
}

fn run(s: &mut Search, full: &Dataset, until: u64, scorer: &dyn Scorer) -> Vec<IterationReport> {
    let mut out = Vec::new();
    while s.iteration < until {
        if s.cfg.episodic() {
            let d: Vec<Dataset> = (0..3).map(|k| full.resized(s.cfg.stage_size(k))).collect();
            let r = s.run_episode([&d[0], &d[1], &d[2]], scorer, &mut |_, _| {});
            out.push(r.unwrap());
            continue;
        }
        let d = full.resized(s.cfg.stage_size(s.stage()));
        out.push(s.run_iteration(&d, scorer, &mut |_, _| {}).unwrap());
    }
    out
}

/// A beam of `k` distinct kept prefixes for `stage` without LSTM states.
fn kept(stage: usize, k: usize) -> Beam {
    let empty = Tensor::zeros([0], (Kind::Float, Device::Cpu));
    let entries = (0..k)
        .map(|i| {
            let prefix: Vec<i64> = (0..prefix_len(stage))
                .map(|j| if j == 1 { i as i64 } else { (j % 2) as i64 })
                .collect();
            BeamEntry::new(prefix, &empty, &empty, i as f64)
        })
        .collect();
    Beam { entries }
}

/// Pearson's chi-square statistic of `counts` against a uniform distribution.
fn chi_square(counts: &[u64]) -> f64 {
    let n: u64 = counts.iter().sum();
    let e = n as f64 / counts.len() as f64;
    counts.iter().map(|&c| (c as f64 - e).powi(2) / e).sum()
}

/// The 0.999 quantile of chi-square with `df` degrees of freedom (df 1 to 3).
fn chi_square_999(df: usize) -> f64 {
    [10.828, 13.816, 16.266][df - 1]
}

#[test]
fn random_search_draws_every_decision_and_kept_prefix_uniformly() {
    let n = 12_000;
    let vs = VarStore::new(Device::Cpu);
    for stage in 0..3 {
        let beam = (stage > 0).then(|| kept(stage, 3));
        let mut s = RandomSearch::new();
        s.begin_stage(stage, &vs).unwrap();
        let mut rng = StdRng::seed_from_u64(17 + stage as u64);
        // Half through the reward-phase proposals, half through shared training's.
        let mut archs = s.propose(n / 2, beam.as_ref(), &mut rng).unwrap();
        for _ in 0..n / 2 {
            archs.push(s.propose_for_training(beam.as_ref(), &mut rng).unwrap());
        }
        let start = prefix_len(stage);
        for (d, &size) in decision_sizes(stage).iter().enumerate() {
            let mut counts = vec![0u64; size as usize];
            for a in &archs {
                assert_eq!(a.len(), start + decision_sizes(stage).len());
                counts[a[start + d] as usize] += 1;
            }
            let chi = chi_square(&counts);
            assert!(
                chi < chi_square_999(size as usize - 1),
                "stage {stage} decision {d}: counts {counts:?}, chi-square {chi:.2}"
            );
        }
        if let Some(b) = &beam {
            let mut counts = vec![0u64; b.len()];
            for a in &archs {
                let i = b.entries.iter().position(|e| a[..start] == e.prefix[..]);
                counts[i.expect("every arch extends a kept prefix")] += 1;
            }
            let chi = chi_square(&counts);
            assert!(
                chi < chi_square_999(b.len() - 1),
                "kept prefixes {counts:?}"
            );
        }
    }
}

#[test]
fn evolution_mutation_changes_exactly_one_decision_to_another_value() {
    let mut rng = StdRng::seed_from_u64(5);
    for stage in 0..3 {
        let sizes = decision_sizes(stage);
        let start = prefix_len(stage);
        let mut hit = std::collections::HashSet::new();
        for _ in 0..3000 {
            let mut arch: Vec<i64> = (0..start).map(|_| rng.gen_range(0..2)).collect();
            arch.extend(sizes.iter().map(|&n| rng.gen_range(0..n)));
            let child = mutate(&arch, stage, &mut rng);
            assert_eq!(child.len(), arch.len());
            let diff: Vec<usize> = (0..arch.len()).filter(|&i| arch[i] != child[i]).collect();
            assert_eq!(diff.len(), 1, "{arch:?} -> {child:?}");
            let i = diff[0];
            assert!(
                i >= start,
                "the kept prefix must not change: {arch:?} -> {child:?}"
            );
            assert!((0..sizes[i - start]).contains(&child[i]));
            hit.insert((i - start, arch[i], child[i]));
        }
        // Every (decision, old value, new value) pair with old != new can happen.
        let pairs: usize = sizes.iter().map(|&n| (n * (n - 1)) as usize).sum();
        assert_eq!(hit.len(), pairs, "stage {stage}");
    }
}

#[test]
fn evolution_aging_removes_the_oldest_not_the_worst() {
    let mut e = Evolution::new(3, 2).unwrap();
    // The first member is the best; aging removes it anyway once a fourth arrives.
    for (i, score) in [9.0, 1.0, 2.0, 3.0, 0.5].into_iter().enumerate() {
        e.add(vec![i as i64, 0, 0, 0], score);
    }
    let ages: Vec<i64> = e.population.iter().map(|o| o.arch[0]).collect();
    assert_eq!(ages, vec![2, 3, 4]);
    assert_eq!(
        e.seen.len(),
        5,
        "the stage's history keeps every scored arch"
    );
}

#[test]
fn evolution_tournament_picks_the_best_of_its_sample() {
    let pop: Vec<Observed> = [0.3, 2.0, -1.0, 2.0, 0.9, 5.0, 0.0, 1.5]
        .into_iter()
        .enumerate()
        .map(|(i, score)| Observed {
            arch: vec![i as i64],
            score,
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(11);
    let mut winners = std::collections::HashSet::new();
    for _ in 0..500 {
        let (drawn, best) = tournament(&pop, 3, &mut rng);
        assert_eq!(drawn.len(), 3);
        assert!(drawn.contains(&best));
        let max = drawn.iter().map(|&i| pop[i].score).fold(f64::MIN, f64::max);
        assert_eq!(pop[best].score, max, "drawn {drawn:?}, winner {best}");
        // Equal scores: the earliest drawn wins.
        let first = drawn.iter().find(|&&i| pop[i].score == max).unwrap();
        assert_eq!(best, *first);
        winners.insert(best);
    }
    assert!(
        winners.len() > 3,
        "the sample must vary: winners {winners:?}"
    );
}

#[test]
fn evolution_fills_its_population_then_proposes_mutated_tournament_winners() {
    let vs = VarStore::new(Device::Cpu);
    let mut e = Evolution::new(4, 2).unwrap();
    e.begin_stage(0, &vs).unwrap();
    let mut rng = StdRng::seed_from_u64(3);
    let first = e.propose(4, None, &mut rng).unwrap();
    let scores = [1.0, 2.0, 3.0, 4.0];
    e.observe(&first, &scores).unwrap();
    assert_eq!(e.population.len(), 4);
    for _ in 0..20 {
        let children = e.propose(2, None, &mut rng).unwrap();
        for c in &children {
            let parent = e
                .population
                .iter()
                .any(|m| m.arch.iter().zip(c).filter(|(a, b)| a != b).count() == 1);
            assert!(parent, "{c:?} is one mutation away from no member");
        }
        e.observe(&children, &[0.5, 0.5]).unwrap();
        assert_eq!(e.population.len(), 4);
    }
    // A NaN reward is refused rather than silently ranked.
    let c = e.propose(1, None, &mut rng).unwrap();
    assert!(e.observe(&c, &[f64::NAN]).is_err());
}

/// Iterations 1-3, a checkpoint, a fresh load, iteration 4: bit for bit the same losses,
/// reward-phase archs and scores, kept prefixes and top-K as an uninterrupted search. Several
/// G steps per iteration, so that parameters of paths trained before the checkpoint and not
/// since must be stepped by Adam as in the uninterrupted run.
fn assert_resumes_exactly(strategy: StrategyKind) {
    let _turn = lock();
    tch::set_num_threads(1);
    let cfg = SearchConfig {
        max_shared_steps: Some(30),
        ..tiny_config(strategy)
    };
    let full = data(&cfg);
    let scorer = ProjectionScorer::new(78.233);
    let mut a = Search::new(cfg.clone(), 9, Device::Cpu).unwrap();
    let la = run(&mut a, &full, 4, &scorer);

    let mut b = Search::new(cfg, 9, Device::Cpu).unwrap();
    let mut lb = run(&mut b, &full, 3, &scorer);
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("search-resume-{strategy}"));
    std::fs::create_dir_all(&dir).unwrap();
    let ckpt = dir.join("last.safetensors");
    b.save_checkpoint(&ckpt).unwrap();
    let beam_b = b.beam.as_ref().map(|x| x.to_json());
    drop(b);
    let mut c = Search::load_checkpoint(&ckpt, Device::Cpu).unwrap();
    assert_eq!(c.strategy.kind(), strategy);
    assert_eq!(c.beam.as_ref().map(|x| x.to_json()), beam_b);
    lb.extend(run(&mut c, &full, 4, &scorer));
    assert_eq!(la.len(), lb.len());
    for (x, y) in la.iter().zip(&lb) {
        assert_eq!(
            (x.d_loss.to_bits(), x.g_loss.to_bits()),
            (y.d_loss.to_bits(), y.g_loss.to_bits()),
            "iteration {}",
            x.iteration
        );
        assert_eq!(x.ctrl, y.ctrl, "iteration {}", x.iteration);
    }
    let top = |s: &Search| -> Vec<(Vec<i64>, u64)> {
        s.final_topk
            .iter()
            .map(|t| (t.vector.clone(), t.score.to_bits()))
            .collect()
    };
    assert_eq!(top(&a), top(&c));
    assert!(!top(&a).is_empty());
}

#[test]
fn evolution_search_resumes_exactly_from_a_checkpoint() {
    assert_resumes_exactly(StrategyKind::Evolution);
}

#[test]
fn random_search_resumes_exactly_from_a_checkpoint() {
    assert_resumes_exactly(StrategyKind::Random);
}

/// SAC: the replay buffer, the networks, both optimisers and the episodes' records come back
/// from the checkpoint (episodes 1-3, a checkpoint, episode 4 with updates on the buffer).
#[test]
fn sac_search_resumes_exactly_from_a_checkpoint() {
    assert_resumes_exactly(StrategyKind::Sac);
}

#[test]
fn every_strategy_ends_with_distinct_complete_top_k() {
    let _turn = lock();
    tch::set_num_threads(1);
    for strategy in [StrategyKind::Random, StrategyKind::Evolution] {
        let cfg = tiny_config(strategy);
        let full = data(&cfg);
        let mut s = Search::new(cfg.clone(), 2, Device::Cpu).unwrap();
        let reps = run(&mut s, &full, 4, &ProjectionScorer::new(78.233));
        // The same reward budget as REINFORCE: ctrl_steps x ctrl_sample_batch per iteration.
        for r in &reps {
            assert_eq!(r.ctrl.len() as u64, cfg.ctrl_steps);
            for l in &r.ctrl {
                assert_eq!(l["archs"].as_array().unwrap().len(), 2);
                assert_eq!(l["strategy"], strategy.name());
            }
        }
        assert!(!s.final_topk.is_empty() && s.final_topk.len() <= cfg.topk);
        let mut seen = std::collections::HashSet::new();
        for t in &s.final_topk {
            let arch = autogan::arch::Arch::from_vector(&t.vector).unwrap();
            assert!(arch.is_complete());
            assert!(seen.insert(t.vector.clone()));
        }
        assert!(s.final_topk.windows(2).all(|w| w[0].score >= w[1].score));
        // Later stages extend the prefixes kept at the last stage change.
        let beam = s.beam.as_ref().unwrap();
        for t in &s.final_topk {
            assert!(beam.entries.iter().any(|e| t.vector.starts_with(&e.prefix)));
        }
    }
}

#[test]
fn losses_are_read_in_batches_without_changing_any_number() {
    let _turn = lock();
    tch::set_num_threads(1);
    let base = SearchConfig {
        max_shared_steps: Some(45),
        iterations: 3,
        ..tiny_config(StrategyKind::Reinforce)
    };
    let full = data(&base);
    let scorer = ProjectionScorer::new(78.233);
    let mut out = Vec::new();
    for every in [1, 20] {
        let cfg = SearchConfig {
            loss_read_every: every,
            ..base.clone()
        };
        let mut s = Search::new(cfg, 4, Device::Cpu).unwrap();
        assert_eq!(s.ctrl_vs.device(), Device::Cpu);
        let d = full.resized(base.stage_size(0));
        let r = s.run_iteration(&d, &scorer, &mut |_, _| {}).unwrap();
        assert!(!r.reset);
        assert_eq!(r.d_steps, 45);
        // 45 D steps: reads after steps 20, 40 and 45; one per step when every = 1.
        assert_eq!(r.loss_reads, if every == 1 { 45 } else { 3 });
        out.push((r.d_loss.to_bits(), r.g_loss.to_bits(), r.ctrl.clone()));
        let (g, d) = s.gan.reset.windows();
        out.push((g.len() as u64, d.len() as u64, Vec::new()));
    }
    assert_eq!(out[0], out[2], "the last losses and the reward phase");
    assert_eq!(out[1], out[3], "the reset windows");
}

#[test]
fn reinforce_search_resumes_exactly_from_a_checkpoint() {
    assert_resumes_exactly(StrategyKind::Reinforce);
}

/// Random search that counts the shared-training architectures it is asked for.
struct Counting {
    inner: RandomSearch,
    for_training: std::rc::Rc<std::cell::Cell<u64>>,
}

impl Strategy for Counting {
    fn kind(&self) -> StrategyKind {
        self.inner.kind()
    }
    fn begin_stage(&mut self, stage: usize, vars: &VarStore) -> anyhow::Result<()> {
        self.inner.begin_stage(stage, vars)
    }
    fn propose_for_training(
        &mut self,
        kept: Option<&Beam>,
        rng: &mut StdRng,
    ) -> anyhow::Result<Vec<i64>> {
        self.for_training.set(self.for_training.get() + 1);
        self.inner.propose_for_training(kept, rng)
    }
    fn propose(
        &mut self,
        n: usize,
        kept: Option<&Beam>,
        rng: &mut StdRng,
    ) -> anyhow::Result<Vec<Vec<i64>>> {
        self.inner.propose(n, kept, rng)
    }
    fn observe(
        &mut self,
        archs: &[Vec<i64>],
        scores: &[f64],
    ) -> anyhow::Result<autogan::search::strategy::Observation> {
        self.inner.observe(archs, scores)
    }
    fn candidates(
        &mut self,
        n: usize,
        kept: Option<&Beam>,
        rng: &mut StdRng,
    ) -> anyhow::Result<Vec<BeamEntry>> {
        self.inner.candidates(n, kept, rng)
    }
    fn save(&self, vars: &VarStore) -> anyhow::Result<autogan::search::strategy::Saved> {
        self.inner.save(vars)
    }
    fn load(
        &mut self,
        vars: &VarStore,
        tensors: &std::collections::HashMap<String, Tensor>,
        state: &serde_json::Value,
    ) -> anyhow::Result<()> {
        self.inner.load(vars, tensors, state)
    }
}

#[test]
fn shared_uniform_takes_that_share_of_shared_training_from_uniform_draws() {
    let _turn = lock();
    tch::set_num_threads(1);
    let full = data(&tiny_config(StrategyKind::Random));
    let scorer = ProjectionScorer::new(78.233);
    for (share, lo, hi) in [(0.0, 40, 40), (0.5, 8, 32), (1.0, 0, 0)] {
        let cfg = SearchConfig {
            max_shared_steps: Some(40),
            iterations: 3,
            shared_uniform: share,
            ..tiny_config(StrategyKind::Random)
        };
        let mut s = Search::new(cfg.clone(), 4, Device::Cpu).unwrap();
        let asked = std::rc::Rc::new(std::cell::Cell::new(0));
        s.strategy = Box::new(Counting {
            inner: RandomSearch::new(),
            for_training: asked.clone(),
        });
        let d = full.resized(cfg.stage_size(0));
        let r = s.run_iteration(&d, &scorer, &mut |_, _| {}).unwrap();
        assert_eq!(r.d_steps, 40);
        let n = asked.get();
        assert!(
            (lo..=hi).contains(&n),
            "shared_uniform {share}: the strategy proposed {n} of 40 shared-training architectures"
        );
    }
}

#[test]
fn distinct_candidates_draws_past_duplicates() {
    let _turn = lock();
    use autogan::search::strategy::reinforce::ReinforceBeam;
    // A fresh stage-0 controller is near uniform over the 36 cells: 8 draws repeat one about
    // half the time.
    let mut repeated = 0;
    for distinct in [false, true] {
        let cfg = SearchConfig {
            distinct_candidates: distinct,
            ..SearchConfig::default()
        };
        for seed in 0..12 {
            tch::manual_seed(seed);
            let vs = VarStore::new(Device::Cpu);
            let mut r = ReinforceBeam::new(&cfg, &vs);
            let mut rng = StdRng::seed_from_u64(seed as u64);
            let c = r.candidates(8, None, &mut rng).unwrap();
            assert_eq!(c.len(), 8);
            let set: std::collections::HashSet<_> = c.iter().map(|e| e.prefix.clone()).collect();
            if distinct {
                assert_eq!(set.len(), 8, "seed {seed}: {:?}", set);
            } else if set.len() < 8 {
                repeated += 1;
            }
        }
    }
    assert!(
        repeated > 0,
        "the paper's draws never repeated: the test shows nothing"
    );
}

#[test]
fn reward_fid_subtracts_the_fid_against_the_real_data_at_the_stage_size() {
    use autogan::arch::Arch;
    use autogan::metrics::stats::frechet_distance;
    use autogan::metrics::Accumulator;
    let _turn = lock();
    tch::set_num_threads(1);
    let base = SearchConfig {
        iterations: 3,
        ..tiny_config(StrategyKind::Random)
    };
    let full = data(&base);
    let scorer = ProjectionScorer::new(78.233);
    let with = SearchConfig {
        reward_fid: 0.5,
        ..base.clone()
    };
    let d0 = full.resized(base.stage_size(0));
    let a = Arch::from_prefix_vector(&[0, 1, 2, 1]).unwrap();

    let mut s = Search::new(with.clone(), 4, Device::Cpu).unwrap();
    let e = s.reward_parts(&a, &scorer, 40).unwrap_err().to_string();
    assert!(e.contains("stage 0"), "{e}");
    s.prepare_reward_ref(0, &d0, &scorer).unwrap();
    tch::manual_seed(3);
    let p = s.reward_parts(&a, &scorer, 40).unwrap();
    tch::manual_seed(3);
    let r = s.score_arch_with(&a, &scorer, 40).unwrap();
    let fid = p.fid.expect("an FID with reward_fid > 0");
    assert!(fid > 0.0 && fid.is_finite(), "FID {fid}");
    assert_eq!(r, p.is - 0.5 * fid);
    // The same supernet without the FID term scores the same IS.
    let plain = Search::new(base.clone(), 4, Device::Cpu).unwrap();
    tch::manual_seed(3);
    let q = plain.reward_parts(&a, &scorer, 40).unwrap();
    assert_eq!(q.is, p.is);
    assert!(q.fid.is_none());

    // The reference is the statistics of the stage's real images (all 200 of them here): the
    // same images are at distance 0 from it, a part of them is not.
    let (stage, reference) = s.reward_ref().unwrap();
    assert_eq!(stage, 0);
    let fid_of = |imgs: &Tensor| {
        let mut acc = Accumulator::new(false, true);
        acc.add_images(&scorer, imgs).unwrap();
        frechet_distance(&acc.stats().unwrap(), reference).unwrap()
    };
    let all = fid_of(&d0.images);
    let part = fid_of(&d0.images.narrow(0, 0, 50));
    assert!(all.abs() < 1e-6 && part > 1e-3, "all {all}, part {part}");

    // In a search the reward phase's scores drop by the FID term.
    let mut scores = Vec::new();
    for cfg in [base, with] {
        let mut s = Search::new(cfg.clone(), 4, Device::Cpu).unwrap();
        let r = s.run_iteration(&d0, &scorer, &mut |_, _| {}).unwrap();
        scores.push(r.ctrl[0].clone());
    }
    assert_eq!(scores[0]["archs"], scores[1]["archs"]);
    let (a0, a1) = (
        scores[0]["scores"].as_array().unwrap(),
        scores[1]["scores"].as_array().unwrap(),
    );
    for (x, y) in a0.iter().zip(a1) {
        assert!(y.as_f64().unwrap() < x.as_f64().unwrap(), "{x} -> {y}");
    }
}
