//! Download and unpack the official CIFAR-10 / STL-10 archives into the data folder.
//!
//! Safe steps: the download goes to `<archive>.tmp` and is renamed only once its size and MD5
//! are right; the archive is unpacked into a hidden temporary folder that is renamed into place
//! only when every expected file is there with its size, so an interrupted fetch never leaves a
//! folder that looks complete. Without network the fetch fails within about 20 s and says
//! which archive to download from where, and where to put it by hand.
use anyhow::{bail, Context, Result};
use md5::{Digest, Md5};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::progress;

// Each format owns its archive's address (`cifar10::URL`, `stl10::URL`); re-exported here.
pub use super::cifar10::URL as CIFAR10_URL;
pub use super::stl10::URL as STL10_URL;

/// Seconds allowed to reach the server (DNS, connect, response headers).
pub const CONNECT_TIMEOUT_S: u64 = 15;

/// An archive to fetch and what it must unpack to.
#[derive(Debug, Clone)]
pub struct Archive {
    /// Data set name (`cifar10`).
    pub name: String,
    pub url: String,
    /// Name of the archive file in the data folder.
    pub file_name: String,
    /// Size in bytes when known.
    pub size: Option<u64>,
    /// Lower-case hex MD5 of the archive.
    pub md5: String,
    /// The folder the archive unpacks to, inside the data folder.
    pub folder: String,
    /// Files (relative to `folder`) that must be there after unpacking, with their sizes.
    pub files: Vec<(String, u64)>,
}

impl Archive {
    /// The archive of a known data set (`cifar10`, `stl10`).
    pub fn known(name: &str) -> Option<Archive> {
        match super::canonical(name)? {
            "cifar10" => {
                let rec = (super::cifar10::RECORD * super::cifar10::RECORDS_PER_FILE) as u64;
                let mut files: Vec<(String, u64)> = (1..=5)
                    .map(|i| (format!("data_batch_{i}.bin"), rec))
                    .collect();
                files.push(("test_batch.bin".into(), rec));
                Some(Archive {
                    name: "cifar10".into(),
                    url: CIFAR10_URL.into(),
                    file_name: "cifar-10-binary.tar.gz".into(),
                    size: Some(170_052_171),
                    md5: "c32a1d4ab5d03f1284b67883e8d87530".into(),
                    folder: super::cifar10::FOLDER.into(),
                    files,
                })
            }
            "stl10" => {
                let dir = Path::new(super::stl10::FOLDER);
                let files = super::stl10::all_files(Path::new(""))
                    .into_iter()
                    .map(|(p, s)| (p.strip_prefix(dir).unwrap_or(&p).display().to_string(), s))
                    .collect();
                Some(Archive {
                    name: "stl10".into(),
                    url: STL10_URL.into(),
                    file_name: "stl10_binary.tar.gz".into(),
                    size: None,
                    md5: "91f7769df0f17e558f3565bffb0c7dfb".into(),
                    folder: super::stl10::FOLDER.into(),
                    files,
                })
            }
            _ => None,
        }
    }

    /// Files of the unpacked folder under `data_dir` that are missing or of the wrong size,
    /// as (path, found size or None, expected size).
    pub fn problems(&self, data_dir: &Path) -> Vec<(PathBuf, Option<u64>, u64)> {
        let dir = data_dir.join(&self.folder);
        self.files
            .iter()
            .filter_map(|(f, size)| {
                let p = dir.join(f);
                let found = std::fs::metadata(&p)
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| m.len());
                (found != Some(*size)).then_some((p, found, *size))
            })
            .collect()
    }

    pub fn is_complete(&self, data_dir: &Path) -> bool {
        self.problems(data_dir).is_empty()
    }

    /// How to get the data by hand, for error messages.
    pub fn manual_steps(&self, data_dir: &Path) -> String {
        let size = self
            .size
            .map(|s| format!("{s} bytes, "))
            .unwrap_or_default();
        format!(
            "to install {name} by hand: download {url} ({size}md5 {md5}) on a machine that can reach it, then either \
             copy it to {archive} and run `autogan data fetch {name} --data-dir {dir}` again (it checks and unpacks it), \
             or unpack it yourself with `tar xzf {file} -C {dir}` so that {folder}/ holds {all}",
            name = self.name,
            url = self.url,
            md5 = self.md5,
            archive = data_dir.join(&self.file_name).display(),
            dir = data_dir.display(),
            file = self.file_name,
            folder = data_dir.join(&self.folder).display(),
            all = if self.files.is_empty() {
                "its files".to_string()
            } else {
                self.files
                    .iter()
                    .map(|f| f.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        )
    }
}

/// Fetch a known data set into `data_dir`; returns the folder holding its files.
pub fn fetch(name: &str, data_dir: &Path, quiet: bool) -> Result<PathBuf> {
    let Some(a) = Archive::known(name) else {
        if super::canonical(name) == Some("shapes") {
            bail!("the built-in shapes set is generated on the fly: it needs no download");
        }
        bail!("`autogan data fetch` knows cifar10 and stl10, not '{name}'; a folder of images needs no fetch: pass its path as --dataset");
    };
    fetch_archive(&a, data_dir, quiet)
}

/// Fetch `a` into `data_dir` (see the module comment for the steps); returns the unpacked folder.
/// An archive file already in `data_dir` (put there by hand) is checked and used.
pub fn fetch_archive(a: &Archive, data_dir: &Path, quiet: bool) -> Result<PathBuf> {
    let target = data_dir.join(&a.folder);
    let say = |s: String| {
        if !quiet {
            eprintln!("{s}");
        }
    };
    if a.is_complete(data_dir) {
        say(format!(
            "{} is already complete in {}",
            a.name,
            target.display()
        ));
        return Ok(target);
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data folder {}", data_dir.display()))?;
    let archive = data_dir.join(&a.file_name);
    let downloaded = if archive.is_file() {
        say(format!("checking {} ...", archive.display()));
        verify(a, &archive, quiet).with_context(|| {
            format!(
                "{} is not the official archive: delete it and run the fetch again",
                archive.display()
            )
        })?;
        false
    } else {
        download(a, data_dir, &archive, quiet)?;
        true
    };
    say(format!(
        "unpacking {} into {} ...",
        archive.display(),
        data_dir.display()
    ));
    unpack(a, &archive, data_dir, quiet)?;
    if downloaded {
        // The unpacked files are what we read; the archive is only a second copy.
        let _ = std::fs::remove_file(&archive);
    }
    say(format!("{} is ready in {}", a.name, target.display()));
    Ok(target)
}

/// Hex MD5 of a reader's bytes, and how many there were.
pub fn md5_hex(mut r: impl Read) -> std::io::Result<(String, u64)> {
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = r.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex(&h.finalize()), n))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Check an archive file's size and MD5.
fn verify(a: &Archive, path: &Path, quiet: bool) -> Result<()> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if let Some(expected) = a.size {
        if size != expected {
            bail!(
                "{} has {size} bytes, expected {expected} (truncated download?)",
                path.display()
            );
        }
    }
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let pb = progress::bar(size, "md5", quiet);
    let (md5, _) =
        md5_hex(pb.wrap_read(f)).with_context(|| format!("cannot read {}", path.display()))?;
    pb.finish_and_clear();
    if md5 != a.md5 {
        bail!(
            "{}: md5 {md5}, expected {} (damaged or a different file)",
            path.display(),
            a.md5
        );
    }
    Ok(())
}

/// Download `a.url` to `<archive>.tmp`, checking size and MD5 on the way, then rename
/// ([`crate::run::atomic_write_with`]: a failed download leaves nothing behind).
fn download(a: &Archive, data_dir: &Path, archive: &Path, quiet: bool) -> Result<()> {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(CONNECT_TIMEOUT_S))
        .timeout_read(Duration::from_secs(60))
        .build();
    // DNS resolution is not covered by ureq's connect timeout: wait for the response headers
    // in a helper thread, at most a little longer than the connect timeout.
    let (tx, rx) = std::sync::mpsc::channel();
    let url = a.url.clone();
    std::thread::spawn(move || {
        let _ = tx.send(agent.get(&url).call());
    });
    let fail = |why: String| -> anyhow::Error {
        anyhow::anyhow!(
            "could not download {}: {why}.\n{}",
            a.url,
            a.manual_steps(data_dir)
        )
    };
    if !quiet {
        eprintln!("downloading {} ...", a.url);
    }
    let resp = match rx.recv_timeout(Duration::from_secs(CONNECT_TIMEOUT_S + 5)) {
        Ok(Ok(r)) => r,
        Ok(Err(ureq::Error::Status(code, r))) => {
            return Err(fail(format!(
                "the server answered HTTP {code} {}",
                r.status_text()
            )))
        }
        Ok(Err(e)) => return Err(fail(format!("{e} (no network access to the host?)"))),
        Err(_) => {
            return Err(fail(format!(
                "no answer within {} s (no network access to the host?)",
                CONNECT_TIMEOUT_S + 5
            )))
        }
    };
    let announced: Option<u64> = resp
        .header("Content-Length")
        .and_then(|s| s.trim().parse().ok());
    if let (Some(got), Some(want)) = (announced, a.size) {
        if got != want {
            return Err(fail(format!(
                "the server announces {got} bytes, expected {want}"
            )));
        }
    }
    crate::run::atomic_write_with(archive, |part| {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(part)
                .with_context(|| format!("cannot create {}", part.display()))?,
        );
        let pb = progress::bar(
            a.size.or(announced).unwrap_or(0),
            &format!("fetch {}", a.name),
            quiet,
        );
        let mut r = resp.into_reader();
        let mut h = Md5::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            let k = r
                .read(&mut buf)
                .map_err(|e| fail(format!("the transfer broke after {n} bytes: {e}")))?;
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
            out.write_all(&buf[..k])
                .with_context(|| format!("cannot write {} (disk full?)", part.display()))?;
            n += k as u64;
            pb.set_position(n);
        }
        out.flush()
            .with_context(|| format!("cannot write {}", part.display()))?;
        pb.finish_and_clear();
        if let Some(want) = a.size.or(announced) {
            if n != want {
                return Err(fail(format!(
                    "received {n} bytes, expected {want} (interrupted transfer)"
                )));
            }
        }
        let md5 = hex(&h.finalize());
        if md5 != a.md5 {
            return Err(fail(format!(
                "the download has md5 {md5}, expected {}",
                a.md5
            )));
        }
        Ok(())
    })
}

/// Unpack a .tar.gz into a temporary folder, check it, and move its folder into place.
fn unpack(a: &Archive, archive: &Path, data_dir: &Path, quiet: bool) -> Result<()> {
    let tmp = data_dir.join(format!(".{}.unpacking", a.folder));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)
            .with_context(|| format!("cannot remove the leftover {}", tmp.display()))?;
    }
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let result = (|| -> Result<()> {
        let f = std::fs::File::open(archive)
            .with_context(|| format!("cannot open {}", archive.display()))?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let pb = progress::bar(len, &format!("unpack {}", a.name), quiet);
        let gz = flate2::read::GzDecoder::new(std::io::BufReader::new(pb.wrap_read(f)));
        // `unpack` refuses entries that would land outside `tmp`.
        tar::Archive::new(gz).unpack(&tmp).with_context(|| {
            format!(
                "cannot unpack {} (damaged archive or disk full?)",
                archive.display()
            )
        })?;
        pb.finish_and_clear();
        let missing = a.problems(&tmp);
        if let Some((p, found, want)) = missing.first() {
            let rel = p.strip_prefix(&tmp).unwrap_or(p);
            match found {
                None => bail!(
                    "{} does not contain {} ({} file(s) missing or wrong)",
                    archive.display(),
                    rel.display(),
                    missing.len()
                ),
                Some(s) => bail!(
                    "{}: {} has {s} bytes in the archive, expected {want}",
                    archive.display(),
                    rel.display()
                ),
            }
        }
        let target = data_dir.join(&a.folder);
        if target.exists() {
            // An incomplete earlier copy (a complete one returns before the download).
            std::fs::remove_dir_all(&target)
                .with_context(|| format!("cannot replace the incomplete {}", target.display()))?;
        }
        std::fs::rename(tmp.join(&a.folder), &target)
            .with_context(|| format!("cannot move the unpacked files to {}", target.display()))?;
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}
