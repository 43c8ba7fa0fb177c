//! The search space (SPEC section 1): three cells, their tokens, the 14-integer vector, the
//! readable JSON form, the description in words, and every check on them.
//!
//! Vector layout: `[C N U SC | C N U SC skip | C N U SC skip]`. The skip integer of cell k
//! (k = 2, 3) has bit j set when it takes the output of cell k-1-j (LSB = preceding cell).
//! In the readable form `skip_from` lists 1-based cell numbers in increasing order.
//!
//! A partial architecture (1 or 2 cells, the prefixes kept by the search's beam) is an `Arch`
//! with fewer cells; its vector has 4 or 9 integers. Files always hold complete archs.
//!
//! Every function that reads outside input returns an error that names the origin (file),
//! the cell (1-based), the field and the allowed values; none of them panics.
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Conv block order: token 0 = post-activation, 1 = pre-activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConvBlock {
    Post,
    Pre,
}

/// Normalisation: token 0 = none, 1 = batch norm, 2 = instance norm (affine = false).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    None,
    Batch,
    Instance,
}

/// Upsampling: token 0 = bilinear, 1 = nearest, 2 = transposed conv (k2, s2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Up {
    Bilinear,
    Nearest,
    Deconv,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cell {
    pub conv: ConvBlock,
    pub norm: Norm,
    pub up: Up,
    pub shortcut: bool,
    /// 1-based numbers of earlier cells whose skip output this cell adds, ascending.
    pub skip_from: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arch {
    pub cells: Vec<Cell>,
}

pub const NUM_CELLS: usize = 3;

/// Length of the vector of a complete architecture.
pub const VECTOR_LEN: usize = 14;

/// Number of values of the four per-cell decisions C, N, U, SC.
pub const CELL_CHOICES: [usize; 4] = [2, 3, 3, 2];

/// Number of complete architectures: 36 * 72 * 144.
pub const NUM_ARCHS: usize = 373_248;

/// The top-level keys a file may carry besides `cells` / `vector` (informational only).
const INFO_KEYS: [&str; 3] = ["name", "score", "scores"];
const CELL_KEYS: [&str; 5] = ["conv", "norm", "up", "shortcut", "skip_from"];

// ---------------------------------------------------------------------------------------------
// tokens and names of the choices

impl ConvBlock {
    pub const ALL: [ConvBlock; 2] = [ConvBlock::Post, ConvBlock::Pre];

    pub fn token(self) -> i64 {
        match self {
            ConvBlock::Post => 0,
            ConvBlock::Pre => 1,
        }
    }

    pub fn from_token(t: i64) -> Option<ConvBlock> {
        usize::try_from(t)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
    }

    /// Canonical name in files: `post` / `pre`.
    pub fn name(self) -> &'static str {
        match self {
            ConvBlock::Post => "post",
            ConvBlock::Pre => "pre",
        }
    }

    /// Canonical names and the accepted aliases.
    pub fn from_name(s: &str) -> Option<ConvBlock> {
        match s {
            "post" | "post-activation" => Some(ConvBlock::Post),
            "pre" | "pre-activation" => Some(ConvBlock::Pre),
            _ => None,
        }
    }

    fn words(self) -> &'static str {
        match self {
            ConvBlock::Post => "post-activation",
            ConvBlock::Pre => "pre-activation",
        }
    }
}

impl Norm {
    pub const ALL: [Norm; 3] = [Norm::None, Norm::Batch, Norm::Instance];

    pub fn token(self) -> i64 {
        match self {
            Norm::None => 0,
            Norm::Batch => 1,
            Norm::Instance => 2,
        }
    }

    pub fn from_token(t: i64) -> Option<Norm> {
        usize::try_from(t)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
    }

    /// Canonical name in files: `none` / `batch` / `instance`.
    pub fn name(self) -> &'static str {
        match self {
            Norm::None => "none",
            Norm::Batch => "batch",
            Norm::Instance => "instance",
        }
    }

    /// Canonical names and the accepted aliases `bn`, `in`.
    pub fn from_name(s: &str) -> Option<Norm> {
        match s {
            "none" => Some(Norm::None),
            "batch" | "bn" => Some(Norm::Batch),
            "instance" | "in" => Some(Norm::Instance),
            _ => None,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Norm::None => "no normalisation",
            Norm::Batch => "batch normalisation",
            Norm::Instance => "instance normalisation",
        }
    }
}

impl Up {
    pub const ALL: [Up; 3] = [Up::Bilinear, Up::Nearest, Up::Deconv];

    pub fn token(self) -> i64 {
        match self {
            Up::Bilinear => 0,
            Up::Nearest => 1,
            Up::Deconv => 2,
        }
    }

    pub fn from_token(t: i64) -> Option<Up> {
        usize::try_from(t)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
    }

    /// Canonical name in files: `bilinear` / `nearest` / `deconv`.
    pub fn name(self) -> &'static str {
        match self {
            Up::Bilinear => "bilinear",
            Up::Nearest => "nearest",
            Up::Deconv => "deconv",
        }
    }

    /// Canonical names and the accepted alias `transposed`.
    pub fn from_name(s: &str) -> Option<Up> {
        match s {
            "bilinear" => Some(Up::Bilinear),
            "nearest" => Some(Up::Nearest),
            "deconv" | "transposed" => Some(Up::Deconv),
            _ => None,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Up::Bilinear => "bilinear upsampling",
            Up::Nearest => "nearest upsampling",
            Up::Deconv => "transposed-conv upsampling",
        }
    }
}

fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> String {
    all.iter().map(|&x| name(x)).collect::<Vec<_>>().join(", ")
}

/// "1", "1 and 2", "1, 2 and 3".
fn and_list(xs: &[usize]) -> String {
    match xs {
        [] => String::new(),
        [a] => a.to_string(),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(|x| x.to_string()).collect();
            format!("{} and {last}", init.join(", "))
        }
    }
}

/// "(1)", "(1, 2)": the cells that come before cell `k` (1-based).
fn earlier_cells(k: usize) -> String {
    let v: Vec<String> = (1..k).map(|i| i.to_string()).collect();
    format!("({})", v.join(", "))
}

/// The earlier cells (1-based, ascending) that skip integer `s` of cell `k` selects.
fn skips_of(k: usize, s: i64) -> Vec<usize> {
    (1..k).filter(|&f| s & (1i64 << (k - 1 - f)) != 0).collect()
}

/// "no skip inputs", "skip input from cell 1", "skip inputs from cells 1 and 2".
fn skip_words(from: &[usize]) -> String {
    match from {
        [] => "no skip inputs".to_string(),
        [f] => format!("skip input from cell {f}"),
        fs => format!("skip inputs from cells {}", and_list(fs)),
    }
}

/// Number of values of the skip integer of cell `k` (1-based): 2^(k-1); 1 for cell 1.
pub fn skip_choices(k: usize) -> usize {
    if k == 0 || k > NUM_CELLS {
        return 1;
    }
    1 << (k - 1)
}

/// Number of values of each decision of the cell that search stage `stage` decides (stage 0
/// decides cell 1), as the controller's tensors want them.
pub fn stage_decision_sizes(stage: usize) -> Vec<i64> {
    decision_sizes(stage + 1)
        .into_iter()
        .map(|n| n as i64)
        .collect()
}

/// Number of values of each decision of cell `k` (1-based), in vector order:
/// `[2, 3, 3, 2]` for cell 1, `[2, 3, 3, 2, 2^(k-1)]` for the others.
pub fn decision_sizes(k: usize) -> Vec<usize> {
    let mut v = CELL_CHOICES.to_vec();
    if k > 1 {
        v.push(skip_choices(k));
    }
    v
}

/// Number of integers cell `k` (1-based) contributes to the vector: 4 for cell 1, else 5.
pub fn cell_vector_len(k: usize) -> usize {
    if k <= 1 {
        4
    } else {
        5
    }
}

/// Length of the vector of an arch with `n` cells: 0, 4, 9, 14 (so also the length of the
/// prefix that precedes the tokens of search stage `n`).
pub fn prefix_len(n: usize) -> usize {
    (1..=n).map(cell_vector_len).sum()
}

// ---------------------------------------------------------------------------------------------
// cells

impl Cell {
    /// The four tokens `[C, N, U, SC]`.
    pub fn tokens(&self) -> [i64; 4] {
        [
            self.conv.token(),
            self.norm.token(),
            self.up.token(),
            i64::from(self.shortcut),
        ]
    }

    /// The skip integer of this cell when it sits at position `k` (1-based): bit j set when
    /// it takes cell k-1-j. Entries of `skip_from` that are not earlier cells are ignored
    /// (`Arch::validate` reports them).
    pub fn skip_token(&self, k: usize) -> i64 {
        let mut t = 0i64;
        for &f in &self.skip_from {
            if f >= 1 && f < k {
                let bit = k - 1 - f;
                t |= 1i64 << bit;
            }
        }
        t
    }

    /// The integers this cell contributes to the vector at position `k`: 4 for cell 1,
    /// else 5 (the tokens then the skip integer).
    pub fn vector_part(&self, k: usize) -> Vec<i64> {
        let mut v = self.tokens().to_vec();
        if k > 1 {
            v.push(self.skip_token(k));
        }
        v
    }

    /// The cell at position `k` (1-based) from its 4 (cell 1) or 5 integers.
    /// Errors name the cell and the field: `cell 3, skip: 4 is outside 0..=3`.
    pub fn from_tokens(k: usize, t: &[i64]) -> Result<Cell> {
        Self::from_tokens_inner(k, t).map_err(|e| anyhow!(e))
    }

    fn from_tokens_inner(k: usize, t: &[i64]) -> Result<Cell, String> {
        if k == 0 || k > NUM_CELLS {
            return Err(format!("there is no cell {k}: cells are 1..={NUM_CELLS}"));
        }
        let want = cell_vector_len(k);
        if t.len() != want {
            return Err(format!(
                "cell {k}: expected {want} integers, got {}",
                t.len()
            ));
        }
        let range = |field: &str, v: i64, n: usize, meaning: String| {
            format!(
                "cell {k}, {field}: {v} is outside 0..={} ({meaning})",
                n - 1
            )
        };
        let meaning = |all: &[&str]| {
            all.iter()
                .enumerate()
                .map(|(i, s)| format!("{i} = {s}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let conv = ConvBlock::from_token(t[0])
            .ok_or_else(|| range("conv", t[0], 2, meaning(&["post", "pre"])))?;
        let norm = Norm::from_token(t[1])
            .ok_or_else(|| range("norm", t[1], 3, meaning(&["none", "batch", "instance"])))?;
        let up = Up::from_token(t[2])
            .ok_or_else(|| range("up", t[2], 3, meaning(&["bilinear", "nearest", "deconv"])))?;
        let shortcut = match t[3] {
            0 => false,
            1 => true,
            v => return Err(range("shortcut", v, 2, meaning(&["off", "on"]))),
        };
        let mut skip_from = Vec::new();
        if k > 1 {
            let s = t[4];
            let n = skip_choices(k) as i64;
            if !(0..n).contains(&s) {
                let meanings: Vec<String> = (0..n)
                    .map(|v| format!("{v} = {}", skip_words(&skips_of(k, v))))
                    .collect();
                return Err(format!(
                    "cell {k}, skip: {s} is outside 0..={} ({})",
                    n - 1,
                    meanings.join(", ")
                ));
            }
            skip_from = skips_of(k, s);
        }
        Ok(Cell {
            conv,
            norm,
            up,
            shortcut,
            skip_from,
        })
    }

    /// Checks `skip_from` for position `k`: only earlier cells, increasing, no repeats.
    fn check_skips(&self, k: usize) -> Result<(), String> {
        if k == 1 && !self.skip_from.is_empty() {
            return Err(
                "cell 1, field \"skip_from\": cell 1 cannot take skips, no cell comes \
                        before it (use [])"
                    .to_string(),
            );
        }
        for &f in &self.skip_from {
            if f == 0 || f >= k {
                return Err(format!(
                    "cell {k}, field \"skip_from\": cell {k} cannot take a skip from cell {f}: \
                     only earlier cells {}",
                    earlier_cells(k)
                ));
            }
        }
        if self.skip_from.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!(
                "cell {k}, field \"skip_from\": {:?} must list cells in increasing order without \
                 repeats",
                self.skip_from
            ));
        }
        Ok(())
    }

    /// The cell in the readable JSON form (canonical names).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("conv".into(), Value::from(self.conv.name()));
        m.insert("norm".into(), Value::from(self.norm.name()));
        m.insert("up".into(), Value::from(self.up.name()));
        m.insert("shortcut".into(), Value::from(self.shortcut));
        m.insert("skip_from".into(), Value::from(self.skip_from.clone()));
        Value::Object(m)
    }

    /// One line of JSON with the keys in reading order.
    fn to_json_line(&self) -> String {
        let skips: Vec<String> = self.skip_from.iter().map(|f| f.to_string()).collect();
        format!(
            "{{\"conv\": \"{}\", \"norm\": \"{}\", \"up\": \"{}\", \"shortcut\": {}, \
             \"skip_from\": [{}]}}",
            self.conv.name(),
            self.norm.name(),
            self.up.name(),
            self.shortcut,
            skips.join(", ")
        )
    }

    /// The cell in words (after the "cell k (..):" label), e.g.
    /// "pre-activation, no normalisation, nearest upsampling, shortcut on, no skip inputs".
    pub fn describe(&self) -> String {
        let skips = skip_words(&self.skip_from);
        format!(
            "{}, {}, {}, shortcut {}, {}",
            self.conv.words(),
            self.norm.words(),
            self.up.words(),
            if self.shortcut { "on" } else { "off" },
            skips
        )
    }

    fn from_words(k: usize, s: &str) -> Result<Cell, String> {
        let parts: Vec<&str> = s.split(", ").collect();
        if parts.len() != 5 {
            return Err(format!(
                "cell {k}: expected 5 comma-separated parts, got {}",
                parts.len()
            ));
        }
        let find = |what: &str, w: &str, all: Vec<&'static str>| {
            all.iter().position(|x| *x == w).ok_or_else(|| {
                format!("cell {k}, {what}: \"{w}\" is not one of {}", all.join(", "))
            })
        };
        let conv = ConvBlock::ALL[find(
            "conv",
            parts[0],
            ConvBlock::ALL.iter().map(|c| c.words()).collect(),
        )?];
        let norm = Norm::ALL[find(
            "norm",
            parts[1],
            Norm::ALL.iter().map(|c| c.words()).collect(),
        )?];
        let up = Up::ALL[find("up", parts[2], Up::ALL.iter().map(|c| c.words()).collect())?];
        let shortcut = match parts[3] {
            "shortcut on" => true,
            "shortcut off" => false,
            w => {
                return Err(format!(
                    "cell {k}, shortcut: \"{w}\" is not shortcut on|off"
                ))
            }
        };
        let skip_from = if parts[4] == "no skip inputs" {
            Vec::new()
        } else if let Some(f) = parts[4].strip_prefix("skip input from cell ") {
            vec![parse_cell_number(k, f)?]
        } else if let Some(fs) = parts[4].strip_prefix("skip inputs from cells ") {
            fs.split(" and ")
                .flat_map(|p| p.split(", "))
                .map(|f| parse_cell_number(k, f))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            return Err(format!("cell {k}, skips: cannot read \"{}\"", parts[4]));
        };
        let cell = Cell {
            conv,
            norm,
            up,
            shortcut,
            skip_from,
        };
        cell.check_skips(k)?;
        Ok(cell)
    }
}

fn parse_cell_number(k: usize, s: &str) -> Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .map_err(|_| format!("cell {k}, skips: \"{s}\" is not a cell number"))
}

// ---------------------------------------------------------------------------------------------
// architectures

impl Arch {
    /// A complete architecture from its 14 integers.
    pub fn from_vector(v: &[i64]) -> Result<Arch> {
        if v.len() != VECTOR_LEN {
            return Err(anyhow!(
                "expected {VECTOR_LEN} integers [C N U SC | C N U SC skip | C N U SC skip], got {}",
                v.len()
            ));
        }
        Self::from_prefix_vector(v)
    }

    /// A complete or partial architecture from 4 (cell 1), 9 (cells 1-2) or 14 integers.
    pub fn from_prefix_vector(v: &[i64]) -> Result<Arch> {
        Self::from_prefix_inner(v).map_err(|e| anyhow!(e))
    }

    fn from_prefix_inner(v: &[i64]) -> Result<Arch, String> {
        let n = match (1..=NUM_CELLS).find(|&n| prefix_len(n) == v.len()) {
            Some(n) => n,
            None => {
                return Err(format!(
                    "expected 4, 9 or 14 integers (1, 2 or 3 cells), got {}",
                    v.len()
                ))
            }
        };
        let mut cells = Vec::with_capacity(n);
        let mut at = 0;
        for k in 1..=n {
            let len = cell_vector_len(k);
            cells.push(Cell::from_tokens_inner(k, &v[at..at + len])?);
            at += len;
        }
        Ok(Arch { cells })
    }

    /// The 14 integers (4 or 9 for a partial arch).
    pub fn to_vector(&self) -> Vec<i64> {
        self.cells
            .iter()
            .enumerate()
            .flat_map(|(i, c)| c.vector_part(i + 1))
            .collect()
    }

    /// All three cells present.
    pub fn is_complete(&self) -> bool {
        self.cells.len() == NUM_CELLS
    }

    /// The first `n` cells (clamped to the cells present).
    pub fn prefix(&self, n: usize) -> Arch {
        Arch {
            cells: self.cells.iter().take(n).cloned().collect(),
        }
    }

    /// This prefix with one more cell appended, given by its 5 integers `[C N U SC skip]`
    /// (4 when the arch is empty). Used by the search's beam.
    pub fn extended(&self, tokens: &[i64]) -> Result<Arch> {
        let k = self.cells.len() + 1;
        if k > NUM_CELLS {
            return Err(anyhow!("the architecture already has {NUM_CELLS} cells"));
        }
        let cell = Cell::from_tokens(k, tokens)?;
        let mut cells = self.cells.clone();
        cells.push(cell);
        Ok(Arch { cells })
    }

    /// Checks an arch built in code: 1 to 3 cells, skips only from earlier cells, ascending.
    pub fn validate(&self) -> Result<()> {
        if self.cells.is_empty() || self.cells.len() > NUM_CELLS {
            return Err(anyhow!(
                "expected 1 to {NUM_CELLS} cells, got {}",
                self.cells.len()
            ));
        }
        for (i, c) in self.cells.iter().enumerate() {
            c.check_skips(i + 1).map_err(|e| anyhow!(e))?;
        }
        Ok(())
    }

    /// A uniformly random complete architecture.
    pub fn random(rng: &mut impl rand::Rng) -> Arch {
        Self::from_index(rng.gen_range(0..NUM_ARCHS)).expect("index is below NUM_ARCHS")
    }

    /// Number of complete architectures (373,248).
    pub fn count() -> usize {
        NUM_ARCHS
    }

    /// Every complete architecture, in the order of `index()`.
    pub fn all() -> impl Iterator<Item = Arch> {
        (0..NUM_ARCHS).filter_map(Self::from_index)
    }

    /// The architecture number `i` in `0..NUM_ARCHS` (mixed radix over the vector, the last
    /// integer varying fastest); None when out of range.
    pub fn from_index(i: usize) -> Option<Arch> {
        if i >= NUM_ARCHS {
            return None;
        }
        let sizes: Vec<usize> = (1..=NUM_CELLS).flat_map(decision_sizes).collect();
        let mut v = vec![0i64; sizes.len()];
        let mut rest = i;
        for (slot, &n) in v.iter_mut().zip(&sizes).rev() {
            *slot = (rest % n) as i64;
            rest /= n;
        }
        Self::from_vector(&v).ok()
    }

    /// The inverse of `from_index` for a complete arch.
    pub fn index(&self) -> usize {
        let sizes: Vec<usize> = (1..=NUM_CELLS).flat_map(decision_sizes).collect();
        self.to_vector()
            .iter()
            .zip(&sizes)
            .fold(0usize, |acc, (&t, &n)| {
                acc * n + usize::try_from(t).unwrap_or(0).min(n.saturating_sub(1))
            })
    }

    /// The JSON value `{"cells": [...], "vector": [...]}` (canonical names).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "cells".into(),
            Value::Array(self.cells.iter().map(Cell::to_json).collect()),
        );
        m.insert("vector".into(), Value::from(self.to_vector()));
        Value::Object(m)
    }

    /// The canonical file text: `name` (if any), `vector` on one line, one line per cell.
    pub fn to_json_pretty(&self, name: Option<&str>) -> String {
        let mut s = String::from("{\n");
        if let Some(n) = name {
            let quoted = Value::from(n).to_string();
            let _ = writeln!(s, "  \"name\": {quoted},");
        }
        let v: Vec<String> = self.to_vector().iter().map(|t| t.to_string()).collect();
        let _ = writeln!(s, "  \"vector\": [{}],", v.join(", "));
        s.push_str("  \"cells\": [\n");
        for (i, c) in self.cells.iter().enumerate() {
            let comma = if i + 1 < self.cells.len() { "," } else { "" };
            let _ = writeln!(s, "    {}{comma}", c.to_json_line());
        }
        s.push_str("  ]\n}\n");
        s
    }

    /// The vector as text, cells separated by bars: `1 0 1 1 | 1 0 0 1 1 | 1 0 1 0 3`.
    pub fn vector_string(&self) -> String {
        self.cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                c.vector_part(i + 1)
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// The cells in words, one line per cell, for a 4x4 bottom (CIFAR-10 sizes).
    pub fn describe(&self) -> String {
        self.describe_with_bottom_width(4)
    }

    /// The cells in words with the resolutions of a given bottom width (6 for STL-10):
    /// "cell 1 (4x4 -> 8x8): pre-activation, no normalisation, nearest upsampling,
    /// shortcut on, no skip inputs".
    pub fn describe_with_bottom_width(&self, bottom_width: i64) -> String {
        let mut s = String::new();
        let mut w = bottom_width;
        for (i, c) in self.cells.iter().enumerate() {
            let out = w.saturating_mul(2);
            let _ = writeln!(
                s,
                "cell {} ({w}x{w} -> {out}x{out}): {}",
                i + 1,
                c.describe()
            );
            w = out;
        }
        s
    }

    /// Reads the words written by `describe` back (any bottom width). Lines that do not start
    /// with "cell " are ignored.
    pub fn from_description(text: &str) -> Result<Arch> {
        let mut cells = Vec::new();
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("cell "))
        {
            let k = cells.len() + 1;
            let rest = line
                .split_once("): ")
                .map(|(_, r)| r)
                .ok_or_else(|| anyhow!("cell {k}: cannot read \"{line}\""))?;
            if k > NUM_CELLS {
                return Err(anyhow!("more than {NUM_CELLS} cells"));
            }
            cells.push(Cell::from_words(k, rest).map_err(|e| anyhow!(e))?);
        }
        if cells.is_empty() {
            return Err(anyhow!("no \"cell k (..): ...\" lines found"));
        }
        Ok(Arch { cells })
    }

    /// Reads an architecture file (readable `cells` form or `{"vector": [...]}`).
    pub fn load(path: &Path) -> Result<Arch> {
        Ok(Self::load_with_name(path)?.0)
    }

    /// Like `load`, also giving the file's informational `name` when it has one.
    pub fn load_with_name(path: &Path) -> Result<(Arch, Option<String>)> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read architecture file {}", path.display()))?;
        // Some editors start UTF-8 files with a byte-order mark; JSON has no use for it.
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        Self::from_json_str_with_name(text, &path.display().to_string())
    }

    /// Parses the JSON text of an architecture; `origin` (a file name) prefixes every error.
    pub fn from_json_str(s: &str, origin: &str) -> Result<Arch> {
        Ok(Self::from_json_str_with_name(s, origin)?.0)
    }

    /// Like `from_json_str`, also giving the informational `name` when present.
    pub fn from_json_str_with_name(s: &str, origin: &str) -> Result<(Arch, Option<String>)> {
        let value: Value = serde_json::from_str(s).map_err(|e| {
            // serde_json's message ends in " at line L column C": say it once, up front
            let msg = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let msg = msg.strip_suffix(&suffix).unwrap_or(&msg);
            anyhow!(
                "{origin}: not valid JSON (line {}, column {}): {msg}",
                e.line(),
                e.column()
            )
        })?;
        Self::from_json_value_with_name(&value).map_err(|e| anyhow!("{origin}: {e}"))
    }

    /// Reads a parsed JSON value (errors carry no origin).
    pub fn from_json_value(v: &Value) -> Result<Arch> {
        Ok(Self::from_json_value_with_name(v)?.0)
    }

    fn from_json_value_with_name(v: &Value) -> Result<(Arch, Option<String>)> {
        parse_file_value(v).map_err(|e| anyhow!(e))
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_file_value(v: &Value) -> Result<(Arch, Option<String>), String> {
    let obj = v.as_object().ok_or_else(|| {
        format!(
            "expected a JSON object {{\"cells\": [...]}} or {{\"vector\": [...]}}, got {}",
            json_kind(v)
        )
    })?;
    for key in obj.keys() {
        let k = key.as_str();
        if k != "cells" && k != "vector" && !INFO_KEYS.contains(&k) {
            return Err(format!(
                "unknown key \"{k}\" (allowed: cells, vector, {})",
                INFO_KEYS.join(", ")
            ));
        }
    }
    let name = match obj.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(format!(
                "field \"name\": expected a string, got {}",
                json_kind(other)
            ))
        }
    };
    let from_vector = obj.get("vector").map(parse_vector_value).transpose()?;
    let from_cells = obj.get("cells").map(parse_cells_value).transpose()?;
    let arch = match (from_cells, from_vector) {
        (Some(c), Some(v)) => {
            if c != v {
                return Err(format!(
                    "\"vector\" [{}] does not match \"cells\", which give [{}]",
                    v.vector_string(),
                    c.vector_string()
                ));
            }
            c
        }
        (Some(c), None) => c,
        (None, Some(v)) => v,
        (None, None) => {
            return Err("needs \"cells\" (readable form) or \"vector\" (14 integers)".into())
        }
    };
    Ok((arch, name))
}

fn parse_vector_value(v: &Value) -> Result<Arch, String> {
    let arr = v.as_array().ok_or_else(|| {
        format!(
            "field \"vector\": expected an array of 14 integers, got {}",
            json_kind(v)
        )
    })?;
    let mut ints = Vec::with_capacity(arr.len());
    for (i, x) in arr.iter().enumerate() {
        match x.as_i64() {
            Some(t) => ints.push(t),
            None => {
                return Err(format!(
                    "field \"vector\": element {} is {x}, not an integer",
                    i + 1
                ))
            }
        }
    }
    if ints.len() != VECTOR_LEN {
        return Err(format!(
            "field \"vector\": expected {VECTOR_LEN} integers [C N U SC | C N U SC skip | C N U SC \
             skip], got {}",
            ints.len()
        ));
    }
    Arch::from_prefix_inner(&ints).map_err(|e| format!("field \"vector\": {e}"))
}

fn parse_cells_value(v: &Value) -> Result<Arch, String> {
    let arr = v.as_array().ok_or_else(|| {
        format!(
            "field \"cells\": expected an array of {NUM_CELLS} cells, got {}",
            json_kind(v)
        )
    })?;
    if arr.len() != NUM_CELLS {
        return Err(format!(
            "field \"cells\": expected {NUM_CELLS} cells, got {}",
            arr.len()
        ));
    }
    let cells = arr
        .iter()
        .enumerate()
        .map(|(i, c)| parse_cell_value(i + 1, c))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arch { cells })
}

fn parse_cell_value(k: usize, v: &Value) -> Result<Cell, String> {
    let obj = v.as_object().ok_or_else(|| {
        format!(
            "cell {k}: expected an object with {}, got {}",
            CELL_KEYS.join(", "),
            json_kind(v)
        )
    })?;
    for key in obj.keys() {
        if !CELL_KEYS.contains(&key.as_str()) {
            return Err(format!(
                "cell {k}: unknown key \"{key}\" (allowed: {})",
                CELL_KEYS.join(", ")
            ));
        }
    }
    fn choice<T: Copy>(
        k: usize,
        obj: &Map<String, Value>,
        field: &str,
        all: &[T],
        name: fn(T) -> &'static str,
        parse: fn(&str) -> Option<T>,
    ) -> Result<T, String> {
        let allowed = names(all, name);
        match obj.get(field) {
            None => Err(format!(
                "cell {k}: missing field \"{field}\" (one of {allowed})"
            )),
            Some(Value::String(s)) => parse(s).ok_or_else(|| {
                format!("cell {k}, field \"{field}\": \"{s}\" is not one of {allowed}")
            }),
            Some(other) => Err(format!(
                "cell {k}, field \"{field}\": {other} is not one of {allowed} (expected a string)"
            )),
        }
    }
    let conv = choice(
        k,
        obj,
        "conv",
        &ConvBlock::ALL,
        ConvBlock::name,
        ConvBlock::from_name,
    )?;
    let norm = choice(k, obj, "norm", &Norm::ALL, Norm::name, Norm::from_name)?;
    let up = choice(k, obj, "up", &Up::ALL, Up::name, Up::from_name)?;
    let shortcut = match obj.get("shortcut") {
        None => {
            return Err(format!(
                "cell {k}: missing field \"shortcut\" (true or false)"
            ))
        }
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(format!(
                "cell {k}, field \"shortcut\": {other} is not one of true, false"
            ))
        }
    };
    let skip_from = match obj.get("skip_from") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => {
            let mut out = Vec::with_capacity(a.len());
            for x in a {
                match x.as_u64().and_then(|f| usize::try_from(f).ok()) {
                    Some(f) if f >= 1 => out.push(f),
                    _ => {
                        return Err(format!(
                            "cell {k}, field \"skip_from\": {x} is not a cell number; allowed: \
                             earlier cells {}",
                            earlier_cells(k)
                        ))
                    }
                }
            }
            out
        }
        Some(other) => {
            return Err(format!(
                "cell {k}, field \"skip_from\": expected an array of earlier cell numbers {}, \
                 got {}",
                earlier_cells(k),
                json_kind(other)
            ))
        }
    };
    let cell = Cell {
        conv,
        norm,
        up,
        shortcut,
        skip_from,
    };
    cell.check_skips(k)?;
    Ok(cell)
}
