//! The two input pipelines of the FID-Inception network: TF1's bilinear resize (as
//! torch-fidelity re-implements it, in float32) and torch's bilinear resize for the
//! pytorch-fid protocol, each followed by that protocol's scaling to about [-1, 1].
use anyhow::{bail, Result};
use std::sync::Mutex;
use tch::{Device, Kind, Tensor};

use super::Protocol;

/// Side of the network's input.
pub const INCEPTION_SIZE: i64 = 299;

/// Source indices and weights of one axis of a TF1 resize from `n_in` to `n_out` samples:
/// `src = dst * (n_in / n_out)` computed in float32 like torch-fidelity (the scale rounded
/// to float32, then a float32 product), `lo = floor(src)`, `hi = min(lo + 1, n_in - 1)`,
/// `w = src - lo`.
pub fn tf1_axis(n_in: i64, n_out: i64) -> (Vec<i64>, Vec<i64>, Vec<f32>) {
    let scale = (n_in as f64 / n_out as f64) as f32;
    let mut lo = Vec::with_capacity(n_out as usize);
    let mut hi = Vec::with_capacity(n_out as usize);
    let mut w = Vec::with_capacity(n_out as usize);
    for i in 0..n_out {
        let src = i as f32 * scale;
        // src >= 0, so truncation is the floor (torch-fidelity: `.long()`).
        let l = (src as i64).min(n_in - 1);
        lo.push(l);
        hi.push((l + 1).min(n_in - 1));
        w.push(src - l as f32);
    }
    (lo, hi, w)
}

/// [`tf1_axis`] as tensors on `device` (indices int64, weights of `kind`), built once per
/// (sizes, device, kind) and kept: scoring resizes every batch from the same size, and on a
/// GPU each upload of the indices would make the host wait.
fn tf1_axis_tensors(n_in: i64, n_out: i64, device: Device, kind: Kind) -> (Tensor, Tensor, Tensor) {
    type Key = (i64, i64, Device, Kind);
    static CACHE: Mutex<Vec<(Key, [Tensor; 3])>> = Mutex::new(Vec::new());
    let key = (n_in, n_out, device, kind);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, [lo, hi, w])) = cache.iter().find(|(k, _)| *k == key) {
        return (lo.shallow_clone(), hi.shallow_clone(), w.shallow_clone());
    }
    let (lo, hi, w) = tf1_axis(n_in, n_out);
    let t = [
        Tensor::from_slice(&lo).to_device(device),
        Tensor::from_slice(&hi).to_device(device),
        Tensor::from_slice(&w).to_device(device).to_kind(kind),
    ];
    if cache.len() >= 32 {
        cache.clear();
    }
    let out = (
        t[0].shallow_clone(),
        t[1].shallow_clone(),
        t[2].shallow_clone(),
    );
    cache.push((key, t));
    out
}

/// TF1 bilinear resize (align_corners = false, no half-pixel offset) of a float
/// `[N, C, H, W]` tensor to `[N, C, out_h, out_w]`, interpolating in x then in y as
/// `a + (b - a) * w`, in the input's float kind.
pub fn resize_tf1(x: &Tensor, out_h: i64, out_w: i64) -> Result<Tensor> {
    let sz = x.size();
    if sz.len() != 4 || !x.is_floating_point() {
        bail!(
            "TF1 resize needs a float [N,C,H,W] tensor, got {:?} {:?}",
            x.kind(),
            sz
        );
    }
    if out_h < 1 || out_w < 1 || sz[2] < 1 || sz[3] < 1 {
        bail!(
            "TF1 resize from {}x{} to {out_h}x{out_w}: sizes must be positive",
            sz[2],
            sz[3]
        );
    }
    let (ylo, yhi, wy) = tf1_axis_tensors(sz[2], out_h, x.device(), x.kind());
    let (xlo, xhi, wx) = tf1_axis_tensors(sz[3], out_w, x.device(), x.kind());
    let wx = wx.view([1, 1, 1, out_w]);
    let wy = wy.view([1, 1, out_h, 1]);
    let lerp_x = |rows: &Tensor| {
        let a = rows.index_select(3, &xlo);
        let b = rows.index_select(3, &xhi);
        &a + (&b - &a) * &wx
    };
    let top = lerp_x(&x.index_select(2, &ylo));
    let bottom = lerp_x(&x.index_select(2, &yhi));
    Ok(&top + (&bottom - &top) * &wy)
}

/// torch's bilinear resize (align_corners = false, half-pixel centres, no antialiasing) of a
/// float `[N, C, H, W]` tensor, as `F.interpolate(x, size, mode="bilinear")`.
pub fn resize_torch_bilinear(x: &Tensor, out_h: i64, out_w: i64) -> Result<Tensor> {
    let sz = x.size();
    if sz.len() != 4 || !x.is_floating_point() {
        bail!(
            "bilinear resize needs a float [N,C,H,W] tensor, got {:?} {:?}",
            x.kind(),
            sz
        );
    }
    if out_h < 1 || out_w < 1 {
        bail!("bilinear resize to {out_h}x{out_w}: sizes must be positive");
    }
    Ok(x.f_upsample_bilinear2d([out_h, out_w], false, None, None)?)
}

/// The network input of `protocol` for uint8 images `[N, 3, H, W]` (0..=255): float32
/// `[N, 3, 299, 299]`, values in [-1, 1] (TF: [-1, 0.9921875]), on the images' device.
pub fn preprocess(imgs: &Tensor, protocol: Protocol) -> Result<Tensor> {
    super::check_images(imgs)?;
    let x = imgs.to_kind(Kind::Float);
    let s = INCEPTION_SIZE;
    Ok(match protocol {
        Protocol::Tf => (resize_tf1(&x, s, s)? - 128.0) / 128.0,
        Protocol::PytorchFid => resize_torch_bilinear(&(x / 255.0), s, s)? * 2.0 - 1.0,
    })
}
