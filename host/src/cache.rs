//! The `--list` cache. The host keeps the file; the component says whether it is still
//! exact (`inventory-unchanged`). The host, not the component, because the file holds every
//! variable, secrets included: it must be created 0600, and `wasi:filesystem` can neither
//! set nor read file modes.
//!
//! A cache is printed to Ansible as it is, so whoever can write it can run commands on the
//! controller (a forged body need not mark its values unsafe, and its checksum is no
//! secret). So a cache is used, read or written, only where nobody but the user could have
//! written it, as ssh's StrictModes judges a key: the file a regular file of the effective
//! user with no group or other write bit; its directory the user's (or root's), writable by
//! neither group nor others. Anything else is a warning, and etcd is read instead.
//!
//! A file is one header line (JSON) and the inventory as printed. The header names what
//! the inventory was read from, so two inventories never share a file even if their names
//! collide, and carries the body's length and checksum, so a truncated or damaged file is
//! never served. Beside it, a small stamp file records a later revision at which etcd
//! confirmed the inventory unchanged, so that the next check is again the cheap one
//! without rewriting the whole inventory.

use std::fs;
use std::io::{BufRead as _, Read as _, Seek as _, Write};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use etcd_inventory::Answer;
use etcd_inventory::inventory::{Tally, Warnings};
use etcd_inventory::settings::Settings;
use serde::{Deserialize, Serialize};

/// Bumped when the file's shape changes: older files then read as a miss.
/// 2: the body's checksum is a CRC-32 (FNV-1a, a byte at a time, took 70 ms of a 100 ms
/// hit on a 47 MB inventory).
/// 3: groups keep their inventory order, vault text its bytes, and a second warning
/// (invalid variable names) rides in the header: a format-2 body is no longer what
/// `--list` prints.
const FORMAT: u32 = 3;
/// A header longer than this is not one of ours.
const MAX_HEADER_BYTES: u64 = 64 << 10;
/// A stamp longer than this is not one of ours.
const MAX_STAMP_BYTES: u64 = 4 << 10;

/// Why a cache was not used: it is in a place others could have written (then nothing is
/// written there either), or it cannot be used (damaged, another inventory's: then it is
/// rewritten). Either way the text is the warning's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trouble {
    Unsafe(String),
    Unusable(String),
}

impl std::fmt::Display for Trouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trouble::Unsafe(text) | Trouble::Unusable(text) => f.write_str(text),
        }
    }
}

/// One cache file, for one set of settings.
#[derive(Debug)]
pub struct Cache {
    path: PathBuf,
    /// Everything that changes what `--list` prints, as text.
    identity: String,
}

/// A cached inventory and what it was read at.
#[derive(Debug)]
pub struct CachedInventory {
    pub body: Body,
    pub revision: i64,
    pub key_count: u64,
    pub warnings: Warnings,
    /// Seconds since the Unix epoch.
    pub written_at: u64,
    /// The body's checksum, which ties a stamp to it.
    checksum: String,
}

/// A later revision at which etcd confirmed the inventory with this checksum unchanged.
#[derive(Serialize, Deserialize)]
struct Stamp {
    checksum: String,
    revision: i64,
}

/// A cached inventory as printed, checked against its header and left in its file: it
/// goes to stdout by the kernel's copy, not through this process's memory (reading 47 MB
/// into fresh memory took most of a 35 ms cache hit, in page faults).
#[derive(Debug)]
pub struct Body {
    file: fs::File,
    start: u64,
    length: u64,
}

impl Body {
    pub fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        let copied = std::io::copy(&mut self.reader()?, out)?;
        match copied == self.length {
            true => Ok(()),
            false => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the cache file shrank",
            )),
        }
    }

    pub fn read_to_string(&self) -> std::io::Result<String> {
        let mut text = String::with_capacity(usize::try_from(self.length).unwrap_or(0));
        self.reader()?.read_to_string(&mut text)?;
        Ok(text)
    }

    /// The body's bytes. The file is only ever replaced by a rename, never rewritten in
    /// place, so the open file keeps the bytes that were checked.
    fn reader(&self) -> std::io::Result<std::io::Take<&fs::File>> {
        let mut file = &self.file;
        file.seek(std::io::SeekFrom::Start(self.start))?;
        Ok(file.take(self.length))
    }

    /// Its length and checksum, read in pieces.
    fn measure(&self) -> std::io::Result<(u64, String)> {
        let mut reader = self.reader()?;
        let mut hasher = crc32fast::Hasher::new();
        let mut buffer = vec![0; 256 << 10];
        let mut length = 0;
        loop {
            match reader.read(&mut buffer)? {
                0 => return Ok((length, format!("{:08x}", hasher.finalize()))),
                n => {
                    hasher.update(&buffer[..n]);
                    length += n as u64;
                }
            }
        }
    }
}

impl CachedInventory {
    /// Seconds since it was written (0 if the clock went back).
    pub fn age_s(&self) -> u64 {
        now_s().saturating_sub(self.written_at)
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: u32,
    identity: String,
    revision: i64,
    key_count: u64,
    skipped: Option<(u64, String)>,
    invalid_names: Option<(u64, String)>,
    written_at: u64,
    length: u64,
    checksum: String,
}

/// What the identity is made of: endpoints, prefix, user and the value rules.
#[derive(Serialize)]
struct Identity<'a> {
    endpoints: &'a [String],
    prefix: &'a str,
    user: Option<&'a str>,
    trust_templates: bool,
    typed_values: bool,
    nested_keys: bool,
}

impl Cache {
    pub fn new(settings: &Settings) -> Cache {
        let identity = serde_json::to_string(&Identity {
            endpoints: &settings.endpoints,
            prefix: settings.prefix.as_str(),
            user: settings.credentials.as_ref().map(|c| c.user.as_str()),
            trust_templates: settings.values.trust_templates,
            typed_values: settings.values.typed_values,
            nested_keys: settings.values.nested_keys,
        })
        .expect("the identity serialises");
        let name = format!("etcd-inventory-{:016x}.cache", fnv1a(identity.as_bytes()));
        Cache {
            path: settings.cache.dir.join(name),
            identity,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cached entry: `Ok(None)` when there is none, `Err` (a warning) when the file is
    /// there but unusable (truncated, damaged, another inventory's) or in an unsafe place.
    pub fn load(&self) -> Result<Option<CachedInventory>, Trouble> {
        let unreadable =
            |e: std::io::Error| Trouble::Unusable(format!("cannot read the cache {}: {e}", self.path.display()));
        match self.check_directory() {
            Err(Trouble::Unusable(_)) => return Ok(None),
            other => other?,
        }
        let Some(file) = open_private(&self.path).map_err(|why| self.refused(&why))? else {
            return Ok(None);
        };
        let corrupt = |why: &str| {
            Trouble::Unusable(format!(
                "ignoring the cache {}: {why}; reading etcd",
                self.path.display()
            ))
        };
        let size = file.metadata().map_err(unreadable)?.len();
        let mut reader = std::io::BufReader::new(&file);
        let mut line = Vec::new();
        (&mut reader)
            .take(MAX_HEADER_BYTES)
            .read_until(b'\n', &mut line)
            .map_err(unreadable)?;
        if line.pop() != Some(b'\n') {
            return Err(corrupt("no header"));
        }
        let start = line.len() as u64 + 1;
        drop(reader);
        let header: Header = serde_json::from_slice(&line).map_err(|_| corrupt("unreadable header"))?;
        if header.format != FORMAT {
            return Ok(None);
        }
        if header.identity != self.identity {
            return Err(corrupt("it belongs to another inventory"));
        }
        let body = Body {
            file,
            start,
            length: size.saturating_sub(start),
        };
        let (length, checksum) = body.measure().map_err(unreadable)?;
        if length != header.length || checksum != header.checksum {
            return Err(corrupt("truncated or damaged"));
        }
        // A stamp for another body (older, or damaged) is ignored: the header's revision
        // is always a correct one.
        let stamped = read_stamp(&self.stamp_path())
            .and_then(|bytes| serde_json::from_slice::<Stamp>(&bytes).ok())
            .filter(|stamp| stamp.checksum == header.checksum)
            .map_or(header.revision, |stamp| stamp.revision.max(header.revision));
        Ok(Some(CachedInventory {
            body,
            revision: stamped,
            key_count: header.key_count,
            warnings: Warnings {
                skipped: header.skipped.map(|(count, example)| Tally { count, example }),
                invalid_names: header.invalid_names.map(|(count, example)| Tally { count, example }),
            },
            written_at: header.written_at,
            checksum: header.checksum,
        }))
    }

    /// Records that etcd confirmed `entry` unchanged as of `revision`.
    pub fn stamp(&self, entry: &CachedInventory, revision: i64) -> Result<(), String> {
        let stamp = Stamp {
            checksum: entry.checksum.clone(),
            revision,
        };
        let bytes = serde_json::to_vec(&stamp).expect("a stamp serialises");
        write_atomically(&self.stamp_path(), &[&bytes])
            .map_err(|e| format!("cannot write the cache stamp {}: {e}", self.stamp_path().display()))
    }

    fn stamp_path(&self) -> PathBuf {
        self.path.with_extension("stamp")
    }

    /// Writes the answer atomically (see [`write_atomically`]), in a directory it creates
    /// 0700 if needed, and only in a safe one (the caller writes nothing where [`load`]
    /// found the place unsafe).
    ///
    /// [`load`]: Cache::load
    pub fn store(&self, answer: &Answer) -> Result<(), String> {
        let dir = self.path.parent().expect("a cache file has a directory");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create the cache directory {}: {e}", dir.display()))?;
        self.check_directory().map_err(|trouble| trouble.to_string())?;
        let header = Header {
            format: FORMAT,
            identity: self.identity.clone(),
            revision: answer.revision,
            key_count: answer.key_count,
            skipped: answer.warnings.skipped.as_ref().map(|s| (s.count, s.example.clone())),
            invalid_names: (answer.warnings.invalid_names.as_ref()).map(|s| (s.count, s.example.clone())),
            written_at: now_s(),
            length: answer.json.len() as u64,
            checksum: checksum(answer.json.as_bytes()),
        };
        let header = serde_json::to_vec(&header).expect("a header serialises");
        write_atomically(&self.path, &[&header, b"\n", answer.json.as_bytes()])
            .map_err(|e| format!("cannot write the cache {}: {e}", self.path.display()))?;
        // A stamp of the previous body no longer applies.
        let _ = fs::remove_file(self.stamp_path());
        Ok(())
    }

    /// The directory must be the user's or root's, and writable by neither group nor
    /// others: anyone who may write in it may put a file of their own at the cache path.
    /// `Unusable` when it cannot be looked at (it does not exist yet).
    fn check_directory(&self) -> Result<(), Trouble> {
        let dir = self.path.parent().expect("a cache file has a directory");
        let meta = fs::metadata(dir)
            .map_err(|e| Trouble::Unusable(format!("cannot inspect the cache directory {}: {e}", dir.display())))?;
        let why = match (meta.uid(), meta.mode()) {
            (uid, _) if uid != effective_uid() && uid != 0 => format!("owned by another user (uid {uid})"),
            (_, mode) if mode & 0o002 != 0 => format!("world-writable (mode {:04o})", mode & 0o7777),
            (_, mode) if mode & 0o020 != 0 => format!("group-writable (mode {:04o})", mode & 0o7777),
            _ => return Ok(()),
        };
        Err(Trouble::Unsafe(format!(
            "not using the cache {}: its directory {} is {why}, so others could have written it; reading etcd \
             (make the directory yours and chmod go-w it, or choose another cache path)",
            self.path.display(),
            dir.display()
        )))
    }

    fn refused(&self, why: &str) -> Trouble {
        Trouble::Unsafe(format!(
            "not using the cache {}: it {why}, so others could have written it; reading etcd (remove it, or \
             choose another cache path)",
            self.path.display()
        ))
    }
}

/// Opens a cache or stamp file for reading, if there is one, and only if nobody but the
/// user could have written it: `Err` says why not. Never blocks, never follows a link: a
/// FIFO or a device there is refused by its type, not read.
fn open_private(path: &Path) -> Result<Option<fs::File>, String> {
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err("is a symbolic link".to_string()),
        Err(e) => return Err(format!("cannot be opened ({e})")),
    };
    let meta = file.metadata().map_err(|e| format!("cannot be inspected ({e})"))?;
    match (meta.file_type().is_file(), meta.uid(), meta.mode()) {
        (false, _, _) => Err("is not a regular file (a FIFO, device or directory)".to_string()),
        (_, uid, _) if uid != effective_uid() => Err(format!("is owned by another user (uid {uid})")),
        (_, _, mode) if mode & 0o022 != 0 => {
            Err(format!("is writable by group or others (mode {:04o})", mode & 0o7777))
        }
        _ => Ok(Some(file)),
    }
}

/// A stamp's bytes, when it is as safe as the cache and no longer than a stamp: anything
/// else is ignored (the header's revision is always a correct one).
fn read_stamp(path: &Path) -> Option<Vec<u8>> {
    let file = open_private(path).ok()??;
    let mut bytes = Vec::new();
    file.take(MAX_STAMP_BYTES).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Writes `parts` to a new 0600 file beside `path`, then renames it over `path`: a reader
/// sees the old file or the new one, never half of one.
fn write_atomically(path: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .and_then(|mut file| {
            for part in parts {
                file.write_all(part)?;
            }
            file.sync_all()
        })
        .and_then(|()| fs::rename(&temporary, path));
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written
}

fn now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// FNV-1a, 64 bits: a stable name for the identity and a checksum of the body (a guard
/// against damage, not against an attacker, whom the directory's modes keep out).
/// Catches a damaged or truncated body (the directory's mode keeps others from writing it).
fn checksum(body: &[u8]) -> String {
    format!("{:08x}", crc32fast::hash(body))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use etcd_inventory::settings::{Flags, resolve};
    use std::os::unix::fs::PermissionsExt as _;

    fn cache_in(dir: &Path, prefix: &str) -> Cache {
        cache_for(dir, prefix, None)
    }

    fn cache_for(dir: &Path, prefix: &str, user: Option<&str>) -> Cache {
        let flags = Flags {
            prefix: Some(prefix.into()),
            cache_path: Some(dir.display().to_string()),
            user: user.map(str::to_string),
            ..Flags::default()
        };
        let env = |name: &str| (name == "ETCDCTL_PASSWORD" && user.is_some()).then(|| "pw".to_string());
        Cache::new(&resolve(&flags, &env, None).expect("settings"))
    }

    fn answer(json: &str) -> Answer {
        Answer {
            json: json.into(),
            warnings: Warnings::default(),
            revision: 42,
            key_count: 7,
        }
    }

    #[test]
    fn a_stored_answer_loads_back_from_a_0600_file() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache_in(&dir.path().join("new"), "/a");
        assert!(cache.load().unwrap().is_none());
        cache.store(&answer("{\"all\":{}}")).unwrap();
        let entry = cache.load().unwrap().unwrap();
        assert_eq!(
            (
                entry.body.read_to_string().unwrap().as_str(),
                entry.revision,
                entry.key_count
            ),
            ("{\"all\":{}}", 42, 7)
        );
        let mode = fs::metadata(cache.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = fs::metadata(dir.path().join("new")).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700, "a directory it creates is private");
    }

    #[test]
    fn a_stamp_moves_the_revision_only_for_its_own_body() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache_in(dir.path(), "/a");
        cache.store(&answer("{\"v\":1}")).unwrap();
        let entry = cache.load().unwrap().unwrap();
        cache.stamp(&entry, 50).unwrap();
        assert_eq!(cache.load().unwrap().unwrap().revision, 50);
        cache.store(&answer("{\"v\":2}")).unwrap();
        assert_eq!(
            cache.load().unwrap().unwrap().revision,
            42,
            "a new body drops the stamp"
        );
        cache.stamp(&entry, 60).unwrap();
        assert_eq!(
            cache.load().unwrap().unwrap().revision,
            42,
            "a stamp of another body is ignored"
        );
    }

    #[test]
    fn other_settings_use_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let paths = [
            cache_in(dir.path(), "/a"),
            cache_in(dir.path(), "/b"),
            cache_for(dir.path(), "/a", Some("alice")),
            cache_for(dir.path(), "/a", Some("bob")),
        ]
        .map(|c| c.path().to_path_buf());
        for (i, a) in paths.iter().enumerate() {
            assert!(paths[i + 1..].iter().all(|b| a != b), "{paths:?}");
        }
    }

    #[test]
    fn damaged_files_are_never_served() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache_in(dir.path(), "/a");
        cache.store(&answer("{\"all\":{\"hosts\":[\"a\"]}}")).unwrap();
        let good = fs::read(cache.path()).unwrap();
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 1;
        for bad in [&good[..good.len() - 3], &flipped[..], b"garbage", b""] {
            fs::write(cache.path(), bad).unwrap();
            assert!(cache.load().is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn a_directory_or_file_others_could_write_is_refused() {
        for (mode, why) in [(0o777, "world-writable"), (0o770, "group-writable")] {
            let dir = tempfile::tempdir().unwrap();
            let cache = cache_in(dir.path(), "/a");
            cache.store(&answer("{}")).unwrap();
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(mode)).unwrap();
            assert!(cache.store(&answer("{}")).unwrap_err().contains(why), "{mode:o}");
            let refused = cache.load().unwrap_err();
            assert!(
                matches!(&refused, Trouble::Unsafe(text) if text.contains(why)),
                "{refused:?}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let cache = cache_in(dir.path(), "/a");
        cache.store(&answer("{}")).unwrap();
        fs::set_permissions(cache.path(), fs::Permissions::from_mode(0o666)).unwrap();
        let refused = cache.load().unwrap_err();
        assert!(
            matches!(&refused, Trouble::Unsafe(text) if text.contains("writable by group or others (mode 0666)")),
            "{refused:?}"
        );
    }
}
