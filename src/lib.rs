//! autogan as a library: the binary in main.rs and the integration tests both use it.
pub mod arch;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod config;
pub mod data;
pub mod device;
pub mod gan;
pub mod launch;
pub mod metrics;
pub mod nn;
pub mod paths;
pub mod progress;
pub mod report;
pub mod run;
pub mod safetensors;
pub mod search;
