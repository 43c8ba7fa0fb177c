//! `autogan scorer`.
use anyhow::Result;

use crate::cli::ScorerCommand;
use crate::device::Ctx;

pub fn run(_ctx: &Ctx, _args: ScorerCommand) -> Result<()> {
    Err(super::not_implemented("scorer"))
}
