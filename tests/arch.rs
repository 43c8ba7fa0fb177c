//! The search space format (`autogan::arch`): vector, JSON and words round trips, the published
//! archs decoded against SPEC section 1, every validation error, the config files.
use std::path::{Path, PathBuf};

use autogan::arch::{decision_sizes, Arch, Cell, ConvBlock, Norm, Up, NUM_ARCHS, NUM_CELLS};
use rand::rngs::StdRng;
use rand::SeedableRng;

const A: [i64; 14] = [1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3];
const B: [i64; 14] = [1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 3];
const C: [i64; 14] = [1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3];

fn config(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("configs/arch")
        .join(name)
}

/// The error message of parsing `text` as a file named `x.json`.
fn json_err(text: &str) -> String {
    match Arch::from_json_str(text, "configs/x.json") {
        Ok(a) => panic!("expected an error for {text}, got {a:?}"),
        Err(e) => format!("{e:#}"),
    }
}

fn vec_err(v: &[i64]) -> String {
    match Arch::from_vector(v) {
        Ok(a) => panic!("expected an error for {v:?}, got {a:?}"),
        Err(e) => format!("{e:#}"),
    }
}

fn assert_contains(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} should contain {p:?}");
    }
}

/// A file of arch "a" in cells form with one cell replaced by `cell` (index 0-based).
fn a_with_cell(i: usize, cell: &str) -> String {
    let mut cells = [
        r#"{"conv":"pre","norm":"none","up":"nearest","shortcut":true,"skip_from":[]}"#.to_string(),
        r#"{"conv":"pre","norm":"none","up":"bilinear","shortcut":true,"skip_from":[1]}"#.into(),
        r#"{"conv":"pre","norm":"none","up":"nearest","shortcut":false,"skip_from":[1,2]}"#.into(),
    ];
    cells[i] = cell.to_string();
    format!("{{\"cells\":[{}]}}", cells.join(","))
}

fn round_trip(arch: &Arch) {
    let v = arch.to_vector();
    assert_eq!(v.len(), 14);
    assert_eq!(&Arch::from_vector(&v).unwrap(), arch, "vector round trip");
    // JSON value (cells + vector), as text and as value
    let j = arch.to_json();
    assert_eq!(&Arch::from_json_value(&j).unwrap(), arch);
    let text = serde_json::to_string(&j).unwrap();
    assert_eq!(
        &Arch::from_json_str(&text, "mem").unwrap(),
        arch,
        "json round trip"
    );
    // the pretty canonical text, with a name
    let pretty = arch.to_json_pretty(Some("x \"quoted\""));
    let (back, name) = Arch::from_json_str_with_name(&pretty, "mem").unwrap();
    assert_eq!(&back, arch, "pretty json round trip");
    assert_eq!(name.as_deref(), Some("x \"quoted\""));
    // the vector alone
    let vtext = format!("{{\"vector\": {}}}", serde_json::to_string(&v).unwrap());
    assert_eq!(&Arch::from_json_str(&vtext, "mem").unwrap(), arch);
    // words
    let words = arch.describe();
    assert_eq!(words.lines().count(), 3);
    assert_eq!(
        &Arch::from_description(&words).unwrap(),
        arch,
        "words round trip:\n{words}"
    );
    assert_eq!(
        &Arch::from_description(&arch.describe_with_bottom_width(6)).unwrap(),
        arch
    );
    // index
    assert_eq!(Arch::from_index(arch.index()).as_ref(), Some(arch));
    arch.validate().unwrap();
}

#[test]
fn published_archs_round_trip() {
    for v in [A, B, C] {
        let arch = Arch::from_vector(&v).unwrap();
        assert_eq!(arch.to_vector(), v.to_vec());
        round_trip(&arch);
    }
}

#[test]
fn random_archs_round_trip() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..400 {
        let arch = Arch::random(&mut rng);
        round_trip(&arch);
        seen.insert(arch);
    }
    // uniform over 373,248: 400 draws are almost surely distinct enough
    assert!(seen.len() > 390, "only {} distinct archs", seen.len());
}

#[test]
fn published_a_decodes_as_spec_says() {
    let a = Arch::from_vector(&A).unwrap();
    assert_eq!(a.cells.len(), NUM_CELLS);
    // pre-activation everywhere, no normalisation
    for c in &a.cells {
        assert_eq!(c.conv, ConvBlock::Pre);
        assert_eq!(c.norm, Norm::None);
    }
    // cell 1 nearest + shortcut
    assert_eq!(a.cells[0].up, Up::Nearest);
    assert!(a.cells[0].shortcut);
    assert!(a.cells[0].skip_from.is_empty());
    // cell 2 bilinear + shortcut + skip from cell 1
    assert_eq!(a.cells[1].up, Up::Bilinear);
    assert!(a.cells[1].shortcut);
    assert_eq!(a.cells[1].skip_from, vec![1]);
    // cell 3 nearest + no shortcut + skips from cells 1 and 2
    assert_eq!(a.cells[2].up, Up::Nearest);
    assert!(!a.cells[2].shortcut);
    assert_eq!(a.cells[2].skip_from, vec![1, 2]);
    // tokens
    assert_eq!(a.cells[0].tokens(), [1, 0, 1, 1]);
    assert_eq!(a.cells[1].tokens(), [1, 0, 0, 1]);
    assert_eq!(a.cells[1].skip_token(2), 1);
    assert_eq!(a.cells[2].tokens(), [1, 0, 1, 0]);
    assert_eq!(a.cells[2].skip_token(3), 3);
    assert_eq!(a.vector_string(), "1 0 1 1 | 1 0 0 1 1 | 1 0 1 0 3");

    let words = a.describe();
    let lines: Vec<&str> = words.lines().collect();
    assert_eq!(
        lines,
        vec![
            "cell 1 (4x4 -> 8x8): pre-activation, no normalisation, nearest upsampling, \
             shortcut on, no skip inputs",
            "cell 2 (8x8 -> 16x16): pre-activation, no normalisation, bilinear upsampling, \
             shortcut on, skip input from cell 1",
            "cell 3 (16x16 -> 32x32): pre-activation, no normalisation, nearest upsampling, \
             shortcut off, skip inputs from cells 1 and 2",
        ]
    );
    assert!(a
        .describe_with_bottom_width(6)
        .starts_with("cell 1 (6x6 -> 12x12)"));

    let c = Arch::from_vector(&C).unwrap();
    assert_eq!(c.cells[0].norm, Norm::Batch);
    let b = Arch::from_vector(&B).unwrap();
    assert!(b.cells.iter().all(|c| c.up == Up::Nearest && c.shortcut));
}

#[test]
fn skip_integer_bit_order() {
    // cell 3: 0 none, 1 from cell 2, 2 from cell 1, 3 from both
    let mut v = A;
    for (s, want) in [(0, vec![]), (1, vec![2]), (2, vec![1]), (3, vec![1, 2])] {
        v[13] = s;
        let arch = Arch::from_vector(&v).unwrap();
        assert_eq!(arch.cells[2].skip_from, want, "skip integer {s}");
        assert_eq!(arch.cells[2].skip_token(3), s);
    }
    // cell 2: 1 = from cell 1
    v[8] = 0;
    assert!(Arch::from_vector(&v).unwrap().cells[1].skip_from.is_empty());
}

#[test]
fn enumeration_counts() {
    assert_eq!(NUM_ARCHS, 36 * 72 * 144);
    assert_eq!(Arch::count(), 373_248);
    assert_eq!(decision_sizes(1), vec![2, 3, 3, 2]);
    assert_eq!(decision_sizes(2), vec![2, 3, 3, 2, 2]);
    assert_eq!(decision_sizes(3), vec![2, 3, 3, 2, 4]);
    let mut n = 0usize;
    let mut skips3 = [0usize; 4];
    for (i, arch) in Arch::all().enumerate() {
        if i % 997 == 0 {
            assert_eq!(arch.index(), i);
            assert_eq!(Arch::from_vector(&arch.to_vector()).unwrap(), arch);
        }
        skips3[arch.cells[2].skip_token(3) as usize] += 1;
        n += 1;
    }
    assert_eq!(n, 373_248);
    assert_eq!(skips3, [373_248 / 4; 4]);
    assert!(Arch::from_index(NUM_ARCHS).is_none());
}

#[test]
fn partial_archs() {
    let a = Arch::from_vector(&A).unwrap();
    let p1 = a.prefix(1);
    let p2 = a.prefix(2);
    assert!(!p1.is_complete() && !p2.is_complete() && a.is_complete());
    assert_eq!(p1.to_vector(), A[..4].to_vec());
    assert_eq!(p2.to_vector(), A[..9].to_vec());
    assert_eq!(Arch::from_prefix_vector(&A[..4]).unwrap(), p1);
    assert_eq!(Arch::from_prefix_vector(&A[..9]).unwrap(), p2);
    assert_eq!(Arch::from_prefix_vector(&A).unwrap(), a);
    // growing a prefix cell by cell, as the beam does
    let grown = Arch { cells: vec![] }
        .extended(&A[..4])
        .unwrap()
        .extended(&A[4..9])
        .unwrap()
        .extended(&A[9..])
        .unwrap();
    assert_eq!(grown, a);
    assert!(a.extended(&[1, 0, 1, 1, 0]).is_err());
    let e = format!("{:#}", p1.extended(&[1, 0, 1, 1, 2]).unwrap_err());
    assert_contains(&e, &["cell 2, skip: 2 is outside 0..=1"]);
    let e = format!("{:#}", Arch::from_prefix_vector(&A[..5]).unwrap_err());
    assert_contains(&e, &["expected 4, 9 or 14 integers", "got 5"]);
    // a partial arch is not accepted where a complete one is needed
    assert_contains(&vec_err(&A[..9]), &["expected 14 integers", "got 9"]);
    assert!(p2.describe().lines().count() == 2);
}

#[test]
fn vector_errors() {
    assert_contains(&vec_err(&A[..13]), &["expected 14 integers", "got 13"]);
    assert_contains(&vec_err(&[]), &["got 0"]);
    let mut v = A;
    v[13] = 4;
    assert_contains(
        &vec_err(&v),
        &[
            "cell 3, skip: 4 is outside 0..=3",
            "1 = skip input from cell 2",
            "3 = skip inputs from cells 1 and 2",
        ],
    );
    let mut v = A;
    v[8] = 2;
    assert_contains(&vec_err(&v), &["cell 2, skip: 2 is outside 0..=1"]);
    let mut v = A;
    v[0] = 2;
    assert_contains(
        &vec_err(&v),
        &["cell 1, conv: 2 is outside 0..=1", "0 = post", "1 = pre"],
    );
    let mut v = A;
    v[5] = 3;
    assert_contains(
        &vec_err(&v),
        &["cell 2, norm: 3 is outside 0..=2", "instance"],
    );
    let mut v = A;
    v[11] = -1;
    assert_contains(&vec_err(&v), &["cell 3, up: -1 is outside 0..=2", "deconv"]);
    let mut v = A;
    v[3] = 5;
    assert_contains(&vec_err(&v), &["cell 1, shortcut: 5 is outside 0..=1"]);
    let mut v = A;
    v[13] = i64::MIN;
    assert_contains(&vec_err(&v), &["cell 3, skip"]);
}

#[test]
fn json_field_errors() {
    let e = json_err(&a_with_cell(
        1,
        r#"{"conv":"pre","norm":"batchnorm","up":"bilinear","shortcut":true,"skip_from":[1]}"#,
    ));
    assert_contains(
        &e,
        &[
            r#"configs/x.json: cell 2, field "norm": "batchnorm" is not one of none, batch, instance"#,
        ],
    );
    let e = json_err(&a_with_cell(
        0,
        r#"{"conv":"preact","norm":"none","up":"nearest","shortcut":true}"#,
    ));
    assert_contains(&e, &["configs/x.json", "cell 1", "\"conv\"", "pre", "post"]);
    let e = json_err(&a_with_cell(
        2,
        r#"{"conv":"pre","norm":"none","up":"pixelshuffle","shortcut":false,"skip_from":[1,2]}"#,
    ));
    assert_contains(&e, &["cell 3", "\"up\"", "bilinear, nearest, deconv"]);
    let e = json_err(&a_with_cell(
        2,
        r#"{"conv":"pre","norm":"none","up":"nearest","shortcut":"yes","skip_from":[1,2]}"#,
    ));
    assert_contains(&e, &["cell 3", "\"shortcut\"", "true, false"]);
    let e = json_err(&a_with_cell(
        1,
        r#"{"conv":"pre","up":"nearest","shortcut":true}"#,
    ));
    assert_contains(
        &e,
        &["cell 2", "missing field \"norm\"", "none, batch, instance"],
    );
    let e = json_err(&a_with_cell(
        1,
        r#"{"conv":1,"norm":"none","up":"nearest","shortcut":true}"#,
    ));
    assert_contains(&e, &["cell 2", "\"conv\"", "post, pre"]);
    let e = json_err(&a_with_cell(1, "[1, 0, 1, 1]"));
    assert_contains(&e, &["cell 2", "expected an object"]);
}

#[test]
fn json_aliases_are_read_and_canonical_names_written() {
    let text = a_with_cell(
        0,
        r#"{"conv":"pre","norm":"bn","up":"transposed","shortcut":true,"skip_from":[]}"#,
    );
    let arch = Arch::from_json_str(&text, "mem").unwrap();
    assert_eq!(arch.cells[0].norm, Norm::Batch);
    assert_eq!(arch.cells[0].up, Up::Deconv);
    let out = arch.to_json_pretty(None);
    assert!(
        out.contains("\"batch\"") && out.contains("\"deconv\""),
        "{out}"
    );
    assert!(!out.contains("\"bn\"") && !out.contains("transposed"));
    let text = a_with_cell(
        0,
        r#"{"conv":"pre","norm":"in","up":"nearest","shortcut":true}"#,
    );
    assert_eq!(
        Arch::from_json_str(&text, "mem").unwrap().cells[0].norm,
        Norm::Instance
    );
}

#[test]
fn json_skip_errors() {
    // a skip from the same cell
    let e = json_err(&a_with_cell(
        1,
        r#"{"conv":"pre","norm":"none","up":"bilinear","shortcut":true,"skip_from":[2]}"#,
    ));
    assert_contains(
        &e,
        &[
            "configs/x.json",
            "cell 2 cannot take a skip from cell 2: only earlier cells (1)",
        ],
    );
    // a skip from a later cell
    let e = json_err(&a_with_cell(
        1,
        r#"{"conv":"pre","norm":"none","up":"bilinear","shortcut":true,"skip_from":[3]}"#,
    ));
    assert_contains(
        &e,
        &["cell 2 cannot take a skip from cell 3: only earlier cells (1)"],
    );
    let e = json_err(&a_with_cell(
        2,
        r#"{"conv":"pre","norm":"none","up":"nearest","shortcut":false,"skip_from":[1,4]}"#,
    ));
    assert_contains(
        &e,
        &["cell 3 cannot take a skip from cell 4: only earlier cells (1, 2)"],
    );
    // skip_from on cell 1
    let e = json_err(&a_with_cell(
        0,
        r#"{"conv":"pre","norm":"none","up":"nearest","shortcut":true,"skip_from":[1]}"#,
    ));
    assert_contains(
        &e,
        &["configs/x.json", "cell 1", "skip_from", "cannot take skips"],
    );
    // not a cell number, repeated, wrong type
    let e = json_err(&a_with_cell(
        2,
        r#"{"conv":"pre","norm":"none","up":"nearest","shortcut":false,"skip_from":[0]}"#,
    ));
    assert_contains(
        &e,
        &["cell 3", "skip_from", "0 is not a cell number", "(1, 2)"],
    );
    let e = json_err(&a_with_cell(
        2,
        r#"{"conv":"pre","norm":"none","up":"nearest","shortcut":false,"skip_from":[2,1]}"#,
    ));
    assert_contains(&e, &["cell 3", "skip_from", "increasing order"]);
    let e = json_err(&a_with_cell(
        2,
        r#"{"conv":"pre","norm":"none","up":"nearest","shortcut":false,"skip_from":[1,1]}"#,
    ));
    assert_contains(&e, &["cell 3", "skip_from", "without repeats"]);
    let e = json_err(&a_with_cell(
        2,
        r#"{"conv":"pre","norm":"none","up":"nearest","shortcut":false,"skip_from":3}"#,
    ));
    assert_contains(&e, &["cell 3", "skip_from", "expected an array"]);
    // and the same checks on an arch built in code
    let mut a = Arch::from_vector(&A).unwrap();
    a.cells[1].skip_from = vec![2];
    let e = format!("{:#}", a.validate().unwrap_err());
    assert_contains(
        &e,
        &["cell 2 cannot take a skip from cell 2: only earlier cells (1)"],
    );
    a.cells[1].skip_from = vec![];
    a.cells[0].skip_from = vec![1];
    assert!(a.validate().is_err());
}

#[test]
fn json_key_errors() {
    let e = json_err(r#"{"cells": [], "colour": "red"}"#);
    assert_contains(
        &e,
        &[
            "configs/x.json",
            "unknown key \"colour\"",
            "cells, vector, name",
        ],
    );
    let e = json_err(&a_with_cell(
        1,
        r#"{"conv":"pre","norm":"none","up":"bilinear","shortcut":true,"skip_from":[1],"act":"relu"}"#,
    ));
    assert_contains(
        &e,
        &[
            "configs/x.json",
            "cell 2",
            "unknown key \"act\"",
            "conv, norm, up, shortcut, skip_from",
        ],
    );
    // informational keys are fine
    let text = r#"{"name": "a", "score": 8.5, "scores": {"is": 8.5, "fid": 12.4},
                   "vector": [1,0,1,1,1,0,0,1,1,1,0,1,0,3]}"#;
    assert_eq!(
        Arch::from_json_str(text, "mem").unwrap(),
        Arch::from_vector(&A).unwrap()
    );
    let e = json_err(r#"{"name": 3, "vector": [1,0,1,1,1,0,0,1,1,1,0,1,0,3]}"#);
    assert_contains(&e, &["\"name\"", "expected a string"]);
    // neither cells nor vector
    let e = json_err(r#"{"name": "nothing"}"#);
    assert_contains(&e, &["configs/x.json", "\"cells\"", "\"vector\""]);
    // not an object
    let e = json_err("[1, 0, 1, 1]");
    assert_contains(
        &e,
        &["configs/x.json", "expected a JSON object", "an array"],
    );
    // wrong number of cells
    let e = json_err(r#"{"cells": [{"conv":"pre","norm":"none","up":"nearest","shortcut":true}]}"#);
    assert_contains(&e, &["expected 3 cells, got 1"]);
}

#[test]
fn json_vector_errors() {
    let e = json_err(r#"{"vector": [1,0,1,1,1,0,0,1,1,1,0,1,0]}"#);
    assert_contains(&e, &["configs/x.json", "expected 14 integers", "got 13"]);
    let e = json_err(r#"{"vector": [1,0,1,1,1,0,0,1,1,1,0,1,0,4]}"#);
    assert_contains(&e, &["configs/x.json", "cell 3, skip: 4 is outside 0..=3"]);
    let e = json_err(r#"{"vector": [1,0,1,1,1,0,0,1,1,1,0,1,0,1.5]}"#);
    assert_contains(&e, &["element 14", "1.5", "not an integer"]);
    let e = json_err(r#"{"vector": [1,0,1,1,1,0,0,1,1,1,0,1,0,18446744073709551615]}"#);
    assert_contains(&e, &["element 14", "not an integer"]);
    let e = json_err(r#"{"vector": "1 0 1 1"}"#);
    assert_contains(&e, &["\"vector\"", "expected an array"]);
    // cells and vector that disagree
    let text = a_with_cell(
        0,
        r#"{"conv":"pre","norm":"none","up":"nearest","shortcut":true,"skip_from":[]}"#,
    )
    .replace(
        "{\"cells\"",
        "{\"vector\": [1,0,1,1,1,0,1,1,1,1,0,1,1,3], \"cells\"",
    );
    let e = json_err(&text);
    assert_contains(
        &e,
        &[
            "configs/x.json",
            "does not match",
            "1 0 1 1 | 1 0 0 1 1 | 1 0 1 0 3",
        ],
    );
}

#[test]
fn not_json_and_missing_file() {
    let e = json_err("{\"cells\": [\n  {\"conv\": \"pre\",,}\n]}");
    assert_contains(
        &e,
        &["configs/x.json", "not valid JSON", "line 2", "column"],
    );
    let e = json_err("");
    assert_contains(&e, &["configs/x.json", "not valid JSON", "line 1"]);
    let missing = Path::new("configs/arch/does_not_exist.json");
    let e = format!("{:#}", Arch::load(missing).unwrap_err());
    assert_contains(&e, &["configs/arch/does_not_exist.json", "cannot read"]);
}

#[test]
fn never_panics_on_garbage() {
    let inputs = [
        "null",
        "true",
        "42",
        "\"cells\"",
        "{}",
        "{\"cells\": null}",
        "{\"cells\": [null, null, null]}",
        "{\"cells\": [{}, {}, {}]}",
        "{\"vector\": [null]}",
        "{\"vector\": [-9223372036854775808,0,0,0,0,0,0,0,0,0,0,0,0,0]}",
        "{\"cells\": [{\"conv\":\"pre\",\"norm\":\"none\",\"up\":\"nearest\",\"shortcut\":true,\"skip_from\":[-1]}]}",
        "\u{0}\u{1}",
        "{\"cells\": [",
    ];
    for text in inputs {
        assert!(Arch::from_json_str(text, "mem").is_err(), "{text}");
    }
    assert!(Arch::from_description("nonsense").is_err());
    assert!(Arch::from_description("cell 1 (4x4 -> 8x8): pre-activation").is_err());
    let mut rng = StdRng::seed_from_u64(1);
    for _ in 0..2000 {
        use rand::Rng;
        let len = rng.gen_range(0..16);
        let v: Vec<i64> = (0..len).map(|_| rng.gen_range(-2..6)).collect();
        let _ = Arch::from_vector(&v);
        let _ = Arch::from_prefix_vector(&v);
    }
    // a hand-built arch with nonsense skips does not panic in the writers
    let weird = Arch {
        cells: vec![Cell {
            conv: ConvBlock::Post,
            norm: Norm::Instance,
            up: Up::Deconv,
            shortcut: false,
            skip_from: vec![0, 7],
        }],
    };
    let _ = weird.to_vector();
    let _ = weird.describe();
    let _ = weird.to_json();
    let _ = weird.index();
    assert!(weird.validate().is_err());
}

#[test]
fn config_files_load() {
    for (file, v, name) in [
        ("autogan_cifar10_a.json", A, "autogan_cifar10_a"),
        ("autogan_cifar10_b.json", B, "autogan_cifar10_b"),
        ("autogan_cifar10_c.json", C, "autogan_cifar10_c"),
    ] {
        let path = config(file);
        let (arch, got_name) = Arch::load_with_name(&path).unwrap();
        assert_eq!(arch.to_vector(), v.to_vec(), "{file}");
        assert_eq!(got_name.as_deref(), Some(name));
        // the file is in the readable form and written canonically
        let text = std::fs::read_to_string(&path).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(
            value.get("cells").is_some(),
            "{file} should use the cells form"
        );
        assert_eq!(
            text,
            arch.to_json_pretty(Some(name)),
            "{file} is not in canonical form"
        );
    }
}
