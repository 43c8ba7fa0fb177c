//! `autogan report`: one self-contained HTML page for a run directory (inline SVG charts,
//! sample grids as base64 PNG data URIs, no network, no script).
//!
//! `data` reads the run, `svg` draws, `page` assembles the HTML; this file decides which
//! sections a training run and a search run get.
pub mod data;
pub mod page;
pub mod svg;

use anyhow::Result;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

use crate::arch::{decision_sizes, ConvBlock, Norm, Up, NUM_CELLS};
use data::{f, RunKind};
use page::Page;
use svg::{LineChart, Series, StackedBars};

/// The report of the run in `dir` as one HTML document. A folder that is not a run is an
/// error; missing or damaged parts of a run become "no data" sections and listed problems.
pub fn build(dir: &Path) -> Result<String> {
    let kind = data::run_kind(dir)?;
    let mut page = Page::new(&format!(
        "autogan {} report: {}",
        match kind {
            RunKind::Train => "training",
            RunKind::Search => "search",
        },
        dir.display()
    ));
    match kind {
        RunKind::Train => train(dir, &mut page)?,
        RunKind::Search => search(dir, &mut page)?,
    }
    config(dir, &mut page);
    Ok(page.finish())
}

fn line(title: &str, x: &str, y: &str, series: Vec<Series>) -> LineChart {
    LineChart {
        title: title.into(),
        x_label: x.into(),
        y_label: y.into(),
        series,
        markers: vec![],
    }
}

fn series(name: &str, lines: &[&Value], x: &str, y: &str) -> Series {
    Series {
        name: name.into(),
        points: lines
            .iter()
            .filter_map(|l| Some((f(l, x)?, f(l, y)?)))
            .collect(),
    }
}

fn train(dir: &Path, page: &mut Page) -> Result<()> {
    let log = data::read_log(&dir.join("train.jsonl"))?;
    page.problems(&log.problems);
    let steps: Vec<&Value> = log
        .lines
        .iter()
        .filter(|l| l.get("kind").is_none())
        .collect();
    let evals: Vec<&Value> = log.lines.iter().filter(|l| l["kind"] == "eval").collect();
    page.section("Training");
    page.chart(
        line(
            "GAN losses",
            "step",
            "loss",
            vec![
                series("D loss", &steps, "step", "d_loss"),
                series("G loss", &steps, "step", "g_loss"),
            ],
        )
        .render(),
    );
    page.chart(
        line(
            "learning rate",
            "step",
            "lr",
            vec![series("lr", &steps, "step", "lr")],
        )
        .render(),
    );
    page.chart(
        line(
            "throughput",
            "step",
            "images/s",
            vec![series("images/s", &steps, "step", "images_per_s")],
        )
        .render(),
    );
    page.section("Evaluation");
    if evals.is_empty() {
        page.note("no evaluation in train.jsonl (train with --eval-every to get IS and FID)");
    } else {
        let scorer = evals[0]["scorer"].as_str().unwrap_or("").to_string();
        page.chart(
            line(
                &format!("{scorer} Inception Score"),
                "step",
                "IS",
                vec![series("IS", &evals, "step", "is_mean")],
            )
            .render(),
        );
        page.chart(
            line(
                &format!("{scorer} FID"),
                "step",
                "FID",
                vec![series("FID", &evals, "step", "fid")],
            )
            .render(),
        );
    }
    let best = dir.join("checkpoint/best.json");
    if best.is_file() {
        if let Ok(v) = data::read_json_file(best).value {
            page.kv_table("Best checkpoint (checkpoint/best.json)", &flatten(&v));
        }
    }
    page.section("Samples (EMA generator, fixed latents)");
    page.images(&data::spaced(&data::sample_grids(dir), 4));
    Ok(())
}

fn search(dir: &Path, page: &mut Page) -> Result<()> {
    let log = data::read_log(&dir.join("search.jsonl"))?;
    page.problems(&log.problems);
    let iters: Vec<&Value> = log
        .lines
        .iter()
        .filter(|l| l["kind"] == "iteration")
        .collect();
    let ctrl: Vec<&Value> = log
        .lines
        .iter()
        .filter(|l| l["kind"] == "controller")
        .collect();

    page.section("Shared GAN training");
    let mut losses = line(
        "GAN losses per iteration (dashed: dynamic reset)",
        "iteration",
        "loss",
        vec![
            series("D loss", &iters, "iteration", "d_loss"),
            series("G loss", &iters, "iteration", "g_loss"),
        ],
    );
    losses.markers = iters
        .iter()
        .filter(|l| l["reset"] == true)
        .filter_map(|l| f(l, "iteration"))
        .map(|x| (x, "reset".to_string()))
        .collect();
    page.chart(losses.render());
    let resets = losses.markers.len();
    page.note(&format!(
        "{} iterations logged, {resets} dynamic reset{}",
        iters.len(),
        if resets == 1 { "" } else { "s" }
    ));

    page.section("Controller (REINFORCE)");
    // x = the controller step over the whole search; one series per stage.
    let stages: Vec<u64> = {
        let mut s: Vec<u64> = ctrl.iter().filter_map(|l| l["stage"].as_u64()).collect();
        s.sort();
        s.dedup();
        s
    };
    for (key, title) in [
        ("reward", "reward"),
        ("baseline", "baseline"),
        ("entropy", "entropy"),
    ] {
        let per_stage = stages
            .iter()
            .map(|&s| Series {
                name: format!("stage {s}"),
                points: ctrl
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l["stage"].as_u64() == Some(s))
                    .filter_map(|(i, l)| Some(((i + 1) as f64, f(l, key)?)))
                    .collect(),
            })
            .collect();
        page.chart(line(title, "controller step", title, per_stage).render());
    }

    page.section("Controller choices: share of each value among the sampled archs");
    let mut any = false;
    for &s in &stages {
        let cell = s as usize + 1;
        if cell > NUM_CELLS {
            continue;
        }
        let sizes = decision_sizes(cell);
        let offset: usize = (1..cell).map(crate::arch::cell_vector_len).sum();
        let stage_lines: Vec<&&Value> = ctrl
            .iter()
            .filter(|l| l["stage"].as_u64() == Some(s))
            .collect();
        let mut by_iter: BTreeMap<u64, Vec<Vec<i64>>> = BTreeMap::new();
        for l in &stage_lines {
            let it = l["iteration"].as_u64().unwrap_or(0);
            for a in l["archs"].as_array().into_iter().flatten() {
                let v: Vec<i64> = a
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_i64)
                    .collect();
                by_iter.entry(it).or_default().push(v);
            }
        }
        for (d, &n) in sizes.iter().enumerate() {
            let bars = by_iter
                .iter()
                .map(|(it, archs)| {
                    let mut counts = vec![0.0; n];
                    let mut total = 0.0;
                    for a in archs {
                        if let Some(&t) = a.get(offset + d) {
                            if (0..n as i64).contains(&t) {
                                counts[t as usize] += 1.0;
                                total += 1.0;
                            }
                        }
                    }
                    if total > 0.0 {
                        counts.iter_mut().for_each(|c| *c /= total);
                    }
                    (it.to_string(), counts)
                })
                .collect();
            let chart = StackedBars {
                title: format!("stage {s} (cell {cell}): {}", decision_name(d)),
                x_label: "iteration".into(),
                categories: (0..n).map(|t| value_name(cell, d, t as i64)).collect(),
                bars,
            };
            if let Some(svg) = chart.render() {
                any = true;
                page.chart(Some(svg));
            }
        }
    }
    if !any {
        page.note("no data: search.jsonl has no controller line with sampled archs");
    }

    page.section("Top architectures");
    let top = data::top_archs(dir);
    let best = dir.join("best.json");
    let mut files = top;
    if best.is_file() {
        files.push(data::read_json_file(best));
    }
    if files.is_empty() {
        page.note("no data: no archs/top*.json or best.json (the search has not finished)");
    } else {
        let rows: Vec<Vec<String>> = files.iter().map(arch_row).collect();
        page.table(&["file", "name", "scores", "architecture"], &rows, "topk");
    }

    page.section("Samples of the search (the controller's last arch, per iteration)");
    let grids = data::sample_grids(dir);
    page.images(&data::spaced(&grids, 4));
    let finals = data::final_runs(dir);
    if !finals.is_empty() {
        page.section("Final training of the top-K (last sample grid and evaluation)");
        let mut rows = Vec::new();
        let mut last_grids = Vec::new();
        for run in &finals {
            let name = run
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let eval = data::read_log(&run.join("train.jsonl"))
                .ok()
                .and_then(|l| l.lines.into_iter().rev().find(|v| v["kind"] == "eval"));
            rows.push(match eval {
                Some(e) => vec![
                    name,
                    e["step"].to_string(),
                    e["scorer"].as_str().unwrap_or("").to_string(),
                    f(&e, "is_mean")
                        .map(|x| format!("{x:.4}"))
                        .unwrap_or_default(),
                    f(&e, "fid").map(|x| format!("{x:.4}")).unwrap_or_default(),
                ],
                None => vec![
                    name,
                    "no evaluation logged".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                ],
            });
            if let Some(g) = data::sample_grids(run).pop() {
                let file = g.file_name().map(|n| n.to_string_lossy().to_string());
                let caption = format!(
                    "{}: {}",
                    rows.last().map(|r| r[0].as_str()).unwrap_or(""),
                    file.unwrap_or_default()
                );
                last_grids.push((g, caption));
            }
        }
        page.table(&["run", "step", "scorer", "IS", "FID"], &rows, "final");
        page.images_named(&last_grids);
    }
    Ok(())
}

fn decision_name(d: usize) -> &'static str {
    [
        "conv block",
        "normalisation",
        "upsampling",
        "shortcut",
        "skip inputs",
    ]
    .get(d)
    .copied()
    .unwrap_or("?")
}

fn value_name(cell: usize, d: usize, t: i64) -> String {
    let name = match d {
        0 => ConvBlock::from_token(t).map(|c| c.name().to_string()),
        1 => Norm::from_token(t).map(|c| c.name().to_string()),
        2 => Up::from_token(t).map(|c| c.name().to_string()),
        3 => Some(if t == 1 { "shortcut" } else { "no shortcut" }.to_string()),
        4 => {
            let from: Vec<String> = (0..cell.saturating_sub(1))
                .filter(|j| t >> j & 1 == 1)
                .map(|j| (cell - 1 - j).to_string())
                .collect();
            Some(if from.is_empty() {
                "none".to_string()
            } else {
                format!("from {}", from.join("+"))
            })
        }
        _ => None,
    };
    name.unwrap_or_else(|| t.to_string())
}

fn arch_row(file: &data::JsonFile) -> Vec<String> {
    let fname = file
        .path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    match &file.value {
        Err(e) => vec![fname, String::new(), String::new(), e.clone()],
        Ok(v) => {
            let scores = v["scores"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, s)| match s.as_f64() {
                            Some(x) => format!("{k} {x:.4}"),
                            None => format!("{k} {s}"),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let arch = match crate::arch::Arch::from_json_value(v) {
                Ok(a) => a.describe(),
                Err(e) => format!("(not a readable arch: {e})"),
            };
            vec![
                fname,
                v["name"].as_str().unwrap_or("").to_string(),
                scores,
                arch,
            ]
        }
    }
}

fn config(dir: &Path, page: &mut Page) {
    page.section("Configuration (config.json)");
    match data::read_config(dir) {
        Ok(v) => page.kv_rows(&flatten(&v)),
        Err(e) => page.note(&format!("no data: {e}")),
    }
}

/// `a.b.c = value` rows of a JSON value.
fn flatten(v: &Value) -> Vec<(String, String)> {
    fn go(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, x) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    go(&p, x, out);
                }
            }
            Value::String(s) => out.push((prefix.to_string(), s.clone())),
            other => out.push((prefix.to_string(), other.to_string())),
        }
    }
    let mut out = Vec::new();
    go("", v, &mut out);
    out
}
