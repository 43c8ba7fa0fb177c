//! One thin file per subcommand: read input, call the library, write output.
pub mod arch;
pub mod bench;
pub mod compare;
pub mod data;
pub mod doctor;
pub mod eval;
pub mod report;
pub mod sample;
pub mod scorer;
pub mod scoring;
pub mod search;
pub mod selftest;
pub mod sweep;
pub mod train;
