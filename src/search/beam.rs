//! The multi-level beam (SPEC section 6, MLAS): at a stage change, the best distinct
//! architecture prefixes found so far, each with the controller's LSTM state after its last
//! decision. The next stage's controller starts each sample from one entry (chosen uniformly
//! with a seeded `StdRng`) and appends its tokens to that entry's prefix.
//!
//! Candidates with the same prefix are merged (the best score and its state are kept);
//! unlike the reference, the beam therefore never holds the same prefix twice.
use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::HashMap;
use tch::{Device, Kind, Tensor};

/// One kept prefix.
pub struct BeamEntry {
    /// Architecture integers decided so far (4 after stage 0, 9 after stage 1, 14 after 2).
    pub prefix: Vec<i64>,
    /// LSTM hidden state after the prefix's last decision, float [hid] (detached).
    pub h: Tensor,
    /// LSTM cell state, float [hid] (detached).
    pub c: Tensor,
    /// Score the prefix was ranked by (higher is better).
    pub score: f64,
}

impl BeamEntry {
    pub fn new(prefix: Vec<i64>, h: &Tensor, c: &Tensor, score: f64) -> BeamEntry {
        BeamEntry {
            prefix,
            h: h.detach().copy(),
            c: c.detach().copy(),
            score,
        }
    }
}

impl Clone for BeamEntry {
    fn clone(&self) -> Self {
        BeamEntry::new(self.prefix.clone(), &self.h, &self.c, self.score)
    }
}

impl std::fmt::Debug for BeamEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BeamEntry")
            .field("prefix", &self.prefix)
            .field("score", &self.score)
            .finish()
    }
}

/// The kept prefixes, best first.
#[derive(Clone, Debug, Default)]
pub struct Beam {
    pub entries: Vec<BeamEntry>,
}

/// Descending by score, NaN last.
fn by_score_desc(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        (false, false) => b.total_cmp(&a),
    }
}

impl Beam {
    /// Keep the `topk` best distinct prefixes of `candidates` (fewer when there are fewer
    /// distinct prefixes). A prefix seen several times keeps its best score and the state of
    /// that occurrence; equal scores keep the earlier candidate. Entries come out best first.
    pub fn select(candidates: Vec<BeamEntry>, topk: usize) -> Beam {
        let mut best: Vec<BeamEntry> = Vec::new();
        let mut at: HashMap<Vec<i64>, usize> = HashMap::new();
        for cand in candidates {
            match at.get(&cand.prefix) {
                Some(&i) => {
                    if by_score_desc(cand.score, best[i].score) == std::cmp::Ordering::Less {
                        best[i] = cand;
                    }
                }
                None => {
                    at.insert(cand.prefix.clone(), best.len());
                    best.push(cand);
                }
            }
        }
        best.sort_by(|a, b| by_score_desc(a.score, b.score));
        best.truncate(topk);
        Beam { entries: best }
    }

    /// [`Beam::select`] over a batch: `prefixes[i]` with row i of `state` (h, c: [n, hid])
    /// and `scores[i]`.
    pub fn from_candidates(
        prefixes: &[Vec<i64>],
        state: &(Tensor, Tensor),
        scores: &[f64],
        topk: usize,
    ) -> Result<Beam> {
        let n = prefixes.len();
        let (h, c) = state;
        if scores.len() != n
            || h.size().first() != Some(&(n as i64))
            || c.size() != h.size()
            || h.dim() != 2
        {
            bail!(
                "beam: {n} prefixes, {} scores, states {:?} / {:?} (want [{n}, hid])",
                scores.len(),
                h.size(),
                c.size()
            );
        }
        let cands = (0..n)
            .map(|i| {
                BeamEntry::new(
                    prefixes[i].clone(),
                    &h.get(i as i64),
                    &c.get(i as i64),
                    scores[i],
                )
            })
            .collect();
        Ok(Beam::select(cands, topk))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// One entry index per sample, uniform over the entries. Empty beam: empty result.
    pub fn choose(&self, batch: usize, rng: &mut StdRng) -> Vec<usize> {
        if self.entries.is_empty() {
            return Vec::new();
        }
        (0..batch)
            .map(|_| rng.gen_range(0..self.entries.len()))
            .collect()
    }

    /// Initial LSTM state for the chosen entries: (h, c), each float [idx.len(), hid] on
    /// `device`.
    pub fn init_state(&self, idx: &[usize], device: Device) -> (Tensor, Tensor) {
        let hid = self.entries.first().map(|e| e.h.size()[0]).unwrap_or(0);
        if idx.is_empty() {
            let z = Tensor::zeros([0, hid], (Kind::Float, device));
            return (z.shallow_clone(), z);
        }
        let h: Vec<Tensor> = idx
            .iter()
            .map(|&i| self.entries[i].h.to_device(device))
            .collect();
        let c: Vec<Tensor> = idx
            .iter()
            .map(|&i| self.entries[i].c.to_device(device))
            .collect();
        (Tensor::stack(&h, 0), Tensor::stack(&c, 0))
    }

    /// Full vectors: the prefix of entry `idx[i]` followed by `tokens[i]`.
    pub fn extend(&self, idx: &[usize], tokens: &[Vec<i64>]) -> Vec<Vec<i64>> {
        idx.iter()
            .zip(tokens)
            .map(|(&i, t)| {
                let mut v = self.entries[i].prefix.clone();
                v.extend_from_slice(t);
                v
            })
            .collect()
    }

    /// Readable form for logs and run directories: prefixes and scores, best first.
    pub fn to_json(&self) -> serde_json::Value {
        let entries: Vec<serde_json::Value> = self
            .entries
            .iter()
            .map(|e| serde_json::json!({"prefix": e.prefix, "score": e.score}))
            .collect();
        serde_json::json!({ "entries": entries })
    }

    /// The beam as named tensors for a checkpoint: `{prefix}.prefix` int64 [k, len],
    /// `{prefix}.h` and `{prefix}.c` float [k, hid], `{prefix}.score` float64 [k]. An empty
    /// beam gives no tensors.
    pub fn tensors(&self, prefix: &str) -> Vec<(String, Tensor)> {
        if self.entries.is_empty() {
            return Vec::new();
        }
        let k = self.entries.len() as i64;
        let flat: Vec<i64> = self
            .entries
            .iter()
            .flat_map(|e| e.prefix.iter().copied())
            .collect();
        let len = self.entries[0].prefix.len() as i64;
        let scores: Vec<f64> = self.entries.iter().map(|e| e.score).collect();
        let (h, c) = self.init_state(&(0..self.entries.len()).collect::<Vec<_>>(), Device::Cpu);
        vec![
            (
                format!("{prefix}.prefix"),
                Tensor::from_slice(&flat).view([k, len]),
            ),
            (format!("{prefix}.h"), h),
            (format!("{prefix}.c"), c),
            (format!("{prefix}.score"), Tensor::from_slice(&scores)),
        ]
    }

    /// Rebuild a beam written by [`Beam::tensors`]; no `{prefix}.prefix` tensor gives an
    /// empty beam.
    pub fn from_tensors(tensors: &HashMap<String, Tensor>, prefix: &str) -> Result<Beam> {
        let Some(p) = tensors.get(&format!("{prefix}.prefix")) else {
            return Ok(Beam::default());
        };
        let get = |what: &str| {
            tensors
                .get(&format!("{prefix}.{what}"))
                .with_context(|| format!("beam tensor {prefix}.{what} is missing"))
        };
        let (h, c, s) = (get("h")?, get("c")?, get("score")?);
        let ps = p.size();
        if ps.len() != 2
            || h.dim() != 2
            || h.size()[0] != ps[0]
            || c.size() != h.size()
            || s.size() != [ps[0]]
        {
            bail!(
                "beam tensors {prefix}.*: inconsistent shapes prefix {:?}, h {:?}, c {:?}, score {:?}",
                ps,
                h.size(),
                c.size(),
                s.size()
            );
        }
        let rows = rows_i64(p);
        let scores: Vec<f64> =
            Vec::<f64>::try_from(s.to_kind(Kind::Double).to_device(Device::Cpu))?;
        let h = h.to_kind(Kind::Float);
        let c = c.to_kind(Kind::Float);
        let entries = rows
            .into_iter()
            .enumerate()
            .map(|(i, prefix)| {
                BeamEntry::new(prefix, &h.get(i as i64), &c.get(i as i64), scores[i])
            })
            .collect();
        Ok(Beam { entries })
    }
}

/// Rows of an int64 [b, n] tensor as vectors.
pub(crate) fn rows_i64(t: &Tensor) -> Vec<Vec<i64>> {
    let t = t.to_device(Device::Cpu).to_kind(Kind::Int64).contiguous();
    let size = t.size();
    let (b, n) = (size[0] as usize, size[1] as usize);
    let flat: Vec<i64> = Vec::<i64>::try_from(t.view([-1])).unwrap_or_default();
    (0..b).map(|i| flat[i * n..(i + 1) * n].to_vec()).collect()
}
