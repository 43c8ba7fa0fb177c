//! Flat buffers: a model's trainable parameters as views into one contiguous 1-d buffer (the
//! "flat params" of fused optimisers and DDP's gradient buckets), so that an optimiser step, a
//! zero_grad or an EMA update is a handful of kernels over one tensor instead of a handful per
//! parameter.
//!
//! `Flat::new` re-points every parameter at its slice of a new buffer with `set_data` (the
//! `p.data = ...` of PyTorch): the tensors keep their identity, so the modules, the var store
//! and autograd still see the same parameters, now backed by the buffer. It is idempotent: a
//! list already laid out in one buffer, in this order, keeps that buffer (so a second optimiser
//! or an EMA over the same var store shares it instead of moving the parameters again).
use tch::{Kind, Tensor};

/// Tensors of one kind and device laid out back to back in `buffer`, in list order.
pub struct Flat {
    pub names: Vec<String>,
    /// The tensors themselves (views into `buffer` once built).
    pub tensors: Vec<Tensor>,
    /// Start of each tensor in `buffer`, in elements.
    pub offsets: Vec<i64>,
    pub numels: Vec<i64>,
    /// 1-d, `total()` elements.
    pub buffer: Tensor,
}

impl Flat {
    /// Lay `named` out in one buffer, keeping their values. All tensors must have the same kind
    /// and device (the models' parameters are float32 on one device).
    pub fn new(named: Vec<(String, Tensor)>) -> Flat {
        let (names, tensors): (Vec<String>, Vec<Tensor>) = named.into_iter().unzip();
        let numels: Vec<i64> = tensors.iter().map(|t| t.numel() as i64).collect();
        let mut offsets = Vec::with_capacity(numels.len());
        let mut total = 0i64;
        for n in &numels {
            offsets.push(total);
            total += n;
        }
        let (kind, device) = tensors
            .first()
            .map_or((Kind::Float, tch::Device::Cpu), |t| (t.kind(), t.device()));
        for (n, t) in names.iter().zip(&tensors) {
            assert!(
                t.kind() == kind && t.device() == device,
                "flat buffer: {n} is {:?} on {:?}, the others {kind:?} on {device:?}",
                t.kind(),
                t.device()
            );
        }
        let buffer = match existing_buffer(&tensors, &offsets, total) {
            Some(b) => b,
            None => {
                let buffer = Tensor::zeros([total], (kind, device));
                tch::no_grad(|| {
                    for (i, t) in tensors.iter().enumerate() {
                        let slot = buffer
                            .narrow(0, offsets[i], numels[i])
                            .view(t.size().as_slice());
                        slot.shallow_clone().copy_(&t.detach());
                        t.shallow_clone().set_data(&slot);
                    }
                });
                buffer
            }
        };
        Flat {
            names,
            tensors,
            offsets,
            numels,
            buffer,
        }
    }

    /// Number of elements of the buffer.
    pub fn total(&self) -> i64 {
        self.offsets
            .last()
            .map_or(0, |o| o + self.numels.last().unwrap_or(&0))
    }

    /// Tensor `i`'s slice of `buf` (a buffer of the same layout: grads, moments), in its shape.
    pub fn slot(&self, buf: &Tensor, i: usize) -> Tensor {
        buf.narrow(0, self.offsets[i], self.numels[i])
            .view(self.tensors[i].size().as_slice())
    }
}

/// The buffer the tensors already live in, back to back in this order, if they do.
fn existing_buffer(tensors: &[Tensor], offsets: &[i64], total: i64) -> Option<Tensor> {
    let first = tensors.first()?;
    let elt = first.kind().elt_size_in_bytes() as i64;
    let base = first.data_ptr() as i64;
    for (t, off) in tensors.iter().zip(offsets) {
        if !t.is_contiguous() || t.data_ptr() as i64 != base + off * elt {
            return None;
        }
    }
    // Adjacent addresses could still be separate allocations: a view over all of them is
    // accepted by libtorch only when they lie inside the first tensor's storage.
    tch::no_grad(|| first.detach().f_as_strided([total], [1], None).ok())
}
