//! Dynamic-reset detector (SPEC section 6): sliding windows of the last `window` G losses and
//! the last `window` D losses; once both are full, a reset is due when the spread of either
//! falls below a threshold. The spread is the unbiased sample variance (divisor n - 1, as
//! `torch.var` in the reference) by default, or its square root (the paper's wording) as an
//! option. Only the detector lives here: re-initialising G, D and their optimisers (never the
//! controller) is the search loop's job.
use std::collections::VecDeque;

pub use crate::config::ResetMode as Mode;

pub const DEFAULT_WINDOW: usize = 500;
pub const DEFAULT_THRESHOLD: f64 = 1e-3;

#[derive(Debug, Clone)]
pub struct Reset {
    pub window: usize,
    pub threshold: f64,
    pub mode: Mode,
    g: VecDeque<f64>,
    d: VecDeque<f64>,
}

/// Unbiased sample variance (0 for fewer than two values), computed around the mean.
pub fn sample_variance(xs: &VecDeque<f64>) -> f64 {
    let n = xs.len();
    if n < 2 {
        return 0.0;
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64
}

impl Default for Reset {
    fn default() -> Self {
        Reset::new(DEFAULT_WINDOW, DEFAULT_THRESHOLD, Mode::Variance)
    }
}

impl Reset {
    /// `window` >= 2 losses per window (smaller values are raised to 2).
    pub fn new(window: usize, threshold: f64, mode: Mode) -> Reset {
        let window = window.max(2);
        Reset {
            window,
            threshold,
            mode,
            g: VecDeque::with_capacity(window),
            d: VecDeque::with_capacity(window),
        }
    }

    fn push_to(q: &mut VecDeque<f64>, window: usize, x: f64) {
        if q.len() == window {
            q.pop_front();
        }
        q.push_back(x);
    }

    /// The current windows (G, D), oldest first: for checkpoints.
    pub fn windows(&self) -> (Vec<f64>, Vec<f64>) {
        (
            self.g.iter().copied().collect(),
            self.d.iter().copied().collect(),
        )
    }

    /// Record one G loss (after each G step).
    pub fn push_g(&mut self, g_loss: f64) {
        Self::push_to(&mut self.g, self.window, g_loss);
    }

    /// Record one D loss (after each D step).
    pub fn push_d(&mut self, d_loss: f64) {
        Self::push_to(&mut self.d, self.window, d_loss);
    }

    /// Record one G loss and one D loss.
    pub fn push(&mut self, g_loss: f64, d_loss: f64) {
        self.push_g(g_loss);
        self.push_d(d_loss);
    }

    /// Forget both windows (after a reset, or when the GAN is replaced).
    pub fn clear(&mut self) {
        self.g.clear();
        self.d.clear();
    }

    /// Both windows hold `window` losses.
    pub fn is_full(&self) -> bool {
        self.g.len() == self.window && self.d.len() == self.window
    }

    /// Number of losses held: (G, D).
    pub fn len(&self) -> (usize, usize) {
        (self.g.len(), self.d.len())
    }

    pub fn is_empty(&self) -> bool {
        self.g.is_empty() && self.d.is_empty()
    }

    /// The spread (per `mode`) of the G and the D window: (G, D).
    pub fn spread(&self) -> (f64, f64) {
        let f = |q: &VecDeque<f64>| {
            let v = sample_variance(q);
            match self.mode {
                Mode::Variance => v,
                Mode::Std => v.sqrt(),
            }
        };
        (f(&self.g), f(&self.d))
    }

    /// True once both windows are full and the spread of either is below the threshold.
    pub fn should_reset(&self) -> bool {
        if !self.is_full() {
            return false;
        }
        let (g, d) = self.spread();
        g < self.threshold || d < self.threshold
    }
}
