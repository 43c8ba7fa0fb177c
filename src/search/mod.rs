//! The search's policy side (SPEC section 6): the per-stage LSTM controller, REINFORCE with a
//! persistent baseline, the multi-level beam of kept prefixes, and the dynamic-reset detector.
pub mod beam;
pub mod controller;
pub mod reinforce;
pub mod reset;
pub mod run;
