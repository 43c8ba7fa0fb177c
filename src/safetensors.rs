//! safetensors files with string metadata (tch writes none): writing by hand (the format is
//! an 8-byte little-endian header length, a JSON header, then raw little-endian data), reading
//! through tch, and reading the metadata alone. Writes are atomic (`run::atomic_write_with`).
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use tch::{Device, Kind, Tensor};

fn dtype_name(kind: Kind) -> Result<(&'static str, usize)> {
    Ok(match kind {
        Kind::Float => ("F32", 4),
        Kind::Double => ("F64", 8),
        Kind::Int64 => ("I64", 8),
        Kind::Int => ("I32", 4),
        Kind::Uint8 => ("U8", 1),
        Kind::Half => ("F16", 2),
        Kind::BFloat16 => ("BF16", 2),
        Kind::Bool => ("BOOL", 1),
        k => bail!("safetensors: tensors of kind {k:?} are not supported"),
    })
}

/// Write `tensors` (any device; copied to CPU) and `metadata` to `path` atomically.
pub fn write(
    path: &Path,
    tensors: &[(String, Tensor)],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let mut header = serde_json::Map::new();
    if !metadata.is_empty() {
        header.insert("__metadata__".into(), serde_json::to_value(metadata)?);
    }
    let mut blobs: Vec<Vec<u8>> = Vec::with_capacity(tensors.len());
    let mut offset = 0usize;
    for (name, t) in tensors {
        let t = t.detach().to_device(Device::Cpu).contiguous();
        let (dtype, size) = dtype_name(t.kind())?;
        let numel = t.numel();
        let mut buf = vec![0u8; numel * size];
        t.f_copy_data_u8(&mut buf, numel)
            .with_context(|| format!("copying tensor {name}"))?;
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": dtype, "shape": t.size(), "data_offsets": [offset, offset + buf.len()]}),
        );
        offset += buf.len();
        blobs.push(buf);
    }
    let mut head = serde_json::to_vec(&serde_json::Value::Object(header))?;
    // Pad the header with spaces so the data starts 8-byte aligned, as the format recommends.
    while (8 + head.len()) % 8 != 0 {
        head.push(b' ');
    }
    crate::run::atomic_write_with(path, |tmp| {
        (|| -> std::io::Result<()> {
            let mut f = std::io::BufWriter::new(std::fs::File::create(tmp)?);
            f.write_all(&(head.len() as u64).to_le_bytes())?;
            f.write_all(&head)?;
            for b in &blobs {
                f.write_all(b)?;
            }
            f.flush()
        })()
        .with_context(|| format!("cannot write {}", tmp.display()))
    })
}

/// The JSON header of a safetensors file, checked against the file size.
fn header(path: &Path) -> Result<serde_json::Map<String, serde_json::Value>> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = f.metadata()?.len();
    let mut n = [0u8; 8];
    f.read_exact(&mut n).map_err(|_| {
        anyhow::anyhow!(
            "{}: {} bytes, too short to be a safetensors file",
            path.display(),
            size
        )
    })?;
    let n = u64::from_le_bytes(n);
    if n > 100_000_000 || 8 + n > size {
        bail!(
            "{}: not a safetensors file (header length {n} in a file of {size} bytes)",
            path.display()
        );
    }
    let mut head = vec![0u8; n as usize];
    f.read_exact(&mut head)?;
    let v: serde_json::Value = serde_json::from_slice(&head).with_context(|| {
        format!(
            "{}: the safetensors header is not valid JSON",
            path.display()
        )
    })?;
    let serde_json::Value::Object(map) = v else {
        bail!(
            "{}: the safetensors header is not a JSON object",
            path.display()
        );
    };
    let mut end = 0u64;
    for (k, v) in &map {
        if k == "__metadata__" {
            continue;
        }
        if let Some(e) = v["data_offsets"].get(1).and_then(|e| e.as_u64()) {
            end = end.max(e);
        }
    }
    if 8 + n + end != size {
        bail!(
            "{}: the file is {} bytes but its header describes {} bytes: truncated or corrupt; \
             write it again (or use the previous checkpoint)",
            path.display(),
            size,
            8 + n + end
        );
    }
    Ok(map)
}

/// The string metadata of a safetensors file (empty when it has none).
pub fn read_metadata(path: &Path) -> Result<BTreeMap<String, String>> {
    let map = header(path)?;
    let mut out = BTreeMap::new();
    if let Some(serde_json::Value::Object(m)) = map.get("__metadata__") {
        for (k, v) in m {
            out.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
        }
    }
    Ok(out)
}

/// All tensors of a safetensors file (on CPU), after checking that the file is whole.
pub fn read(path: &Path) -> Result<Vec<(String, Tensor)>> {
    header(path)?;
    Tensor::read_safetensors(path)
        .with_context(|| format!("{}: cannot read the tensors", path.display()))
}
