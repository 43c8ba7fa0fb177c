//! The search loop at the library level, with a small deterministic stand-in scorer so the
//! tests need no trained classifier: resume equivalence, dynamic reset touching only the GAN,
//! the final top-K.
mod common;

use autogan::arch::Arch;
use autogan::config::{GanConfig, SearchConfig};
use autogan::data::{DataSpec, Dataset};
use autogan::metrics::Scorer;
use autogan::search::run::Search;
use common::ProjectionScorer;
use tch::{Device, Tensor};

/// libtorch's generator is global to the process: tests that depend on seeds take turns.
static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    SEEDED.lock().unwrap_or_else(|e| e.into_inner())
}

fn tiny_config() -> SearchConfig {
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
        iterations: 3,
        stage_changes: [1, 2],
        shared_epochs: 1,
        max_shared_steps: Some(6),
        ctrl_steps: 2,
        ctrl_sample_batch: 2,
        rl_num_eval_img: 20,
        num_candidate: 4,
        topk: 2,
        reset_window: 4,
        ..SearchConfig::default()
    }
}

fn data(cfg: &SearchConfig) -> Dataset {
    let mut spec = DataSpec::shapes(0);
    spec.shapes_count = cfg.shapes_count;
    autogan::data::load(&spec).unwrap()
}

/// Run iterations until `until` completed, returning the per-iteration losses.
fn run(s: &mut Search, full: &Dataset, until: u64, scorer: &dyn Scorer) -> Vec<(f64, f64, bool)> {
    let mut out = Vec::new();
    while s.iteration < until {
        let d = full.resized(s.cfg.stage_size(s.stage()));
        let r = s.run_iteration(&d, scorer, &mut |_, _| {}).unwrap();
        out.push((r.d_loss, r.g_loss, r.reset));
    }
    out
}

#[test]
fn resumed_search_repeats_the_uninterrupted_one() {
    let _turn = lock();
    tch::set_num_threads(1);
    let cfg = tiny_config();
    let full = data(&cfg);
    let scorer = ProjectionScorer::new(12.9898);
    let mut a = Search::new(cfg.clone(), 7, Device::Cpu).unwrap();
    let la = run(&mut a, &full, 3, &scorer);

    let mut b = Search::new(cfg, 7, Device::Cpu).unwrap();
    let mut lb = run(&mut b, &full, 2, &scorer);
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("search-resume");
    std::fs::create_dir_all(&dir).unwrap();
    let ckpt = dir.join("last.safetensors");
    b.save_checkpoint(&ckpt).unwrap();
    drop(b);
    let mut c = Search::load_checkpoint(&ckpt, Device::Cpu).unwrap();
    assert_eq!(c.iteration, 2);
    assert_eq!(c.stage(), 2);
    assert!(
        c.beam.is_some(),
        "the beam of stage 1 must survive the checkpoint"
    );
    lb.extend(run(&mut c, &full, 3, &scorer));
    assert_eq!(la.len(), lb.len());
    for (i, (x, y)) in la.iter().zip(&lb).enumerate() {
        assert!(
            (x.0 - y.0).abs() < 1e-6 && (x.1 - y.1).abs() < 1e-6,
            "iteration {}: {x:?} vs {y:?}",
            i + 1
        );
    }
    let ta: Vec<_> = a
        .final_topk
        .iter()
        .map(|s| (s.vector.clone(), s.score))
        .collect();
    let tc: Vec<_> = c
        .final_topk
        .iter()
        .map(|s| (s.vector.clone(), s.score))
        .collect();
    assert_eq!(ta, tc);
}

/// Resumed in the middle of a stage (where the sampled paths keep changing): supernet ops used
/// before the checkpoint but not by the next step must be treated as in the uninterrupted
/// search (their gradients stay defined, so Adam steps them), or the two runs part.
#[test]
fn search_resumed_mid_stage_repeats_the_uninterrupted_one() {
    let _turn = lock();
    tch::set_num_threads(1);
    // 8 G steps per iteration: paths change between G steps.
    let cfg = SearchConfig {
        iterations: 4,
        stage_changes: [2, 3],
        max_shared_steps: Some(40),
        ..tiny_config()
    };
    let full = data(&cfg);
    let scorer = ProjectionScorer::new(12.9898);
    let mut a = Search::new(cfg.clone(), 11, Device::Cpu).unwrap();
    let la = run(&mut a, &full, 2, &scorer);

    let mut b = Search::new(cfg, 11, Device::Cpu).unwrap();
    let mut lb = run(&mut b, &full, 1, &scorer);
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("search-resume-mid");
    std::fs::create_dir_all(&dir).unwrap();
    let ckpt = dir.join("last.safetensors");
    b.save_checkpoint(&ckpt).unwrap();
    drop(b);
    let mut c = Search::load_checkpoint(&ckpt, Device::Cpu).unwrap();
    assert_eq!((c.iteration, c.stage()), (1, 0), "resumed inside stage 0");
    lb.extend(run(&mut c, &full, 2, &scorer));
    assert_eq!(la, lb, "per-iteration (D loss, G loss, reset)");
    let params = |s: &Search| -> Vec<(String, Tensor)> { autogan::gan::named_all(&s.g_vs) };
    for ((n, x), (_, y)) in params(&a).iter().zip(&params(&c)) {
        assert!(
            x.equal(y),
            "G variable {n} differs after the resumed iteration"
        );
    }
}

#[test]
fn final_top_k_holds_distinct_complete_archs() {
    let _turn = lock();
    tch::set_num_threads(1);
    let cfg = tiny_config();
    let full = data(&cfg);
    let mut s = Search::new(cfg.clone(), 3, Device::Cpu).unwrap();
    run(&mut s, &full, 3, &ProjectionScorer::new(12.9898));
    assert!(s.is_done());
    assert!(!s.final_topk.is_empty() && s.final_topk.len() <= cfg.topk);
    let mut seen = std::collections::HashSet::new();
    for t in &s.final_topk {
        let arch = Arch::from_vector(&t.vector).expect("a complete 14-integer arch");
        assert!(arch.is_complete());
        assert!(seen.insert(t.vector.clone()), "duplicate {:?}", t.vector);
        assert!(t.score.is_finite());
    }
    // Best first.
    for w in s.final_topk.windows(2) {
        assert!(w[0].score >= w[1].score);
    }
}

#[test]
fn dynamic_reset_reinitialises_the_gan_and_keeps_the_controller() {
    let _turn = lock();
    tch::set_num_threads(1);
    let mut s = Search::new(tiny_config(), 1, Device::Cpu).unwrap();
    let snap = |vs: &tch::nn::VarStore| -> Vec<(String, Tensor)> {
        autogan::gan::named_all(vs)
            .into_iter()
            .map(|(n, t)| (n, t.copy()))
            .collect()
    };
    let (g0, d0, c0) = (snap(&s.g_vs), snap(&s.d_vs), snap(&s.ctrl_vs));
    s.apply_reset();
    let changed = |a: &[(String, Tensor)], vs: &tch::nn::VarStore| {
        let now = vs.variables();
        a.iter()
            .filter(|(n, t)| {
                (n.ends_with("weight") || n.ends_with("weight_orig")) && !t.equal(&now[n])
            })
            .count()
    };
    assert!(changed(&g0, &s.g_vs) > 0, "G weights must be re-drawn");
    assert!(changed(&d0, &s.d_vs) > 0, "D weights must be re-drawn");
    assert_eq!(changed(&c0, &s.ctrl_vs), 0, "the controller must be kept");
    assert_eq!(s.resets, 1);
}

#[test]
fn a_flat_loss_window_fires_the_reset_inside_an_iteration() {
    let _turn = lock();
    tch::set_num_threads(1);
    // With lr 0 the losses only move with the data and the sampled archs; a huge threshold
    // makes any window "flat", so the reset must fire as soon as the windows are full.
    let cfg = SearchConfig {
        reset_threshold: 1e9,
        max_shared_steps: Some(40),
        ..tiny_config()
    };
    let full = data(&cfg);
    let mut s = Search::new(cfg.clone(), 5, Device::Cpu).unwrap();
    let d = full.resized(cfg.stage_size(0));
    let r = s
        .run_iteration(&d, &ProjectionScorer::new(12.9898), &mut |_, _| {})
        .unwrap();
    assert!(r.reset, "the reset must fire");
    // Windows of 4 G losses need 4 * n_critic D steps.
    assert_eq!(r.d_steps, 4 * cfg.n_critic);
    assert_eq!(s.resets, 1);
    // And with the default threshold a normal short window does not fire.
    let mut s2 = Search::new(tiny_config(), 5, Device::Cpu).unwrap();
    let r2 = s2
        .run_iteration(&d, &ProjectionScorer::new(12.9898), &mut |_, _| {})
        .unwrap();
    assert!(!r2.reset);
}
