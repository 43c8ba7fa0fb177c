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

/// On `--resume DIR`, refuse the flags that a resumed run cannot change. `flags` pairs each
/// such flag's name with whether it was given; `can_change` says which flags may be given.
/// Shared by `train --resume` and `search --resume`.
pub fn refuse_fixed_on_resume(
    dir: &std::path::Path,
    flags: &[(&str, bool)],
    can_change: &str,
) -> anyhow::Result<()> {
    let given: Vec<&str> = flags.iter().filter(|(_, g)| *g).map(|(n, _)| *n).collect();
    if given.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "--resume {} continues that run with its own settings: {} cannot change ({can_change})",
        dir.display(),
        given.join(", ")
    )
}
