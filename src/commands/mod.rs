//! One thin file per subcommand: read input, call the library, write output.
pub mod arch;
pub mod bench;
pub mod compare;
pub mod data;
pub mod doctor;
pub mod eval;
pub mod gen_source;
pub mod sample;
pub mod scorer;
pub mod scoring;
pub mod search;
pub mod train;

/// The error of a subcommand that is not built yet: non-zero exit, no fake output.
pub fn not_implemented(what: &str) -> anyhow::Error {
    anyhow::anyhow!("`autogan {what}` is not implemented yet")
}
