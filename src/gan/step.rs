//! The D and G updates of hinge-loss GAN training, shared by the trainer (a fixed generator)
//! and the search (the supernet on one path, the discriminator at one stage): the callers run
//! the forward passes their models need, the update itself is the same.
//!
//! The losses come back detached and still on the device: reading one is a host sync (the
//! CPU waits for the GPU), so loops that only log them keep them in a [`LossLog`] and read
//! many at once.
use anyhow::Result;
use tch::{Device, Kind, Tensor};

use super::adam::Adam;
use super::{d_hinge, g_hinge, with_precision, Precision};

/// One D update: under `at` (device and precision of the forward passes, see
/// [`with_precision`]), `fake()` makes D's fake input without a graph through G, then the hinge
/// loss of `d` on `real` and on the fakes (in that order: spectral norm updates its vectors on
/// every training forward); zero_grad, backward, Adam step. Returns the loss, a detached scalar
/// on the device.
pub fn d_update(
    opt_d: &mut Adam,
    at: (Device, Precision),
    d: impl Fn(&Tensor) -> Tensor,
    real: &Tensor,
    fake: impl FnOnce() -> Tensor,
) -> Tensor {
    let loss = with_precision(at.0, at.1, || {
        let fake = tch::no_grad(fake);
        d_hinge(&d(real), &d(&fake))
    });
    opt_d.zero_grad();
    loss.backward();
    opt_d.step();
    loss.detach()
}

/// One G update: under `at`, the hinge loss of `d` on `fake()` (G's output, graph intact);
/// zero_grad, backward, Adam step of G's optimiser. Returns the loss, a detached scalar on the
/// device.
pub fn g_update(
    opt_g: &mut Adam,
    at: (Device, Precision),
    d: impl Fn(&Tensor) -> Tensor,
    fake: impl FnOnce() -> Tensor,
) -> Tensor {
    let loss = with_precision(at.0, at.1, || g_hinge(&d(&fake())));
    opt_g.zero_grad();
    loss.backward();
    opt_g.step();
    loss.detach()
}

/// D and G losses kept on the device until they are read, all pending ones with one
/// device-to-host copy.
#[derive(Debug, Default)]
pub struct LossLog {
    d: Vec<Tensor>,
    g: Vec<Tensor>,
    /// Number of reads so far (each one host sync on a GPU).
    pub reads: u64,
}

/// The losses of one [`LossLog::read`], oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LossRead {
    pub d: Vec<f64>,
    pub g: Vec<f64>,
}

impl LossRead {
    /// Any loss that is NaN or infinite.
    pub fn non_finite(&self) -> bool {
        self.d.iter().chain(&self.g).any(|x| !x.is_finite())
    }
}

impl LossLog {
    /// Keep a D loss (a scalar tensor, detached) for the next read.
    pub fn push_d(&mut self, loss: Tensor) {
        self.d.push(loss);
    }

    /// Keep a G loss (a scalar tensor, detached) for the next read.
    pub fn push_g(&mut self, loss: Tensor) {
        self.g.push(loss);
    }

    /// Losses waiting to be read: (D, G).
    pub fn pending(&self) -> (usize, usize) {
        (self.d.len(), self.g.len())
    }

    /// Drop the pending losses unread.
    pub fn clear(&mut self) {
        self.d.clear();
        self.g.clear();
    }

    /// Every pending loss, in the order pushed, with a single copy to the host (none when
    /// nothing is pending).
    pub fn read(&mut self) -> Result<LossRead> {
        let (nd, ng) = self.pending();
        if nd + ng == 0 {
            return Ok(LossRead::default());
        }
        let all: Vec<Tensor> = self.d.drain(..).chain(self.g.drain(..)).collect();
        let flat = Tensor::stack(&all, 0)
            .to_kind(Kind::Double)
            .to_device(Device::Cpu);
        crate::device::note_host_sync();
        let v = Vec::<f64>::try_from(&flat)?;
        self.reads += 1;
        Ok(LossRead {
            d: v[..nd].to_vec(),
            g: v[nd..].to_vec(),
        })
    }
}
