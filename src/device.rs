//! The run context from the global flags: device, threads, seed, quietness.
use anyhow::{bail, Result};
use tch::{Device, Tensor};

#[derive(Debug, Clone)]
pub struct Ctx {
    pub device: Device,
    pub seed: u64,
    pub quiet: bool,
    /// The global flags given on the command line (`--device`, `--threads`, `--seed`), for
    /// commands that continue a run with its recorded settings and must refuse others.
    pub given: Vec<&'static str>,
}

/// Where to compute, as `--device` spells it: `auto`, `cpu`, `cuda` or `cuda:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// CUDA when libtorch sees a GPU, else the CPU.
    #[default]
    Auto,
    Cpu,
    /// CUDA device N.
    Cuda(usize),
}

impl std::str::FromStr for DeviceChoice {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<DeviceChoice> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" | "gpu" => Ok(DeviceChoice::Cuda(0)),
            _ => match s.strip_prefix("cuda:") {
                Some(n) => match n.parse::<usize>() {
                    Ok(i) => Ok(DeviceChoice::Cuda(i)),
                    Err(_) => {
                        bail!("--device '{s}': the CUDA index must be a number, e.g. cuda:0")
                    }
                },
                None => bail!("--device '{s}' is not known: use auto, cpu, cuda or cuda:N"),
            },
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceChoice::Auto => f.write_str("auto"),
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl serde::Serialize for DeviceChoice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DeviceChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl DeviceChoice {
    /// The libtorch device; an error when CUDA is asked for and not there.
    pub fn resolve(self) -> Result<Device> {
        match self {
            DeviceChoice::Auto => Ok(Device::cuda_if_available()),
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Cuda(i) => cuda(i),
        }
    }
}

/// A device as `--device` spells it (`cpu`, `cuda:0`), for results and messages.
pub fn device_name(d: Device) -> String {
    match d {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Parse `auto|cpu|cuda|cuda:N` and resolve it.
pub fn parse_device(s: &str) -> Result<Device> {
    s.parse::<DeviceChoice>()?.resolve()
}

/// The path of a shared library this process has loaded whose path contains `name`.
pub fn loaded_lib(name: &str) -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.contains(name))
        .map(str::to_string)
}

fn cuda(i: usize) -> Result<Device> {
    if !tch::Cuda::is_available() {
        let which = if i > 0 {
            format!(":{i}")
        } else {
            String::new()
        };
        if loaded_lib("libtorch_cuda").is_some() {
            bail!(
                "--device cuda{which}: this build links CUDA (libtorch_cuda), but no GPU was \
                 found (no NVIDIA device, or its driver is missing or too old: check \
                 `nvidia-smi`; `autogan doctor` says more); use --device cpu"
            );
        }
        bail!(
            "--device cuda{which}: this libtorch has no CUDA (a CPU-only build; run `autogan \
             doctor`); use --device cpu, or set up a CUDA build of torch"
        );
    }
    let n = tch::Cuda::device_count() as usize;
    if i >= n {
        bail!(
            "--device cuda:{i}: only {n} CUDA device(s) found (cuda:0..cuda:{})",
            n - 1
        );
    }
    Ok(Device::Cuda(i))
}

/// `--threads N` capped at the cores this process may use: more threads than cores only
/// make libtorch's threads wait for each other (1000 stalled a 2-step run for minutes).
fn cap_threads(t: i32) -> i32 {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let cores = i32::try_from(cores).unwrap_or(i32::MAX);
    if t > cores {
        eprintln!(
            "warning: --threads {t}: this machine has {cores} cores available; using {cores}"
        );
        return cores;
    }
    t
}

impl Ctx {
    /// The context of a command from its global settings (`None`: not given): sets libtorch's
    /// threads and seed, resolves the device. The command line builds it (`Cli::ctx`).
    pub fn new(
        device: Option<DeviceChoice>,
        threads: Option<i32>,
        seed: Option<u64>,
        quiet: bool,
    ) -> Result<Ctx> {
        if let Some(t) = threads {
            if t < 1 {
                bail!("--threads {t}: must be at least 1");
            }
            tch::set_num_threads(cap_threads(t));
        }
        let resolved = device.unwrap_or_default().resolve()?;
        if let Device::Cuda(_) = resolved {
            // cuDNN picks the fastest convolution algorithms per shape (timed on first use).
            tch::Cuda::cudnn_set_benchmark(true);
        }
        let given = [
            ("--device", device.is_some()),
            ("--threads", threads.is_some()),
            ("--seed", seed.is_some()),
        ]
        .into_iter()
        .filter(|(_, g)| *g)
        .map(|(n, _)| n)
        .collect();
        let seed = seed.unwrap_or(0);
        tch::manual_seed(seed as i64);
        Ok(Ctx {
            device: resolved,
            seed,
            quiet,
            given,
        })
    }
}

/// Floating-point precision of a model's forward passes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// float32 everywhere (the default; the only one that is bit-reproducible).
    #[default]
    Fp32,
    /// autocast to bfloat16: matrix products and convolutions in bfloat16, reductions, norms
    /// and the parameters in float32 (libtorch's autocast lists, as `torch.autocast`).
    Bf16,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
        }
    }
}

/// Run `f` under autocast to `precision` for `device`'s type, as `with torch.autocast(type,
/// dtype)`: nested calls and the autocast cache behave as in PyTorch. `Fp32` runs `f` as is.
/// tch's own `autocast` only knows CUDA and float16, so libtorch's `at::autocast` functions are
/// called directly (they are exported by libtorch_cpu).
pub fn autocast<T>(device: Device, precision: Precision, f: impl FnOnce() -> T) -> T {
    if precision == Precision::Fp32 {
        return f();
    }
    let api = amp::api().unwrap_or_else(|e| {
        panic!("bf16 autocast is not available from this libtorch ({e}); use --precision fp32")
    });
    let ty = amp::device_type(device);
    // SAFETY: the signatures are those of ATen/autocast_mode.h in libtorch 2.x (DeviceType and
    // ScalarType are int8 enums); the calls only set thread-local autocast state.
    unsafe {
        let (prev_on, prev_dtype) = ((api.is_enabled)(ty), (api.get_dtype)(ty));
        (api.set_dtype)(ty, amp::BFLOAT16);
        (api.set_enabled)(ty, true);
        (api.increment_nesting)();
        struct Restore<'a>(&'a amp::Api, i8, bool, i8);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                unsafe {
                    if (self.0.decrement_nesting)() == 0 {
                        (self.0.clear_cache)();
                    }
                    (self.0.set_enabled)(self.1, self.2);
                    (self.0.set_dtype)(self.1, self.3);
                }
            }
        }
        let _restore = Restore(api, ty, prev_on, prev_dtype);
        f()
    }
}

/// Whether `autocast(Bf16)` can run: libtorch's autocast functions were found.
pub fn bf16_available() -> Result<()> {
    amp::api().map(|_| ()).map_err(|e| anyhow::anyhow!("{e}"))
}

mod amp {
    use std::sync::OnceLock;
    use tch::Device;

    /// c10::ScalarType::BFloat16.
    pub const BFLOAT16: i8 = 15;

    /// c10::DeviceType: CPU 0, CUDA 1.
    pub fn device_type(d: Device) -> i8 {
        match d {
            Device::Cuda(_) => 1,
            _ => 0,
        }
    }

    pub struct Api {
        pub is_enabled: unsafe extern "C" fn(i8) -> bool,
        pub set_enabled: unsafe extern "C" fn(i8, bool),
        pub get_dtype: unsafe extern "C" fn(i8) -> i8,
        pub set_dtype: unsafe extern "C" fn(i8, i8),
        pub increment_nesting: unsafe extern "C" fn() -> i32,
        pub decrement_nesting: unsafe extern "C" fn() -> i32,
        pub clear_cache: unsafe extern "C" fn(),
    }

    pub fn api() -> Result<&'static Api, String> {
        static API: OnceLock<Result<Api, String>> = OnceLock::new();
        API.get_or_init(|| {
            let lib = libloading::os::unix::Library::this();
            // SAFETY: looked-up symbols of the libtorch this process links; see `autocast`.
            unsafe {
                macro_rules! sym {
                    ($name:literal) => {
                        *lib.get($name).map_err(|e| {
                            format!("symbol {}: {e}", String::from_utf8_lossy($name))
                        })?
                    };
                }
                let api = Api {
                    is_enabled: sym!(b"_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE"),
                    set_enabled: sym!(b"_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb"),
                    get_dtype: sym!(b"_ZN2at8autocast18get_autocast_dtypeEN3c1010DeviceTypeE"),
                    set_dtype: sym!(
                        b"_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE"
                    ),
                    increment_nesting: sym!(b"_ZN2at8autocast17increment_nestingEv"),
                    decrement_nesting: sym!(b"_ZN2at8autocast17decrement_nestingEv"),
                    clear_cache: sym!(b"_ZN2at8autocast11clear_cacheEv"),
                };
                std::mem::forget(lib);
                Ok(api)
            }
        })
        .as_ref()
        .map_err(Clone::clone)
    }
}

static HOST_SYNCS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Count one read of device values by the host (a `.item()`: on CUDA the host waits for the
/// queue to drain). The training step path calls it at each of its reads, so benchmarks can
/// report host syncs per step.
pub fn note_host_sync() {
    HOST_SYNCS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Host syncs noted so far in this process.
pub fn host_syncs() -> u64 {
    HOST_SYNCS.load(std::sync::atomic::Ordering::Relaxed)
}

/// What the CUDA driver says about one GPU.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GpuInfo {
    pub index: i32,
    pub name: String,
    pub memory_bytes: u64,
    /// (major, minor), e.g. (9, 0) for an H100.
    pub compute_capability: (i32, i32),
}

/// The GPUs the CUDA driver (`libcuda.so.1`) reports, for `doctor`: libtorch exposes no device
/// names. Empty when there is no driver or no device; never an error.
pub fn gpu_info() -> Vec<GpuInfo> {
    // SAFETY: the CUDA driver API's C signatures (cuda.h); CUdevice is an int, CUresult an
    // int (0 = success); every buffer passed is as long as the length given.
    unsafe {
        let Ok(lib) = libloading::Library::new("libcuda.so.1") else {
            return Vec::new();
        };
        type Init = unsafe extern "C" fn(u32) -> i32;
        type Count = unsafe extern "C" fn(*mut i32) -> i32;
        type Get = unsafe extern "C" fn(*mut i32, i32) -> i32;
        type Name = unsafe extern "C" fn(*mut std::os::raw::c_char, i32, i32) -> i32;
        type Mem = unsafe extern "C" fn(*mut usize, i32) -> i32;
        type Attr = unsafe extern "C" fn(*mut i32, i32, i32) -> i32;
        let (Ok(init), Ok(count), Ok(get), Ok(name), Ok(mem), Ok(attr)) = (
            lib.get::<Init>(b"cuInit"),
            lib.get::<Count>(b"cuDeviceGetCount"),
            lib.get::<Get>(b"cuDeviceGet"),
            lib.get::<Name>(b"cuDeviceGetName"),
            lib.get::<Mem>(b"cuDeviceTotalMem_v2"),
            lib.get::<Attr>(b"cuDeviceGetAttribute"),
        ) else {
            return Vec::new();
        };
        let mut n = 0;
        if init(0) != 0 || count(&mut n) != 0 {
            return Vec::new();
        }
        let mut out = Vec::new();
        for i in 0..n {
            let mut dev = 0;
            if get(&mut dev, i) != 0 {
                continue;
            }
            let mut buf = [0 as std::os::raw::c_char; 256];
            let name = if name(buf.as_mut_ptr(), buf.len() as i32, dev) == 0 {
                std::ffi::CStr::from_ptr(buf.as_ptr())
                    .to_string_lossy()
                    .into_owned()
            } else {
                "unknown".into()
            };
            let mut bytes = 0usize;
            let _ = mem(&mut bytes, dev);
            let (mut major, mut minor) = (0, 0);
            // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR / _MINOR
            let _ = attr(&mut major, 75, dev);
            let _ = attr(&mut minor, 76, dev);
            out.push(GpuInfo {
                index: i,
                name,
                memory_bytes: bytes as u64,
                compute_capability: (major, minor),
            });
        }
        // The driver stays loaded for the process (libtorch may use it too).
        std::mem::forget(lib);
        out
    }
}

/// Whether convolutional activations run in channels-last (NHWC) layout: on by default (on
/// the CPU, oneDNN then convolves without reordering every input and output; cuDNN's tensor
/// cores prefer it too); `AUTOGAN_CHANNELS_LAST=0` turns it off. Values are the same either
/// way up to float rounding; checkpoints and outputs do not depend on it.
pub fn channels_last_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("AUTOGAN_CHANNELS_LAST").map_or(true, |v| v.trim() != "0"))
}

/// `x` (`[N, C, H, W]`) in channels-last layout when that is enabled (a copy, differentiable;
/// `x` itself when it is already so laid out, not 4-d, or the layout is off). Convolutions,
/// norms, pooling, upsampling and elementwise ops keep the layout, so converting a network's
/// input converts the whole network.
pub fn channels_last(x: &Tensor) -> Tensor {
    let size = x.size();
    if size.len() != 4 || !channels_last_enabled() {
        return x.shallow_clone();
    }
    let (c, h, w) = (size[1], size[2], size[3]);
    let strides = [h * w * c, 1, w * c, c];
    if x.stride() == strides {
        return x.shallow_clone();
    }
    let mut y = Tensor::empty_strided(size.as_slice(), strides, (x.kind(), x.device()));
    y.copy_(x);
    y
}

/// Run `f` with libtorch's CUDA sync debug mode at "error" (`torch.cuda.set_sync_debug_mode`):
/// any operation in `f` that makes the host wait for the GPU (a `.item()`, a copy to the host,
/// a blocking upload) fails. Returns what `f` returned, or the first such failure's message.
/// Without CUDA there is nothing to forbid and `f` simply runs.
pub fn forbid_cuda_syncs<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    // c10::cuda::warning_state()'s static WarningState: one SyncDebugMode (an int enum:
    // 0 disabled, 1 warn, 2 error), exported by libc10_cuda as a unique symbol.
    let lib = libloading::os::unix::Library::this();
    // SAFETY: the symbol is the address of that int; it is only read and written here.
    let mode: Option<*mut i32> = unsafe {
        lib.get::<*mut i32>(b"_ZZN3c104cuda13warning_stateEvE14warning_state_\0")
            .ok()
            .map(|s| *s)
    };
    let Some(mode) = mode.filter(|_| tch::Cuda::is_available()) else {
        return Ok(f());
    };
    // SAFETY: see above.
    let prev = unsafe { std::ptr::replace(mode, 2) };
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    unsafe { std::ptr::write(mode, prev) };
    out.map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a synchronizing operation".into())
    })
}
