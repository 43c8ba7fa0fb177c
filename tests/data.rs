//! Data sets: each reader on small files written here in the real byte layouts, size errors,
//! the image folder, the built-in set (determinism, balance, learnability), shuffling,
//! resizing, the [-1, 1] conversion, and fetch without network / from a local archive.
mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use autogan::data::{self, cifar10, fetch, folder, shapes, stl10, DataSpec, Dataset, Split};
use tch::{Device, Kind, Tensor};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty temporary folder.
fn tmp(tag: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    common::tmp_dir(&format!("data-{tag}-{n}"))
}

fn u8s(t: &Tensor) -> Vec<u8> {
    Vec::<u8>::try_from(&t.flatten(0, -1).to_kind(Kind::Uint8)).unwrap()
}

fn i64s(t: &Tensor) -> Vec<i64> {
    Vec::<i64>::try_from(&t.flatten(0, -1).to_kind(Kind::Int64)).unwrap()
}

/// A CIFAR-10 record whose pixel (ch, r, c) is a function of (image, ch, r, c).
fn cifar_value(img: usize, ch: usize, r: usize, c: usize) -> u8 {
    ((img * 50 + ch * 80 + r * 3 + c * 5) % 256) as u8
}

fn write_cifar(dir: &Path, records: usize, files: &[&str]) {
    let d = dir.join(cifar10::FOLDER);
    std::fs::create_dir_all(&d).unwrap();
    for (fi, f) in files.iter().enumerate() {
        let mut b = Vec::new();
        for i in 0..records {
            let img = fi * records + i;
            b.push((img % 10) as u8);
            for ch in 0..3 {
                for r in 0..32 {
                    for c in 0..32 {
                        b.push(cifar_value(img, ch, r, c));
                    }
                }
            }
        }
        std::fs::write(d.join(f), b).unwrap();
    }
}

const CIFAR_TRAIN: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];

#[test]
fn cifar10_reads_records_in_order_with_channel_planes_row_major() {
    let dir = tmp("cifar");
    write_cifar(&dir, 3, &CIFAR_TRAIN);
    write_cifar(&dir, 3, &["test_batch.bin"]);
    let ds = cifar10::load_dir(&dir, Split::Train, None, 3).unwrap();
    assert_eq!(ds.images.size(), [15, 3, 32, 32]);
    assert_eq!(ds.images.kind(), Kind::Uint8);
    assert_eq!(ds.num_classes, Some(10));
    assert_eq!(
        i64s(ds.labels.as_ref().unwrap()),
        (0..15).map(|i| i % 10).collect::<Vec<i64>>()
    );
    // Pixel (row 2, col 7) of image 4: R, G, B differ, and differ from (7, 2).
    for (img, r, c) in [(4usize, 2usize, 7usize), (4, 7, 2), (14, 31, 0), (0, 0, 31)] {
        for ch in 0..3 {
            let v = ds
                .images
                .int64_value(&[img as i64, ch as i64, r as i64, c as i64]);
            assert_eq!(
                v,
                cifar_value(img, ch, r, c) as i64,
                "img {img} ch {ch} ({r},{c})"
            );
        }
    }
    assert_ne!(cifar_value(4, 0, 2, 7), cifar_value(4, 0, 7, 2));
    let test = cifar10::load_dir(&dir, Split::Test, None, 3).unwrap();
    assert_eq!(test.len(), 3);
    // A limit stops early, across files.
    let lim = cifar10::load_dir(&dir, Split::Train, Some(4), 3).unwrap();
    assert_eq!(lim.len(), 4);
    assert_eq!(
        lim.images.int64_value(&[3, 1, 5, 6]),
        cifar_value(3, 1, 5, 6) as i64
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cifar10_wrong_size_names_file_sizes_and_fix() {
    let dir = tmp("cifar-bad");
    write_cifar(&dir, 3, &CIFAR_TRAIN);
    let bad = dir.join(cifar10::FOLDER).join("data_batch_3.bin");
    let bytes = std::fs::read(&bad).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() - 100]).unwrap();
    let e = format!(
        "{:#}",
        cifar10::load_dir(&dir, Split::Train, None, 3).unwrap_err()
    );
    assert!(e.contains("data_batch_3.bin"), "{e}");
    assert!(
        e.contains(&(3 * 3073 - 100).to_string()) && e.contains(&(3 * 3073).to_string()),
        "{e}"
    );
    assert!(e.contains("autogan data fetch cifar10"), "{e}");
    // Missing files: the official loader names the first file and the fix.
    let empty = tmp("cifar-none");
    let e = format!(
        "{:#}",
        data::load(&DataSpec::named(Some("cifar10"), Some(&empty))).unwrap_err()
    );
    assert!(
        e.contains("data_batch_1.bin")
            && e.contains("missing")
            && e.contains("autogan data fetch cifar10"),
        "{e}"
    );
    // A missing later file is named, and the fix does not point at another file.
    let partial = tmp("cifar-partial");
    write_cifar(&partial, 3, &CIFAR_TRAIN[..4]);
    let e = format!(
        "{:#}",
        cifar10::load_dir(&partial, Split::Train, None, 3).unwrap_err()
    );
    assert!(e.contains("data_batch_5.bin is missing"), "{e}");
    assert!(!e.contains("data_batch_1.bin exists"), "{e}");
    let _ = std::fs::remove_dir_all(&partial);
    // Official sizes are checked: 3-record files are "wrong size" for the real loader.
    let e = format!("{:#}", cifar10::load(&dir, Split::Train, None).unwrap_err());
    assert!(e.contains("30730000"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&empty);
}

/// An STL-10 value for (image, ch, r, c).
fn stl_value(img: usize, ch: usize, r: usize, c: usize) -> u8 {
    ((img * 31 + ch * 70 + r * 2 + c * 7) % 256) as u8
}

fn write_stl(dir: &Path, counts: stl10::Counts) {
    let d = dir.join(stl10::FOLDER);
    std::fs::create_dir_all(&d).unwrap();
    let mut base = 0;
    for (f, n) in [
        ("train_X.bin", counts.train),
        ("unlabeled_X.bin", counts.unlabeled),
        ("test_X.bin", counts.test),
    ] {
        let mut b = vec![0u8; n * stl10::IMAGE_BYTES];
        for i in 0..n {
            for ch in 0..3 {
                for r in 0..96 {
                    for c in 0..96 {
                        // Column-major per channel plane.
                        b[i * stl10::IMAGE_BYTES + ch * 9216 + c * 96 + r] =
                            stl_value(base + i, ch, r, c);
                    }
                }
            }
        }
        std::fs::write(d.join(f), b).unwrap();
        base += n;
    }
    std::fs::write(
        d.join("train_y.bin"),
        (0..counts.train)
            .map(|i| (i % 10 + 1) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    std::fs::write(
        d.join("test_y.bin"),
        (0..counts.test)
            .map(|i| (9 - i % 10 + 1) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
}

#[test]
fn stl10_reads_column_major_planes_and_averages_2x2() {
    let dir = tmp("stl");
    let counts = stl10::Counts {
        train: 3,
        unlabeled: 2,
        test: 2,
    };
    write_stl(&dir, counts);
    // Native size: exact pixels, checking the row/column order.
    let full = stl10::load_dir(&dir, Split::Train, None, 96, counts).unwrap();
    assert_eq!(full.images.size(), [5, 3, 96, 96]);
    for (img, r, c) in [
        (0usize, 1usize, 40usize),
        (0, 40, 1),
        (4, 95, 0),
        (2, 10, 20),
    ] {
        for ch in 0..3 {
            let v = full
                .images
                .int64_value(&[img as i64, ch as i64, r as i64, c as i64]);
            assert_eq!(
                v,
                stl_value(img, ch, r, c) as i64,
                "img {img} ch {ch} ({r},{c})"
            );
        }
    }
    assert_ne!(stl_value(0, 0, 1, 40), stl_value(0, 0, 40, 1));
    // Labels 1..10 -> 0..9 for the train part, -1 for unlabeled.
    assert_eq!(i64s(full.labels.as_ref().unwrap()), vec![0, 1, 2, -1, -1]);
    assert_eq!(full.labelled_only().unwrap().len(), 3);
    // 48x48: each pixel the rounded mean of a 2x2 block.
    let half = stl10::load_dir(&dir, Split::Train, None, 48, counts).unwrap();
    assert_eq!(half.images.size(), [5, 3, 48, 48]);
    for (img, r, c, ch) in [
        (1usize, 3usize, 17usize, 2usize),
        (3, 47, 0, 0),
        (4, 20, 30, 1),
    ] {
        let s: u32 = [(0, 0), (0, 1), (1, 0), (1, 1)]
            .iter()
            .map(|(dr, dc)| stl_value(img, ch, 2 * r + dr, 2 * c + dc) as u32)
            .sum();
        let v = half
            .images
            .int64_value(&[img as i64, ch as i64, r as i64, c as i64]);
        assert_eq!(v, ((s + 2) / 4) as i64, "img {img} ch {ch} ({r},{c})");
    }
    // A size that does not divide 96 goes through the chunked torch resize.
    let odd = stl10::load_dir(&dir, Split::Train, Some(4), 40, counts).unwrap();
    assert_eq!(odd.images.size(), [4, 3, 40, 40]);
    let test = stl10::load_dir(&dir, Split::Test, None, 48, counts).unwrap();
    assert_eq!(i64s(test.labels.as_ref().unwrap()), vec![9, 8]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stl10_wrong_size_names_file_sizes_and_fix() {
    let dir = tmp("stl-bad");
    let counts = stl10::Counts {
        train: 2,
        unlabeled: 1,
        test: 1,
    };
    write_stl(&dir, counts);
    let f = dir.join(stl10::FOLDER).join("unlabeled_X.bin");
    std::fs::write(&f, vec![0u8; 1000]).unwrap();
    let e = format!(
        "{:#}",
        stl10::load_dir(&dir, Split::Train, None, 48, counts).unwrap_err()
    );
    assert!(
        e.contains("unlabeled_X.bin")
            && e.contains("1000")
            && e.contains(&stl10::IMAGE_BYTES.to_string()),
        "{e}"
    );
    assert!(e.contains("autogan data fetch stl10"), "{e}");
    std::fs::remove_file(dir.join(stl10::FOLDER).join("train_y.bin")).unwrap();
    let e = format!(
        "{:#}",
        stl10::load_dir(&dir, Split::Train, None, 48, counts).unwrap_err()
    );
    assert!(e.contains("train_y.bin") && e.contains("missing"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn write_png(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb(f(x, y)));
    img.save(path).unwrap();
}

/// A folder with one subfolder per class is read in sorted order, class after class: a
/// reference of n images must be spread over it (`Dataset::spread`), not its first n, which
/// would hold the first classes only (what the in-training evaluations, the search's FID
/// reward and SAC's reference took before).
#[test]
fn a_spread_subset_of_a_folder_sorted_by_class_holds_every_class() {
    let dir = tmp("folder-spread");
    for (c, name) in ["a", "b", "c"].iter().enumerate() {
        for i in 0..4u8 {
            write_png(&dir.join(format!("{name}/{i}.png")), 8, 8, |_, _| {
                [c as u8 * 50 + i, 0, 0]
            });
        }
    }
    let ds = folder::load(&dir, 8, None).unwrap();
    assert_eq!(
        i64s(ds.labels.as_ref().unwrap()),
        [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    );
    assert_eq!(
        i64s(ds.take(6).labels.as_ref().unwrap()),
        [0, 0, 0, 0, 1, 1]
    );
    // Images 0, 2, 4, 6, 8, 10: two of each class, labels and pixels picked together.
    let s = ds.spread(6);
    assert_eq!(i64s(s.labels.as_ref().unwrap()), [0, 0, 1, 1, 2, 2]);
    let red: Vec<i64> = (0..6)
        .map(|i| s.images.int64_value(&[i, 0, 0, 0]))
        .collect();
    assert_eq!(red, [0, 2, 50, 52, 100, 102]);
    // Uneven: floor(i x 12 / 5) = 0, 2, 4, 7, 9.
    assert_eq!(i64s(ds.spread(5).labels.as_ref().unwrap()), [0, 0, 1, 1, 2]);
    // No more images than asked: the whole set in its order.
    for n in [12, 50] {
        let all = ds.spread(n);
        assert_eq!(all.len(), 12);
        assert!(all.images.equal(&ds.images));
    }
}

/// `eval --images DIR` reads a folder with one subfolder per class in one fixed shuffled order
/// (IS's splits, taken in order, would otherwise each hold one class, and `--num-images N` the
/// first classes only); a flat folder, e.g. generated samples, in sorted order.
#[test]
fn eval_reads_a_class_folder_shuffled_and_a_flat_folder_sorted() {
    use autogan::metrics::source::{folder_source, Images};
    let dir = tmp("folder-eval-order");
    for name in ["a", "b", "c", "d"] {
        for i in 0..10 {
            write_png(&dir.join(format!("{name}/{i:02}.png")), 4, 4, |_, _| {
                [1, 2, 3]
            });
        }
    }
    let files = |d: &Path, limit| match folder_source(d, limit).unwrap() {
        Images::Files { files, what } => (files, what),
        Images::Dataset { .. } => unreachable!(),
    };
    let (all, what) = files(&dir, None);
    assert!(what.contains("40 images from 4 class subfolders, in a fixed shuffled order"));
    let mut sorted = all.clone();
    sorted.sort();
    assert_ne!(all, sorted, "a class folder is not read class after class");
    assert_eq!(sorted.len(), 40);
    sorted.dedup();
    assert_eq!(sorted.len(), 40, "every file once");
    // The first 10 of the order come from at least three of the four classes (sorted: one),
    // and the order is the same every time.
    let (ten, _) = files(&dir, Some(10));
    assert_eq!(ten[..], all[..10]);
    let mut classes: Vec<_> = ten
        .iter()
        .map(|p| p.parent().unwrap().to_path_buf())
        .collect();
    classes.sort();
    classes.dedup();
    assert!(classes.len() >= 3, "{ten:?}");
    assert_eq!(files(&dir, None).0, all);
    // A flat folder stays in sorted order.
    let flat = dir.join("a");
    let (f, what) = files(&flat, Some(4));
    assert_eq!(
        f.iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect::<Vec<_>>(),
        ["00.png", "01.png", "02.png", "03.png"]
    );
    assert!(!what.contains("shuffled"));
}

#[test]
fn image_folder_labels_from_subfolders_sizes_and_order() {
    let dir = tmp("folder");
    // Class "b" sorts after "a"; sizes differ; a non-image file is ignored.
    write_png(&dir.join("b/02.png"), 40, 20, |_, _| [0, 0, 255]);
    write_png(&dir.join("a/01.png"), 32, 32, |x, y| {
        [x as u8 * 8, y as u8 * 8, 7]
    });
    write_png(&dir.join("a/sub/03.png"), 16, 16, |_, _| [10, 20, 30]);
    std::fs::write(dir.join("a/readme.txt"), "not an image").unwrap();
    let ds = folder::load(&dir, 32, None).unwrap();
    assert_eq!(ds.images.size(), [3, 3, 32, 32]);
    assert_eq!(ds.num_classes, Some(2));
    // Sorted paths: a/01.png, a/sub/03.png, b/02.png.
    assert_eq!(i64s(ds.labels.as_ref().unwrap()), vec![0, 0, 1]);
    // Same size: exact pixels, planes row-major.
    assert_eq!(ds.images.int64_value(&[0, 0, 3, 5]), 40);
    assert_eq!(ds.images.int64_value(&[0, 1, 3, 5]), 24);
    assert_eq!(ds.images.int64_value(&[0, 2, 3, 5]), 7);
    // Upsized flat image stays flat; the 40x20 image is center-cropped and resized.
    assert_eq!(
        u8s(&ds.images.get(1).get(2))
            .iter()
            .filter(|&&v| v != 30)
            .count(),
        0
    );
    assert_eq!(ds.images.int64_value(&[2, 2, 16, 16]), 255);
    // Via data::load, with another size.
    let spec = DataSpec {
        img_size: Some(8),
        ..DataSpec::named(Some(dir.to_str().unwrap()), None)
    };
    let small = data::load(&spec).unwrap();
    assert_eq!(small.images.size(), [3, 3, 8, 8]);
    // A flat folder has no labels.
    let flat = tmp("folder-flat");
    write_png(&flat.join("x.png"), 10, 10, |_, _| [1, 2, 3]);
    write_png(&flat.join("y.jpg"), 12, 9, |_, _| [200, 100, 50]);
    let ds = folder::load(&flat, 16, None).unwrap();
    assert!(ds.labels.is_none() && ds.num_classes.is_none());
    assert_eq!(ds.len(), 2);
    // A damaged image names itself.
    std::fs::write(flat.join("z.png"), b"garbage").unwrap();
    let e = format!("{:#}", folder::load(&flat, 16, None).unwrap_err());
    assert!(e.contains("z.png"), "{e}");
    let empty = tmp("folder-empty");
    let e = format!("{:#}", folder::load(&empty, 16, None).unwrap_err());
    assert!(e.contains("no PNG or JPEG"), "{e}");
    for d in [dir, flat, empty] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn unknown_dataset_is_an_error_that_lists_choices() {
    let e = format!(
        "{:#}",
        data::load(&DataSpec::named(Some("/no/such/folder/xyz"), None)).unwrap_err()
    );
    assert!(
        e.contains("shapes") && e.contains("cifar10") && e.contains("folder"),
        "{e}"
    );
}

#[test]
fn shapes_deterministic_balanced_and_varied() {
    let t0 = std::time::Instant::now();
    let (a, la) = shapes::shapes(2000, 7);
    let dt = t0.elapsed();
    eprintln!("2000 shapes in {dt:?}");
    let (b, lb) = shapes::shapes(2000, 7);
    let (c, _) = shapes::shapes(2000, 8);
    assert_eq!(a.len(), 2000 * 3 * 32 * 32);
    assert!(a == b && la == lb, "same seed, same bytes");
    assert!(a != c, "different seed, different bytes");
    // Image i does not depend on the count.
    let (p, _) = shapes::shapes(10, 7);
    assert_eq!(&a[..p.len()], &p[..]);
    let mut counts = [0usize; 10];
    for &l in &la {
        counts[l as usize] += 1;
    }
    assert!(counts.iter().all(|&k| k == 200), "{counts:?}");
    // Not trivial: the images differ a lot inside a class, and use the whole range.
    let img = |i: usize| &a[i * 3072..(i + 1) * 3072];
    let diff: f64 = img(0)
        .iter()
        .zip(img(10))
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .sum::<f64>()
        / 3072.0;
    assert!(diff > 20.0, "two circles differ by only {diff}");
    let (min, max) = (a.iter().min().unwrap(), a.iter().max().unwrap());
    assert!(*min < 10 && *max > 245);
}

#[test]
fn shapes_labels_are_learnable() {
    // A tiny CNN (global max pooling, so position does not matter) trained for a few epochs on
    // 2,000 images at 16x16 must beat chance (10%) clearly on 400 held-out images. One thread:
    // deterministic, and quick even on a busy machine (about 4 s; about 0.33 accuracy).
    tch::set_num_threads(1);
    tch::manual_seed(0);
    let (px, labels) = shapes::shapes(2400, 3);
    let ds = Dataset::from_u8("shapes", px, 32, Some(labels), Some(10))
        .unwrap()
        .resized(16);
    let x = data::to_gan(&ds.images);
    // Per-image, per-channel standardisation removes most of the colour level.
    let x = (&x - x.mean_dim([2i64, 3].as_slice(), true, Kind::Float))
        / (x.std_dim([2i64, 3].as_slice(), true, true) + 1e-3);
    let y = ds.labels.as_ref().unwrap().shallow_clone();
    let (xtr, ytr) = (x.narrow(0, 0, 2000), y.narrow(0, 0, 2000));
    let (xte, yte) = (x.narrow(0, 2000, 400), y.narrow(0, 2000, 400));
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let p = vs.root();
    let cfg = tch::nn::ConvConfig {
        padding: 1,
        ..Default::default()
    };
    let c1 = tch::nn::conv2d(&p / "c1", 3, 16, 3, cfg);
    let c2 = tch::nn::conv2d(&p / "c2", 16, 32, 3, cfg);
    let c3 = tch::nn::conv2d(&p / "c3", 32, 64, 3, cfg);
    let o = tch::nn::linear(&p / "o", 64, 10, Default::default());
    let mut opt = tch::nn::OptimizerConfig::build(tch::nn::Adam::default(), &vs, 3e-3).unwrap();
    let fwd = |x: &Tensor| {
        x.apply(&c1)
            .relu()
            .max_pool2d_default(2)
            .apply(&c2)
            .relu()
            .max_pool2d_default(2)
            .apply(&c3)
            .relu()
            .amax([2i64, 3].as_slice(), false)
            .apply(&o)
    };
    let t0 = std::time::Instant::now();
    for epoch in 0..8u64 {
        let perm = Tensor::from_slice(&data::permutation(2000, 1, epoch));
        for i in 0..62 {
            let idx = perm.narrow(0, i * 32, 32);
            let loss = fwd(&xtr.index_select(0, &idx))
                .cross_entropy_for_logits(&ytr.index_select(0, &idx));
            opt.backward_step(&loss);
        }
    }
    let acc = tch::no_grad(|| {
        fwd(&xte)
            .argmax(1, false)
            .eq_tensor(&yte)
            .to_kind(Kind::Float)
            .mean(Kind::Float)
            .double_value(&[])
    });
    eprintln!(
        "held-out accuracy of a tiny CNN: {acc:.3} (chance 0.1), {:?}",
        t0.elapsed()
    );
    assert!(acc > 0.25, "accuracy {acc}");
}

fn small_set(n: usize) -> Dataset {
    let (px, labels) = shapes::shapes(n, 1);
    Dataset::from_u8("shapes", px, 32, Some(labels), Some(10)).unwrap()
}

#[test]
fn epochs_shuffle_deterministically_and_drop_last() {
    let ds = small_set(50);
    let p0 = i64s(&ds.permutation(0, 5));
    let mut sorted = p0.clone();
    sorted.sort();
    assert_eq!(sorted, (0..50).collect::<Vec<i64>>());
    assert_eq!(p0, i64s(&ds.permutation(0, 5)));
    assert_ne!(p0, i64s(&ds.permutation(1, 5)), "epochs differ");
    assert_ne!(p0, i64s(&ds.permutation(0, 6)), "seeds differ");
    assert_ne!(p0, (0..50).collect::<Vec<i64>>());
    let batches: Vec<Tensor> = ds.epoch(0, 5, 16, None, Device::Cpu).collect();
    assert_eq!(batches.len(), 3);
    assert_eq!(batches[0].size(), [16, 3, 32, 32]);
    assert_eq!(batches[0].kind(), Kind::Uint8);
    let again: Vec<Tensor> = ds.epoch(0, 5, 16, None, Device::Cpu).collect();
    assert!(batches.iter().zip(&again).all(|(a, b)| a.equal(b)));
    let other: Vec<Tensor> = ds.epoch(1, 5, 16, None, Device::Cpu).collect();
    assert!(!batches[0].equal(&other[0]));
    // The first batch is the images at the first 16 permuted indices.
    let idx = Tensor::from_slice(&p0[..16]);
    assert!(batches[0].equal(&ds.images.index_select(0, &idx)));
    // batch_at counts over epochs: index 3 = epoch 1, batch 0.
    assert!(ds.batch_at(3, 16, 5, Device::Cpu).unwrap().equal(&other[0]));
    assert!(ds
        .batch_at(1, 16, 5, Device::Cpu)
        .unwrap()
        .equal(&batches[1]));
    let (x, y) = ds.labelled_batch_at(0, 16, 5, Device::Cpu).unwrap();
    assert!(x.equal(&batches[0]));
    assert_eq!(
        i64s(&y),
        p0[..16].iter().map(|i| i % 10).collect::<Vec<i64>>()
    );
    let labelled: Vec<(Tensor, Tensor)> =
        ds.epoch_labelled(0, 5, 16, Some(8), Device::Cpu).collect();
    assert_eq!(labelled.len(), 3);
    assert_eq!(labelled[0].0.size(), [16, 3, 8, 8]);
    assert!(ds.batch_at(0, 51, 5, Device::Cpu).is_err());
    assert!(ds.batch_at(0, 0, 5, Device::Cpu).is_err());
}

#[test]
fn resize_to_search_sizes_and_gan_range() {
    let ds = small_set(20);
    for s in [8i64, 16, 48] {
        let r = ds.resized(s);
        assert_eq!(r.images.size(), [20, 3, s, s]);
        assert_eq!(r.images.kind(), Kind::Uint8);
        assert_eq!(r.len(), 20);
        assert!(r.labels.is_some());
        let b: Vec<Tensor> = ds.epoch(0, 0, 4, Some(s), Device::Cpu).collect();
        assert_eq!(b[0].size(), [4, 3, s, s]);
    }
    // Area average: 32 -> 16 is the rounded mean of 2x2 blocks.
    let r = ds.resized(16);
    let x = ds.images.to_kind(Kind::Float);
    let want = (x.narrow(2, 6, 2).narrow(3, 10, 2).sum_dim_intlist(
        [2i64, 3].as_slice(),
        false,
        Kind::Float,
    ) / 4.0)
        .round();
    let got = r
        .images
        .narrow(2, 3, 1)
        .narrow(3, 5, 1)
        .flatten(1, -1)
        .to_kind(Kind::Float);
    assert!(want.equal(&got.view([20, 3])));
    // Through data::load.
    let spec = DataSpec {
        img_size: Some(8),
        shapes_count: 30,
        ..DataSpec::shapes(0)
    };
    let d8 = data::load(&spec).unwrap();
    assert_eq!(d8.images.size(), [30, 3, 8, 8]);
    // [-1, 1] at the GAN boundary, and back.
    let g = data::to_gan(&ds.images);
    assert_eq!(g.kind(), Kind::Float);
    assert!(g.min().double_value(&[]) >= -1.0 && g.max().double_value(&[]) <= 1.0);
    let ends = data::to_gan(&Tensor::from_slice(&[0u8, 255]));
    assert_eq!(Vec::<f32>::try_from(&ends).unwrap(), vec![-1.0, 1.0]);
    assert!(data::from_gan(&g).equal(&ds.images));
}

#[test]
fn fetch_without_network_fails_fast_and_says_what_to_do() {
    let dir = tmp("fetch-offline");
    let mut a = fetch::Archive::known("cifar10").unwrap();
    assert_eq!(a.size, Some(170_052_171));
    a.url = "http://127.0.0.1:9/cifar-10-binary.tar.gz".into();
    let t0 = std::time::Instant::now();
    let e = format!("{:#}", fetch::fetch_archive(&a, &dir, true).unwrap_err());
    assert!(t0.elapsed().as_secs() < 25);
    assert!(
        e.contains(&a.url) && e.contains("c32a1d4ab5d03f1284b67883e8d87530"),
        "{e}"
    );
    assert!(
        e.contains(&dir.join("cifar-10-binary.tar.gz").display().to_string()),
        "{e}"
    );
    assert!(e.contains("tar xzf"), "{e}");
    // Nothing half-written is left.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A small .tar.gz holding `folder/` with the given files.
fn make_archive(path: &Path, folder: &str, files: &[(&str, Vec<u8>)]) {
    let f = std::fs::File::create(path).unwrap();
    let gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    let mut t = tar::Builder::new(gz);
    for (name, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, format!("{folder}/{name}"), bytes.as_slice())
            .unwrap();
    }
    t.into_inner().unwrap().finish().unwrap();
}

#[test]
fn fetch_checks_and_unpacks_an_archive_put_there_by_hand() {
    let dir = tmp("fetch-local");
    let path = dir.join("toy.tar.gz");
    make_archive(
        &path,
        "toy_bin",
        &[("a.bin", vec![1u8; 100]), ("b.bin", vec![2u8; 7])],
    );
    let (md5, size) = fetch::md5_hex(std::fs::File::open(&path).unwrap()).unwrap();
    let mut a = fetch::Archive {
        name: "toy".into(),
        url: "http://127.0.0.1:9/toy.tar.gz".into(),
        file_name: "toy.tar.gz".into(),
        size: Some(size),
        md5,
        folder: "toy_bin".into(),
        files: vec![("a.bin".into(), 100), ("b.bin".into(), 7)],
    };
    let out = fetch::fetch_archive(&a, &dir, true).unwrap();
    assert_eq!(out, dir.join("toy_bin"));
    assert_eq!(std::fs::read(out.join("b.bin")).unwrap(), vec![2u8; 7]);
    assert!(a.is_complete(&dir));
    // No temporary folder is left; the hand-placed archive is kept.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // Complete: a second fetch does nothing.
    fetch::fetch_archive(&a, &dir, true).unwrap();
    // An archive that lacks a file never yields a complete-looking folder.
    std::fs::remove_dir_all(dir.join("toy_bin")).unwrap();
    a.files.push(("c.bin".into(), 3));
    let e = format!("{:#}", fetch::fetch_archive(&a, &dir, true).unwrap_err());
    assert!(e.contains("c.bin"), "{e}");
    assert!(!dir.join("toy_bin").exists());
    assert!(!dir.join(".toy_bin.unpacking").exists());
    // A wrong checksum is refused.
    a.files.pop();
    a.md5 = "00000000000000000000000000000000".into();
    let e = format!("{:#}", fetch::fetch_archive(&a, &dir, true).unwrap_err());
    assert!(e.contains("md5") && e.contains("toy.tar.gz"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn info_reports_missing_and_present_sets() {
    let dir = tmp("info");
    let all = data::info::all(&dir);
    assert_eq!(all.len(), 3);
    assert!(all[0].available && all[0].labelled);
    assert!(
        !all[1].available
            && all[1]
                .fix
                .as_deref()
                .unwrap_or("")
                .contains("autogan data fetch cifar10")
    );
    write_cifar(&dir, 3, &CIFAR_TRAIN);
    let i = data::info::of("cifar10", &dir).unwrap();
    assert_eq!(i.files.len(), 6);
    assert!(i
        .problems
        .iter()
        .any(|p| p.contains("data_batch_1.bin") && p.contains("9219") && p.contains("30730000")));
    let f = tmp("info-folder");
    write_png(&f.join("cat/1.png"), 8, 8, |_, _| [1, 1, 1]);
    write_png(&f.join("dog/1.png"), 8, 6, |_, _| [1, 1, 1]);
    let i = data::info::of(f.to_str().unwrap(), &dir).unwrap();
    assert!(i.available && i.labelled);
    assert_eq!(i.classes, vec!["cat".to_string(), "dog".to_string()]);
    assert_eq!(i.splits[0].images, 2);
    assert_eq!(i.image_sizes.len(), 2);
    assert!(data::info::of("nonexistent-set", &dir).is_err());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&f);
}

#[cfg(unix)]
#[test]
fn image_folder_links_and_special_files_are_walked_once_and_never_opened() {
    use std::os::unix::fs::symlink;
    // A link back to the parent (a cycle): the two images count once each.
    let cyc = tmp("folder-cycle");
    write_png(&cyc.join("a/1.png"), 8, 8, |_, _| [1, 2, 3]);
    write_png(&cyc.join("a/2.png"), 8, 8, |_, _| [4, 5, 6]);
    symlink("..", cyc.join("a/up")).unwrap();
    let l = folder::scan(&cyc).unwrap();
    assert_eq!(l.files, vec![cyc.join("a/1.png"), cyc.join("a/2.png")]);
    // A link to the folder itself and a link to a file: each file once.
    let me = tmp("folder-self");
    for i in 0..3 {
        write_png(&me.join(format!("{i}.png")), 8, 8, |_, _| [7, 8, 9]);
    }
    symlink(".", me.join("me")).unwrap();
    symlink("0.png", me.join("zz-link.png")).unwrap();
    assert_eq!(folder::scan(&me).unwrap().files.len(), 3);
    let ds = folder::load(&me, 8, None).unwrap();
    assert_eq!(ds.len(), 3);
    // A link to a class folder is followed (as the shell does).
    let real = tmp("folder-linked-class");
    write_png(&real.join("x.png"), 8, 8, |_, _| [0, 0, 0]);
    let lab = tmp("folder-labelled-links");
    write_png(&lab.join("cat/1.png"), 8, 8, |_, _| [0, 0, 0]);
    symlink(&real, lab.join("dog")).unwrap();
    let l = folder::scan(&lab).unwrap();
    assert_eq!(l.files.len(), 2);
    assert_eq!(l.classes, Some(vec!["cat".to_string(), "dog".to_string()]));
    // A FIFO named like an image is not listed, so nothing ever blocks opening it; data info
    // says it was skipped.
    let fifo = tmp("folder-fifo");
    write_png(&fifo.join("1.png"), 8, 8, |_, _| [1, 1, 1]);
    write_png(&fifo.join("2.png"), 8, 8, |_, _| [2, 2, 2]);
    let st = std::process::Command::new("mkfifo")
        .arg(fifo.join("3.png"))
        .status()
        .unwrap();
    assert!(st.success());
    symlink("gone.png", fifo.join("4.png")).unwrap();
    let l = folder::scan(&fifo).unwrap();
    assert_eq!(l.files, vec![fifo.join("1.png"), fifo.join("2.png")]);
    let i = data::info::of(fifo.to_str().unwrap(), &fifo).unwrap();
    assert_eq!(i.splits[0].images, 2);
    assert!(
        i.problems
            .iter()
            .any(|p| p.contains("3.png") && p.contains("4.png") && p.contains("not regular")),
        "{:?}",
        i.problems
    );
    assert_eq!(folder::load(&fifo, 8, None).unwrap().len(), 2);
    for d in [cyc, me, real, lab, fifo] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn info_decodes_every_image_of_a_folder() {
    let dir = tmp("info-truncated");
    for i in 0..3 {
        write_png(&dir.join(format!("{i}.png")), 16, 16, |x, y| {
            [(x * 16) as u8, (y * 16) as u8, (x * y + i) as u8]
        });
    }
    // Cut one file in half: its header is whole, its pixels are not.
    let p = dir.join("2.png");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let i = data::info::of(dir.to_str().unwrap(), &dir).unwrap();
    assert!(!i.available, "a folder with a damaged image is not ready");
    assert!(
        i.problems.iter().any(|p| p.contains("1 of 3")),
        "{:?}",
        i.problems
    );
    assert!(
        i.problems.iter().any(|p| p.contains("2.png")),
        "{:?}",
        i.problems
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A data set generator of scripts/ (the second data sets of issue 18): it writes ten classes,
/// seeded (the same seed writes the same bytes, another seed other bytes), that autogan loads as
/// a labelled folder, and refuses a folder that is not empty.
fn check_generator(script: &str, what: &str, a_file: &str) {
    let Some(py) = common::venv_python(what, "numpy, PIL", "scripts/setup.sh") else {
        return;
    };
    let root = tmp(script);
    let script = format!("{}/scripts/{script}", env!("CARGO_MANIFEST_DIR"));
    let make = |dir: &std::path::Path, seed: &str| {
        std::process::Command::new(&py)
            .args([
                script.as_str(),
                dir.to_str().unwrap(),
                "--per-class",
                "3",
                "--seed",
                seed,
            ])
            .output()
            .unwrap()
    };
    let (a, b, c) = (root.join("a"), root.join("b"), root.join("c"));
    for (dir, seed) in [(&a, "4"), (&b, "4"), (&c, "5")] {
        let o = make(dir, seed);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = make(&a, "4");
    assert!(!o.status.success(), "a folder that is not empty is refused");
    let spec = autogan::data::DataSpec::named(Some(a.to_str().unwrap()), None);
    let ds = autogan::data::load(&spec).expect("the folder loads");
    assert_eq!((ds.len(), ds.num_classes), (30, Some(10)));
    let read = |dir: &std::path::Path| std::fs::read(dir.join(a_file)).unwrap();
    assert_eq!(read(&a), read(&b), "the same seed gives the same images");
    assert_ne!(read(&a), read(&c), "another seed gives other images");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn the_texture_generator_writes_a_labelled_folder_autogan_reads() {
    check_generator(
        "make_textures.py",
        "the texture data set generator",
        "dots/00002.png",
    );
}

#[test]
fn the_scene_generator_writes_a_labelled_folder_autogan_reads() {
    check_generator(
        "make_scenes.py",
        "the scene data set generator",
        "lake/00002.png",
    );
}
