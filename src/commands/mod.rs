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

/// Score `src` into `acc` behind a progress bar (none when `quiet`), after a line that says
/// what is scored.
pub fn score_with_bar(
    scorer: &dyn crate::metrics::Scorer,
    src: &dyn crate::metrics::source::ImageSource,
    batch: usize,
    acc: &mut crate::metrics::Accumulator,
    label: &str,
    quiet: bool,
) -> anyhow::Result<()> {
    let mut bar = crate::progress::CountBar::new(label, quiet);
    bar.line(&format!(
        "{label}: scoring {} with {}",
        src.describe(),
        scorer.name()
    ));
    crate::metrics::source::score(scorer, src, batch, acc, &mut |d, n| bar.at(d, n))?;
    bar.done();
    Ok(())
}
