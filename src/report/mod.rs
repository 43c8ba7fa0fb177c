//! `autogan report`: one self-contained HTML page for a run directory (inline SVG charts,
//! sample grids as base64 PNG data URIs, no network, no script).
//!
//! `data` reads the run, `svg` draws, `page` assembles the HTML; this file decides which
//! sections a training run, a search run and a comparison get.
pub mod data;
pub mod page;
pub mod svg;

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

use crate::arch::{decision_sizes, ConvBlock, Norm, Up, NUM_CELLS};
use crate::run::RunFiles;
use data::{f, RunKind};
use page::Page;
use svg::{LineChart, Series, StackedBars, StripPlot};

/// The report of the run in `dir` as one HTML document. A folder that is not a run is an
/// error; missing or damaged parts of a run become "no data" sections and listed problems.
pub fn build(dir: &Path) -> Result<String> {
    Ok(build_with_charts(dir)?.0)
}

/// The report, and each of its charts as a standalone SVG document (page order), for
/// `autogan report --svg-dir`: the same drawings, usable in a paper or a README.
pub fn build_with_charts(dir: &Path) -> Result<(String, Vec<Chart>)> {
    let kind = data::run_kind(dir)?;
    let mut page = Page::new(&format!(
        "autogan {} report: {}",
        match kind {
            RunKind::Train => "training",
            RunKind::Search => "search",
            RunKind::Compare => "comparison",
        },
        dir.display()
    ));
    match kind {
        RunKind::Train => train(dir, &mut page)?,
        RunKind::Search => search(dir, &mut page)?,
        RunKind::Compare => compare(dir, &mut page)?,
    }
    config(dir, &mut page);
    let (html, charts) = page.finish();
    Ok((html, charts.iter().map(|s| Chart::of(s)).collect()))
}

/// One chart of a report as a file of its own.
pub struct Chart {
    /// `<title>` of the chart, unescaped.
    pub title: String,
    /// A complete SVG document (XML declaration, SVG namespace).
    pub svg: String,
}

impl Chart {
    fn of(element: &str) -> Chart {
        let title = element
            .split_once("<title>")
            .and_then(|(_, rest)| rest.split_once("</title>"))
            .map(|(t, _)| svg::unesc(t))
            .unwrap_or_default();
        let body = element
            .strip_prefix("<svg ")
            .map(|rest| format!("<svg xmlns=\"http://www.w3.org/2000/svg\" {rest}"))
            .unwrap_or_else(|| element.to_string());
        Chart {
            title,
            svg: format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}\n"),
        }
    }

    /// `NN-words-of-the-title.svg`: numbered in page order, lower-case letters and digits.
    pub fn file_name(&self, index: usize) -> String {
        let mut slug = String::new();
        for c in self.title.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let slug: String = slug.trim_end_matches('-').chars().take(60).collect();
        let slug = slug.trim_end_matches('-');
        if slug.is_empty() {
            format!("{:02}.svg", index + 1)
        } else {
            format!("{:02}-{slug}.svg", index + 1)
        }
    }
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
    let log = data::read_log(&RunFiles::of(dir).train_log())?;
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
        // Every metric train.jsonl holds (`--metric is,fid,kid,pr`), one chart each.
        for (key, title, axis) in [
            ("is_mean", "Inception Score", "IS"),
            ("fid", "FID", "FID"),
            ("kid_mean", "KID", "KID"),
            ("precision", "precision", "precision"),
            ("recall", "recall", "recall"),
        ] {
            let s = series(axis, &evals, "step", key);
            if s.points.is_empty() {
                continue;
            }
            page.chart(line(&format!("{scorer} {title}"), "step", axis, vec![s]).render());
        }
    }
    let best = RunFiles::of(dir).best_eval();
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
    let log = data::read_log(&RunFiles::of(dir).search_log())?;
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

    let strategy = ctrl
        .iter()
        .find_map(|l| l["strategy"].as_str())
        .unwrap_or("reinforce");
    page.section(&format!("Controller ({strategy})"));
    // x = the controller step over the whole search; one series per stage.
    let stages: Vec<u64> = {
        let mut s: Vec<u64> = ctrl.iter().filter_map(|l| l["stage"].as_u64()).collect();
        s.sort();
        s.dedup();
        s
    };
    let charts: &[(&str, &str)] = match strategy {
        "sac" => &[
            ("reward", "reward"),
            ("is", "IS of the prefix"),
            ("fid", "FID of the prefix"),
            ("q1_loss", "Q1 loss"),
            ("policy_loss", "policy loss"),
        ],
        _ => &[
            ("reward", "reward"),
            ("baseline", "baseline"),
            ("entropy", "entropy"),
        ],
    };
    for &(key, title) in charts {
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
    let best = RunFiles::of(dir).best_arch();
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
            let eval = data::read_log(&RunFiles::of(run).train_log())
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

/// A number of compare.json with `digits` decimals, or empty.
fn fmt(v: &Value, digits: usize) -> String {
    v.as_f64()
        .map(|x| format!("{x:.digits$}"))
        .unwrap_or_default()
}

/// The fields of compare.json the page reads must be there with their types: a file edited
/// or cut short by hand is named, never drawn as a page of "null"s.
fn check_compare_json(path: &Path, r: &Value) -> Result<()> {
    let fix = "write it again with `autogan compare --resume DIR` (it collects the finished jobs)";
    if r["command"] != "compare" {
        bail!(
            "{}: no \"command\": \"compare\": not written by autogan compare; {fix}",
            path.display()
        );
    }
    type Check<'a> = (&'a str, &'a Value, fn(&Value) -> bool, &'a str);
    let checks: [Check; 8] = [
        (
            "plan.train_steps",
            &r["plan"]["train_steps"],
            Value::is_u64,
            "a whole number",
        ),
        (
            "plan.preset",
            &r["plan"]["preset"],
            Value::is_string,
            "a string",
        ),
        (
            "plan.seed",
            &r["plan"]["seed"],
            Value::is_u64,
            "a whole number",
        ),
        (
            "plan.eval_images",
            &r["plan"]["eval_images"],
            Value::is_u64,
            "a whole number",
        ),
        (
            "plan.scorers",
            &r["plan"]["scorers"],
            |v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            "a list of names",
        ),
        ("groups", &r["groups"], Value::is_array, "a list"),
        ("runs", &r["runs"], Value::is_array, "a list"),
        (
            "complete",
            &r["complete"],
            Value::is_boolean,
            "true or false",
        ),
    ];
    for (name, v, ok, want) in checks {
        if !ok(v) {
            bail!(
                "{}: \"{name}\" is {} where {want} belongs: the file was cut short or edited; \
                 {fix}",
                path.display(),
                if v.is_null() {
                    "missing".to_string()
                } else {
                    format!("{v}")
                }
            );
        }
    }
    Ok(())
}

/// A comparison: per scorer, the distribution of IS and FID in each group (strip plots) and
/// the table of group statistics; every architecture's scores; the Kendall tau of the
/// supernet's ranking; the plan.
fn compare(dir: &Path, page: &mut Page) -> Result<()> {
    let path = RunFiles::of(dir).compare_results();
    let r: Value = crate::config::read_json(&path)
        .with_context(|| format!("{}: not a compare.json of autogan compare", path.display()))?;
    check_compare_json(&path, &r)?;
    let plan = &r["plan"];
    let scorers: Vec<String> = plan["scorers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let groups = r["groups"].as_array().cloned().unwrap_or_default();
    page.section("Found vs random architectures");
    page.note(&format!(
        "each architecture trained {} G steps{} (preset {}, seed {}), scored on {} generated \
         images; box: quartiles and median, whiskers: smallest and largest, dashed: mean; p: \
         Welch's one-sided test of \"better than random\"{}",
        plan["train_steps"],
        match plan["train_seeds"].as_u64().unwrap_or(1) {
            1 => String::new(),
            k => format!(" {k} times, its scores the means over the {k} trainings"),
        },
        plan["preset"].as_str().unwrap_or("?"),
        plan["seed"],
        plan["eval_images"],
        match r["complete"] == true {
            true => "",
            false => " (incomplete: some jobs have not finished)",
        }
    ));
    let values = |g: &Value, key: &str| -> Vec<f64> {
        g["metrics"][key]["values"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    for sc in &scorers {
        for (key, what) in [
            ("is", "Inception Score (higher is better)"),
            ("fid", "FID (lower is better)"),
        ] {
            let key = format!("{sc}_{key}");
            page.chart(
                StripPlot {
                    title: format!("{sc} {what}"),
                    y_label: key.clone(),
                    groups: groups
                        .iter()
                        .map(|g| {
                            (
                                g["group"].as_str().unwrap_or("?").to_string(),
                                values(g, &key),
                            )
                        })
                        .collect(),
                }
                .render(),
            );
        }
    }
    for sc in &scorers {
        let rows: Vec<Vec<String>> = groups
            .iter()
            .map(|g| {
                let m = |k: &str| &g["metrics"][format!("{sc}_{k}")];
                let (is, fid) = (m("is"), m("fid"));
                let pct = |x: &Value| match x["improvement_pct"].as_f64() {
                    Some(v) => format!("{v:+.1}"),
                    None => "-".to_string(),
                };
                let pm = |x: &Value, d: usize| match x["std"].is_null() {
                    true => fmt(&x["mean"], d),
                    false => format!("{} ± {}", fmt(&x["mean"], d), fmt(&x["std"], d)),
                };
                vec![
                    g["group"].as_str().unwrap_or("?").to_string(),
                    is["n"].to_string(),
                    pm(is, 3),
                    fmt(&is["best"], 3),
                    fmt(&is["vs_random"]["p"], 3),
                    fmt(&is["vs_random_mw"]["p"], 3),
                    pct(is),
                    pm(fid, 2),
                    fmt(&fid["best"], 2),
                    fmt(&fid["vs_random"]["p"], 3),
                    fmt(&fid["vs_random_mw"]["p"], 3),
                    pct(fid),
                ]
            })
            .collect();
        let (is, fid) = (format!("{sc} IS"), format!("{sc} FID"));
        page.table(
            &[
                "group", "n", &is, "best", "p", "pU", "+%", &fid, "best", "p", "pU", "+%",
            ],
            &rows,
            "groups",
        );
    }
    page.section("Architectures");
    let mut header = vec!["label".to_string(), "group".into(), "architecture".into()];
    for sc in &scorers {
        header.extend([format!("{sc} IS"), format!("{sc} FID")]);
    }
    header.push("supernet score".into());
    let rows: Vec<Vec<String>> = r["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|run| {
            let vector: Vec<i64> = run["vector"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_i64)
                .collect();
            let mut row = vec![
                format!(
                    "{}{}",
                    run["label"].as_str().unwrap_or("?"),
                    if run["found"] == true { " (found)" } else { "" }
                ),
                run["group"].as_str().unwrap_or("?").to_string(),
                crate::arch::Arch::from_vector(&vector)
                    .map(|a| a.vector_string())
                    .unwrap_or_default(),
            ];
            for sc in &scorers {
                row.push(fmt(&run[format!("{sc}_is")], 3));
                row.push(fmt(&run[format!("{sc}_fid")], 2));
            }
            row.push(fmt(&run["supernet_score"], 3));
            row
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    page.table(&header, &rows, "runs");
    let kendall = r["kendall"].as_array().cloned().unwrap_or_default();
    if !kendall.is_empty() {
        page.section("Does the supernet rank as training does? (Kendall tau)");
        page.note(
            "per search, Kendall's tau between the supernet's scores of its trained top-K and \
             their trained scores (FID negated: +1 means the same order)",
        );
        let (header, mut rows) = tau_table(&kendall, "k", &r["kendall_tau_mean"], &scorers);
        let pooled = &r["kendall_tau_pooled"];
        if pooled.is_object() {
            let first = scorers
                .first()
                .map(|s| format!("{s}_is"))
                .unwrap_or_default();
            let mut row = vec![
                "all searches pooled".to_string(),
                fmt(&pooled[first]["n"], 0),
            ];
            for sc in &scorers {
                row.push(fmt(&pooled[format!("{sc}_is")]["tau"], 3));
                row.push(fmt(&pooled[format!("{sc}_fid")]["tau"], 3));
            }
            rows.push(row);
        }
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        page.table(&header, &rows, "kendall");
    }
    let all = r["kendall_all"].as_array().cloned().unwrap_or_default();
    if !all.is_empty() {
        page.note(
            "per search, Kendall's tau between its final supernet's scores of every trained \
             architecture (autogan arch score, the same latents for each) and their trained \
             scores",
        );
        let (header, rows) = tau_table(&all, "n", &r["kendall_all_tau_mean"], &scorers);
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        page.table(&header, &rows, "kendall-all");
    }
    Ok(())
}

/// A Kendall-tau table of compare.json: a row per search (`count` its number of points) and
/// the row of `mean`, IS and FID columns per scorer.
fn tau_table(
    per_search: &[Value],
    count: &str,
    mean: &Value,
    scorers: &[String],
) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = vec!["search".to_string(), count.to_string()];
    for sc in scorers {
        header.extend([format!("tau {sc} IS"), format!("tau {sc} FID")]);
    }
    let mut rows: Vec<Vec<String>> = per_search
        .iter()
        .map(|k| {
            let mut row = vec![
                k["search"].as_str().unwrap_or("?").to_string(),
                fmt(&k[count], 0),
            ];
            for sc in scorers {
                row.push(fmt(&k[format!("tau_{sc}_is")], 3));
                row.push(fmt(&k[format!("tau_{sc}_fid")], 3));
            }
            row
        })
        .collect();
    let mut last = vec!["mean".to_string(), String::new()];
    for sc in scorers {
        last.push(fmt(&mean[format!("{sc}_is")], 3));
        last.push(fmt(&mean[format!("{sc}_fid")], 3));
    }
    rows.push(last);
    (header, rows)
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
