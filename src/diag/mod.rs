//! Diagnostics of the tool itself: the self-checks of a device against the CPU (`selftest`)
//! and the timings of training, scoring and a search schedule (`bench`). Their commands print.
pub mod bench;
pub mod selftest;
