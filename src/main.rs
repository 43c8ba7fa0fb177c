//! autogan: parse the command line, set threads / device / seed, dispatch. Nothing else.
use anyhow::Result;
use clap::Parser;

use autogan::cli::{Cli, Command};
use autogan::commands;

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        if autogan::run::interrupt::is_interrupted(&e) {
            eprintln!("{e:#}");
            std::process::exit(autogan::run::interrupt::EXIT_CODE);
        }
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    let ctx = cli.ctx()?;
    match cli.command {
        Command::Search(a) => commands::search::run(&ctx, a),
        Command::Train(a) => commands::train::run(&ctx, a),
        Command::Eval(a) => commands::eval::run(&ctx, a),
        Command::Sample(a) => commands::sample::run(&ctx, a),
        Command::Sweep(a) => commands::sweep::run(&ctx, a),
        Command::Arch(a) => commands::arch::run(&ctx, a),
        Command::Data(a) => commands::data::run(&ctx, a),
        Command::Scorer(a) => commands::scorer::run(&ctx, a),
        Command::Doctor(a) => commands::doctor::run(&ctx, a),
        Command::Report(a) => commands::report::run(&ctx, a),
        Command::Bench(a) => commands::bench::run(&ctx, a),
        Command::Selftest(a) => commands::selftest::run(&ctx, a),
        Command::Compare(a) => commands::compare::run(&ctx, a),
    }
}
