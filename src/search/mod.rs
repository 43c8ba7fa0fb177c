//! The architecture search (SPEC sections 6 and 9). The shared part: the search loop (`run`)
//! and its GAN (`shared`: supernet, D, optimisers, reset detector, counters), the ranking of
//! candidates into the kept prefixes (`beam`) and the dynamic-reset detector (`reset`). The
//! part that differs between methods: a `strategy` (REINFORCE with the LSTM `controller` and
//! `reinforce`, random search, regularised evolution).
pub mod beam;
pub mod controller;
pub mod reinforce;
pub mod reset;
pub mod run;
pub mod session;
pub mod shared;
pub mod strategy;
