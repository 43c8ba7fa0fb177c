//! Data sets: which one to read (`DataSpec`), the images in memory (`Dataset`, uint8 NCHW),
//! shuffled batches per epoch, resizing, and the uint8 <-> [-1, 1] conversion at the GAN
//! boundary.
//!
//! Tensor contract: `Dataset::images` is uint8 `[N, 3, H, W]` (H = W), values 0..=255;
//! `Dataset::labels` is int64 `[N]`, values in `0..num_classes`, or -1 for an image without a
//! label (STL-10's unlabeled part). Batches are uint8 `[B, 3, s, s]`; only `to_gan` turns them
//! into float in [-1, 1].
//!
//! The readers live in `shapes` (built-in), `cifar10`, `stl10`, `folder` (PNG/JPEG); `fetch`
//! downloads the official archives; `info` reports what is on disk.
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tch::{Device, Kind, Tensor};

pub mod cifar10;
pub mod fetch;
pub mod folder;
pub mod info;
pub mod shapes;
pub mod stl10;

/// Number of images of the built-in set when nothing else is asked.
pub const DEFAULT_SHAPES_COUNT: usize = 20_000;

/// The name of the built-in data set, used when none is named.
pub const DEFAULT_NAME: &str = "shapes";
/// The data sets known by name (a folder path is accepted too).
pub const KNOWN: [&str; 3] = ["shapes", "cifar10", "stl10"];

/// Which part of a data set: `train` (CIFAR-10: the 50k training images; STL-10: train +
/// unlabeled, 105k) or `test` (CIFAR-10: 10k; STL-10: 8k). Sets without a split (shapes, a
/// folder) ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    #[default]
    Train,
    Test,
}

impl std::str::FromStr for Split {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Split> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" => Ok(Split::Train),
            "test" => Ok(Split::Test),
            other => bail!("split '{other}' is not known: use train or test"),
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Split::Train => "train",
            Split::Test => "test",
        })
    }
}

/// What to load.
#[derive(Debug, Clone)]
pub struct DataSpec {
    /// `shapes`, `cifar10`, `stl10` or a folder path; None = shapes.
    pub name: Option<String>,
    /// Where named sets live (`paths::data_dir`).
    pub data_dir: PathBuf,
    /// Image size to deliver; None = the set's own (shapes 32, cifar10 32, stl10 48, folder 32).
    pub img_size: Option<i64>,
    pub split: Split,
    /// Keep only the first `limit` images (in file order), e.g. for quick runs.
    pub limit: Option<usize>,
    /// Seed of the built-in set (the images themselves; the batch order has its own seed).
    pub seed: u64,
    /// Number of images of the built-in set.
    pub shapes_count: usize,
}

impl DataSpec {
    /// The built-in set with its defaults.
    pub fn shapes(seed: u64) -> DataSpec {
        DataSpec {
            name: None,
            data_dir: crate::paths::data_dir(None),
            img_size: None,
            split: Split::Train,
            limit: None,
            seed,
            shapes_count: DEFAULT_SHAPES_COUNT,
        }
    }

    /// A named set (or folder) in `data_dir` (None = `$AUTOGAN_DATA`, else `./data`).
    pub fn named(name: Option<&str>, data_dir: Option<&Path>) -> DataSpec {
        DataSpec {
            name: name.map(str::to_string),
            data_dir: crate::paths::data_dir(data_dir),
            img_size: None,
            split: Split::Train,
            limit: None,
            seed: 0,
            shapes_count: DEFAULT_SHAPES_COUNT,
        }
    }

    /// The training images of a set at `img_size`; `shapes_count` and `seed` matter only for
    /// the built-in set.
    pub fn for_training(
        name: Option<&str>,
        data_dir: Option<&Path>,
        img_size: i64,
        shapes_count: usize,
        seed: u64,
    ) -> DataSpec {
        DataSpec {
            img_size: Some(img_size),
            seed,
            shapes_count,
            ..DataSpec::named(name, data_dir)
        }
    }

    /// The canonical name (`shapes`, `cifar10`, `stl10`) or the folder path as given.
    pub fn display_name(&self) -> String {
        match self.name.as_deref() {
            None => "shapes".into(),
            Some(n) => canonical(n)
                .map(str::to_string)
                .unwrap_or_else(|| n.to_string()),
        }
    }
}

/// The canonical name of a known set (`cifar-10`, `CIFAR10` -> `cifar10`), None for others.
pub fn canonical(name: &str) -> Option<&'static str> {
    let n: String = name
        .trim()
        .to_ascii_lowercase()
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .collect();
    match n.as_str() {
        "shapes" | "builtin" => Some("shapes"),
        "cifar10" | "cifar" => Some("cifar10"),
        "stl10" | "stl" => Some("stl10"),
        _ => None,
    }
}

/// Load a data set into memory (CPU), resized to `spec.img_size` when given.
pub fn load(spec: &DataSpec) -> Result<Dataset> {
    if let Some(s) = spec.img_size {
        check_size(s)?;
    }
    if spec.limit == Some(0) {
        bail!("a data set limit of 0 images leaves nothing to train on: use a positive limit");
    }
    let name = spec.name.as_deref().unwrap_or("shapes");
    let ds = match canonical(name) {
        Some("shapes") => {
            let n = spec
                .limit
                .map_or(spec.shapes_count, |l| l.min(spec.shapes_count));
            if n == 0 {
                bail!("the built-in shapes set was asked for 0 images: use a positive count");
            }
            let (px, labels) = shapes::shapes(n, spec.seed);
            Dataset::from_u8(
                "shapes",
                px,
                shapes::SIZE as i64,
                Some(labels),
                Some(shapes::NUM_CLASSES as i64),
            )?
        }
        Some("cifar10") => cifar10::load(&spec.data_dir, spec.split, spec.limit)?,
        Some("stl10") => stl10::load(
            &spec.data_dir,
            spec.split,
            spec.limit,
            spec.img_size.unwrap_or(stl10::DEFAULT_SIZE),
        )?,
        _ => {
            let p = Path::new(name);
            if p.is_dir() {
                folder::load(p, spec.img_size.unwrap_or(folder::DEFAULT_SIZE), spec.limit)?
            } else if p.exists() {
                bail!("--dataset {name}: this is a file, not a folder; give a folder of PNG/JPEG images, or one of shapes, cifar10, stl10")
            } else {
                bail!("--dataset {name}: no such data set or folder; use shapes (built-in), cifar10, stl10, or the path of a folder of PNG/JPEG images")
            }
        }
    };
    match spec.img_size {
        Some(s) if s != ds.img_size() => Ok(ds.resized(s)),
        _ => Ok(ds),
    }
}

fn check_size(s: i64) -> Result<()> {
    if !(1..=4096).contains(&s) {
        bail!("image size {s} is out of range: use a size between 1 and 4096 (e.g. 32)");
    }
    Ok(())
}

/// Images (uint8 `[N,3,H,W]`) with optional labels (int64 `[N]`, -1 = none), in memory.
pub struct Dataset {
    pub name: String,
    pub images: Tensor,
    pub labels: Option<Tensor>,
    pub num_classes: Option<i64>,
    /// The last epoch order computed: (seed, epoch, permutation on the images' device).
    order: Mutex<Option<(u64, u64, Tensor)>>,
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataset")
            .field("name", &self.name)
            .field("images", &self.images.size())
            .field("labelled", &self.labels.is_some())
            .field("num_classes", &self.num_classes)
            .finish()
    }
}

impl Dataset {
    /// Wrap tensors: `images` uint8 `[N,3,H,W]` with H = W, `labels` int64 `[N]`.
    pub fn new(
        name: &str,
        images: Tensor,
        labels: Option<Tensor>,
        num_classes: Option<i64>,
    ) -> Result<Dataset> {
        let sz = images.size();
        if sz.len() != 4 || sz[1] != 3 || sz[2] != sz[3] || images.kind() != Kind::Uint8 {
            bail!(
                "{name}: images must be uint8 [N,3,H,H], got {:?} {:?}",
                images.kind(),
                sz
            );
        }
        if let Some(l) = &labels {
            if l.size() != [sz[0]] {
                bail!(
                    "{name}: {} labels for {} images",
                    l.size().first().copied().unwrap_or(0),
                    sz[0]
                );
            }
        }
        Ok(Dataset {
            name: name.to_string(),
            images,
            labels: labels.map(|l| l.to_kind(Kind::Int64)),
            num_classes,
            order: Mutex::new(None),
        })
    }

    /// From raw bytes: `px` holds N images of 3 planes of `size` x `size` (row-major);
    /// `labels` are class indices (255 = no label).
    pub fn from_u8(
        name: &str,
        px: Vec<u8>,
        size: i64,
        labels: Option<Vec<u8>>,
        num_classes: Option<i64>,
    ) -> Result<Dataset> {
        let per = (3 * size * size) as usize;
        if per == 0 || !px.len().is_multiple_of(per) {
            bail!(
                "{name}: {} bytes is not a whole number of {size}x{size} RGB images",
                px.len()
            );
        }
        let n = (px.len() / per) as i64;
        let images = Tensor::from_slice(&px).view([n, 3, size, size]);
        drop(px);
        let labels = labels.map(|l| {
            let v: Vec<i64> = l
                .iter()
                .map(|&c| if c == 255 { -1 } else { c as i64 })
                .collect();
            Tensor::from_slice(&v)
        });
        Dataset::new(name, images, labels, num_classes)
    }

    pub fn len(&self) -> usize {
        self.images.size()[0] as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Height (= width) of the images.
    pub fn img_size(&self) -> i64 {
        self.images.size()[2]
    }

    pub fn device(&self) -> Device {
        self.images.device()
    }

    /// The same set with its tensors on `device` (e.g. the whole set on the GPU once, so
    /// batches need no copy).
    pub fn to_device(self, device: Device) -> Dataset {
        if self.images.device() == device {
            return self;
        }
        Dataset {
            name: self.name,
            images: self.images.to_device(device),
            labels: self.labels.map(|l| l.to_device(device)),
            num_classes: self.num_classes,
            order: Mutex::new(None),
        }
    }

    /// The set resized once to `size` x `size` (area average when shrinking, bilinear when
    /// growing), e.g. 8x8 and 16x16 for the search stages. Labels are kept.
    pub fn resized(&self, size: i64) -> Dataset {
        let images = if size == self.img_size() {
            self.images.shallow_clone()
        } else {
            resize_u8(&self.images, size)
        };
        Dataset {
            name: self.name.clone(),
            images,
            labels: self.labels.as_ref().map(|l| l.shallow_clone()),
            num_classes: self.num_classes,
            order: Mutex::new(None),
        }
    }

    /// `n` images spread evenly over the set (image floor(i x len / n) for i < n; the whole
    /// set, in its order, when it has no more than `n`): the real side of a statistic that
    /// cannot use every image. Unlike the first `n`, this holds every class of a folder read
    /// in sorted order (one subfolder per class) in its share; it needs no seed, so every run
    /// on the same set compares with the same images.
    pub fn spread(&self, n: usize) -> Dataset {
        let len = self.len();
        if n >= len {
            return self.take(len);
        }
        let idx: Vec<i64> = (0..n).map(|i| (i * len / n) as i64).collect();
        let idx = Tensor::from_slice(&idx).to_device(self.images.device());
        Dataset {
            name: self.name.clone(),
            images: self.images.index_select(0, &idx),
            labels: self
                .labels
                .as_ref()
                .map(|l| l.index_select(0, &idx.to_device(l.device()))),
            num_classes: self.num_classes,
            order: Mutex::new(None),
        }
    }

    /// The first `n` images (fewer if the set is smaller).
    pub fn take(&self, n: usize) -> Dataset {
        let n = n.min(self.len()) as i64;
        Dataset {
            name: self.name.clone(),
            images: self.images.narrow(0, 0, n),
            labels: self.labels.as_ref().map(|l| l.narrow(0, 0, n)),
            num_classes: self.num_classes,
            order: Mutex::new(None),
        }
    }

    /// Only the images that have a label (STL-10 train: its 5,000 labelled images); None when
    /// the set has no labels at all.
    pub fn labelled_only(&self) -> Option<Dataset> {
        let labels = self.labels.as_ref()?;
        let idx = labels.ge(0).nonzero().squeeze_dim(1);
        if idx.size()[0] == 0 {
            return None;
        }
        Some(Dataset {
            name: self.name.clone(),
            images: self.images.index_select(0, &idx),
            labels: Some(labels.index_select(0, &idx)),
            num_classes: self.num_classes,
            order: Mutex::new(None),
        })
    }

    /// Number of whole batches of `batch` images in one epoch (the last partial one is dropped).
    pub fn batches_per_epoch(&self, batch: i64) -> usize {
        if batch <= 0 {
            return 0;
        }
        self.len() / batch as usize
    }

    /// The order of epoch `epoch` for `seed`: a permutation of 0..N (int64, on the images'
    /// device). The same (seed, epoch) always gives the same order.
    pub fn permutation(&self, epoch: u64, seed: u64) -> Tensor {
        let mut cache = self.order.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((s, e, p)) = cache.as_ref() {
            if *s == seed && *e == epoch {
                return p.shallow_clone();
            }
        }
        let p = Tensor::from_slice(&permutation(self.len(), seed, epoch)).to_device(self.device());
        *cache = Some((seed, epoch, p.shallow_clone()));
        p
    }

    /// Refuses a batch size that is not positive or that the data set cannot fill.
    pub fn check_batch(&self, batch: i64) -> Result<()> {
        if batch <= 0 {
            bail!("batch size {batch}: must be at least 1");
        }
        if self.is_empty() {
            bail!("the data set '{}' has no images", self.name);
        }
        if batch as usize > self.len() {
            bail!(
                "the data set '{}' is smaller than a batch: {} image(s), batch size {batch}; use \
                 --batch-size {} or less, or more images",
                self.name,
                self.len(),
                self.len()
            );
        }
        Ok(())
    }

    /// Batches of one epoch in the order of (seed, epoch), the last partial batch dropped;
    /// each uint8 `[batch,3,s,s]` on `device`, resized to `size` when given and different.
    pub fn epoch(
        &self,
        epoch: u64,
        seed: u64,
        batch: i64,
        size: Option<i64>,
        device: Device,
    ) -> Batches<'_> {
        self.epoch_inner(epoch, seed, batch, size, device, false)
    }

    /// Like `epoch`, with labels: items are (images uint8 `[B,3,s,s]`, labels int64 `[B]`).
    /// Empty when the set has no labels.
    pub fn epoch_labelled(
        &self,
        epoch: u64,
        seed: u64,
        batch: i64,
        size: Option<i64>,
        device: Device,
    ) -> LabelledBatches<'_> {
        LabelledBatches(self.epoch_inner(epoch, seed, batch, size, device, true))
    }

    fn epoch_inner(
        &self,
        epoch: u64,
        seed: u64,
        batch: i64,
        size: Option<i64>,
        device: Device,
        labels: bool,
    ) -> Batches<'_> {
        let n = if labels && self.labels.is_none() {
            0
        } else {
            self.batches_per_epoch(batch)
        };
        let perm = if n > 0 {
            Some(self.permutation(epoch, seed))
        } else {
            None
        };
        Batches {
            data: self,
            perm,
            next: 0,
            count: n,
            batch,
            size,
            device,
        }
    }

    /// Batch number `index` counted over all epochs (epoch = index / batches_per_epoch), e.g.
    /// the D step counter of a training: uint8 `[batch,3,H,W]` on `device`.
    pub fn batch_at(&self, index: u64, batch: i64, seed: u64, device: Device) -> Result<Tensor> {
        Ok(self.labelled_batch_at_inner(index, batch, seed, device)?.0)
    }

    /// `batch_at` with the labels (int64 `[batch]`); an error when the set has no labels.
    pub fn labelled_batch_at(
        &self,
        index: u64,
        batch: i64,
        seed: u64,
        device: Device,
    ) -> Result<(Tensor, Tensor)> {
        let (x, y) = self.labelled_batch_at_inner(index, batch, seed, device)?;
        let y = y.with_context(|| format!("data set '{}' has no labels", self.name))?;
        Ok((x, y))
    }

    fn labelled_batch_at_inner(
        &self,
        index: u64,
        batch: i64,
        seed: u64,
        device: Device,
    ) -> Result<(Tensor, Option<Tensor>)> {
        self.check_batch(batch)?;
        let per = self.batches_per_epoch(batch) as u64;
        let (epoch, i) = (index / per, index % per);
        let idx = self
            .permutation(epoch, seed)
            .narrow(0, i as i64 * batch, batch);
        Ok(self.gather(&idx, None, device))
    }

    /// Images (and labels) at `idx` (int64 on the images' device), resized, moved to `device`.
    fn gather(&self, idx: &Tensor, size: Option<i64>, device: Device) -> (Tensor, Option<Tensor>) {
        let mut x = self.images.index_select(0, idx);
        if let Some(s) = size {
            if s != self.img_size() {
                x = resize_u8(&x, s);
            }
        }
        let y = self
            .labels
            .as_ref()
            .map(|l| l.index_select(0, idx).to_device(device));
        (x.to_device(device), y)
    }
}

/// The batches of one epoch (see `Dataset::epoch`).
pub struct Batches<'a> {
    data: &'a Dataset,
    perm: Option<Tensor>,
    next: usize,
    count: usize,
    batch: i64,
    size: Option<i64>,
    device: Device,
}

impl Batches<'_> {
    fn next_pair(&mut self) -> Option<(Tensor, Option<Tensor>)> {
        if self.next >= self.count {
            return None;
        }
        let perm = self.perm.as_ref()?;
        let idx = perm.narrow(0, self.next as i64 * self.batch, self.batch);
        self.next += 1;
        Some(self.data.gather(&idx, self.size, self.device))
    }
}

impl Iterator for Batches<'_> {
    type Item = Tensor;
    fn next(&mut self) -> Option<Tensor> {
        self.next_pair().map(|p| p.0)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let r = self.count.saturating_sub(self.next);
        (r, Some(r))
    }
}

impl ExactSizeIterator for Batches<'_> {}

/// The labelled batches of one epoch (see `Dataset::epoch_labelled`).
pub struct LabelledBatches<'a>(Batches<'a>);

impl Iterator for LabelledBatches<'_> {
    type Item = (Tensor, Tensor);
    fn next(&mut self) -> Option<(Tensor, Tensor)> {
        let (x, y) = self.0.next_pair()?;
        Some((x, y?))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

/// uint8 images -> float in [-1, 1] (x / 127.5 - 1), same shape and device.
pub fn to_gan(x: &Tensor) -> Tensor {
    x.to_kind(Kind::Float) / 127.5 - 1.0
}

/// Generator output in [-1, 1] -> uint8 as the TF evaluation code does it (SPEC section 7):
/// clamp(127.5 x + 127.5, 0, 255), truncated. `[N,3,H,W]` float -> `[N,3,H,W]` uint8, same
/// device. The one conversion for scoring, sample grids and exported images.
pub fn from_gan(x: &Tensor) -> Tensor {
    (x.to_kind(Kind::Float) * 127.5 + 127.5)
        .clamp(0.0, 255.0)
        .to_kind(Kind::Uint8)
}

/// Resize uint8 `[N,3,H,W]` to `[N,3,size,size]`: area average when shrinking (exact box
/// filter for whole factors, e.g. 96 -> 48 averages 2x2), bilinear (align_corners = false)
/// when growing; rounded to the nearest integer. Works in chunks to bound float memory.
pub fn resize_u8(x: &Tensor, size: i64) -> Tensor {
    let sz = x.size();
    if sz.len() != 4 || (sz[2] == size && sz[3] == size) {
        return x.shallow_clone();
    }
    let n = sz[0];
    let chunk = (4_000_000 / (3 * sz[2] * sz[3]).max(1)).max(1);
    let mut parts = Vec::new();
    let mut start = 0;
    while start < n {
        let len = chunk.min(n - start);
        let f = x.narrow(0, start, len).to_kind(Kind::Float);
        let r = if size <= sz[2].min(sz[3]) {
            f.adaptive_avg_pool2d([size, size])
        } else {
            f.upsample_bilinear2d([size, size], false, None, None)
        };
        parts.push(r.round().clamp(0.0, 255.0).to_kind(Kind::Uint8));
        start += len;
    }
    if parts.len() == 1 {
        parts.pop().unwrap_or_else(|| x.shallow_clone())
    } else {
        Tensor::cat(&parts, 0)
    }
}

/// The permutation of 0..n for (seed, epoch): Fisher-Yates driven by our own SplitMix64, so
/// the order depends on nothing but these numbers.
pub fn permutation(n: usize, seed: u64, epoch: u64) -> Vec<i64> {
    let mut rng = SplitMix64::new(mix(seed, epoch ^ 0x005e_ed0f_e90c));
    let mut p: Vec<i64> = (0..n as i64).collect();
    for i in (1..n).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        p.swap(i, j);
    }
    p
}

/// Combine two numbers into one well-mixed seed.
pub fn mix(a: u64, b: u64) -> u64 {
    let mut r = SplitMix64::new(a ^ b.rotate_left(32).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    r.next_u64() ^ b
}

/// SplitMix64: a tiny, fast generator with a fixed definition (stable across versions).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.f32()
    }

    /// Uniform integer in [0, n) (n > 0), by widening multiplication.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// Size of a file, or an error that names it and says how to get it.
pub(crate) fn file_size(path: &Path, fix: &str) -> Result<u64> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(m.len()),
        Ok(_) => bail!("{} is not a file; {fix}", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("{} is missing; {fix}", path.display())
        }
        Err(e) => bail!("cannot read {}: {e}; {fix}", path.display()),
    }
}

/// Check that a file has exactly `expected` bytes; the error names the file, both sizes and
/// the fix.
pub(crate) fn check_file(path: &Path, expected: u64, fix: &str) -> Result<()> {
    let size = file_size(path, fix)?;
    if size != expected {
        bail!(
            "{} has {} bytes, expected {} ({}); {fix}",
            path.display(),
            size,
            expected,
            if size < expected {
                "truncated or an incomplete download"
            } else {
                "not the expected file"
            }
        );
    }
    Ok(())
}
