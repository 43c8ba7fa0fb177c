//! The results of a comparison: every trained architecture's scores, the groups with their
//! statistics, the Kendall tau of the supernets' rankings, and the table for a terminal.
use anyhow::Result;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

use super::jobs::{entries, supernet_scores_file, supernet_stage_scores_file, Entry, Role};
use super::{paper_label, random_label, search_label, stats, Layout, Phase, Plan};
use crate::arch::Arch;
use crate::run::RunFiles;

/// The scores of `supernet_jobs`'s file by architecture (its 14-integer vector: the same
/// architecture gets the same score on one supernet, and vectors survive a moved comparison
/// directory, where the recorded file paths do not); empty when the file is missing, an error
/// naming the file when it is there but unreadable.
fn read_supernet_scores(path: &Path) -> Result<BTreeMap<Vec<i64>, f64>> {
    let Some(v) = read_result_json(path)? else {
        return Ok(BTreeMap::new());
    };
    let mut m = BTreeMap::new();
    for a in v["archs"].as_array().into_iter().flatten() {
        let vector: Option<Vec<i64>> = a["vector"]
            .as_array()
            .and_then(|x| x.iter().map(|i| i.as_i64()).collect());
        match (vector, a["score"].as_f64()) {
            (Some(vec), Some(score)) => {
                m.insert(vec, score);
            }
            _ => {
                return Err(bad_result(
                    path,
                    "an entry of \"archs\" without \"vector\" and \"score\"",
                ))
            }
        }
    }
    if m.is_empty() {
        return Err(bad_result(path, "no scored architectures in \"archs\""));
    }
    Ok(m)
}

/// A result file's JSON: None when it is missing; an error that names it when it is there
/// but does not parse.
fn read_result_json(path: &Path) -> Result<Option<Value>> {
    let text = match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad_result(path, &format!("cannot be read: {e}"))),
        Ok(t) => t,
    };
    match serde_json::from_str(&text) {
        Ok(v) => Ok(Some(v)),
        Err(e) => Err(bad_result(path, &format!("not valid JSON: {e}"))),
    }
}

/// The error of a result file that is there but unusable: it names the file and the fix
/// (the comparison runs the job again once the file is gone).
fn bad_result(path: &Path, why: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{}: {why}; a comparison never leaves a member out silently: remove (or move) the file \
         and run `autogan compare --resume DIR`, which runs its job again",
        path.display()
    )
}

/// The IS mean and FID of an `eval --json-out` file; None when missing, an error naming the
/// file when it is there but lacks either number.
pub fn read_eval(path: &Path) -> Result<Option<(f64, f64)>> {
    let Some(v) = read_result_json(path)? else {
        return Ok(None);
    };
    match (v["is_mean"].as_f64(), v["fid"].as_f64()) {
        (Some(is), Some(fid)) => Ok(Some((is, fid))),
        _ => Err(bad_result(path, "no numbers \"is_mean\" and \"fid\"")),
    }
}

/// The supernet's score of a search's top-K file: the `<scorer>_is` entry of its `scores`.
fn supernet_score(path: &Path) -> Option<f64> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    v["scores"]
        .as_object()?
        .iter()
        .find(|(k, _)| k.ends_with("_is"))
        .and_then(|(_, s)| s.as_f64())
}

/// Mean, sample std, best and the values of one metric in one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub n: usize,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub best: Option<f64>,
    pub values: Vec<f64>,
    /// Welch's one-sided test that this group is better than the random one.
    pub vs_random: Option<stats::Welch>,
    /// The one-sided Mann-Whitney U test of the same (on ranks: one collapsed architecture
    /// counts as one rank, not as its distance from the rest).
    pub vs_random_mw: Option<stats::MannWhitney>,
    /// How much better the group's mean is than the random architectures' mean, in percent of
    /// the random mean (positive = better: higher IS, lower FID), as NAS evaluations report it.
    pub improvement_pct: Option<f64>,
}

/// `higher_better`: IS (true) or FID (false).
pub fn summarise(values: &[f64], random: &[f64], higher_better: bool, test: bool) -> Summary {
    let best = values
        .iter()
        .copied()
        .reduce(if higher_better { f64::max } else { f64::min });
    let (vs_random, vs_random_mw) = if !test {
        (None, None)
    } else if higher_better {
        (
            stats::welch_greater(values, random),
            stats::mann_whitney_greater(values, random),
        )
    } else {
        (
            stats::welch_greater(random, values),
            stats::mann_whitney_greater(random, values),
        )
    };
    let improvement_pct = match (test, stats::mean(values), stats::mean(random)) {
        (true, Some(m), Some(r)) if r != 0.0 => {
            let gain = if higher_better { m - r } else { r - m };
            Some(100.0 * gain / r.abs())
        }
        _ => None,
    };
    Summary {
        n: values.len(),
        mean: stats::mean(values),
        std: stats::std_dev(values),
        best,
        values: values.to_vec(),
        vs_random,
        vs_random_mw,
        improvement_pct,
    }
}

/// The results of a comparison directory as they stand (missing evaluations are left out;
/// `complete` says whether anything is missing). `wall` gives the seconds of each finished
/// job by name.
pub fn collect(plan: &Plan, layout: &Layout, wall: &BTreeMap<String, f64>) -> Result<Value> {
    let entries = entries(plan, layout)?;
    // Each entry's architecture, read once.
    let vectors = entries
        .iter()
        .map(|e| Ok(Arch::load(&e.arch_file)?.to_vector()))
        .collect::<Result<Vec<_>>>()?;
    // Complete when every search has ended and every entry has every score (checked below).
    let mut complete = true;
    let mut runs = Vec::new();
    // (entry, scorer) -> (IS, FID)
    let mut scores: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
    // metric -> each fully scored architecture's scores, one per training (--train-seeds > 1)
    let mut per_training: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
    for (e, vector) in entries.iter().zip(&vectors) {
        let mut r = json!({
            "label": e.label,
            "group": e.group,
            "role": e.role,
            "vector": vector,
            "arch_file": e.arch_file.display().to_string(),
            "train_dir": layout.train_dir(&e.label).display().to_string(),
        });
        if let Role::Top { .. } = e.role {
            r["supernet_score"] = json!(supernet_score(&e.arch_file));
        }
        let trainings = plan.trainings(&e.label);
        if trainings.len() > 1 {
            r["train_dirs"] = json!(trainings
                .iter()
                .map(|(t, _)| layout.train_dir(t).display().to_string())
                .collect::<Vec<_>>());
        }
        for s in &plan.scorers {
            // The entry's scores are the means over its trainings, once all of them are
            // scored (a mean over some would mix architectures trained more and less often).
            let mut each = Vec::new();
            for (t, _) in &trainings {
                if let Some(x) = read_eval(&layout.eval_file(t, s))? {
                    each.push(x);
                }
            }
            if trainings.len() > 1 {
                r[format!("{s}_is_trainings")] =
                    json!(each.iter().map(|x| x.0).collect::<Vec<_>>());
                r[format!("{s}_fid_trainings")] =
                    json!(each.iter().map(|x| x.1).collect::<Vec<_>>());
            }
            if each.len() < trainings.len() {
                complete = false;
                continue;
            }
            let n = each.len() as f64;
            let is = each.iter().map(|x| x.0).sum::<f64>() / n;
            let fid = each.iter().map(|x| x.1).sum::<f64>() / n;
            r[format!("{s}_is")] = json!(is);
            r[format!("{s}_fid")] = json!(fid);
            scores.insert((e.label.clone(), s.clone()), (is, fid));
            if trainings.len() > 1 {
                let key = |m: &str| format!("{s}_{m}");
                per_training
                    .entry(key("is"))
                    .or_default()
                    .push(each.iter().map(|x| x.0).collect());
                per_training
                    .entry(key("fid"))
                    .or_default()
                    .push(each.iter().map(|x| x.1).collect());
            }
        }
        runs.push(r);
    }
    // The found architecture of each search: its best.json (a top-K entry or its own).
    let mut found: BTreeMap<String, String> = BTreeMap::new(); // search -> label
    for (strategy, seed) in plan.searches() {
        let search = search_label(&strategy, seed);
        let dir = layout.search_dir(&strategy, seed);
        let Ok(best) = Arch::load(&RunFiles::of(&dir).best_arch()) else {
            complete = false;
            continue;
        };
        let best = best.to_vector();
        for (e, vector) in entries.iter().zip(&vectors) {
            let mine = match &e.role {
                Role::Top { search: s, .. } | Role::Best { search: s } => s == &search,
                _ => false,
            };
            if mine && *vector == best {
                found.insert(search.clone(), e.label.clone());
                break;
            }
        }
    }
    for r in runs.iter_mut() {
        let label = r["label"].as_str().unwrap_or_default().to_string();
        r["found"] = json!(found.values().any(|l| *l == label));
    }
    let mut groups = Vec::new();
    let mut metrics_order = Vec::new();
    for s in &plan.scorers {
        metrics_order.push((format!("{s}_is"), s.clone(), true));
        metrics_order.push((format!("{s}_fid"), s.clone(), false));
    }
    let pick = |labels: &[String], scorer: &str, is: bool| -> Vec<f64> {
        labels
            .iter()
            .filter_map(|l| scores.get(&(l.clone(), scorer.to_string())))
            .map(|&(i, f)| if is { i } else { f })
            .collect()
    };
    let random_labels: Vec<String> = (0..plan.random_archs.len()).map(random_label).collect();
    let mut group_labels: Vec<(String, Vec<String>)> = Vec::new();
    for strategy in &plan.strategies {
        let labels = plan
            .searches()
            .iter()
            .filter(|(s, _)| s == strategy)
            .filter_map(|(s, seed)| found.get(&search_label(s, *seed)).cloned())
            .collect();
        group_labels.push((super::group_name(strategy), labels));
    }
    group_labels.push((super::RANDOM_GROUP.into(), random_labels.clone()));
    group_labels.push((
        "paper".into(),
        plan.paper.iter().map(|p| paper_label(p)).collect(),
    ));
    for (group, labels) in &group_labels {
        let mut m = serde_json::Map::new();
        for (key, scorer, is) in &metrics_order {
            let values = pick(labels, scorer, *is);
            let random = pick(&random_labels, scorer, *is);
            let s = summarise(&values, &random, *is, group != super::RANDOM_GROUP);
            m.insert(key.clone(), serde_json::to_value(s)?);
        }
        groups.push(json!({"group": group, "labels": labels, "metrics": m}));
    }
    // Kendall tau of the supernet's scores of each search's trained top-K against their
    // stand-alone scores (FID negated, so that +1 means the same order as "better").
    let mut kendall = Vec::new();
    let mut taus: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    // Every search's trained top-K in one list: a top-K of 2 or 3 gives a per-search tau of
    // +-1 or +-1/3, the pooled tau over all of them says more.
    let mut pooled: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for (strategy, seed) in plan.searches() {
        let search = search_label(&strategy, seed);
        let tops: Vec<&Entry> = entries
            .iter()
            .filter(|e| matches!(&e.role, Role::Top { search: s, .. } if *s == search))
            .collect();
        let supernet: Vec<Option<f64>> =
            tops.iter().map(|e| supernet_score(&e.arch_file)).collect();
        let mut k = json!({"search": search, "group": super::group_name(&strategy), "k": tops.len(),
                           "labels": tops.iter().map(|e| e.label.clone()).collect::<Vec<_>>(),
                           "supernet_score": supernet});
        for (key, scorer, is) in &metrics_order {
            let mut xs = Vec::new();
            let mut ys = Vec::new();
            for (e, sup) in tops.iter().zip(&supernet) {
                if let (Some(x), Some(&(i, f))) =
                    (sup, scores.get(&(e.label.clone(), scorer.clone())))
                {
                    xs.push(*x);
                    ys.push(if *is { i } else { -f });
                }
            }
            let tau = stats::kendall_tau(&xs, &ys);
            let all = pooled.entry(key.clone()).or_default();
            all.0.extend(&xs);
            all.1.extend(&ys);
            k[format!("trained_{key}")] = json!(ys
                .iter()
                .map(|y| if *is { *y } else { -*y })
                .collect::<Vec<_>>());
            k[format!("tau_{key}")] = json!(tau);
            if let Some(t) = tau {
                taus.entry(key.clone()).or_default().push(t);
            }
        }
        kendall.push(k);
    }
    // The same over every trained architecture, each search's supernet scoring all of them
    // (`arch score`, with the same latents for every architecture).
    // One search's supernet scores (by vector, or by the first `cut` integers of it) against
    // the trained scores: n and tau per metric into `k`, each tau also into `taus`.
    let fill_taus = |k: &mut Value,
                     sup: &BTreeMap<Vec<i64>, f64>,
                     cut: Option<usize>,
                     taus: &mut BTreeMap<String, Vec<f64>>| {
        for (key, scorer, is) in &metrics_order {
            let (mut xs, mut ys) = (Vec::new(), Vec::new());
            for (e, vector) in entries.iter().zip(&vectors) {
                let x = match cut {
                    Some(c) => vector.get(..c).and_then(|p| sup.get(p)),
                    None => sup.get(vector),
                };
                if let (Some(x), Some(&(i, f))) =
                    (x, scores.get(&(e.label.clone(), scorer.clone())))
                {
                    xs.push(*x);
                    ys.push(if *is { i } else { -f });
                }
            }
            let tau = stats::kendall_tau(&xs, &ys);
            k["n"] = json!(xs.len());
            k[format!("tau_{key}")] = json!(tau);
            if let Some(t) = tau {
                taus.entry(key.clone()).or_default().push(t);
            }
        }
    };
    let mut kendall_all = Vec::new();
    let mut taus_all: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (strategy, seed) in plan.searches() {
        let search = search_label(&strategy, seed);
        let sup = read_supernet_scores(&supernet_scores_file(&layout.search_dir(&strategy, seed)))?;
        if sup.is_empty() {
            continue;
        }
        let mut k = json!({"search": search, "group": super::group_name(&strategy)});
        fill_taus(&mut k, &sup, None, &mut taus_all);
        kendall_all.push(k);
    }
    // Per stage: each search's stage-s rewards of the architectures' first s+1 cells against
    // their trained scores (architectures sharing a prefix share its reward).
    let mut kendall_stages = Vec::new();
    for stage in 0..crate::arch::NUM_CELLS - 1 {
        let cut = crate::arch::prefix_len(stage + 1);
        let mut per_search = Vec::new();
        let mut taus: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for (strategy, seed) in plan.searches() {
            let dir = layout.search_dir(&strategy, seed);
            let sup = read_supernet_scores(&supernet_stage_scores_file(&dir, stage))?;
            if sup.is_empty() {
                continue;
            }
            let mut k = json!({"search": search_label(&strategy, seed)});
            fill_taus(&mut k, &sup, Some(cut), &mut taus);
            per_search.push(k);
        }
        if per_search.is_empty() {
            continue;
        }
        let mean: BTreeMap<String, Option<f64>> = taus
            .iter()
            .map(|(k, v)| (k.clone(), stats::mean(v)))
            .collect();
        kendall_stages.push(json!({"stage": stage, "searches": per_search, "tau_mean": mean}));
    }
    let tau_all_mean: BTreeMap<String, Option<f64>> = taus_all
        .iter()
        .map(|(k, v)| (k.clone(), stats::mean(v)))
        .collect();
    let tau_mean: BTreeMap<String, Option<f64>> = taus
        .iter()
        .map(|(k, v)| (k.clone(), stats::mean(v)))
        .collect();
    let tau_pooled: BTreeMap<String, serde_json::Value> = pooled
        .iter()
        .map(|(k, (xs, ys))| {
            (
                k.clone(),
                json!({"n": xs.len(), "tau": stats::kendall_tau(xs, ys)}),
            )
        })
        .collect();
    // How much one training's score varies for a fixed architecture: the pooled
    // within-architecture standard deviation (root mean variance; every architecture has the
    // same number of trainings). The standard deviation of an architecture's mean score is
    // this over the square root of the trainings.
    let training_noise: BTreeMap<String, Value> = per_training
        .iter()
        .map(|(k, scores)| {
            let v: Vec<f64> = scores.iter().filter_map(|s| stats::variance(s)).collect();
            let pooled = stats::mean(&v).map(f64::sqrt);
            let tau = between_trainings_tau(scores);
            let halves = between_halves_tau(scores);
            (
                k.clone(),
                json!({"archs": v.len(), "trainings": plan.train_seeds, "pooled_std": pooled,
                       "std_of_mean": pooled.map(|p| p / (plan.train_seeds as f64).sqrt()),
                       "tau_between_trainings": tau,
                       "half_trainings": halves.map(|h| h.0),
                       "tau_between_halves": halves.map(|h| h.1)}),
            )
        })
        .collect();
    let mut wall_s: BTreeMap<&str, f64> = BTreeMap::new();
    for (job, s) in wall {
        if let Some(p) = Phase::of_job(job) {
            *wall_s.entry(p.name()).or_default() += s;
        }
    }
    Ok(json!({
        "command": "compare",
        "dir": layout.root.display().to_string(),
        "complete": complete,
        "plan": plan,
        "groups": groups,
        "runs": runs,
        "kendall": kendall,
        "kendall_tau_mean": tau_mean,
        "kendall_tau_pooled": tau_pooled,
        "kendall_all": kendall_all,
        "kendall_stages": kendall_stages,
        "kendall_all_tau_mean": tau_all_mean,
        "training_noise": training_noise,
        "wall_s": wall_s,
    }))
}

/// How alike two trainings of the same architectures rank them: the Kendall tau between
/// training j's and training k's scores over the architectures (`scores[arch][training]`),
/// averaged over every pair j < k of trainings. It is the ceiling for any ranking that is
/// checked against one training per architecture (a supernet's, a search's). None with
/// fewer than two architectures or trainings.
pub fn between_trainings_tau(scores: &[Vec<f64>]) -> Option<f64> {
    let k = scores.iter().map(Vec::len).min()?;
    let mut taus = Vec::new();
    for a in 0..k {
        for b in a + 1..k {
            let xs: Vec<f64> = scores.iter().map(|s| s[a]).collect();
            let ys: Vec<f64> = scores.iter().map(|s| s[b]).collect();
            if let Some(t) = stats::kendall_tau(&xs, &ys) {
                taus.push(t);
            }
        }
    }
    stats::mean(&taus)
}

/// Splits enumerated in full up to this many trainings; above it, `RANDOM_SPLITS` seeded ones.
const MAX_ENUMERATED_TRAININGS: usize = 12;
const RANDOM_SPLITS: usize = 500;

/// How alike two comparisons that train every architecture m times would rank the
/// architectures, from K >= 4 trainings each: the Kendall tau between the means of two
/// disjoint sets of m = K / 2 trainings (rounded down), averaged over every such pair of sets
/// (up to 12 trainings; above, over 500 seeded random ones). `(m, tau)`; None with fewer than
/// four trainings or two architectures.
pub fn between_halves_tau(scores: &[Vec<f64>]) -> Option<(usize, f64)> {
    let k = scores.iter().map(Vec::len).min()?;
    let m = k / 2;
    if m < 2 {
        return None;
    }
    let mut splits: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
    if k <= MAX_ENUMERATED_TRAININGS {
        let members = |mask: u32| (0..k).filter(|i| mask >> i & 1 == 1).collect::<Vec<_>>();
        for a in 0u32..1 << k {
            if a.count_ones() as usize != m {
                continue;
            }
            for b in a + 1..1 << k {
                if b & a == 0 && b.count_ones() as usize == m {
                    splits.push((members(a), members(b)));
                }
            }
        }
    } else {
        let mut rng = crate::data::SplitMix64::new(crate::data::mix(k as u64, 0x4841_4c56));
        for _ in 0..RANDOM_SPLITS {
            let mut order: Vec<usize> = (0..k).collect();
            for i in (1..k).rev() {
                order.swap(i, rng.below(i as u64 + 1) as usize);
            }
            splits.push((order[..m].to_vec(), order[m..2 * m].to_vec()));
        }
    }
    let mean_of = |s: &[f64], set: &[usize]| set.iter().map(|&j| s[j]).sum::<f64>() / m as f64;
    let taus: Vec<f64> = splits
        .iter()
        .filter_map(|(a, b)| {
            let xs: Vec<f64> = scores.iter().map(|s| mean_of(s, a)).collect();
            let ys: Vec<f64> = scores.iter().map(|s| mean_of(s, b)).collect();
            stats::kendall_tau(&xs, &ys)
        })
        .collect();
    Some((m, stats::mean(&taus)?))
}

fn num(v: &Value, digits: usize) -> String {
    v.as_f64()
        .map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

/// The results as a table for a terminal.
pub fn table(results: &Value) -> String {
    use std::fmt::Write;
    let plan = &results["plan"];
    let mut s = String::new();
    let _ = writeln!(
        s,
        "trained {} G steps each (preset {}, seed {}), {} generated images per score; \
         mean ± sample std, best; one-sided tests of \"better than random\": p Welch's t, \
         pU Mann-Whitney's U (ranks); +%: mean improvement over the random mean",
        plan["train_steps"],
        plan["preset"].as_str().unwrap_or("?"),
        plan["seed"],
        plan["eval_images"]
    );
    let scorers: Vec<String> = plan["scorers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    for sc in &scorers {
        let _ = writeln!(
            s,
            "\n{:<16} {:>2}  {:>18} {:>7} {:>6} {:>6} {:>6}   {:>20} {:>8} {:>6} {:>6} {:>6}",
            "group",
            "n",
            format!("{sc} IS"),
            "best",
            "p",
            "pU",
            "+%",
            format!("{sc} FID"),
            "best",
            "p",
            "pU",
            "+%"
        );
        for g in results["groups"].as_array().into_iter().flatten() {
            let is = &g["metrics"][format!("{sc}_is")];
            let fid = &g["metrics"][format!("{sc}_fid")];
            let pm = |m: &Value, d: usize| {
                if m["std"].is_null() {
                    num(&m["mean"], d)
                } else {
                    format!("{} ± {}", num(&m["mean"], d), num(&m["std"], d))
                }
            };
            let pct = |m: &Value| {
                m["improvement_pct"]
                    .as_f64()
                    .map(|x| format!("{x:+.1}"))
                    .unwrap_or_else(|| "-".into())
            };
            let _ = writeln!(
                s,
                "{:<16} {:>2}  {:>18} {:>7} {:>6} {:>6} {:>6}   {:>20} {:>8} {:>6} {:>6} {:>6}",
                g["group"].as_str().unwrap_or("?"),
                is["n"],
                pm(is, 3),
                num(&is["best"], 3),
                num(&is["vs_random"]["p"], 3),
                num(&is["vs_random_mw"]["p"], 3),
                pct(is),
                pm(fid, 2),
                num(&fid["best"], 2),
                num(&fid["vs_random"]["p"], 3),
                num(&fid["vs_random_mw"]["p"], 3),
                pct(fid),
            );
        }
    }
    let k = plan["train_seeds"].as_u64().unwrap_or(1);
    if k > 1 {
        let _ = writeln!(
            s,
            "\neach architecture trained {k} times (seeds {} to {}); its scores are the means, \
             and the groups' std is over those means",
            plan["seed"],
            plan["seed"].as_u64().unwrap_or(0) + k - 1
        );
    }
    for sc in &scorers {
        let noise = &results["training_noise"];
        let (is, fid) = (&noise[format!("{sc}_is")], &noise[format!("{sc}_fid")]);
        if is.is_null() {
            continue;
        }
        let _ = writeln!(
            s,
            "training noise ({} architectures): one training's {sc} IS varies by {} (std), its \
             FID by {}; an architecture's mean of {k} by {} and {}",
            is["archs"],
            num(&is["pooled_std"], 3),
            num(&fid["pooled_std"], 2),
            num(&is["std_of_mean"], 3),
            num(&fid["std_of_mean"], 2)
        );
        let _ = writeln!(
            s,
            "  two trainings rank the architectures alike with Kendall tau {} ({sc} IS) and {} \
             (FID): no ranking checked against one training can agree with it better",
            num(&is["tau_between_trainings"], 3),
            num(&fid["tau_between_trainings"], 3)
        );
        if let Some(m) = is["half_trainings"].as_u64() {
            let _ = writeln!(
                s,
                "  the means of {m} trainings rank them alike with Kendall tau {} ({sc} IS) and \
                 {} (FID) (two disjoint sets of {m} trainings, mean over the splits): how alike two \
                 comparisons with --train-seeds {m} would rank them",
                num(&is["tau_between_halves"], 3),
                num(&fid["tau_between_halves"], 3)
            );
        }
    }
    let _ = writeln!(s, "\nper architecture:");
    for r in results["runs"].as_array().into_iter().flatten() {
        let vector: Vec<i64> = r["vector"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_i64)
            .collect();
        let vector = Arch::from_vector(&vector)
            .map(|a| a.vector_string())
            .unwrap_or_default();
        let mut line = format!(
            "  {:<26} {:<35}",
            format!(
                "{}{}",
                r["label"].as_str().unwrap_or("?"),
                if r["found"] == true { " (found)" } else { "" }
            ),
            vector
        );
        for sc in &scorers {
            let _ = write!(
                line,
                "  {sc} IS {:>6}  FID {:>8}",
                num(&r[format!("{sc}_is")], 3),
                num(&r[format!("{sc}_fid")], 2)
            );
        }
        if !r["supernet_score"].is_null() {
            let _ = write!(line, "  supernet {}", num(&r["supernet_score"], 3));
        }
        let _ = writeln!(s, "{line}");
    }
    let kendall = results["kendall"].as_array().cloned().unwrap_or_default();
    if !kendall.is_empty() {
        let _ = writeln!(
            s,
            "\nKendall tau of the supernet's score of each search's trained top-K against the \
             trained score (FID negated; +1 = same order):"
        );
        for k in &kendall {
            let mut line = format!("  {:<18} k={}", k["search"].as_str().unwrap_or("?"), k["k"]);
            for sc in &scorers {
                let _ = write!(
                    line,
                    "  tau({sc} IS) {:>6}  tau({sc} FID) {:>6}",
                    num(&k[format!("tau_{sc}_is")], 3),
                    num(&k[format!("tau_{sc}_fid")], 3)
                );
            }
            let _ = writeln!(s, "{line}");
        }
        let mut line = format!("  {:<18}    ", "mean");
        for sc in &scorers {
            let _ = write!(
                line,
                "  tau({sc} IS) {:>6}  tau({sc} FID) {:>6}",
                num(&results["kendall_tau_mean"][format!("{sc}_is")], 3),
                num(&results["kendall_tau_mean"][format!("{sc}_fid")], 3)
            );
        }
        let _ = writeln!(s, "{line}");
        let pooled = &results["kendall_tau_pooled"];
        let n = pooled[format!("{}_is", scorers.first().map(|x| x.as_str()).unwrap_or(""))]["n"]
            .as_u64()
            .unwrap_or(0);
        let mut line = format!("  {:<18} n={n}", "pooled");
        for sc in &scorers {
            let _ = write!(
                line,
                "  tau({sc} IS) {:>6}  tau({sc} FID) {:>6}",
                num(&pooled[format!("{sc}_is")]["tau"], 3),
                num(&pooled[format!("{sc}_fid")]["tau"], 3)
            );
        }
        let _ = writeln!(s, "{line}");
    }
    let all = results["kendall_all"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !all.is_empty() {
        let _ = writeln!(
            s,
            "\nKendall tau of each search's supernet score (arch score, the same latents for \
             every architecture) against the trained score, over every trained architecture:"
        );
        tau_rows(&mut s, &all, &results["kendall_all_tau_mean"], &scorers);
    }
    for st in results["kendall_stages"].as_array().into_iter().flatten() {
        let stage = st["stage"].as_u64().unwrap_or(0);
        let _ = writeln!(
            s,
            "\nKendall tau of each search's stage-{stage} reward of the architectures' first {} \
             cell(s) (the supernet at the end of stage {stage}) against the trained score:",
            stage + 1
        );
        let searches = st["searches"].as_array().cloned().unwrap_or_default();
        tau_rows(&mut s, &searches, &st["tau_mean"], &scorers);
    }
    if results["complete"] != true {
        let _ = writeln!(s, "\n(incomplete: some jobs have not finished)");
    }
    s
}

/// One line per search (its label and n, then tau of IS and FID per scorer) and a line of the
/// means; a search's keys are `tau_<scorer>_<metric>`, the means' `<scorer>_<metric>`.
fn tau_rows(s: &mut String, searches: &[Value], mean: &Value, scorers: &[String]) {
    use std::fmt::Write;
    let mut rows: Vec<(String, &Value)> = searches
        .iter()
        .map(|k| {
            (
                format!("{} n={}", k["search"].as_str().unwrap_or("?"), k["n"]),
                k,
            )
        })
        .collect();
    rows.push(("mean".into(), mean));
    for (name, k) in rows {
        let mut line = format!("  {name:<24}");
        for sc in scorers {
            let key = |m: &str| match k.get(format!("tau_{sc}_{m}")) {
                Some(v) => v.clone(),
                None => k[format!("{sc}_{m}")].clone(),
            };
            let _ = write!(
                line,
                "  tau({sc} IS) {:>6}  tau({sc} FID) {:>6}",
                num(&key("is"), 3),
                num(&key("fid"), 3)
            );
        }
        let _ = writeln!(s, "{line}");
    }
}
