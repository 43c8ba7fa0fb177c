// Link-time settings for the libtorch that torch-sys found (LIBTORCH, or the .venv wheel).
// - rpath to libtorch's lib folder, so `target/release/autogan` runs with an empty environment;
// - libtorch_cuda linked with --no-as-needed where it exists: otherwise the linker drops it
//   (nothing references its symbols directly) and CUDA silently stays unavailable.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        return;
    };
    let lib = PathBuf::from(lib);
    let lib = lib.canonicalize().unwrap_or(lib);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    println!("cargo:rustc-env=AUTOGAN_LIBTORCH_LIB={}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}
