//! `autogan bench`.
use anyhow::Result;

use crate::cli::BenchCommand;
use crate::device::Ctx;

pub fn run(_ctx: &Ctx, _args: BenchCommand) -> Result<()> {
    Err(super::not_implemented("bench"))
}
