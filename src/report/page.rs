//! The HTML page: sections, charts, tables, embedded images. No script, no external
//! resource: images are base64 data URIs, styles are inline.
use base64::Engine;
use std::fmt::Write;
use std::path::PathBuf;

use super::svg::esc;

const STYLE: &str = "body{font-family:sans-serif;margin:20px;color:#222;max-width:1180px}\
h1{font-size:20px}h2{font-size:17px;border-bottom:1px solid #ccc;margin-top:28px}\
.charts{display:flex;flex-wrap:wrap;gap:8px}svg.chart{border:1px solid #ddd}\
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px;\
text-align:left;vertical-align:top;white-space:pre-line}.note{color:#555;font-style:italic}\
.problems{color:#a00}figure{display:inline-block;margin:6px}figcaption{font-size:11px}\
img.grid{image-rendering:pixelated;width:256px}";

/// A page under construction.
pub struct Page {
    body: String,
    title: String,
    /// Every chart drawn, in page order (also for `report --svg-dir`).
    charts: Vec<String>,
    /// `charts[row..]` wait to be put in one flex row.
    row: usize,
}

impl Page {
    pub fn new(title: &str) -> Page {
        Page {
            body: String::new(),
            title: title.to_string(),
            charts: Vec::new(),
            row: 0,
        }
    }

    fn flush(&mut self) {
        if self.row < self.charts.len() {
            let _ = write!(
                self.body,
                "<div class=\"charts\">{}</div>",
                self.charts[self.row..].join("")
            );
            self.row = self.charts.len();
        }
    }

    pub fn section(&mut self, title: &str) {
        self.flush();
        let _ = write!(self.body, "<h2>{}</h2>", esc(title));
    }

    /// A chart, or "no data" when it has no point.
    pub fn chart(&mut self, svg: Option<String>) {
        match svg {
            Some(s) => self.charts.push(s),
            None => self.note("no data for this chart"),
        }
    }

    pub fn note(&mut self, text: &str) {
        self.flush();
        let _ = write!(self.body, "<p class=\"note\">{}</p>", esc(text));
    }

    /// Lines of the logs that could not be read.
    pub fn problems(&mut self, problems: &[String]) {
        if problems.is_empty() {
            return;
        }
        self.flush();
        self.body.push_str("<ul class=\"problems\">");
        for p in problems.iter().take(50) {
            let _ = write!(self.body, "<li>{}</li>", esc(p));
        }
        if problems.len() > 50 {
            let _ = write!(self.body, "<li>... {} more</li>", problems.len() - 50);
        }
        self.body.push_str("</ul>");
    }

    /// A table with a header row; `class` names it for readers and tests.
    pub fn table(&mut self, header: &[&str], rows: &[Vec<String>], class: &str) {
        self.flush();
        let _ = write!(self.body, "<table class=\"{}\"><tr>", esc(class));
        for h in header {
            let _ = write!(self.body, "<th>{}</th>", esc(h));
        }
        self.body.push_str("</tr>");
        for r in rows {
            self.body.push_str("<tr>");
            for c in r {
                let _ = write!(self.body, "<td>{}</td>", esc(c.trim_end()));
            }
            self.body.push_str("</tr>");
        }
        self.body.push_str("</table>");
    }

    /// Key / value rows.
    pub fn kv_rows(&mut self, rows: &[(String, String)]) {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect();
        self.table(&["key", "value"], &rows, "config");
    }

    /// A titled key / value table.
    pub fn kv_table(&mut self, title: &str, rows: &[(String, String)]) {
        self.flush();
        let _ = write!(self.body, "<h3>{}</h3>", esc(title));
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect();
        self.table(&["key", "value"], &rows, "kv");
    }

    /// PNG files embedded as data URIs, captioned with their names; unreadable ones noted.
    pub fn images(&mut self, paths: &[PathBuf]) {
        let named: Vec<(PathBuf, String)> = paths
            .iter()
            .map(|p| {
                let n = p.file_name().map(|n| n.to_string_lossy().to_string());
                (p.clone(), n.unwrap_or_default())
            })
            .collect();
        self.images_named(&named);
    }

    /// PNG files embedded as data URIs with the given captions.
    pub fn images_named(&mut self, images: &[(PathBuf, String)]) {
        self.flush();
        if images.is_empty() {
            self.note("no data: no sample grid in samples/");
            return;
        }
        for (p, name) in images {
            match std::fs::read(p) {
                Ok(bytes) if bytes.starts_with(b"\x89PNG") => {
                    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
                    let _ = write!(
                        self.body,
                        "<figure><img class=\"grid\" alt=\"{n}\" src=\"data:image/png;base64,{b64}\"/>\
                         <figcaption>{n}</figcaption></figure>",
                        n = esc(name)
                    );
                }
                Ok(_) => self.note(&format!("{}: not a PNG file, left out", p.display())),
                Err(e) => self.note(&format!("cannot read {}: {e}", p.display())),
            }
        }
    }

    /// The whole document, and every chart in page order (each an `<svg>` element).
    pub fn finish(mut self) -> (String, Vec<String>) {
        self.flush();
        let html = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
             <style>{STYLE}</style></head><body><h1>{t}</h1>{b}</body></html>\n",
            t = esc(&self.title),
            b = self.body
        );
        (html, self.charts)
    }
}
