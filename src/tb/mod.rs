//! TensorBoard event files: what `train` and `search` write into `RUN/tb/` (unless
//! `--no-tensorboard`), for `tensorboard --logdir runs/`.
//!
//! An event file (`events.out.tfevents.<unix time>.autogan.<pid>`) is a sequence of TFRecord
//! records ([`record`]), each an `Event` protobuf ([`proto`]): the first names the file
//! version, the others hold one summary value each: a scalar (`simple_value`), an image
//! (PNG in `Summary.Image`) or a text (a string tensor with the text plugin's metadata).
//! Every event is written and flushed at once, so TensorBoard shows a run while it goes on
//! and a crash loses nothing already logged.
//!
//! Resume: each process writes a new file (TensorBoard reads every file of the folder), and
//! [`EventWriter::resume`] first removes from the earlier files the events that a resumed
//! run will write again (those after the checkpoint it starts from), as the JSONL logs drop
//! their lines.
//!
//! Which values are logged under which tags is [`mirror`]'s concern.
pub mod mirror;
pub mod proto;
pub mod record;

use anyhow::{Context, Result};
use prost::Message;
use std::io::Write;
use std::path::{Path, PathBuf};

use proto::{Event, Summary, Value};

/// The folder of the event files in a run directory.
pub fn tb_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("tb")
}

/// Appends events to one new event file.
pub struct EventWriter {
    file: std::fs::File,
    path: PathBuf,
}

impl EventWriter {
    /// A new event file in `dir` (created if missing), its first event written.
    pub fn create(dir: &Path) -> Result<EventWriter> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the TensorBoard folder {}", dir.display()))?;
        let secs = now().floor() as u64;
        let pid = std::process::id();
        let mut n = 0;
        let path = loop {
            let suffix = if n == 0 {
                String::new()
            } else {
                format!(".{n}")
            };
            let p = dir.join(format!("events.out.tfevents.{secs}.autogan.{pid}{suffix}"));
            if !p.exists() {
                break p;
            }
            n += 1;
        };
        let file = std::fs::OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = EventWriter { file, path };
        w.write(&Event {
            wall_time: now(),
            step: 0,
            file_version: Some("brain.Event:2".into()),
            summary: None,
        })?;
        Ok(w)
    }

    /// For a resumed run: drop from the event files already in `dir` every value for which
    /// `keep(tag, step)` is false (and what follows a torn record), then a new file as
    /// [`EventWriter::create`].
    pub fn resume(dir: &Path, keep: &dyn Fn(&str, i64) -> bool) -> Result<EventWriter> {
        if dir.is_dir() {
            for path in event_files(dir)? {
                truncate_file(&path, keep)?;
            }
        }
        EventWriter::create(dir)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A scalar (stored as float32, as TensorBoard's scalars are).
    pub fn scalar(&mut self, tag: &str, step: u64, value: f64) -> Result<()> {
        self.value(
            step,
            Value {
                tag: tag.into(),
                simple_value: Some(value as f32),
                ..Default::default()
            },
        )
    }

    /// An RGB image, PNG-encoded.
    pub fn image(&mut self, tag: &str, step: u64, img: &image::RgbImage) -> Result<()> {
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .context("encoding a TensorBoard image as PNG")?;
        self.value(
            step,
            Value {
                tag: tag.into(),
                image: Some(proto::Image {
                    height: img.height() as i32,
                    width: img.width() as i32,
                    colorspace: proto::COLORSPACE_RGB,
                    encoded_image_string: png,
                }),
                ..Default::default()
            },
        )
    }

    /// A text (Markdown) for TensorBoard's text dashboard.
    pub fn text(&mut self, tag: &str, step: u64, markdown: &str) -> Result<()> {
        self.value(
            step,
            Value {
                tag: tag.into(),
                tensor: Some(proto::TensorProto {
                    dtype: proto::DT_STRING,
                    tensor_shape: Some(proto::TensorShapeProto { dim: Vec::new() }),
                    string_val: vec![markdown.as_bytes().to_vec()],
                }),
                metadata: Some(proto::SummaryMetadata {
                    plugin_data: Some(proto::PluginData {
                        plugin_name: "text".into(),
                        // TextPluginData { version: 0 }: all defaults, no bytes.
                        content: Vec::new(),
                    }),
                    data_class: proto::DATA_CLASS_TENSOR,
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
    }

    fn value(&mut self, step: u64, value: Value) -> Result<()> {
        self.write(&Event {
            wall_time: now(),
            step: step as i64,
            file_version: None,
            summary: Some(Summary { value: vec![value] }),
        })
    }

    fn write(&mut self, event: &Event) -> Result<()> {
        self.file
            .write_all(&record::frame(&event.encode_to_vec()))
            .and_then(|_| self.file.flush())
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// Seconds since the Unix epoch.
fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The event files of `dir` (names containing "tfevents", as TensorBoard looks for them).
fn event_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let p = e?.path();
        if p.is_file()
            && p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains("tfevents"))
        {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// The events of an event file, decoded (up to the first torn or undecodable record).
pub fn read_events(path: &Path) -> Result<Vec<Event>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(record::records(&bytes)
        .iter()
        .map_while(|r| Event::decode(r.as_slice()).ok())
        .collect())
}

/// Rewrite `path` (atomically, only when something is dropped) without the values that
/// `keep` refuses, the events left empty, and anything after a torn record.
fn truncate_file(path: &Path, keep: &dyn Fn(&str, i64) -> bool) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::with_capacity(bytes.len());
    let mut changed = false;
    for r in record::records(&bytes) {
        let Ok(mut ev) = Event::decode(r.as_slice()) else {
            changed = true;
            break;
        };
        let step = ev.step;
        if let Some(s) = ev.summary.as_mut() {
            let n = s.value.len();
            s.value.retain(|v| keep(&v.tag, step));
            if s.value.len() != n {
                changed = true;
                if s.value.is_empty() {
                    continue;
                }
                out.extend(record::frame(&ev.encode_to_vec()));
                continue;
            }
        }
        out.extend(record::frame(&r));
    }
    if changed || out.len() != bytes.len() {
        crate::run::atomic_write(path, &out)?;
    }
    Ok(())
}
