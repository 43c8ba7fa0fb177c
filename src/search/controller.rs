//! The architecture controller of one search stage (SPEC section 6): an LSTM policy that
//! emits the tokens of one generator cell, decision by decision.
//!
//! Stage s (0-based) decides cell s+1: `[C: 2, N: 3, U: 3, SC: 2]`, plus for s >= 1 the skip
//! integer with 2^s values. One `LSTMCell(hid, hid)` (PyTorch gate order i, f, g, o) reads a
//! zero vector at step 0 and, at step i > 0, the embedding of the token chosen at step i-1
//! (a single table over all (decision, value) pairs, offset per decision). Decision i is a
//! softmax over `decoders.i(h)`. Parameter names follow the reference state dict:
//! `lstm.weight_ih`, `lstm.weight_hh`, `lstm.bias_ih`, `lstm.bias_hh`, `encoder.weight`,
//! `decoders.{i}.weight`, `decoders.{i}.bias`; initialisation is PyTorch's default for each.
//!
//! Sampling works for any batch size. For stage >= 1 the initial LSTM state of each sample
//! comes from an entry of the previous stage's [`Beam`], and the sampled tokens are appended
//! to that entry's prefix ([`Controller::draw`]).
use super::beam::{rows_i64, Beam};
use anyhow::{bail, Result};
use rand::rngs::StdRng;
use tch::nn::{Init, Path};
use tch::{Device, Kind, Tensor};

/// One batch of sampled (or scored) cells.
pub struct Sample {
    /// Tokens, int64 [b, n_dec], each in range for its decision.
    pub tokens: Tensor,
    /// Sum over decisions of log p(token), float [b], differentiable.
    pub log_prob: Tensor,
    /// Sum over decisions of the entropy of each decision's distribution, float [b],
    /// differentiable.
    pub entropy: Tensor,
    /// LSTM state (h, c) after the last decision, each float [b, hid]. As in the reference,
    /// the last token itself is never fed back, so cells that differ only in their last token
    /// share this state.
    pub state: (Tensor, Tensor),
    /// Each decision's distribution per sample, float [b, n_values] (detached): what the
    /// search logs of the policy.
    pub probs: Vec<Tensor>,
}

impl Sample {
    /// The tokens as one `Vec<i64>` per sample.
    pub fn token_rows(&self) -> Vec<Vec<i64>> {
        rows_i64(&self.tokens)
    }
}

/// A sample drawn together with the beam entries it extends.
pub struct Draw {
    pub sample: Sample,
    /// Full architecture prefix of every sample: the beam entry's prefix followed by the
    /// sampled tokens (length `arch::prefix_len(stage) + n_dec`).
    pub archs: Vec<Vec<i64>>,
    /// Index into the beam of the entry each sample extends (empty at stage 0).
    pub beam_index: Vec<usize>,
}

/// The LSTM policy of one stage.
pub struct Controller {
    pub stage: usize,
    pub hid: i64,
    /// Values per decision.
    pub sizes: Vec<i64>,
    offsets: Vec<i64>,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    embed: Tensor,
    dec_w: Vec<Tensor>,
    dec_b: Vec<Tensor>,
    device: Device,
}

impl Controller {
    /// A fresh controller for stage `stage` (0, 1 or 2) with LSTM width `hid`, its variables
    /// created under `path`.
    pub fn new(path: &Path, stage: usize, hid: i64) -> Controller {
        assert!(
            stage < crate::arch::NUM_CELLS,
            "controller stage {stage} out of range 0..3"
        );
        assert!(hid > 0, "controller width must be positive");
        let sizes = crate::arch::stage_decision_sizes(stage);
        let mut offsets = Vec::with_capacity(sizes.len());
        let mut total = 0;
        for s in &sizes {
            offsets.push(total);
            total += s;
        }
        let k = 1.0 / (hid as f64).sqrt();
        let uni = Init::Uniform { lo: -k, up: k };
        let lstm = path / "lstm";
        let w_ih = lstm.var("weight_ih", &[4 * hid, hid], uni);
        let w_hh = lstm.var("weight_hh", &[4 * hid, hid], uni);
        let b_ih = lstm.var("bias_ih", &[4 * hid], uni);
        let b_hh = lstm.var("bias_hh", &[4 * hid], uni);
        let embed = (path / "encoder").var(
            "weight",
            &[total, hid],
            Init::Randn {
                mean: 0.0,
                stdev: 1.0,
            },
        );
        let mut dec_w = Vec::new();
        let mut dec_b = Vec::new();
        for (i, &n) in sizes.iter().enumerate() {
            let d = path / "decoders" / i;
            dec_w.push(d.var("weight", &[n, hid], uni));
            dec_b.push(d.var("bias", &[n], uni));
        }
        Controller {
            stage,
            hid,
            sizes,
            offsets,
            w_ih,
            w_hh,
            b_ih,
            b_hh,
            embed,
            dec_w,
            dec_b,
            device: path.device(),
        }
    }

    /// Number of decisions of this stage (4 at stage 0, 5 after).
    pub fn num_decisions(&self) -> usize {
        self.sizes.len()
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// Sample `batch` cells. `init` is the initial (h, c), each [batch, hid]; zeros when
    /// `None`. Tokens are drawn with libtorch's generator (seeded by `tch::manual_seed`).
    ///
    /// Panics if `init` does not have shape [batch, hid] (a programming error: beam states
    /// are built by [`Beam::init_state`]).
    pub fn sample(&self, batch: i64, init: Option<&(Tensor, Tensor)>) -> Sample {
        self.run(batch, init, None)
    }

    /// Log-probability, float [b] (differentiable), of given tokens int64 [b, n_dec] under
    /// teacher forcing from `init` (zeros when `None`).
    pub fn log_prob_of(&self, tokens: &Tensor, init: Option<&(Tensor, Tensor)>) -> Result<Tensor> {
        Ok(self.score(tokens, init)?.log_prob)
    }

    /// Probability, float [b], of given tokens int64 [b, n_dec]: the exact product of the
    /// per-decision probabilities.
    pub fn prob_of(&self, tokens: &Tensor, init: Option<&(Tensor, Tensor)>) -> Result<Tensor> {
        Ok(self.log_prob_of(tokens, init)?.exp())
    }

    /// Teacher-forced pass over given tokens int64 [b, n_dec]: log-prob, entropy and final
    /// state, as [`Controller::sample`] returns them.
    pub fn score(&self, tokens: &Tensor, init: Option<&(Tensor, Tensor)>) -> Result<Sample> {
        let tokens = self.check_tokens(tokens, init)?;
        Ok(self.run(tokens.size()[0], init, Some(&tokens)))
    }

    /// Per-decision distributions under teacher forcing: one float [b, n_values] tensor of
    /// probabilities per decision, for the given tokens int64 [b, n_dec].
    pub fn probabilities(
        &self,
        tokens: &Tensor,
        init: Option<&(Tensor, Tensor)>,
    ) -> Result<Vec<Tensor>> {
        let tokens = self.check_tokens(tokens, init)?;
        let b = tokens.size()[0];
        let (mut h, mut c) = self.init_state(b, init);
        let mut x = Tensor::zeros([b, self.hid], (Kind::Float, self.device));
        let mut out = Vec::with_capacity(self.sizes.len());
        for i in 0..self.sizes.len() {
            let (logp, nh, nc) = self.step(&x, &h, &c, i);
            (h, c) = (nh, nc);
            out.push(logp.exp());
            if i + 1 < self.sizes.len() {
                x = self.embed_tokens(&tokens.select(1, i as i64), i);
            }
        }
        Ok(out)
    }

    /// Tokens as int64 on this controller's device, after checking their shape and range and
    /// the shape of `init`.
    fn check_tokens(&self, tokens: &Tensor, init: Option<&(Tensor, Tensor)>) -> Result<Tensor> {
        let size = tokens.size();
        let n = self.sizes.len() as i64;
        if size.len() != 2 || size[1] != n {
            bail!(
                "controller of stage {}: tokens must be [b, {n}], got {size:?}",
                self.stage
            );
        }
        let tokens = tokens.to_kind(Kind::Int64).to_device(self.device);
        for (i, &m) in self.sizes.iter().enumerate() {
            let col = tokens.select(1, i as i64);
            if size[0] > 0 && (col.min().int64_value(&[]) < 0 || col.max().int64_value(&[]) >= m) {
                bail!(
                    "controller of stage {}: decision {i} takes values 0..{m}",
                    self.stage
                );
            }
        }
        if let Some((h, c)) = init {
            let want = [size[0], self.hid];
            if h.size() != want || c.size() != want {
                bail!(
                    "controller init state must be [{}, {}], got {:?} / {:?}",
                    want[0],
                    want[1],
                    h.size(),
                    c.size()
                );
            }
        }
        Ok(tokens)
    }

    /// Sample `batch` cells; at stage >= 1 each sample first picks a beam entry uniformly
    /// with `rng`, starts from its LSTM state and appends its tokens to its prefix.
    pub fn draw(&self, batch: i64, beam: Option<&Beam>, rng: &mut StdRng) -> Result<Draw> {
        if self.stage == 0 {
            if beam.is_some_and(|b| !b.entries.is_empty()) {
                bail!("stage 0 has no previous stage: no beam expected");
            }
            let sample = self.sample(batch, None);
            let archs = sample.token_rows();
            return Ok(Draw {
                sample,
                archs,
                beam_index: Vec::new(),
            });
        }
        let Some(beam) = beam else {
            bail!(
                "stage {} needs the beam of stage {}",
                self.stage,
                self.stage - 1
            );
        };
        if beam.entries.is_empty() {
            bail!(
                "stage {}: the beam of stage {} is empty",
                self.stage,
                self.stage - 1
            );
        }
        let want = crate::arch::prefix_len(self.stage);
        for e in &beam.entries {
            if e.prefix.len() != want {
                bail!(
                    "stage {}: beam prefixes must have {want} integers, got {:?}",
                    self.stage,
                    e.prefix
                );
            }
            if e.h.size() != [self.hid] || e.c.size() != [self.hid] {
                bail!(
                    "stage {}: beam states must be [{}], got {:?}",
                    self.stage,
                    self.hid,
                    e.h.size()
                );
            }
        }
        let beam_index = beam.choose(batch.max(0) as usize, rng);
        let init = beam.init_state(&beam_index, self.device);
        let sample = self.sample(batch, Some(&init));
        let archs = beam.extend(&beam_index, &sample.token_rows());
        Ok(Draw {
            sample,
            archs,
            beam_index,
        })
    }

    fn init_state(&self, batch: i64, init: Option<&(Tensor, Tensor)>) -> (Tensor, Tensor) {
        match init {
            Some((h, c)) => {
                let want = [batch, self.hid];
                assert!(
                    h.size() == want && c.size() == want,
                    "controller init state must be [{batch}, {}], got {:?} / {:?}",
                    self.hid,
                    h.size(),
                    c.size()
                );
                (h.to_device(self.device), c.to_device(self.device))
            }
            None => {
                let z = Tensor::zeros([batch, self.hid], (Kind::Float, self.device));
                (z.shallow_clone(), z)
            }
        }
    }

    /// One LSTM step followed by decoder `i`: (log-probabilities [b, n_i], h, c).
    fn step(&self, x: &Tensor, h: &Tensor, c: &Tensor, i: usize) -> (Tensor, Tensor, Tensor) {
        let (h, c) = x.lstm_cell(
            &[h, c],
            &self.w_ih,
            &self.w_hh,
            Some(&self.b_ih),
            Some(&self.b_hh),
        );
        let logits = h.linear(&self.dec_w[i], Some(&self.dec_b[i]));
        (logits.log_softmax(-1, Kind::Float), h, c)
    }

    /// Embedding of the tokens [b] chosen at decision `i`: [b, hid].
    fn embed_tokens(&self, tok: &Tensor, i: usize) -> Tensor {
        Tensor::embedding(&self.embed, &(tok + self.offsets[i]), -1, false, false)
    }

    fn run(&self, batch: i64, init: Option<&(Tensor, Tensor)>, forced: Option<&Tensor>) -> Sample {
        let (mut h, mut c) = self.init_state(batch, init);
        let mut x = Tensor::zeros([batch, self.hid], (Kind::Float, self.device));
        let mut toks = Vec::with_capacity(self.sizes.len());
        let mut lps = Vec::with_capacity(self.sizes.len());
        let mut ents = Vec::with_capacity(self.sizes.len());
        let mut probs = Vec::with_capacity(self.sizes.len());
        for i in 0..self.sizes.len() {
            let (logp, nh, nc) = self.step(&x, &h, &c, i);
            (h, c) = (nh, nc);
            let p = logp.exp();
            probs.push(p.detach());
            ents.push(-(&p * &logp).sum_dim_intlist(-1, false, Kind::Float));
            let tok = match forced {
                Some(t) => t.select(1, i as i64),
                None if batch == 0 => Tensor::zeros([0], (Kind::Int64, self.device)),
                None => tch::no_grad(|| p.detach().multinomial(1, true).squeeze_dim(1)),
            };
            lps.push(logp.gather(1, &tok.unsqueeze(1), false).squeeze_dim(1));
            if i + 1 < self.sizes.len() {
                x = self.embed_tokens(&tok, i);
            }
            toks.push(tok);
        }
        Sample {
            tokens: Tensor::stack(&toks, 1),
            log_prob: Tensor::stack(&lps, 1).sum_dim_intlist(1, false, Kind::Float),
            entropy: Tensor::stack(&ents, 1).sum_dim_intlist(1, false, Kind::Float),
            state: (h, c),
            probs,
        }
    }
}
