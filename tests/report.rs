//! `autogan report`: the page of hand-written train and search run directories has the
//! expected charts, reset markers, top-K rows and embedded grids, loads nothing from the
//! network, survives bad log lines, refuses folders that are not runs, and renders in a real
//! headless Chromium; the page of a comparison directory has a strip plot per metric with every
//! group's values, and the group, architecture and Kendall tables.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    common::tmp_dir(&format!("report-{name}"))
}

fn report(dir: &Path) -> std::process::Output {
    report_with(dir, &["--quiet"], &[])
}

/// `autogan [global] report DIR [extra]`.
fn report_with(dir: &Path, global: &[&str], extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_autogan"))
        .args(global)
        .args(["report", dir.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap()
}

/// Run `autogan report` and return the page, asserting success.
fn page(dir: &Path) -> String {
    let o = report(dir);
    assert!(
        o.status.success(),
        "autogan report failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read_to_string(dir.join("report.html")).unwrap()
}

/// A 16x16 PNG with a colour gradient.
fn png(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = image::RgbImage::from_fn(16, 16, |x, y| image::Rgb([x as u8 * 16, y as u8 * 16, 90]));
    img.save(path).unwrap();
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn ctrl(it: u32, stage: u32, step: u32, archs: &str, reward: f64) -> String {
    format!(
        r#"{{"kind":"controller","iteration":{it},"stage":{stage},"ctrl_step":{step},"archs":{archs},"scores":[1.0],"reward":{reward},"baseline":{b},"advantage":0.1,"entropy":{e},"loss":0.2}}"#,
        b = reward * 0.9,
        e = 2.0 - reward / 10.0
    )
}

fn iteration(it: u32, stage: u32, d: f64, g: f64, reset: bool) -> String {
    format!(
        r#"{{"kind":"iteration","iteration":{it},"stage":{stage},"d_steps":3,"g_steps":3,"d_loss":{d},"g_loss":{g},"reset":{reset},"resets":0,"beam":null,"scorer":"classifier","wall_s":1.0}}"#
    )
}

const TOP1: &str = r#"{"name":"top1","scores":{"classifier_is":3.25,"classifier_fid":41.5},
 "cells":[{"conv":"pre","norm":"none","up":"nearest","shortcut":true,"skip_from":[]},
 {"conv":"pre","norm":"none","up":"bilinear","shortcut":true,"skip_from":[1]},
 {"conv":"post","norm":"batch","up":"deconv","shortcut":false,"skip_from":[1,2]}]}"#;
const TOP2: &str = r#"{"name":"top2","scores":{"classifier_is":2.75},
 "cells":[{"conv":"post","norm":"none","up":"nearest","shortcut":true,"skip_from":[]},
 {"conv":"pre","norm":"none","up":"bilinear","shortcut":true,"skip_from":[]},
 {"conv":"pre","norm":"none","up":"nearest","shortcut":false,"skip_from":[2]}]}"#;

/// A two-stage search: 4 iterations, resets after iterations 2 and 4 (`resets` of them), a
/// torn line 3, top-2 archs, best.json, two sample grids and a config.
fn search_dir(name: &str, resets: bool) -> PathBuf {
    let d = tmp(name);
    let lines = vec![
        ctrl(1, 0, 1, "[[1,0,1,1],[0,0,1,1],[1,2,0,0]]", 2.0),
        iteration(1, 0, 1.0, 0.5, false),
        r#"{"kind":"controller","iteration":2,"#.to_string(),
        ctrl(2, 0, 1, "[[1,0,1,1],[1,0,1,1],[1,0,2,1]]", 2.5),
        iteration(2, 0, 0.9, 0.6, resets),
        ctrl(3, 1, 1, "[[1,0,1,1,1,0,0,1,0],[1,0,1,1,1,0,0,1,1]]", 3.0),
        iteration(3, 1, 0.8, 0.7, false),
        ctrl(4, 1, 1, "[[1,0,1,1,1,0,0,1,1],[1,0,1,1,1,0,0,1,1]]", 3.5),
        iteration(4, 1, 0.7, 0.8, resets),
    ];
    write_lines(&d.join("search.jsonl"), &lines);
    std::fs::create_dir_all(d.join("archs")).unwrap();
    std::fs::write(d.join("archs/top1.json"), TOP1).unwrap();
    std::fs::write(d.join("archs/top2.json"), TOP2).unwrap();
    std::fs::write(d.join("best.json"), TOP1.replace("top1", "best")).unwrap();
    png(&d.join("samples/iter_001.png"));
    png(&d.join("samples/iter_004.png"));
    std::fs::create_dir_all(d.join("final/top1")).unwrap();
    write_lines(
        &d.join("final/top1/train.jsonl"),
        &[r#"{"step":2,"kind":"eval","scorer":"classifier","num_images":10,"is_mean":1.5,"is_std":0.1,"fid":55.125}"#.to_string()],
    );
    png(&d.join("final/top1/samples/step_0000002.png"));
    std::fs::write(
        d.join("config.json"),
        r#"{"search":{"iterations":4,"stage_changes":[2,3],"dataset":null},"seed":7}"#,
    )
    .unwrap();
    d
}

fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

/// No resource is fetched from the network: no http(s) URL anywhere in the page, every
/// `src` is a data URI, and there is no script.
fn assert_self_contained(html: &str) {
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page names a network URL"
    );
    for (i, _) in html.match_indices("src=\"") {
        assert!(
            html[i + 5..].starts_with("data:image/png;base64,"),
            "a src that is not a data URI: {}",
            &html[i..(i + 60).min(html.len())]
        );
    }
    assert!(!html.contains("<script"), "the page has a script");
}

#[test]
fn search_report_has_losses_resets_controller_curves_choices_and_top_k() {
    let d = search_dir("search", true);
    let html = page(&d);
    assert_self_contained(&html);
    // Loss chart with one marker per reset line.
    assert!(html.contains("GAN losses per iteration"));
    assert_eq!(count(&html, "class=\"marker\""), 2, "one marker per reset");
    assert!(html.contains("2 dynamic resets"));
    // Controller curves with one series per stage.
    for t in [
        "<title>reward</title>",
        "<title>baseline</title>",
        "<title>entropy</title>",
    ] {
        assert!(html.contains(t), "missing chart {t}");
    }
    assert_eq!(count(&html, "data-name=\"stage 0\""), 3);
    assert_eq!(count(&html, "data-name=\"stage 1\""), 3);
    // Choices: 4 decisions of cell 1 (stage 0), 5 of cell 2 (stage 1).
    assert_eq!(count(&html, "<svg class=\"chart stacked\""), 9);
    assert!(html.contains("stage 0 (cell 1): conv block"));
    assert!(html.contains("stage 1 (cell 2): skip inputs"));
    // Iteration 2 of stage 0 sampled conv `pre` 3 times out of 3: one full bar segment.
    assert!(html.contains("<title>2: pre 100%</title>"), "{html}");
    assert!(html.contains("<title>1: pre 67%</title>"));
    assert!(html.contains("<title>3: from 1 50%</title>"));
    // Top-K table: top1, top2, best, with their scores and cells.
    let table = &html[html.find("<table class=\"topk\"").expect("top-K table")..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(count(table, "<tr>"), 4, "header + 3 rows");
    assert!(
        table.contains("top1.json") && table.contains("top2.json") && table.contains("best.json")
    );
    assert!(table.contains("classifier_is 3.2500") && table.contains("classifier_fid 41.5000"));
    assert!(table.contains("classifier_is 2.7500"));
    assert!(table.contains("cell 3"));
    // The final training's evaluation.
    let fin = &html[html
        .find("<table class=\"final\"")
        .expect("final training table")..];
    assert!(fin[..fin.find("</table>").unwrap()]
        .contains("<td>top1</td><td>2</td><td>classifier</td><td>1.5000</td><td>55.1250</td>"));
    assert!(html.contains("<figcaption>top1: step_0000002.png</figcaption>"));
    // Grids embedded (2 of the search, 1 of the final training), config as rows, the torn
    // line named.
    assert_eq!(count(&html, "src=\"data:image/png;base64,"), 3);
    assert!(html.contains("<td>search.iterations</td><td>4</td>"));
    assert!(html.contains("line 3: invalid JSON"));
}

#[test]
fn svg_dir_writes_every_chart_of_the_page_as_a_standalone_file() {
    let d = search_dir("svgdir", true);
    let out = tmp("svgdir-charts");
    let o = report_with(&d, &[], &["--svg-dir", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let said = String::from_utf8_lossy(&o.stderr);
    let html = std::fs::read_to_string(d.join("report.html")).unwrap();
    // The page's charts, in order.
    let elements: Vec<&str> = html
        .match_indices("<svg ")
        .map(|(i, _)| {
            let rest = &html[i..];
            &rest[..rest.find("</svg>").unwrap() + 6]
        })
        .collect();
    assert!(
        elements.len() >= 13,
        "losses, 3 controller curves, 9 choice charts"
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), elements.len(), "one file per chart: {files:?}");
    assert!(
        said.contains(&format!(
            "{} charts written to {}",
            files.len(),
            out.display()
        )),
        "{said}"
    );
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names[0],
        "01-gan-losses-per-iteration-dashed-dynamic-reset.svg"
    );
    assert!(names.contains(&"04-entropy.svg".to_string()), "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| n.ends_with("-stage-0-cell-1-conv-block.svg")),
        "{names:?}"
    );
    for (file, element) in files.iter().zip(&elements) {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "));
        // The same drawing as on the page, only with the namespace a file needs.
        assert_eq!(
            text.lines().nth(1).unwrap(),
            element.replacen("<svg ", "<svg xmlns=\"http://www.w3.org/2000/svg\" ", 1),
            "{}",
            file.display()
        );
    }
    // A second run replaces the files, adds none.
    let o = report_with(&d, &["--quiet"], &["--svg-dir", out.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(o.stderr.is_empty(), "--quiet prints nothing to stderr");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), elements.len());
    // A path that cannot be a folder is refused with the flag named, and no page is written.
    std::fs::remove_file(d.join("report.html")).unwrap();
    let blocker = tmp("svgdir-file");
    std::fs::create_dir_all(&blocker).unwrap();
    let file = blocker.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let o = report_with(&d, &[], &["--svg-dir", file.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--svg-dir") && err.contains("a-file"), "{err}");
    assert!(!d.join("report.html").exists());
}

#[test]
fn search_without_resets_has_no_reset_marker() {
    let d = search_dir("noreset", false);
    let html = page(&d);
    assert_eq!(count(&html, "class=\"marker\""), 0);
    assert!(html.contains("0 dynamic resets"));
}

#[test]
fn train_report_has_losses_lr_throughput_and_evaluations() {
    let d = tmp("train");
    let mut lines = Vec::new();
    for s in 1..=4 {
        lines.push(format!(
            r#"{{"step":{s},"d_loss":{},"g_loss":{},"lr":0.0002,"images_per_s":{},"wall_s":{s}.0}}"#,
            1.0 / s as f64,
            0.5 * s as f64,
            100 + s
        ));
        if s % 2 == 0 {
            lines.push(format!(
                r#"{{"step":{s},"kind":"eval","scorer":"inception","num_images":20,"is_mean":{},"is_std":0.1,"fid":{},"kid_mean":{},"kid_std":0.01}}"#,
                1.5 + s as f64,
                90.0 - s as f64,
                0.5 / s as f64
            ));
        }
    }
    write_lines(&d.join("train.jsonl"), &lines);
    png(&d.join("samples/step_0000002.png"));
    std::fs::write(
        d.join("config.json"),
        r#"{"train":{"steps":4,"lr_g":0.0002}}"#,
    )
    .unwrap();
    let html = page(&d);
    assert_self_contained(&html);
    for t in [
        "<title>GAN losses</title>",
        "<title>learning rate</title>",
        "<title>throughput</title>",
        "<title>inception Inception Score</title>",
        "<title>inception FID</title>",
        "<title>inception KID</title>",
    ] {
        assert!(html.contains(t), "missing chart {t}");
    }
    // A metric the log does not hold gets no empty chart.
    assert!(!html.contains("<title>inception precision</title>"));
    assert!(html.contains("data-name=\"D loss\"") && html.contains("data-name=\"G loss\""));
    // The FID series has the two evaluations as its points.
    let fid = &html[html.find("data-name=\"FID\"").unwrap()..];
    let pts = &fid[fid.find("points=\"").unwrap() + 8..];
    assert_eq!(pts[..pts.find('"').unwrap()].split(' ').count(), 2);
    assert_eq!(count(&html, "src=\"data:image/png;base64,"), 1);
    assert!(html.contains("<td>train.steps</td><td>4</td>"));
}

#[test]
fn empty_or_damaged_logs_give_no_data_sections_not_a_crash() {
    let d = tmp("damaged");
    std::fs::write(
        d.join("search.jsonl"),
        "garbage\n[1,2]\n{\"kind\":\"iteration\"}\n",
    )
    .unwrap();
    let html = page(&d);
    assert!(html.contains("line 1: invalid JSON") && html.contains("line 2: not a JSON object"));
    assert!(html.contains("no data"));
    assert!(html.contains("no archs/top*.json or best.json"));
    assert!(
        html.contains("no data: cannot read"),
        "config.json is missing"
    );
}

#[test]
fn a_folder_that_is_not_a_run_is_refused_and_nothing_is_written() {
    let d = tmp("notrun");
    let o = report(&d);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("is not a run directory"), "{err}");
    assert!(!d.join("report.html").exists());
    let o = report(&d.join("missing"));
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such folder"));
}

fn chromium() -> Option<String> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(|c| c.to_string())
}

/// A screenshot of `dir/report.html` by headless Chromium (1200x2000), asserted to exist.
fn screenshot(bin: &str, dir: &Path) -> image::RgbImage {
    let shot = dir.join("screenshot.png");
    let o = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,2000",
        ])
        .arg(format!("file://{}", dir.join("report.html").display()))
        .output()
        .unwrap();
    assert!(
        shot.is_file(),
        "chromium wrote no screenshot:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    println!("screenshot: {}", shot.display());
    image::open(&shot).unwrap().to_rgb8()
}

/// The page renders in headless Chromium: the screenshot exists, is not blank, and shows the
/// first series colour of the charts.
#[test]
fn the_page_renders_in_headless_chromium() {
    let Some(bin) = chromium() else {
        println!("SKIP: no chromium on PATH (apt-get install -y chromium)");
        return;
    };
    let d = search_dir("chromium", true);
    page(&d);
    let img = screenshot(&bin, &d);
    assert_eq!((img.width(), img.height()), (1200, 2000));
    // Not blank: the charts, bars and grids cover a good part of the page (the title alone
    // covers well under 1%).
    let drawn = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    let share = drawn as f64 / (img.width() * img.height()) as f64;
    println!("non-white share of the screenshot: {share:.3}");
    assert!(
        share > 0.05,
        "the screenshot is (nearly) blank: {share:.4} non-white"
    );
    // The palette's first colour (D loss, stage 0) is drawn somewhere.
    assert!(
        img.pixels().any(|p| p.0 == [0x00, 0x72, 0xb2]),
        "no chart line of the first series colour in the screenshot"
    );
}

/// One group of a compare.json: its values of classifier IS and FID.
fn group(name: &str, is: &[f64], fid: &[f64]) -> serde_json::Value {
    let m = |v: &[f64]| {
        serde_json::json!({"n": v.len(), "mean": v.iter().sum::<f64>() / v.len().max(1) as f64,
                           "std": null, "best": null, "values": v, "vs_random": {"p": 0.0123}})
    };
    serde_json::json!({"group": name, "labels": [],
                       "metrics": {"classifier_is": m(is), "classifier_fid": m(fid)}})
}

/// A comparison directory: compare.json with a reinforce, a random and a paper group, two
/// architectures listed, one search's Kendall tau; its config.json.
fn compare_dir(name: &str) -> PathBuf {
    let d = tmp(name);
    let r = serde_json::json!({
        "command": "compare",
        "complete": true,
        "plan": {"train_steps": 2000, "preset": "quick", "seed": 0, "eval_images": 1000,
                 "scorers": ["classifier"]},
        "groups": [
            group("reinforce", &[1.31, 1.27, 1.42], &[80.5, 91.0, 70.25]),
            group("random", &[1.05, 1.10, 1.2, 1.15, 1.0], &[140.0, 120.5, 99.0, 131.0, 150.0]),
            group("paper", &[1.61], &[55.5]),
        ],
        "runs": [
            {"label": "reinforce-s0-top1", "group": "reinforce", "found": true,
             "vector": [0,1,0,1,0,1,1,0,1,0,1,1,0,3], "classifier_is": 1.31,
             "classifier_fid": 80.5, "supernet_score": 1.2},
            {"label": "random-01", "group": "random", "found": false,
             "vector": [1,0,2,0,1,2,0,1,0,1,2,0,1,0], "classifier_is": 1.05,
             "classifier_fid": 140.0},
        ],
        "kendall": [{"search": "reinforce-s0", "k": 3, "tau_classifier_is": 0.333,
                     "tau_classifier_fid": -1.0}],
        "kendall_tau_mean": {"classifier_is": 0.333, "classifier_fid": -1.0},
        "kendall_all": [{"search": "reinforce-s0", "group": "reinforce", "n": 9,
                         "tau_classifier_is": 0.5278, "tau_classifier_fid": 0.4722}],
        "kendall_all_tau_mean": {"classifier_is": 0.5278, "classifier_fid": 0.4722},
    });
    std::fs::write(d.join("compare.json"), r.to_string()).unwrap();
    std::fs::write(
        d.join("config.json"),
        r#"{"command": "compare", "plan": {"seeds": 3}}"#,
    )
    .unwrap();
    d
}

#[test]
fn compare_report_shows_each_group_distribution_and_the_tables() {
    let d = compare_dir("compare");
    let html = page(&d);
    assert_self_contained(&html);
    assert!(html.contains("autogan comparison report"), "title");
    assert_eq!(count(&html, "class=\"chart strip\""), 2, "IS and FID");
    // Every value of every group is a point of the IS and of the FID plot.
    assert_eq!(count(&html, "class=\"point\""), 2 * (3 + 5 + 1));
    for (g, n) in [("reinforce", 3), ("random", 5), ("paper", 1)] {
        assert_eq!(
            count(&html, &format!("data-group=\"{g}\" data-n=\"{n}\"")),
            2,
            "{g}"
        );
    }
    for v in ["1.42", "99", "55.5"] {
        assert!(html.contains(&format!("data-value=\"{v}\"")), "{v}");
    }
    for class in ["groups", "runs", "kendall", "kendall-all", "config"] {
        assert_eq!(
            count(&html, &format!("<table class=\"{class}\">")),
            1,
            "{class}"
        );
    }
    assert!(html.contains("reinforce-s0-top1 (found)") && html.contains("0.012"));
    assert!(
        html.contains("0.528") && html.contains("0.472"),
        "tau over every trained arch"
    );
    if let Some(bin) = chromium() {
        let img = screenshot(&bin, &d);
        // The first group's colour (the box outline and points of reinforce) is drawn.
        assert!(
            img.pixels().any(|p| p.0 == [0x00, 0x72, 0xb2]),
            "no point of the first group's colour in the screenshot"
        );
    } else {
        println!("SKIP the Chromium part: no chromium on PATH");
    }
    // A comparison whose jobs have not written compare.json yet is refused with the fix.
    std::fs::remove_file(d.join("compare.json")).unwrap();
    std::fs::remove_file(d.join("report.html")).unwrap();
    let o = report(&d);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("compare --resume"), "{err}");
    assert!(!d.join("report.html").exists());
    // A compare.json cut short or edited by hand is named with the field it lacks, never drawn
    // as a page of "null G steps".
    let d = compare_dir("compare-malformed");
    let mut r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("compare.json")).unwrap()).unwrap();
    r["plan"]["train_steps"] = serde_json::Value::Null;
    std::fs::write(d.join("compare.json"), r.to_string()).unwrap();
    let o = report(&d);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "a malformed compare.json gave a page");
    assert!(
        err.contains("\"plan.train_steps\" is missing") && err.contains("compare --resume"),
        "{err}"
    );
    assert!(!d.join("report.html").exists());
}
