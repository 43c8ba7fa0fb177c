//! The search's policy side on its own: controller sampling and scoring, REINFORCE towards a
//! known cell, the persistent baseline, controller checkpoints, the beam, dynamic reset.
//! Tiny and seeded; the tests that use libtorch's global generator hold one lock so their
//! numbers do not depend on the order the harness runs them in.
use autogan::arch::prefix_len;
use autogan::search::beam::{Beam, BeamEntry};
use autogan::search::controller::Controller;
use autogan::search::reinforce::{
    Reinforce, DEFAULT_BETAS, DEFAULT_DECAY, DEFAULT_ENTROPY_COEFF, DEFAULT_LR,
};
use autogan::search::reset::{Mode, Reset};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::Mutex;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

static TORCH_RNG: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

fn controller(stage: usize, seed: i64) -> (VarStore, Controller) {
    tch::manual_seed(seed);
    let vs = VarStore::new(Device::Cpu);
    let c = Controller::new(&vs.root(), stage, 100);
    (vs, c)
}

/// A beam of `k` made-up prefixes for `stage` with random, distinct LSTM states.
fn fake_beam(stage: usize, k: usize, hid: i64) -> Beam {
    let len = prefix_len(stage);
    let entries = (0..k)
        .map(|i| {
            let prefix: Vec<i64> = (0..len).map(|j| ((i + j) % 2) as i64).collect();
            let h = Tensor::randn([hid], (Kind::Float, Device::Cpu)).tanh() * 0.5;
            let c = Tensor::randn([hid], (Kind::Float, Device::Cpu));
            BeamEntry::new(prefix, &h, &c, i as f64)
        })
        .collect();
    Beam { entries }
}

fn to_vec_f64(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.detach().to_kind(Kind::Double).flatten(0, -1)).unwrap()
}

fn close(a: &Tensor, b: &Tensor, tol: f64) -> bool {
    a.size() == b.size()
        && (a.to_kind(Kind::Double) - b.to_kind(Kind::Double))
            .abs()
            .max()
            .double_value(&[])
            <= tol
}

/// Probability of `target` (one cell) under the controller, averaged over the beam entries
/// that can start it (exact product of per-decision probabilities).
fn target_prob(c: &Controller, target: &[i64], beam: Option<&Beam>) -> f64 {
    tch::no_grad(|| {
        let (n, init) = match beam {
            None => (1, None),
            Some(b) => {
                let idx: Vec<usize> = (0..b.len()).collect();
                (b.len() as i64, Some(b.init_state(&idx, Device::Cpu)))
            }
        };
        let tokens = Tensor::from_slice(target).view([1, -1]).repeat([n, 1]);
        c.prob_of(&tokens, init.as_ref())
            .unwrap()
            .mean(Kind::Float)
            .double_value(&[])
    })
}

/// Train towards `target` with a synthetic score (fraction of matching tokens, +1 for the
/// exact cell); the number of controller steps until p(target) > 0.9, or None. With the
/// default settings (lr 3.5e-4, batch 8) this takes a few hundred steps (382 at stage 0, 174
/// at stage 2 with libtorch 2.11 on CPU); the bound leaves room for other generators.
fn steps_to_target(
    stage: usize,
    target: &[i64],
    beam: Option<&Beam>,
    lr: f64,
    batch: i64,
    max: usize,
) -> Option<usize> {
    let (vs, c) = controller(stage, 7);
    let mut rl = Reinforce::with(&vs, lr, DEFAULT_BETAS, DEFAULT_DECAY, DEFAULT_ENTROPY_COEFF);
    let mut rng = StdRng::seed_from_u64(11);
    for step in 1..=max {
        let draw = c.draw(batch, beam, &mut rng).unwrap();
        let tokens = draw.sample.token_rows();
        let scores: Vec<f64> = tokens
            .iter()
            .map(|t| {
                let hits = t.iter().zip(target).filter(|(a, b)| a == b).count();
                hits as f64 / target.len() as f64 + if t.as_slice() == target { 1.0 } else { 0.0 }
            })
            .collect();
        let stats = rl.step(&draw.sample, &scores).unwrap();
        assert!(stats.loss.is_finite() && stats.entropy.is_finite());
        let p = target_prob(&c, target, beam);
        if p > 0.9 {
            return Some(step);
        }
    }
    None
}

/// `steps_to_target`'s synthetic score with advantage normalisation on or off: p(target)
/// after `steps` controller steps of `batch` at `lr`.
fn prob_after(stage: usize, target: &[i64], lr: f64, batch: i64, norm: bool, steps: usize) -> f64 {
    let (vs, c) = controller(stage, 7);
    let mut rl = Reinforce::with(&vs, lr, DEFAULT_BETAS, DEFAULT_DECAY, DEFAULT_ENTROPY_COEFF);
    rl.adv_norm = norm;
    let mut rng = StdRng::seed_from_u64(11);
    for _ in 0..steps {
        let draw = c.draw(batch, None, &mut rng).unwrap();
        let scores: Vec<f64> = draw
            .sample
            .token_rows()
            .iter()
            .map(|t| {
                let hits = t.iter().zip(target).filter(|(a, b)| a == b).count();
                hits as f64 / target.len() as f64 + if t.as_slice() == target { 1.0 } else { 0.0 }
            })
            .collect();
        rl.step(&draw.sample, &scores).unwrap();
    }
    target_prob(&c, target, None)
}

#[test]
fn reinforce_normalises_advantages_within_a_batch() {
    let _g = lock();
    tch::manual_seed(5);
    let (vs, c) = controller(0, 7);
    let mut rl = Reinforce::new(&vs);
    rl.adv_norm = true;
    rl.entropy_coeff = 0.0;
    let mut rng = StdRng::seed_from_u64(3);
    let draw = c.draw(4, None, &mut rng).unwrap();
    let lp = Vec::<f64>::try_from(draw.sample.log_prob.detach().to_kind(Kind::Double)).unwrap();
    let scores = [1.0, 2.0, 4.0, 9.0];
    // Mean 4, sample standard deviation sqrt(38 / 3).
    let sd = (38.0f64 / 3.0).sqrt();
    let want = -lp
        .iter()
        .zip(&scores)
        .map(|(l, s)| l * (s - 4.0) / sd)
        .sum::<f64>()
        / 4.0;
    let st = rl.step(&draw.sample, &scores).unwrap();
    assert!(
        (st.loss - want).abs() < 1e-5,
        "loss {} want {want}",
        st.loss
    );
    assert!(
        st.advantage.abs() < 1e-6,
        "normalised advantages have mean 0"
    );
    // Equal rewards: no advantage, no push.
    let draw = c.draw(3, None, &mut rng).unwrap();
    let st = rl.step(&draw.sample, &[2.0, 2.0, 2.0]).unwrap();
    assert_eq!(st.loss, 0.0);
}

#[test]
fn the_quick_presets_controller_learns_within_a_stage() {
    let _g = lock();
    let preset: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/configs/quick.json"))
            .unwrap(),
    )
    .unwrap();
    let s = &preset["search"];
    let steps =
        (s["ctrl_steps"].as_u64().unwrap() * s["stage_changes"][0].as_u64().unwrap()) as usize;
    let (lr, batch) = (
        s["ctrl_lr"].as_f64().unwrap(),
        s["ctrl_sample_batch"].as_i64().unwrap(),
    );
    let norm = s["ctrl_adv_norm"].as_bool().unwrap();
    let target = [1, 0, 1, 1];
    tch::manual_seed(9);
    let quick = prob_after(0, &target, lr, batch, norm, steps);
    tch::manual_seed(9);
    let paper = prob_after(0, &target, DEFAULT_LR, 2, false, steps);
    println!(
        "p(target) after {steps} updates: quick preset (lr {lr}, batch {batch}, normalised \
         {norm}) {quick:.3}; paper's lr, batch 2 {paper:.3}; uniform {:.3}",
        1.0 / 36.0
    );
    assert!(
        quick > 0.3,
        "the quick preset's controller budget should move the policy towards the best cell \
         within one stage (p {quick:.3})"
    );
    assert!(paper < quick / 3.0, "paper {paper:.3}, quick {quick:.3}");
}

#[test]
fn reinforce_finds_a_known_cell_at_stage_0() {
    let _g = lock();
    // arch "a", cell 1
    let target = [1, 0, 1, 1];
    let steps = steps_to_target(0, &target, None, DEFAULT_LR, 8, 1000);
    println!(
        "stage 0: p(target) > 0.9 after {steps:?} controller steps (batch 8, lr {DEFAULT_LR})"
    );
    assert!(
        steps.is_some(),
        "stage 0 controller did not reach p > 0.9 in 1000 steps"
    );
}

#[test]
fn reinforce_finds_a_known_cell_at_stage_2_from_beam_states() {
    let _g = lock();
    tch::manual_seed(3);
    let beam = fake_beam(2, 3, 100);
    // arch "a", cell 3
    let target = [1, 0, 1, 0, 3];
    let steps = steps_to_target(2, &target, Some(&beam), DEFAULT_LR, 8, 1000);
    println!(
        "stage 2: p(target) > 0.9 after {steps:?} controller steps (batch 8, lr {DEFAULT_LR})"
    );
    assert!(
        steps.is_some(),
        "stage 2 controller did not reach p > 0.9 in 1000 steps"
    );
}

#[test]
fn sampling_any_batch_is_in_range_and_rescored_exactly() {
    let _g = lock();
    for stage in 0..3 {
        let (_vs, c) = controller(stage, 1 + stage as i64);
        // stage s decides cell s + 1
        let sizes: Vec<i64> = autogan::arch::decision_sizes(stage + 1)
            .into_iter()
            .map(|n| n as i64)
            .collect();
        assert_eq!(c.num_decisions(), sizes.len());
        let beam = fake_beam(stage, 4, 100);
        let mut rng = StdRng::seed_from_u64(5);
        for batch in [1i64, 3, 64] {
            let draw = c
                .draw(batch, (stage > 0).then_some(&beam), &mut rng)
                .unwrap();
            let s = &draw.sample;
            assert_eq!(s.tokens.size(), [batch, sizes.len() as i64]);
            assert_eq!(s.tokens.kind(), Kind::Int64);
            for row in s.token_rows() {
                for (t, n) in row.iter().zip(&sizes) {
                    assert!(
                        (0..*n).contains(t),
                        "stage {stage}: token {t} out of 0..{n}"
                    );
                }
            }
            let lp = to_vec_f64(&s.log_prob);
            let ent = to_vec_f64(&s.entropy);
            let max_ent: f64 = sizes.iter().map(|&n| (n as f64).ln()).sum();
            assert_eq!(lp.len(), batch as usize);
            assert!(lp.iter().all(|x| x.is_finite() && *x <= 0.0));
            assert!(ent
                .iter()
                .all(|x| x.is_finite() && *x >= 0.0 && *x <= max_ent + 1e-5));
            assert!(s.log_prob.requires_grad() && s.entropy.requires_grad());
            assert_eq!(s.state.0.size(), [batch, 100]);
            assert_eq!(s.state.1.size(), [batch, 100]);
            // rescoring the sampled tokens from the same initial states gives the same numbers
            let init = (stage > 0).then(|| beam.init_state(&draw.beam_index, Device::Cpu));
            let again = c.score(&s.tokens, init.as_ref()).unwrap();
            assert!(close(&again.log_prob, &s.log_prob, 1e-5));
            assert!(close(
                &c.log_prob_of(&s.tokens, init.as_ref()).unwrap(),
                &s.log_prob,
                1e-5
            ));
            assert!(close(&again.entropy, &s.entropy, 1e-5));
            assert!(
                close(&again.state.0, &s.state.0, 1e-6) && close(&again.state.1, &s.state.1, 1e-6)
            );
            // the full vectors are the chosen prefix followed by the tokens
            assert_eq!(draw.archs.len(), batch as usize);
            for (i, (arch, row)) in draw.archs.iter().zip(s.token_rows()).enumerate() {
                assert_eq!(arch.len(), prefix_len(stage) + sizes.len());
                assert_eq!(&arch[prefix_len(stage)..], row.as_slice());
                if stage > 0 {
                    assert_eq!(
                        &arch[..prefix_len(stage)],
                        beam.entries[draw.beam_index[i]].prefix.as_slice()
                    );
                }
            }
        }
        // the per-decision distributions sum to one, and log_prob_of rejects bad tokens
        let toks = c
            .sample(
                2,
                (stage > 0)
                    .then(|| beam.init_state(&[0, 1], Device::Cpu))
                    .as_ref(),
            )
            .tokens;
        let init = (stage > 0).then(|| beam.init_state(&[0, 1], Device::Cpu));
        for (p, n) in c
            .probabilities(&toks, init.as_ref())
            .unwrap()
            .iter()
            .zip(&sizes)
        {
            assert_eq!(p.size(), [2, *n]);
            assert!(close(
                &p.sum_dim_intlist(1, false, Kind::Float),
                &Tensor::ones([2], (Kind::Float, Device::Cpu)),
                1e-5
            ));
        }
        let bad = Tensor::from_slice(&vec![9i64; sizes.len()]).view([1, -1]);
        assert!(c.log_prob_of(&bad, None).is_err());
    }
}

#[test]
fn probabilities_of_all_stage0_cells_sum_to_one() {
    let _g = lock();
    let (_vs, c) = controller(0, 21);
    let mut all = Vec::new();
    for a in 0..2i64 {
        for b in 0..3i64 {
            for u in 0..3i64 {
                for s in 0..2i64 {
                    all.extend([a, b, u, s]);
                }
            }
        }
    }
    let tokens = Tensor::from_slice(&all).view([36, 4]);
    let total = tch::no_grad(|| {
        c.prob_of(&tokens, None)
            .unwrap()
            .sum(Kind::Double)
            .double_value(&[])
    });
    assert!(
        (total - 1.0).abs() < 1e-5,
        "sum of p over the 36 cells is {total}"
    );
}

#[test]
fn stage_1_and_2_need_a_matching_beam() {
    let _g = lock();
    let (_vs, c) = controller(1, 2);
    let mut rng = StdRng::seed_from_u64(0);
    assert!(c.draw(2, None, &mut rng).is_err());
    assert!(
        c.draw(2, Some(&fake_beam(2, 2, 100)), &mut rng).is_err(),
        "prefix of 9 given to stage 1"
    );
    assert!(c.draw(2, Some(&fake_beam(1, 2, 100)), &mut rng).is_ok());
}

#[test]
fn beam_keeps_topk_distinct_prefixes_with_their_own_states() {
    let _g = lock();
    tch::manual_seed(4);
    let n = 10;
    let state = (
        Tensor::randn([n, 100], (Kind::Float, Device::Cpu)),
        Tensor::randn([n, 100], (Kind::Float, Device::Cpu)),
    );
    // duplicates: candidate 3 repeats candidate 0 with a better score, 7 repeats 1 with a worse
    let mut prefixes: Vec<Vec<i64>> = (0..n)
        .map(|i| vec![i / 6, i % 3, (i / 3) % 3, i % 2])
        .collect();
    prefixes[3] = prefixes[0].clone();
    prefixes[7] = prefixes[1].clone();
    let scores = vec![1.0, 6.0, 2.0, 9.0, 3.0, 7.0, 0.5, 4.0, 8.0, 5.0];
    let beam = Beam::from_candidates(&prefixes, &state, &scores, 5).unwrap();
    assert_eq!(beam.len(), 5);
    let kept: Vec<f64> = beam.entries.iter().map(|e| e.score).collect();
    assert_eq!(kept, vec![9.0, 8.0, 7.0, 6.0, 5.0]);
    let from: Vec<usize> = vec![3, 8, 5, 1, 9];
    for (e, &i) in beam.entries.iter().zip(&from) {
        assert_eq!(e.prefix, prefixes[i]);
        assert!(
            close(&e.h, &state.0.get(i as i64), 0.0) && close(&e.c, &state.1.get(i as i64), 0.0)
        );
    }
    for a in 0..5 {
        for b in a + 1..5 {
            assert_ne!(beam.entries[a].prefix, beam.entries[b].prefix);
            assert!(!close(&beam.entries[a].h, &beam.entries[b].h, 1e-7));
        }
    }
    // the duplicate with the worse score (7, score 4) lost to 1 (score 6); the better one won
    assert!(!beam
        .entries
        .iter()
        .any(|e| e.score == 1.0 || e.score == 4.0));

    // asking for more than there are distinct prefixes keeps them all
    assert_eq!(
        Beam::from_candidates(&prefixes, &state, &scores, 100)
            .unwrap()
            .len(),
        8
    );

    // seeded, uniform choice
    let pick = |seed| beam.choose(1000, &mut StdRng::seed_from_u64(seed));
    assert_eq!(pick(1), pick(1));
    let mut counts = [0usize; 5];
    for i in pick(2) {
        counts[i] += 1;
    }
    assert!(counts.iter().all(|&k| k > 120 && k < 280), "{counts:?}");

    // initial states are the entries' own
    let (h, c0) = beam.init_state(&[4, 0, 4], Device::Cpu);
    assert!(close(&h.get(0), &beam.entries[4].h, 0.0) && close(&h.get(1), &beam.entries[0].h, 0.0));
    assert!(close(&c0.get(2), &beam.entries[4].c, 0.0));

    // round trip through named tensors
    let map: HashMap<String, Tensor> = beam.tensors("beam").into_iter().collect();
    let back = Beam::from_tensors(&map, "beam").unwrap();
    assert_eq!(back.len(), 5);
    for (a, b) in back.entries.iter().zip(&beam.entries) {
        assert_eq!(a.prefix, b.prefix);
        assert_eq!(a.score, b.score);
        assert!(close(&a.h, &b.h, 0.0) && close(&a.c, &b.c, 0.0));
    }
    assert_eq!(back.to_json(), beam.to_json());
    assert!(Beam::from_tensors(&HashMap::new(), "beam")
        .unwrap()
        .is_empty());
}

#[test]
fn dynamic_reset_fires_on_flat_windows_only() {
    let mut rng = StdRng::seed_from_u64(9);
    let w = 50;
    // flat: tiny jitter around a constant
    let mut r = Reset::new(w, 1e-3, Mode::Variance);
    for i in 0..w {
        assert!(
            !r.should_reset(),
            "fired before the windows were full ({i} losses)"
        );
        r.push(0.7 + 1e-4 * rng.gen::<f64>(), 1.3 + 1e-4 * rng.gen::<f64>());
    }
    assert!(r.is_full() && r.should_reset());
    r.clear();
    assert!(!r.should_reset() && r.is_empty());

    // normal training: noisy losses do not fire, even long after the windows fill
    let mut r = Reset::new(w, 1e-3, Mode::Variance);
    for _ in 0..3 * w {
        r.push(rng.gen_range(-1.0..1.0), 1.0 + rng.gen_range(-0.5..0.5));
        assert!(!r.should_reset());
    }
    // ...until one of them flattens for a whole window (either one suffices)
    for i in 0..w {
        assert!(!r.should_reset(), "fired after {i} flat D losses");
        r.push(rng.gen_range(-1.0..1.0), 1.0);
    }
    assert!(r.should_reset());
    // and a noisy window afterwards slides the flat one out again
    for _ in 0..w {
        r.push(rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0));
    }
    assert!(!r.should_reset());

    // G losses come once per n_critic D steps: the D window alone being full is not enough
    let mut r = Reset::new(w, 1e-3, Mode::Variance);
    for i in 0..w {
        r.push_d(0.5);
        if i % 5 == 0 {
            r.push_g(0.5);
        }
    }
    assert_eq!(r.len(), (10, w));
    assert!(!r.should_reset());
    for _ in 0..40 {
        r.push_g(0.5);
    }
    assert!(r.should_reset());
}

#[test]
fn dynamic_reset_variance_and_std_thresholds() {
    // alternating +-0.01: unbiased variance 1e-4 * n / (n - 1), std about 0.01
    let w = 100;
    let fill = |mode, thr| {
        let mut r = Reset::new(w, thr, mode);
        for i in 0..w {
            let x = if i % 2 == 0 { 0.01 } else { -0.01 };
            r.push(x, 2.0 * x);
        }
        r
    };
    let v = 1e-4 * w as f64 / (w - 1) as f64;
    let r = fill(Mode::Variance, 1e-3);
    assert!((r.spread().0 - v).abs() < 1e-12 && (r.spread().1 - 4.0 * v).abs() < 1e-12);
    assert!(r.should_reset(), "variance 1e-4 < 1e-3");
    assert!(
        !fill(Mode::Variance, 5e-5).should_reset(),
        "variance 1e-4 > 5e-5"
    );
    let r = fill(Mode::Std, 1e-3);
    assert!((r.spread().0 - v.sqrt()).abs() < 1e-12);
    assert!(!r.should_reset(), "std 0.01 > 1e-3");
    assert!(fill(Mode::Std, 0.011).should_reset(), "std 0.01 < 0.011");
    assert!(
        !fill(Mode::Std, 0.009).should_reset(),
        "std of G 0.01 and of D 0.02 > 0.009"
    );
    let d = Reset::default();
    assert_eq!((d.window, d.threshold, d.mode), (500, 1e-3, Mode::Variance));
}

#[test]
fn baseline_carries_across_controller_calls() {
    let _g = lock();
    let (vs, c) = controller(0, 8);
    let mut rl = Reinforce::new(&vs);
    assert_eq!(rl.baseline, None);
    let mut rng = StdRng::seed_from_u64(1);
    // batch 1, as in the reference's controller steps; scores vary from step to step
    let mut call = |rl: &mut Reinforce, scores: &[f64]| {
        scores
            .iter()
            .map(|&s| {
                let d = c.draw(1, None, &mut rng).unwrap();
                let want_r = s + DEFAULT_ENTROPY_COEFF * d.sample.entropy.double_value(&[0]);
                let prev = rl.baseline;
                let st = rl.step(&d.sample, &[s]).unwrap();
                assert!((st.reward - want_r).abs() < 1e-9);
                let want_b = match prev {
                    None => want_r,
                    Some(b) => 0.9 * b + 0.1 * want_r,
                };
                assert!((st.baseline - want_b).abs() < 1e-9 && rl.baseline == Some(st.baseline));
                st
            })
            .collect::<Vec<_>>()
    };
    let first = call(&mut rl, &[2.0, 3.0, 4.0]);
    assert_eq!(
        first[0].advantage, 0.0,
        "the very first step has nothing to compare with"
    );
    assert!(first[1].advantage != 0.0);
    let second = call(&mut rl, &[5.0, 5.0]);
    assert!(
        second[0].advantage.abs() > 0.5,
        "first advantage of the second call: {}",
        second[0].advantage
    );
    assert!(second[0].baseline > first[2].baseline);
}

#[test]
fn controller_checkpoint_round_trips() {
    let _g = lock();
    let (vs, c) = controller(2, 12);
    let mut rl = Reinforce::new(&vs);
    let beam = fake_beam(2, 3, 100);
    let mut rng = StdRng::seed_from_u64(2);
    for k in 0..5 {
        let d = c.draw(4, Some(&beam), &mut rng).unwrap();
        rl.step(&d.sample, &[1.0 + k as f64, 2.0, 0.5, 3.0])
            .unwrap();
    }
    let dir = std::env::temp_dir().join(format!("autogan_search_parts_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("controller.safetensors");
    rl.save(&vs, &path).unwrap();

    // a different controller of the same stage takes the saved one's place
    let (vs2, c2) = controller(2, 99);
    let mut rl2 = Reinforce::new(&vs2);
    let idx = [0usize, 1, 2, 2];
    let init = beam.init_state(&idx, Device::Cpu);
    let toks = tch::no_grad(|| c.sample(4, Some(&init))).tokens;
    let lp = tch::no_grad(|| c.log_prob_of(&toks, Some(&init)).unwrap());
    assert!(!close(
        &lp,
        &tch::no_grad(|| c2.log_prob_of(&toks, Some(&init)).unwrap()),
        1e-6
    ));
    rl2.load(&vs2, &path).unwrap();
    assert!(close(
        &lp,
        &tch::no_grad(|| c2.log_prob_of(&toks, Some(&init)).unwrap()),
        0.0
    ));
    assert_eq!(rl2.baseline, rl.baseline);
    let (a, b) = (rl.opt.state("o"), rl2.opt.state("o"));
    assert_eq!(a.len(), b.len());
    assert!(a.len() >= 3 * 4);
    for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(close(ta, tb, 0.0), "{na} differs after reload");
    }
    // the next update is the same for both
    let s1 = c.score(&toks, Some(&init)).unwrap();
    let s2 = c2.score(&toks, Some(&init)).unwrap();
    let st1 = rl.step(&s1, &[1.0, 0.0, 2.0, 1.0]).unwrap();
    let st2 = rl2.step(&s2, &[1.0, 0.0, 2.0, 1.0]).unwrap();
    assert_eq!(st1, st2);
    let lp1 = tch::no_grad(|| c.log_prob_of(&toks, Some(&init)).unwrap());
    let lp2 = tch::no_grad(|| c2.log_prob_of(&toks, Some(&init)).unwrap());
    assert!(close(&lp1, &lp2, 0.0));

    // a checkpoint of another stage is refused with a message
    let (vs0, _c0) = controller(0, 1);
    let mut rl0 = Reinforce::new(&vs0);
    assert!(rl0.load(&vs0, &path).is_err());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn draws_are_reproducible_for_a_seed() {
    let _g = lock();
    let beam = {
        tch::manual_seed(5);
        fake_beam(1, 3, 100)
    };
    let run = || {
        let (_vs, c) = controller(1, 31);
        let mut rng = StdRng::seed_from_u64(77);
        (0..3)
            .map(|_| c.draw(6, Some(&beam), &mut rng).unwrap().archs)
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

/// What REINFORCE logs of its policy (`probs` in search.jsonl, the TensorBoard
/// `controller/prob/...` curves): per decision, the batch mean of the controller's
/// distributions for the sampled cells, as its teacher-forced `probabilities` gives them.
#[test]
fn logged_probs_are_the_batch_mean_of_the_policy() {
    use autogan::search::strategy::{reinforce::ReinforceBeam, Strategy};
    let _g = lock();
    tch::manual_seed(5);
    let vs = VarStore::new(Device::Cpu);
    let cfg = autogan::config::SearchConfig::default();
    let mut s = ReinforceBeam::new(&cfg, &vs);
    let mut rng = StdRng::seed_from_u64(1);
    let archs = s.propose(6, None, &mut rng).unwrap();
    let flat: Vec<i64> = archs.concat();
    let tokens = Tensor::from_slice(&flat).view([6, 4]);
    // before observe, whose update changes the policy
    let want: Vec<Vec<f64>> = tch::no_grad(|| s.ctrl.probabilities(&tokens, None))
        .unwrap()
        .iter()
        .map(|p| to_vec_f64(&p.mean_dim(0, false, Kind::Double)))
        .collect();
    let obs = s.observe(&archs, &[1.0, 2.0, 3.0, 1.0, 2.0, 3.0]).unwrap();
    let got: Vec<Vec<f64>> = serde_json::from_value(obs["probs"].clone()).unwrap();
    assert_eq!(got.len(), 4);
    for (d, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.len(), w.len(), "decision {d}");
        for (x, y) in g.iter().zip(w) {
            assert!((x - y).abs() < 1e-6, "decision {d}: {g:?} vs {w:?}");
        }
    }
}

/// A search checkpoint written before `reward_bn` existed (its recorded configuration has no
/// such key) scored with the running batch-norm statistics: it must resume doing so, while a
/// new search records and keeps the batch statistics, the default.
#[test]
fn a_checkpoint_without_reward_bn_resumes_with_the_running_statistics() {
    use autogan::config::RewardBn;
    use autogan::search::run::Search;
    let _g = lock();
    let dir = std::env::temp_dir().join(format!("autogan-rewardbn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = autogan::config::SearchConfig {
        gan: autogan::config::GanConfig {
            gf_dim: 8,
            df_dim: 8,
            latent_dim: 8,
            ..autogan::config::GanConfig::search()
        },
        ..Default::default()
    };
    assert_eq!(cfg.reward_bn, RewardBn::Batch);
    let s = Search::new(cfg, 3, Device::Cpu).unwrap();
    let new = dir.join("new.safetensors");
    s.save_checkpoint(&new).unwrap();
    assert_eq!(
        Search::load_checkpoint(&new, Device::Cpu)
            .unwrap()
            .cfg
            .reward_bn,
        RewardBn::Batch
    );
    // The same checkpoint with the key taken out of its recorded configuration.
    let mut meta = autogan::safetensors::read_metadata(&new).unwrap();
    let mut recorded: serde_json::Value = serde_json::from_str(&meta["config"]).unwrap();
    assert!(recorded
        .as_object_mut()
        .unwrap()
        .remove("reward_bn")
        .is_some());
    meta.insert("config".into(), recorded.to_string());
    let old = dir.join("old.safetensors");
    let tensors = autogan::safetensors::read(&new).unwrap();
    autogan::safetensors::write(&old, &tensors, &meta).unwrap();
    assert_eq!(
        Search::load_checkpoint(&old, Device::Cpu)
            .unwrap()
            .cfg
            .reward_bn,
        RewardBn::Running
    );
    // `arch score` refuses to score complete architectures on a supernet that has not trained
    // all their cells yet (here: before the first iteration), naming the file and the fix.
    let run = dir.join("run");
    std::fs::create_dir_all(run.join("checkpoint")).unwrap();
    std::fs::copy(&new, run.join("checkpoint/last.safetensors")).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_autogan"))
        .args(["--device", "cpu", "--quiet", "arch", "score"])
        .arg(&run)
        .arg("configs/arch/autogan_cifar10_a.json")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("autogan_cifar10_a.json: 3 cells") && err.contains("last stage"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
