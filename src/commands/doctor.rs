//! `autogan doctor`: what this build links, what it can use, where it looks for things.
use anyhow::Result;
use serde_json::json;

use crate::cli::DoctorArgs;
use crate::device::{loaded_lib, Ctx};
use crate::paths;

pub fn run(ctx: &Ctx, args: DoctorArgs) -> Result<()> {
    let loaded = loaded_libtorch();
    let version = loaded.as_deref().and_then(libtorch_version);
    let cuda = tch::Cuda::is_available();
    let n_cuda = if cuda { tch::Cuda::device_count() } else { 0 };
    let gpus = crate::device::gpu_info();
    let inception = paths::inception_weights(None);
    let data_dir = paths::data_dir(args.data_dir.as_deref());
    let report = json!({
        "autogan": env!("CARGO_PKG_VERSION"),
        "libtorch_version": version,
        "libtorch_loaded_from": loaded,
        "libtorch_built_against": option_env!("AUTOGAN_LIBTORCH_LIB"),
        "cuda_available": cuda,
        "cuda_linked": loaded_lib("libtorch_cuda").is_some(),
        "cuda_devices": n_cuda,
        "gpus": gpus,
        "cudnn_benchmark": matches!(ctx.device, tch::Device::Cuda(_)),
        "bf16_autocast": crate::device::bf16_available().is_ok(),
        "channels_last": crate::device::channels_last_enabled(),
        "cudnn_available": tch::Cuda::cudnn_is_available(),
        "device": format!("{:?}", ctx.device),
        "threads": tch::get_num_threads(),
        "inception_weights": inception.display().to_string(),
        "inception_weights_found": inception.is_file(),
        "data_dir": data_dir.display().to_string(),
        "autogan_home": paths::home().display().to_string(),
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let s = |k: &str| match &report[k] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "unknown".into(),
        v => v.to_string(),
    };
    println!("autogan            {}", s("autogan"));
    println!(
        "libtorch           {} (loaded from {})",
        s("libtorch_version"),
        s("libtorch_loaded_from")
    );
    println!("built against      {}", s("libtorch_built_against"));
    if cuda {
        println!("CUDA               available, {} device(s)", n_cuda);
    } else if loaded_lib("libtorch_cuda").is_some() {
        println!(
            "CUDA               libtorch_cuda linked, but no usable device (no GPU or driver)"
        );
    } else {
        println!("CUDA               not available (CPU-only libtorch)");
    }
    for g in &gpus {
        println!(
            "  cuda:{}           {}, {:.1} GiB, compute capability {}.{}",
            g.index,
            g.name,
            g.memory_bytes as f64 / (1u64 << 30) as f64,
            g.compute_capability.0,
            g.compute_capability.1
        );
    }
    if cuda {
        println!(
            "cuDNN              {} (benchmark mode {})",
            if tch::Cuda::cudnn_is_available() {
                "available"
            } else {
                "not available"
            },
            if matches!(ctx.device, tch::Device::Cuda(_)) {
                "on"
            } else {
                "off: device is not CUDA"
            }
        );
    }
    println!(
        "bf16 autocast      {}",
        match crate::device::bf16_available() {
            Ok(()) => "available (--precision bf16)".to_string(),
            Err(e) => format!("not available ({e})"),
        }
    );
    println!(
        "conv layout        {}",
        if crate::device::channels_last_enabled() {
            "channels-last (AUTOGAN_CHANNELS_LAST=0 for NCHW)"
        } else {
            "NCHW (AUTOGAN_CHANNELS_LAST=0)"
        }
    );
    println!("device             {}", s("device"));
    println!("CPU threads        {}", s("threads"));
    println!(
        "Inception weights  {} ({})",
        s("inception_weights"),
        if inception.is_file() {
            "found"
        } else {
            "not found: run scripts/fetch_inception.sh"
        }
    );
    println!(
        "data folder        {} (--data-dir or $AUTOGAN_DATA to change)",
        s("data_dir")
    );
    println!(
        "cache folder       {} ($AUTOGAN_HOME to change)",
        s("autogan_home")
    );
    Ok(())
}

/// The path of the libtorch_cpu library mapped into this process, from /proc/self/maps.
fn loaded_libtorch() -> Option<String> {
    loaded_lib("libtorch_cpu")
}

/// The version written beside the library: `../version.py` of a wheel, `../build-version` of
/// a libtorch archive.
fn libtorch_version(lib: &str) -> Option<String> {
    let root = std::path::Path::new(lib).parent()?.parent()?;
    if let Ok(s) = std::fs::read_to_string(root.join("build-version")) {
        return Some(s.trim().to_string());
    }
    let py = std::fs::read_to_string(root.join("version.py")).ok()?;
    py.lines()
        .find_map(|l| l.strip_prefix("__version__ = "))
        .map(|v| v.trim().trim_matches('\'').trim_matches('"').to_string())
}
