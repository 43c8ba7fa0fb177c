//! The networks (SPEC sections 2 and 4): plain layers with the reference initialisation,
//! PyTorch-equal spectral norm, the fixed-architecture generator, the SNGAN discriminator,
//! parameter counts, and weight loading / saving by name (safetensors).
//!
//! Tensor shapes at the boundary: the generator maps latents `[n, latent_dim]` (float) to
//! images `[n, 3, H, W]` in `[-1, 1]` with `H = W = bottom_width * 8`; the discriminator maps
//! images `[n, 3, H, W]` (H, W divisible by 4 at the full stage) to scores `[n, 1]`.
//! No file or terminal I/O happens here except in [`load_weights`] and [`save_weights`].
pub mod count;
pub mod discriminator;
pub mod generator;
pub mod init;
pub mod layers;
pub mod spectral;
pub mod supernet;
pub mod weights;

pub use count::{arch_info, disc_params, gen_params, trainable_params};
pub use discriminator::{DiscConfig, Discriminator};
pub use generator::{GenConfig, Generator};
pub use init::init_weights;
pub use supernet::{super_params, ChosenVar, SuperGenerator};
pub use weights::{load_weights, save_weights};
