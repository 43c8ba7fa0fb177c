//! Helpers shared by the integration tests: the project's `.venv` Python, probed once per
//! test binary for the modules a parity test needs.
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `.venv/bin/python` when it exists and imports every module of `modules` (comma-separated,
/// as in a Python import statement); otherwise prints `SKIP <what>: <reason and fix>` and
/// gives None, so the calling test passes without its Python side.
pub fn venv_python(what: &str, modules: &str, setup: &str) -> Option<PathBuf> {
    let py = root().join(".venv/bin/python");
    if !py.is_file() {
        println!("SKIP {what}: {} not found (run {setup})", py.display());
        return None;
    }
    let ok = Command::new(&py)
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!(
            "SKIP {what}: {} cannot import {modules} (run {setup})",
            py.display()
        );
        return None;
    }
    Some(py)
}
