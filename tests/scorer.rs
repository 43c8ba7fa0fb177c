//! The offline classifier scorer (issue 4, section 4): training on a small part of the
//! built-in set, classifier IS / FID on real and noise images, the cache file, labelled-data
//! checks and small inputs. Tiny budgets; `AUTOGAN_HOME` points into the test target folder.
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, Once, OnceLock};

use autogan::data::{self, DataSpec, Dataset};
use autogan::metrics::classifier::{
    self, ClassifierConfig, ClassifierScorer, TrainEvent, TrainReport, FEATURE_DIM, INPUT_SIZE,
};
use autogan::metrics::{frechet_distance, Accumulator, Scorer};
use tch::{Device, Kind, Tensor};

/// Images of the built-in set used for training in these tests.
const TRAIN_IMAGES: usize = 1500;
/// The shapes classes the tests use (circle, triangle, cross), relabelled 0, 1, 2: the full
/// ten-class set needs minutes of CPU training to be learnt well.
const CLASSES: [i64; 3] = [0, 2, 4];
/// A safe lower bound of the held-out accuracy after the tiny training (chance is 1/3).
const MIN_HELDOUT_ACC: f64 = 0.42;

/// The first `n` images of the shapes set of `seed` whose class is in `CLASSES`, relabelled.
fn shapes3(n: usize, seed: u64) -> Dataset {
    let spec = DataSpec {
        limit: Some(n * 10 / CLASSES.len() + 10),
        ..DataSpec::shapes(seed)
    };
    let ds = data::load(&spec).expect("the built-in set loads");
    let labels = ds.labels.as_ref().expect("shapes has labels");
    let mut keep = Tensor::zeros_like(labels).to_kind(Kind::Bool);
    let mut relabelled = Tensor::full_like(labels, -1);
    for (i, &c) in CLASSES.iter().enumerate() {
        let m = labels.eq(c);
        keep = keep.logical_or(&m);
        relabelled = relabelled.masked_fill(&m, i as i64);
    }
    let idx = keep.nonzero().squeeze_dim(1).narrow(0, 0, n as i64);
    Dataset::new(
        "shapes3",
        ds.images.index_select(0, &idx),
        Some(relabelled.index_select(0, &idx)),
        Some(CLASSES.len() as i64),
    )
    .expect("a valid data set")
}

fn tiny_cfg() -> ClassifierConfig {
    ClassifierConfig {
        epochs: 2,
        seed: 3,
        ..ClassifierConfig::default()
    }
}

/// One classifier trained on the first `TRAIN_IMAGES` shapes images, shared by the tests
/// (tensors are not `Sync`, hence the lock).
fn trained() -> MutexGuard<'static, (ClassifierScorer, TrainReport)> {
    static T: OnceLock<Mutex<(ClassifierScorer, TrainReport)>> = OnceLock::new();
    let m = T.get_or_init(|| {
        let ds = shapes3(TRAIN_IMAGES, 0);
        let t = classifier::train_classifier(&ds, &tiny_cfg(), Device::Cpu, &mut |_| {})
            .expect("training on shapes works");
        Mutex::new(t)
    });
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Images of the test classes never seen in training (another seed): uint8
/// `[n, 3, 32, 32]` and labels in 0..3.
fn unseen(n: usize) -> (Tensor, Tensor) {
    let ds = shapes3(n, 12345);
    let labels = ds.labels.expect("shapes has labels");
    (ds.images, labels)
}

/// Uniform noise images, uint8 `[n, 3, 32, 32]`.
fn noise(n: i64) -> Tensor {
    let mut rng = data::SplitMix64::new(99);
    let v: Vec<u8> = (0..n * 3 * 32 * 32).map(|_| rng.below(256) as u8).collect();
    Tensor::from_slice(&v).view([n, 3, 32, 32])
}

/// `AUTOGAN_HOME` set once for this test process to a fresh folder under the target folder.
fn home() -> PathBuf {
    static ONCE: Once = Once::new();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scorer-home");
    ONCE.call_once(|| {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the test home");
        std::env::set_var("AUTOGAN_HOME", &dir);
    });
    dir
}

/// A fresh folder under the target folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("scorer-scratch")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch folder");
    dir
}

/// Write `per_class` PNG images of shapes classes 0 and 1, into one subfolder per class
/// (`labelled`) or all at the root.
fn write_folder(root: &Path, per_class: usize, labelled: bool) {
    for class in 0..2usize {
        let dir = if labelled {
            root.join(data::shapes::CLASS_NAMES[class])
        } else {
            root.to_path_buf()
        };
        std::fs::create_dir_all(&dir).expect("create the class folder");
        for i in 0..per_class {
            let mut chw = vec![0u8; 3 * 32 * 32];
            data::shapes::render(i as u64 * 2 + class as u64, 7, class, &mut chw);
            let mut hwc = vec![0u8; chw.len()];
            for c in 0..3 {
                for p in 0..1024 {
                    hwc[p * 3 + c] = chw[c * 1024 + p];
                }
            }
            let img = image::RgbImage::from_raw(32, 32, hwc).expect("32x32 RGB");
            img.save(dir.join(format!("c{class}_{i:03}.png")))
                .expect("write a PNG");
        }
    }
}

fn logits(sc: &ClassifierScorer, imgs: &Tensor) -> Tensor {
    sc.features_and_logits(imgs).expect("scoring works").1
}

#[test]
fn trained_classifier_beats_chance_on_heldout_shapes() {
    let guard = trained();
    let (sc, rep) = (&guard.0, &guard.1);
    assert_eq!(sc.name(), "classifier");
    assert_eq!(sc.num_classes(), 3);
    assert_eq!(sc.feature_dim(), FEATURE_DIM);
    assert_eq!(rep.n_train + rep.n_heldout, TRAIN_IMAGES);
    assert_eq!(rep.n_heldout, TRAIN_IMAGES / 10);
    assert_eq!(rep.epochs, 2);
    assert!(
        rep.heldout_acc > MIN_HELDOUT_ACC,
        "held-out accuracy {} after the tiny training (chance 1/3)",
        rep.heldout_acc
    );
    assert_eq!(sc.info().heldout_acc, Some(rep.heldout_acc));
    // Real images score between 1 and the number of classes, and close to the training images.
    let (is, is_std) = rep.heldout_is;
    assert!(
        is > 1.0 && is <= 3.0 + 1e-9 && is_std >= 0.0,
        "{:?}",
        rep.heldout_is
    );
    assert!(
        rep.heldout_fid.is_finite() && rep.heldout_fid >= 0.0,
        "{}",
        rep.heldout_fid
    );
    // Images from another seed of the set are classified about as well.
    let (x, y) = unseen(500);
    let acc = sc.accuracy(&x, &y).unwrap();
    assert!(acc > MIN_HELDOUT_ACC, "accuracy on unseen images {acc}");
}

#[test]
fn classifier_is_and_fid_tell_real_images_from_noise() {
    let guard = trained();
    let sc = &guard.0;
    let (real, _) = unseen(800);
    let fake = noise(400);
    let score = |imgs: &Tensor, want_is: bool| {
        let mut acc = Accumulator::new(want_is, true);
        for chunk in imgs.split(100, 0) {
            acc.add_images(sc, &chunk).unwrap();
        }
        acc
    };
    let real_a = score(&real.narrow(0, 0, 400), true);
    let real_b = score(&real.narrow(0, 400, 400), false);
    let noisy = score(&fake, true);
    let is_real = real_a.inception_score(10).unwrap();
    let is_noise = noisy.inception_score(10).unwrap();
    assert!(
        is_real.mean > is_noise.mean + 0.05,
        "classifier IS of real images {:?} vs noise {:?}",
        is_real,
        is_noise
    );
    let (sa, sb, sn) = (
        real_a.stats().unwrap(),
        real_b.stats().unwrap(),
        noisy.stats().unwrap(),
    );
    assert_eq!(sa.dim(), FEATURE_DIM);
    let fid_real = frechet_distance(&sa, &sb).unwrap();
    let fid_noise = frechet_distance(&sa, &sn).unwrap();
    assert!(
        fid_real * 3.0 < fid_noise,
        "classifier FID real/real {fid_real} vs real/noise {fid_noise}"
    );
}

#[test]
fn small_and_large_inputs_are_resized_first() {
    let guard = trained();
    let sc = &guard.0;
    let (x, y) = unseen(200);
    for size in [8, 16, 48] {
        let xs = data::resize_u8(&x, size);
        let (f, l) = sc.features_and_logits(&xs).unwrap();
        assert_eq!(f.size(), [200, FEATURE_DIM], "features at {size}");
        assert_eq!(l.size(), [200, 3], "logits at {size}");
        assert_eq!((f.kind(), l.kind()), (Kind::Float, Kind::Float));
        assert!(l.isfinite().all().int64_value(&[]) == 1);
    }
    // 16x16 images keep enough of the shapes to beat chance.
    let acc16 = sc.accuracy(&data::resize_u8(&x, 16), &y).unwrap();
    assert!(acc16 > 0.4, "accuracy at 16x16 {acc16}");
    // Float input or the wrong layout is refused with a message.
    let err = sc.features_and_logits(&x.to_kind(Kind::Float)).unwrap_err();
    assert!(format!("{err:#}").contains("uint8"), "{err:#}");
    assert_eq!(INPUT_SIZE, 32);
}

#[test]
fn save_and_load_give_identical_logits() {
    let guard = trained();
    let (sc, rep) = (&guard.0, &guard.1);
    let dir = scratch("roundtrip");
    let path = dir.join("sub").join("shapes.safetensors");
    sc.save(&path).unwrap();
    assert!(!classifier_tmp_exists(&path));
    let meta = autogan::safetensors::read_metadata(&path).unwrap();
    assert_eq!(meta["scorer"], "classifier");
    assert_eq!(meta["format"], classifier::FORMAT);
    assert_eq!(meta["num_classes"], "3");
    assert_eq!(meta["image_size"], "32");
    let back = ClassifierScorer::load(&path, Device::Cpu).unwrap();
    assert_eq!(back.info().heldout_acc, Some(rep.heldout_acc));
    let (x, _) = unseen(64);
    let a = logits(sc, &x);
    let b = logits(&back, &x);
    assert!(a.equal(&b), "logits differ after a save / load round trip");
}

fn classifier_tmp_exists(path: &Path) -> bool {
    autogan::run::tmp_name(path).exists()
}

#[test]
fn corrupt_or_foreign_files_are_errors_naming_them() {
    let guard = trained();
    let sc = &guard.0;
    let dir = scratch("corrupt");
    let path = dir.join("c.safetensors");
    sc.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = format!(
        "{:#}",
        ClassifierScorer::load(&path, Device::Cpu).unwrap_err()
    );
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("autogan scorer train"), "{err}");
    std::fs::write(&path, b"not a safetensors file at all").unwrap();
    let err = format!(
        "{:#}",
        ClassifierScorer::load(&path, Device::Cpu).unwrap_err()
    );
    assert!(err.contains(&path.display().to_string()), "{err}");
    // A safetensors file that is not a classifier scorer.
    let other = dir.join("other.safetensors");
    autogan::safetensors::write(
        &other,
        &[(
            "w".to_string(),
            Tensor::zeros([2], (Kind::Float, Device::Cpu)),
        )],
        &Default::default(),
    )
    .unwrap();
    let err = format!(
        "{:#}",
        ClassifierScorer::load(&other, Device::Cpu).unwrap_err()
    );
    assert!(err.contains(&other.display().to_string()), "{err}");
    assert!(err.contains("not a classifier scorer"), "{err}");
}

#[test]
fn unlabelled_or_single_class_sets_are_refused() {
    let x = noise(64);
    let check = |ds: Dataset| {
        let err =
            classifier::train_classifier(&ds, &tiny_cfg(), Device::Cpu, &mut |_| {}).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("needs labelled data"), "{msg}");
        assert!(msg.contains("--scorer inception"), "{msg}");
    };
    check(Dataset::new("nolabels", x.shallow_clone(), None, None).unwrap());
    let none = Tensor::full([64], -1, (Kind::Int64, Device::Cpu));
    check(Dataset::new("stl-like", x.shallow_clone(), Some(none), Some(10)).unwrap());
    let one = Tensor::zeros([64], (Kind::Int64, Device::Cpu));
    check(Dataset::new("oneclass", x.shallow_clone(), Some(one), Some(1)).unwrap());

    // A folder of images without class subfolders, through the cache path.
    home();
    let dir = scratch("unlabelled-folder");
    write_folder(&dir, 3, false);
    let spec = DataSpec::named(Some(dir.to_str().unwrap()), None);
    let err = classifier::load_or_train(&spec, Device::Cpu, &mut |_| {}).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("needs labelled data"), "{msg}");
    assert!(msg.contains("--scorer inception"), "{msg}");
    assert!(!classifier::cache_path(&spec).unwrap().exists());
}

#[test]
fn load_or_train_caches_per_dataset() {
    let home = home();
    let root = scratch("folders");
    let a = root.join("one").join("pics");
    let b = root.join("two").join("pics");
    write_folder(&a, 40, true);
    write_folder(&b, 2, true);
    let spec_a = DataSpec::named(Some(a.to_str().unwrap()), None);
    let spec_b = DataSpec::named(Some(b.to_str().unwrap()), None);
    let (ka, kb) = (
        classifier::dataset_key(&spec_a).unwrap(),
        classifier::dataset_key(&spec_b).unwrap(),
    );
    assert_ne!(ka, kb, "two folders of the same name share a key");
    assert!(ka.starts_with("folder-pics-"), "{ka}");
    let named = |n: &str| classifier::dataset_key(&DataSpec::named(Some(n), None)).unwrap();
    assert_eq!(named("shapes"), "shapes");
    assert_eq!(named("CIFAR-10"), "cifar10");
    assert_eq!(named("stl10"), "stl10");
    assert_eq!(
        classifier::dataset_key(&DataSpec::shapes(5)).unwrap(),
        "shapes"
    );

    let path = classifier::cache_path(&spec_a).unwrap();
    assert_eq!(
        path,
        home.join("scorers")
            .join(format!("{ka}.v{}.safetensors", classifier::FORMAT_VERSION))
    );
    let mut events = Vec::new();
    let first = classifier::load_or_train(&spec_a, Device::Cpu, &mut |e| events.push(e)).unwrap();
    assert!(path.is_file(), "no cache file at {}", path.display());
    // Progress is reported through the callback: what is trained where, steps, every epoch,
    // and where it was saved.
    let epochs = ClassifierConfig::default().epochs;
    assert!(
        matches!(&events[0], TrainEvent::Caching { path: p, epochs: e, .. } if *p == path && *e == epochs),
        "{:?}",
        events.first()
    );
    assert!(
        matches!(events[1], TrainEvent::Start { .. }),
        "{:?}",
        events[1]
    );
    let n_epochs = events
        .iter()
        .filter(|e| matches!(e, TrainEvent::Epoch { .. }))
        .count();
    assert_eq!(n_epochs, epochs);
    assert!(events.iter().any(|e| matches!(e, TrainEvent::Step { .. })));
    assert!(
        matches!(events.last(), Some(TrainEvent::Saved { path: p, .. }) if *p == path),
        "{:?}",
        events.last()
    );
    assert_eq!(first.num_classes(), 2);
    assert_eq!(first.info().key, ka);
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    let mut again = 0;
    let second = classifier::load_or_train(&spec_a, Device::Cpu, &mut |_| again += 1).unwrap();
    assert_eq!(again, 0, "a cached scorer reports no training");
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        modified,
        "the cache was rewritten instead of read"
    );
    let (x, _) = unseen(32);
    assert!(logits(&first, &x).equal(&logits(&second, &x)));

    // The cache of another data set under this key is refused, and so is a corrupt one.
    let path_b = classifier::cache_path(&spec_b).unwrap();
    std::fs::copy(&path, &path_b).unwrap();
    let err = format!(
        "{:#}",
        classifier::load_or_train(&spec_b, Device::Cpu, &mut |_| {}).unwrap_err()
    );
    assert!(err.contains(&path_b.display().to_string()), "{err}");
    std::fs::write(&path, b"garbage").unwrap();
    let err = format!(
        "{:#}",
        classifier::load_or_train(&spec_a, Device::Cpu, &mut |_| {}).unwrap_err()
    );
    assert!(err.contains(&path.display().to_string()), "{err}");
}

#[test]
fn parallel_loads_train_the_scorer_once_while_the_others_wait() {
    let _home = home();
    let root = scratch("parallel");
    let a = root.join("pics");
    write_folder(&a, 20, true);
    let spec = DataSpec::named(Some(a.to_str().unwrap()), None);
    let path = classifier::cache_path(&spec).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let s1 = spec.clone();
    // The first starts training (and so holds the cache's lock) before the second asks.
    let first = std::thread::spawn(move || {
        let mut events = Vec::new();
        classifier::load_or_train(&s1, Device::Cpu, &mut |e| {
            if matches!(e, TrainEvent::Start { .. }) {
                tx.send(()).unwrap();
            }
            events.push(e);
        })
        .unwrap();
        events
    });
    rx.recv().unwrap();
    let mut events = Vec::new();
    let second = classifier::load_or_train(&spec, Device::Cpu, &mut |e| events.push(e)).unwrap();
    let trained = first.join().unwrap();
    assert!(
        matches!(trained.last(), Some(TrainEvent::Saved { .. })),
        "{:?}",
        trained.last()
    );
    // The second waited for the first's file and read it: no training of its own.
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        matches!(&events[0], TrainEvent::Waiting { path: p } if *p == path),
        "{events:?}"
    );
    let cached = classifier::load_or_train(&spec, Device::Cpu, &mut |_| {}).unwrap();
    let (x, _) = unseen(16);
    assert!(logits(&second, &x).equal(&logits(&cached, &x)));
}

#[test]
fn training_is_deterministic_for_a_seed() {
    let spec = DataSpec {
        limit: Some(300),
        ..DataSpec::shapes(1)
    };
    let ds = data::load(&spec).unwrap();
    let cfg = ClassifierConfig {
        epochs: 1,
        batch_size: 50,
        ..tiny_cfg()
    };
    let run = || classifier::train_classifier(&ds, &cfg, Device::Cpu, &mut |_| {}).unwrap();
    let ((a, ra), (b, rb)) = (run(), run());
    assert_eq!(ra.heldout_acc, rb.heldout_acc);
    let (x, _) = unseen(16);
    assert!(logits(&a, &x).equal(&logits(&b, &x)));
}

/// DESIGN: `metrics/` does no terminal I/O; the classifier's training reports through its
/// callback and the commands draw bars and lines.
#[test]
fn metrics_modules_print_nothing() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/metrics");
    let mut files = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().and_then(|x| x.to_str()) != Some("rs") {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        for bad in [
            "println!",
            "print!(",
            "eprint",
            "indicatif",
            "crate::progress",
            "stderr()",
            "stdout()",
        ] {
            assert!(
                !text.contains(bad),
                "{} uses {bad}: report through a callback and let the command print",
                path.display()
            );
        }
    }
    assert!(files >= 5, "src/metrics has only {files} .rs files");
}

#[test]
fn a_stage_scorer_learns_small_images_and_gets_them_from_the_search_scorer() {
    // Trained on the 3-class images shrunk to 8x8: it must beat chance on unseen 8x8 images,
    // keep its size through a save and load (a whole-image scorer file is refused for it),
    // and the search's scorer must send 8x8 images to it and 32x32 ones to the other.
    let ds = shapes3(TRAIN_IMAGES, 0);
    let cfg = ClassifierConfig {
        epochs: 4,
        seed: 3,
        ..classifier::stage_config(8)
    };
    let (stage, report) =
        classifier::train_classifier(&ds, &cfg, Device::Cpu, &mut |_| {}).expect("trains at 8x8");
    assert_eq!(stage.input_size(), 8);
    assert!(
        report.heldout_acc_low_res.is_empty(),
        "nothing smaller than 8 is measured"
    );
    let (imgs, labels) = unseen(300);
    let small = data::resize_u8(&imgs, 8);
    let acc = stage.accuracy(&small, &labels).unwrap();
    assert!(acc > MIN_HELDOUT_ACC, "8x8 accuracy {acc}");

    let dir = scratch("stage-scorer");
    let path = dir.join("s.safetensors");
    stage.save(&path).unwrap();
    let back = ClassifierScorer::load_sized(&path, Device::Cpu, 8).unwrap();
    assert!(logits(&back, &small).allclose(&logits(&stage, &small), 1e-6, 1e-6, false));
    let err = format!(
        "{:#}",
        ClassifierScorer::load(&path, Device::Cpu).unwrap_err()
    );
    assert!(
        err.contains("s.safetensors") && err.contains("version"),
        "{err}"
    );

    let whole = trained();
    let whole_logits = logits(&whole.0, &imgs);
    let whole_small = logits(&whole.0, &small);
    drop(whole);
    let boxed: Box<dyn Scorer> = Box::new(
        ClassifierScorer::load(
            &{
                let p = dir.join("w.safetensors");
                trained().0.save(&p).unwrap();
                p
            },
            Device::Cpu,
        )
        .unwrap(),
    );
    let by_stage = autogan::metrics::factory::ByStage::new(boxed, vec![back]);
    assert_eq!(
        by_stage.stages().len(),
        1,
        "measured without a whole-scorer accuracy: used"
    );
    let (_, l8) = by_stage.features_and_logits(&small).unwrap();
    let (_, l32) = by_stage.features_and_logits(&imgs).unwrap();
    assert!(
        l8.allclose(&logits(&stage, &small), 1e-6, 1e-6, false),
        "8x8 to the stage scorer"
    );
    assert!(!l8.allclose(&whole_small, 1e-3, 1e-3, false));
    assert!(
        l32.allclose(&whole_logits, 1e-6, 1e-6, false),
        "32x32 to the whole scorer"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_stage_scorer_less_accurate_than_the_whole_one_is_not_used() {
    let mut weak = ClassifierScorer::with_input_size(3, Device::Cpu, 1, 8).unwrap();
    let whole = ClassifierScorer::new(3, Device::Cpu, 2).unwrap();
    // Accuracies as the cache file records them.
    let dir = scratch("stage-scorer-weak");
    let p = dir.join("weak.safetensors");
    weak.save(&p).unwrap();
    drop(weak);
    let meta = autogan::safetensors::read_metadata(&p).unwrap();
    assert_eq!(
        meta.get("format_version").map(String::as_str),
        Some(classifier::STAGE_FORMAT_VERSION)
    );
    let _ = std::fs::remove_dir_all(&dir);
    weak = ClassifierScorer::with_input_size(3, Device::Cpu, 1, 8).unwrap();
    weak.set_accuracies(0.40, Some(0.55));
    let by_stage = autogan::metrics::factory::ByStage::new(Box::new(whole), vec![weak]);
    assert!(by_stage.stages().is_empty());
    assert_eq!(by_stage.unused.len(), 1);
}

/// The stand-in scorer, whose first batch waits for `go` after saying `started` (so that a
/// second process can be made to find the reference being scored).
struct Gated {
    inner: autogan::metrics::tiny::TinyScorer,
    gate: Mutex<Option<(std::sync::mpsc::Sender<()>, std::sync::mpsc::Receiver<()>)>>,
}

impl Scorer for Gated {
    fn name(&self) -> &str {
        "gated"
    }
    fn feature_dim(&self) -> i64 {
        self.inner.feature_dim()
    }
    fn num_classes(&self) -> i64 {
        self.inner.num_classes()
    }
    fn features_and_logits(&self, imgs: &Tensor) -> anyhow::Result<(Tensor, Tensor)> {
        if let Some((started, go)) = self.gate.lock().unwrap().take() {
            started.send(()).unwrap();
            go.recv().unwrap();
        }
        self.inner.features_and_logits(imgs)
    }
}

#[test]
fn parallel_evaluations_score_an_uncached_reference_once() {
    use autogan::metrics::source::Reference;
    use autogan::metrics::tiny::TinyScorer;
    use std::sync::mpsc::channel;
    use std::time::Duration;
    let _home = home();
    let root = scratch("parallel-ref");
    let pics = root.join("pics");
    write_folder(&pics, 8, false);
    let needs = autogan::metrics::Needs {
        real_stats: true,
        ..Default::default()
    };
    let (started_tx, started_rx) = channel();
    let (go_tx, go_rx) = channel();
    let dir = pics.clone();
    let first = std::thread::spawn(move || {
        let scorer = Gated {
            inner: TinyScorer::new(Device::Cpu),
            gate: Mutex::new(Some((started_tx, go_rx))),
        };
        let r = Reference::resolve(dir.to_str().unwrap(), None).unwrap();
        r.side(&scorer, "gated-test", 4, needs, &mut |_| {}, &mut |_, _| {})
            .unwrap()
    });
    started_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the first caller scores");
    // The second (another scorer of the same identity, other weights) finds no cache yet.
    let (say_tx, say_rx) = channel::<String>();
    let dir = pics.clone();
    let second = std::thread::spawn(move || {
        let scorer = TinyScorer::new(Device::Cpu);
        let r = Reference::resolve(dir.to_str().unwrap(), None).unwrap();
        r.side(
            &scorer,
            "gated-test",
            4,
            needs,
            &mut |m| say_tx.send(m.to_string()).unwrap(),
            &mut |_, _| {},
        )
        .unwrap()
    });
    let waiting = say_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the second caller says it waits");
    assert!(waiting.contains("waiting for it"), "{waiting}");
    go_tx.send(()).unwrap();
    let a = first.join().unwrap().stats.unwrap();
    let b = second.join().unwrap().stats.unwrap();
    let said: Vec<String> = say_rx.try_iter().collect();
    assert!(
        said.iter()
            .any(|m| m.contains("using the cached reference features")),
        "{said:?}"
    );
    // Its statistics are the first's (its own weights would have given others).
    assert!(a.mu.equal(&b.mu), "the second scored the reference itself");
}
