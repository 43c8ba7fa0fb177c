//! `autogan search`.
use anyhow::Result;

use crate::cli::SearchArgs;
use crate::device::Ctx;

pub fn run(_ctx: &Ctx, _args: SearchArgs) -> Result<()> {
    Err(super::not_implemented("search"))
}
