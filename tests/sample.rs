//! `autogan sample` end to end: CLI-level parity with a plain PyTorch generator of arch "a"
//! (`tests/reference/sample_reference.py`), reference `.pth` conversion
//! (`scripts/convert_reference_checkpoint.py`), sampling from a run directory as a grid and
//! as single PNGs, and the errors for weights that do not fit and latents of the wrong width.
//! The PyTorch parts are skipped, with a message, when `.venv/bin/python` or torch is missing.
mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use tch::{Kind, Tensor};

const ARCH_A: &str = "configs/arch/autogan_cifar10_a.json";
const ARCH_B: &str = "configs/arch/autogan_cifar10_b.json";
const TOL: f64 = 1e-5;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    common::tmp_in("sample-test", name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autogan"))
        .current_dir(root())
        .args(["--device", "cpu", "--threads", "1", "-q"])
        .args(args)
        .output()
        .expect("running autogan")
}

fn ok(args: &[&str]) -> Output {
    let o = run(args);
    assert!(
        o.status.success(),
        "autogan {args:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn fails(args: &[&str]) -> String {
    let o = run(args);
    assert!(!o.status.success(), "autogan {args:?} should have failed");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn python() -> PathBuf {
    root().join(".venv/bin/python")
}

/// The reference directory of sample_reference.py, made once per process; None = skipped.
fn reference() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let py = common::venv_python("sample parity", "torch, safetensors", "scripts/setup.sh")?;
        let out = tmp("reference");
        let script = root().join("tests/reference/sample_reference.py");
        let o = Command::new(&py)
            .arg(&script)
            .arg(&out)
            .output()
            .expect("running python");
        assert!(
            o.status.success(),
            "{} failed:\n{}",
            script.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        Some(out)
    })
    .as_deref()
}

fn tensor(path: &Path, name: &str) -> Tensor {
    autogan::safetensors::read(path)
        .unwrap()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{} has no tensor {name}", path.display()))
        .1
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a.to_kind(Kind::Double) - b.to_kind(Kind::Double))
        .abs()
        .max()
        .double_value(&[])
}

/// `sample` with the reference latents into OUT, then the max difference to PyTorch's output.
fn sample_diff(reference: &Path, weights_args: &[&str], name: &str) -> f64 {
    let out = tmp(&format!("{name}.safetensors"));
    let z = reference.join("z.safetensors");
    let mut args = vec!["sample"];
    args.extend_from_slice(weights_args);
    args.extend_from_slice(&["--latents", s(&z), "--save-tensor", s(&out)]);
    ok(&args);
    let ours = tensor(&out, "images");
    let theirs = tensor(&reference.join("out.safetensors"), "images");
    assert_eq!(ours.size(), vec![8, 3, 32, 32]);
    let d = max_diff(&ours, &theirs);
    eprintln!("{name}: max |ours - pytorch| = {d:.3e}");
    d
}

#[test]
fn sample_matches_pytorch_for_arch_a() {
    let Some(r) = reference() else { return };
    let w = r.join("g_a.safetensors");
    let d = sample_diff(
        r,
        &[
            "--generator",
            s(&w),
            "--arch",
            ARCH_A,
            "--gf-dim",
            "32",
            "--latent-dim",
            "16",
        ],
        "parity",
    );
    assert!(d < TOL, "sample output differs from PyTorch by {d:e}");
    // the weights really are non-trivial: the output is not constant
    let out = tensor(&r.join("out.safetensors"), "images");
    assert!(out.std(true).double_value(&[]) > 0.05);
}

#[test]
fn converted_reference_checkpoint_samples_the_same() {
    let Some(r) = reference() else { return };
    let script = root().join("scripts/convert_reference_checkpoint.py");
    let conv = tmp("converted.safetensors");
    let o = Command::new(python())
        .arg(&script)
        .arg(r.join("g_a.pth"))
        .arg(&conv)
        .args(["--arch", s(&root().join(ARCH_A))])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let meta: BTreeMap<String, String> = autogan::safetensors::read_metadata(&conv).unwrap();
    assert_eq!(meta["gf_dim"], "32");
    assert_eq!(meta["latent_dim"], "16");
    assert_eq!(meta["bottom_width"], "4");
    assert!(meta.contains_key("arch"));
    let names: Vec<String> = autogan::safetensors::read(&conv)
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(names.iter().all(|n| !n.ends_with("num_batches_tracked")));
    assert!(names.iter().any(|n| n == "cell3.skip_in_ops.1.weight"));
    // arch and sizes from the file's metadata alone
    let d = sample_diff(r, &["--generator", s(&conv)], "converted");
    assert!(
        d < TOL,
        "converted checkpoint differs from PyTorch by {d:e}"
    );

    // a raw state dict, without --arch: the sizes are inferred, the arch comes from the flag
    let raw = tmp("converted-raw.safetensors");
    let o = Command::new(python())
        .arg(&script)
        .arg(r.join("raw.pth"))
        .arg(&raw)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = fails(&["sample", "--generator", s(&raw), "--out", s(&tmp("x.png"))]);
    assert!(err.contains("--arch"), "{err}");
    let d = sample_diff(
        r,
        &["--generator", s(&raw), "--arch", ARCH_A],
        "converted-raw",
    );
    assert!(
        d < TOL,
        "converted raw state dict differs from PyTorch by {d:e}"
    );
}

/// A finished 2-step tiny run (gf 8, latent 8), made once per process.
fn tiny_run() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tmp("run");
        let mut args = vec!["train", "--arch", ARCH_A];
        args.extend(common::quick_tiny());
        args.extend(["--steps", "2", "--out", s(&dir)]);
        ok(&args);
        dir
    })
}

#[test]
fn sample_from_a_run_directory() {
    let run_dir = tiny_run();
    let grid = tmp("grid.png");
    ok(&[
        "sample",
        "--checkpoint",
        s(run_dir),
        "--n",
        "6",
        "--nrow",
        "3",
        "--out",
        s(&grid),
    ]);
    let img = image::open(&grid).unwrap();
    // 3 x 2 images of 32 px with 2 px gaps
    assert_eq!((img.width(), img.height()), (3 * 34 + 2, 2 * 34 + 2));

    let dir = tmp("singles");
    ok(&[
        "sample",
        "--checkpoint",
        s(run_dir),
        "--n",
        "5",
        "--out-dir",
        s(&dir),
    ]);
    let pngs = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count();
    assert_eq!(pngs, 5);
    let one = image::open(dir.join("000000.png")).unwrap();
    assert_eq!((one.width(), one.height()), (32, 32));

    // the training checkpoint itself and the exported EMA generator give the same images
    let z = tmp("z8.safetensors");
    let zt = Tensor::randn([3, 8], (Kind::Float, tch::Device::Cpu));
    autogan::safetensors::write(&z, &[("z".into(), zt)], &BTreeMap::new()).unwrap();
    let mut outs = HashMap::new();
    for (name, src) in [
        ("ckpt", run_dir.join("checkpoint/last.safetensors")),
        ("gen", run_dir.join("generator.safetensors")),
    ] {
        let out = tmp(&format!("from-{name}.safetensors"));
        ok(&[
            "sample",
            "--checkpoint",
            s(&src),
            "--latents",
            s(&z),
            "--save-tensor",
            s(&out),
        ]);
        outs.insert(name, tensor(&out, "images"));
    }
    assert!(max_diff(&outs["ckpt"], &outs["gen"]) < 1e-6);
}

#[test]
fn weights_that_do_not_fit_are_an_error() {
    let g = tiny_run().join("generator.safetensors");
    // another arch: arch "b" has a shortcut conv in cell 3 (cell3.c_sc) that arch "a" lacks;
    // the file has no metadata, so only the tensor names can tell
    let bare = tmp("bare.safetensors");
    let tensors = autogan::safetensors::read(&g).unwrap();
    autogan::safetensors::write(&bare, &tensors, &BTreeMap::new()).unwrap();
    let err = fails(&[
        "sample",
        "--generator",
        s(&bare),
        "--arch",
        ARCH_B,
        "--out",
        s(&tmp("b.png")),
    ]);
    assert!(err.contains("does not fit"), "{err}");
    assert!(err.contains("missing"), "{err}");
    // other sizes
    let err = fails(&[
        "sample",
        "--generator",
        s(&g),
        "--arch",
        ARCH_A,
        "--gf-dim",
        "16",
        "--out",
        s(&tmp("g16.png")),
    ]);
    assert!(err.contains("shape differs"), "{err}");
    assert!(err.contains("cell1.c1.weight"), "{err}");
    assert!(!tmp("g16.png").exists());
}

#[test]
fn latents_of_the_wrong_width_are_an_error() {
    let z = tmp("z5.safetensors");
    let zt = Tensor::randn([4, 5], (Kind::Float, tch::Device::Cpu));
    autogan::safetensors::write(&z, &[("z".into(), zt)], &BTreeMap::new()).unwrap();
    let out = tmp("never.png");
    let err = fails(&[
        "sample",
        "--checkpoint",
        s(tiny_run()),
        "--latents",
        s(&z),
        "--out",
        s(&out),
    ]);
    assert!(err.contains("[n, 8]"), "{err}");
    assert!(err.contains("z5.safetensors"), "{err}");
    assert!(!out.exists());
    // a latents file without `z`
    let noz = tmp("noz.safetensors");
    let t = Tensor::randn([4, 8], (Kind::Float, tch::Device::Cpu));
    autogan::safetensors::write(&noz, &[("latents".into(), t)], &BTreeMap::new()).unwrap();
    let err = fails(&[
        "sample",
        "--checkpoint",
        s(tiny_run()),
        "--latents",
        s(&noz),
        "--out",
        s(&out),
    ]);
    assert!(err.contains("no tensor named 'z'"), "{err}");
}

const VEC_A: &str = "1 0 1 1 | 1 0 0 1 1 | 1 0 1 0 3";
const VEC_B: &str = "1 0 1 1 | 1 0 1 1 1 | 1 0 1 1 3";

#[test]
fn weights_of_another_architecture_are_refused() {
    let g = tiny_run().join("generator.safetensors");
    let tensors = autogan::safetensors::read(&g).unwrap();
    let mut meta = autogan::safetensors::read_metadata(&g).unwrap();
    // A file whose metadata says arch "b" (its tensors happen to fit "a"): --arch a must not
    // silently load it as "a".
    let arch_b = std::fs::read_to_string(root().join(ARCH_B)).unwrap();
    meta.insert("arch".into(), arch_b);
    let says_b = tmp("says-b.safetensors");
    autogan::safetensors::write(&says_b, &tensors, &meta).unwrap();
    let out = tmp("never-ab.png");
    let err = fails(&[
        "sample",
        "--generator",
        s(&says_b),
        "--arch",
        ARCH_A,
        "--out",
        s(&out),
    ]);
    assert!(err.contains(VEC_A) && err.contains(VEC_B), "{err}");
    assert!(!out.exists());
    // eval refuses it before loading any scorer (the Inception file named here does not exist)
    let err = fails(&[
        "eval",
        "--generator",
        s(&says_b),
        "--arch",
        ARCH_A,
        "--metric",
        "is",
        "--inception",
        s(&tmp("no-inception.safetensors")),
    ]);
    assert!(err.contains(VEC_A) && err.contains(VEC_B), "{err}");
    // a training checkpoint knows its arch too
    let ckpt = tiny_run().join("checkpoint/last.safetensors");
    let err = fails(&[
        "sample",
        "--checkpoint",
        s(&ckpt),
        "--arch",
        ARCH_B,
        "--out",
        s(&out),
    ]);
    assert!(err.contains(VEC_A) && err.contains(VEC_B), "{err}");
    // the same arch given twice is fine
    ok(&[
        "sample",
        "--checkpoint",
        s(&ckpt),
        "--arch",
        ARCH_A,
        "--n",
        "2",
        "--out",
        s(&out),
    ]);
    // no metadata: the tensor names must match exactly; one the model lacks is named
    let mut extra = tensors;
    extra.push((
        "cell4.c1.weight".into(),
        Tensor::zeros([8, 8, 3, 3], (Kind::Float, tch::Device::Cpu)),
    ));
    let bare = tmp("bare-extra.safetensors");
    autogan::safetensors::write(&bare, &extra, &BTreeMap::new()).unwrap();
    let out2 = tmp("never-extra.png");
    let err = fails(&[
        "sample",
        "--generator",
        s(&bare),
        "--arch",
        ARCH_A,
        "--out",
        s(&out2),
    ]);
    assert!(err.contains("cell4.c1.weight"), "{err}");
    assert!(!out2.exists());
}

#[test]
fn folders_and_search_runs_given_as_generators_say_what_to_do() {
    // --generator DIR
    let err = fails(&[
        "sample",
        "--generator",
        s(tiny_run()),
        "--out",
        s(&tmp("dir.png")),
    ]);
    assert!(
        err.contains("folder") && err.contains("--checkpoint"),
        "{err}"
    );
    // A search run: its checkpoint holds a supernet (made here with the search's format tag).
    let run_dir = tmp("search-run");
    std::fs::create_dir_all(run_dir.join("checkpoint")).unwrap();
    std::fs::write(run_dir.join("search.jsonl"), "").unwrap();
    std::fs::write(run_dir.join("best.json"), "{}").unwrap();
    let mut meta = BTreeMap::new();
    meta.insert(
        "format".to_string(),
        autogan::search::run::CHECKPOINT_FORMAT.to_string(),
    );
    let t = Tensor::zeros([2], (Kind::Float, tch::Device::Cpu));
    let ckpt = run_dir.join("checkpoint/last.safetensors");
    autogan::safetensors::write(&ckpt, &[("g.l1.weight".into(), t)], &meta).unwrap();
    let never = tmp("never-search.png");
    for args in [
        vec!["eval", s(&run_dir), "--metric", "is"],
        vec!["eval", s(&run_dir), "--arch", ARCH_A, "--metric", "is"],
        vec!["eval", s(&ckpt), "--arch", ARCH_A, "--metric", "is"],
        vec!["sample", "--checkpoint", s(&run_dir), "--out", s(&never)],
    ] {
        let err = fails(&args);
        assert!(
            err.contains("supernet") && err.contains("best.json") && err.contains("autogan train"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn sample_outputs_are_checked_and_never_clobbered() {
    let run_dir = tiny_run();
    // --out-dir: a second run into the same folder would overwrite: refused, file untouched
    let dir = tmp("no-clobber");
    ok(&[
        "sample",
        "--checkpoint",
        s(run_dir),
        "--n",
        "3",
        "--out-dir",
        s(&dir),
    ]);
    let first = std::fs::read(dir.join("000001.png")).unwrap();
    let err = fails(&[
        "sample",
        "--checkpoint",
        s(run_dir),
        "--n",
        "3",
        "--out-dir",
        s(&dir),
    ]);
    assert!(
        err.contains("000000.png") && err.contains("already exists"),
        "{err}"
    );
    assert_eq!(std::fs::read(dir.join("000001.png")).unwrap(), first);
    // --out EXISTING_DIR: refused, and no EXISTING_DIR.tmp is left beside it
    let parent = tmp("out-dir-parent");
    let existing = parent.join("grid");
    std::fs::create_dir_all(&existing).unwrap();
    let err = fails(&["sample", "--checkpoint", s(run_dir), "--out", s(&existing)]);
    assert!(err.contains("folder"), "{err}");
    let names: Vec<_> = std::fs::read_dir(&parent)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("grid")]);
    // --out x.jpg is a JPEG file; an unknown extension is refused before any work
    let jpg = tmp("grid.jpg");
    ok(&[
        "sample",
        "--checkpoint",
        s(run_dir),
        "--n",
        "4",
        "--out",
        s(&jpg),
    ]);
    let bytes = std::fs::read(&jpg).unwrap();
    assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF], "not JPEG bytes");
    assert_eq!(
        image::guess_format(&bytes).unwrap(),
        image::ImageFormat::Jpeg
    );
    let bmp = tmp("grid.bmp");
    let err = fails(&["sample", "--checkpoint", s(run_dir), "--out", s(&bmp)]);
    assert!(err.contains(".png or .jpg"), "{err}");
    assert!(!bmp.exists());
}
