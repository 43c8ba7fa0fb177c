//! The SAC strategy's agent (E2GAN): one update against an independent PyTorch update from the
//! same weights, batch and noise (tests/reference/sac_reference.py), the action-to-cell
//! mapping, and the shapes of its networks.
mod common;

use autogan::config::SacConfig;
use autogan::search::strategy::sac::{action_dim, head_sizes, state_dim, tokens, Agent, Batch};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use tch::{Device, Kind, Tensor};

fn read(path: &Path) -> HashMap<String, Tensor> {
    autogan::safetensors::read(path)
        .unwrap()
        .into_iter()
        .collect()
}

fn vars(agent: &Agent) -> Vec<(String, Tensor)> {
    let mut out = Vec::new();
    for (what, vs) in [
        ("policy", &agent.policy_vs),
        ("critic", &agent.critic_vs),
        ("target", &agent.target_vs),
    ] {
        let mut v: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .map(|(k, t)| (format!("{what}.{k}"), t.detach().copy()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        out.extend(v);
    }
    out
}

#[test]
fn sac_update_matches_an_independent_pytorch_update() {
    let Some(python) = common::venv_python("sac parity", "torch, safetensors", "scripts/setup.sh")
    else {
        return;
    };
    tch::set_num_threads(1);
    tch::manual_seed(3);
    let cfg = SacConfig {
        sac_hidden: 16,
        sac_lr: 3e-3,
        sac_alpha: 0.1,
        sac_gamma: 0.9,
        sac_tau: 0.05,
        ..SacConfig::default()
    };
    let s = state_dim(6);
    let a = action_dim();
    let mut agent = Agent::new(&cfg, s);
    let b = 5;
    let f = (Kind::Float, Device::Cpu);
    let batch = Batch {
        state: Tensor::randn([b, s], f),
        action: Tensor::rand([b, a], f) * 2.0 - 1.0,
        reward: Tensor::randn([b, 1], f),
        next_state: Tensor::randn([b, s], f),
        mask: Tensor::from_slice(&[1f32, 1.0, 0.0, 1.0, 0.0]).view([b, 1]),
    };
    let updates = 3;
    let eps: Vec<(Tensor, Tensor)> = (0..updates)
        .map(|_| (Tensor::randn([b, a], f), Tensor::randn([b, a], f)))
        .collect();
    let mut named = vars(&agent);
    for (k, t) in [
        ("b.state", &batch.state),
        ("b.action", &batch.action),
        ("b.reward", &batch.reward),
        ("b.next_state", &batch.next_state),
        ("b.mask", &batch.mask),
    ] {
        named.push((k.into(), t.shallow_clone()));
    }
    for (u, (en, ep)) in eps.iter().enumerate() {
        named.push((format!("eps_next.{u}"), en.shallow_clone()));
        named.push((format!("eps_pi.{u}"), ep.shallow_clone()));
    }
    let meta = [
        ("alpha", cfg.sac_alpha.to_string()),
        ("gamma", cfg.sac_gamma.to_string()),
        ("tau", cfg.sac_tau.to_string()),
        ("lr", cfg.sac_lr.to_string()),
        ("updates", updates.to_string()),
        ("heads", head_sizes().len().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let dir = common::tmp_dir("sac-parity");
    let (inp, out) = (dir.join("in.safetensors"), dir.join("out.safetensors"));
    autogan::safetensors::write(&inp, &named, &meta).unwrap();
    let run = Command::new(&python)
        .arg(common::root().join("tests/reference/sac_reference.py"))
        .args([&inp, &out])
        .output()
        .expect("running python");
    assert!(
        run.status.success(),
        "sac_reference.py failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let want = read(&out);
    let mut worst = 0f64;
    for (u, (en, ep)) in eps.iter().enumerate() {
        let log = agent.update(&batch, en, ep);
        let losses = Vec::<f32>::try_from(&want[&format!("loss.{u}")]).unwrap();
        for (ours, theirs, what) in [
            (log.q1_loss, losses[0], "Q1 loss"),
            (log.q2_loss, losses[1], "Q2 loss"),
            (log.policy_loss, losses[2], "policy loss"),
        ] {
            let d = (ours - theirs as f64).abs();
            assert!(
                d < 1e-5,
                "update {u}: {what} {ours} against PyTorch's {theirs}"
            );
        }
        let mut n = 0;
        for (name, t) in vars(&agent) {
            let w = &want[&format!("{u}.{name}")];
            let d = (&t - w).abs().max().double_value(&[]);
            worst = worst.max(d);
            assert!(
                d < 1e-5,
                "update {u}: {name} differs from PyTorch's by {d:e}"
            );
            n += 1;
        }
        // policy: 2 hidden layers + 2 x 6 heads; critic and target: 2 x 3 layers (weights, biases)
        assert_eq!(n, 2 * (2 + 12) + 2 * 2 * 2 * 3);
    }
    println!("sac parity: largest parameter difference {worst:e} over {updates} updates");
}

#[test]
fn actions_map_to_cells_head_by_head() {
    assert_eq!(head_sizes(), vec![2, 3, 3, 2, 2, 2]);
    assert_eq!(action_dim(), 14);
    assert_eq!(
        state_dim(128),
        131,
        "E2GAN's state: step, IS, FID and 128 channels"
    );
    // conv 1, norm 2, up 0, shortcut 1; skip heads: from cell 1 on, from cell 2 off
    let a: Vec<f32> = vec![
        -0.5, 0.2, 0.0, -0.1, 0.3, 0.9, 0.1, -0.9, -0.2, 0.4, -0.3, 0.6, 0.8, -0.8,
    ];
    assert_eq!(tokens(&a, 0), vec![1, 2, 0, 1]);
    assert_eq!(tokens(&a, 1), vec![1, 2, 0, 1, 1]);
    assert_eq!(tokens(&a, 2), vec![1, 2, 0, 1, 1]);
    let mut b = a.clone();
    (b[10], b[11]) = (0.1, -0.1);
    assert_eq!(tokens(&b, 2), vec![1, 2, 0, 1, 0], "no skip");
    (b[12], b[13]) = (-0.8, 0.8);
    assert_eq!(
        tokens(&b, 2),
        vec![1, 2, 0, 1, 2],
        "bit 1: the skip from cell 2"
    );
    (b[10], b[11]) = (-0.1, 0.1);
    assert_eq!(tokens(&b, 2), vec![1, 2, 0, 1, 3], "both skips");
    for step in 0..3 {
        let v = tokens(&a, step);
        let cell = autogan::arch::decision_sizes(step + 1);
        assert_eq!(v.len(), cell.len());
        assert!(v.iter().zip(&cell).all(|(&t, &n)| (t as usize) < n));
    }
}
