//! Decrypts a `PassportData` (or a `Message` / `Update` carrying one), or
//! with `--tl` the TL bytes of an MTProto `messageActionSecureValuesSentMe`,
//! by hand.
//!
//! ```text
//! cargo run --release --example decrypt -- --key KEY.pem [--nonce NONCE] [--files DIR --out OUT] INPUT.json
//! cargo run --release --example decrypt -- --key KEY.pem [--nonce NONCE] [--files DIR --out OUT] --tl INPUT.bin
//! cargo run --release --example decrypt -- --key NEW.pem --key OLD.pem INPUT.json
//! cargo run --release --features pkcs11 --example decrypt -- \
//!     --key 'pkcs11:token=passport;object=bot?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:PIN' INPUT.json
//! ```
//!
//! `--key` may be repeated, each a PEM file or (built with the feature
//! `pkcs11`) a `pkcs11:` URI: the first is tried first, then the others,
//! as a [`KeyRing`] does.
//!
//! Prints `{"nonce": ..., "elements": [...]}` on success, the same for both
//! inputs (element types in the Bot API's names). With `--files DIR --out
//! OUT`, decrypts every file whose encrypted bytes are at `DIR/<file_id>`
//! (MTProto: `DIR/<secureFile id>`) into `OUT/<the same name>`. With
//! `--nonce`, any other nonce is an error. On any failure: exit status 1
//! (2 for a wrong command line), one line on stderr, nothing on stdout.
//!
//! Inputs are read within [`Limits::default`] (a larger INPUT or file is
//! refused without being read to the end).
//!
//! OUT may exist; a name the run would write that OUT already holds is
//! refused before anything is written. The run never replaces or removes
//! anything it did not write. Files are all or nothing, and so is stdout:
//! they are decrypted into an owner-only folder inside OUT
//! (`.decrypt-staging-*`; so OUT may be a mount point), linked into OUT
//! under their names once every one verified (a link never replaces), and
//! kept once the JSON is written to stdout. On any failure the run removes
//! what it linked and OUT is as it was (a missing OUT is created 0700 on
//! Unix, and removed again). A run that is killed leaves plaintext only
//! inside OUT: the names it linked and its owner-only folder. The next run
//! with the same OUT undoes that first, leaving alone the folder of a run
//! still alive (which holds the folder's `.lock`).

#[path = "support/keys.rs"]
mod keys;

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use telegram_passport::mtproto::{self, SecureValuesSentMe};
use telegram_passport::{
    decrypt_with_limits, one_line, DecryptedPassport, Element, FileLocation, KeyRing, Limits, NonceCheck, PassportData,
};

const USAGE: &str =
    "usage: decrypt --key KEY [--key OLDER_KEY ...] [--nonce NONCE] [--files DIR --out OUT] [--tl] INPUT";
/// `--help` says this after the usage.
const OUT_RULES: &str = "Each KEY is a PEM file or a pkcs11: URI; the first is tried first.

OUT may exist; a name the run would write that OUT already holds is refused
before anything is written. Files are all or nothing: on any failure OUT is
left as it was.";

struct Args {
    /// The current key first.
    keys: Vec<String>,
    nonce: Option<String>,
    files: Option<(PathBuf, PathBuf)>,
    /// INPUT is MTProto TL rather than Bot API JSON.
    tl: bool,
    input: PathBuf,
}

/// The arguments, or `None` for `--help`.
fn parse_args() -> Result<Option<Args>, String> {
    let mut args = std::env::args_os().skip(1);
    let (mut keys, mut nonce, mut files, mut out, mut input) = (Vec::new(), None, None, None, None);
    let mut tl = false;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value; {USAGE}"));
        match arg.to_str() {
            Some("--key") => {
                let key = value("--key")?
                    .into_string()
                    .map_err(|_| "--key is not UTF-8".to_owned())?;
                keys.push(key);
            }
            Some("--nonce") => {
                let text = value("--nonce")?
                    .into_string()
                    .map_err(|_| "--nonce is not UTF-8".to_owned())?;
                nonce = Some(text);
            }
            Some("--files") => files = Some(PathBuf::from(value("--files")?)),
            Some("--out") => out = Some(PathBuf::from(value("--out")?)),
            Some("--tl") => tl = true,
            Some("-h" | "--help") => return Ok(None),
            Some(flag) if flag.starts_with("--") => return Err(format!("unknown option {flag}; {USAGE}")),
            _ if input.is_none() => input = Some(PathBuf::from(arg)),
            _ => return Err(format!("more than one INPUT; {USAGE}")),
        }
    }
    let files = match (files, out) {
        (Some(files), Some(out)) => Some((files, out)),
        (None, None) => None,
        _ => return Err(format!("--files and --out go together; {USAGE}")),
    };
    Ok(Some(Args {
        keys: match keys.is_empty() {
            true => return Err(format!("--key is required; {USAGE}")),
            false => keys,
        },
        nonce,
        files,
        tl,
        input: input.ok_or_else(|| format!("INPUT is required; {USAGE}"))?,
    }))
}

/// Reads at most `limit` bytes of `path`; refuses a larger file after
/// reading one byte past the limit, never the rest.
fn read_bounded(path: &Path, limit: usize) -> Result<Vec<u8>, String> {
    let file = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() > limit {
        return Err(format!("{} is larger than {limit} bytes", path.display()));
    }
    Ok(bytes)
}

/// A file id names a file in DIR and OUT: it must not be able to leave them.
fn safe_file_name(file_id: &str) -> Result<&str, String> {
    let safe = !file_id.is_empty()
        && file_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    safe.then_some(file_id)
        .ok_or_else(|| format!("refusing file_id \"{}\": not a plain file name", excerpt(file_id)))
}

/// At most 64 characters of untrusted text, on one line.
fn excerpt(text: &str) -> String {
    let mut out = one_line(&text.chars().take(64).collect::<String>()).into_owned();
    if text.chars().nth(64).is_some() {
        out.push('…');
    }
    out
}

/// What went wrong: the command line (exit 2) or the run (exit 1).
enum Failure {
    Usage(String),
    Run(String),
}

fn run() -> Result<(), Failure> {
    let Some(args) = parse_args().map_err(Failure::Usage)? else {
        return print(&format!("{USAGE}\n\n{OUT_RULES}\n")).map_err(Failure::Run);
    };
    decrypt(&args).map_err(Failure::Run)
}

/// Writes `text` whole to stdout and flushes it. A closed pipe or a full
/// disk is an error here, not a panic as with `println!`; SIGPIPE is
/// ignored in Rust programs, so `| head -c1` arrives as `EPIPE`.
fn print(text: &str) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))
}

fn decrypt(args: &Args) -> Result<(), String> {
    let limits = Limits::default();
    let key: KeyRing = keys::load_ring(&args.keys)?;
    let input = read_bounded(&args.input, limits.input_json)?;
    let check = args.nonce.as_deref().map_or(NonceCheck::Skip, NonceCheck::Expect);
    let in_input = |e: telegram_passport::Error| format!("{}: {e}", args.input.display());
    let passport = match args.tl {
        false => {
            let passport_data = PassportData::from_json_with_limits(&input, &limits).map_err(in_input)?;
            decrypt_with_limits(&key, &passport_data, check, &limits)
        }
        true => {
            let sent = SecureValuesSentMe::from_tl_with_limits(&input, &limits).map_err(in_input)?;
            mtproto::decrypt_with_limits(&key, &sent, check, &limits)
        }
    }
    .map_err(|e| e.to_string())?;
    let mut json = serde_json::to_string_pretty(&passport).map_err(|e| e.to_string())?;
    json.push('\n');
    match &args.files {
        Some((dir, out)) => decrypt_files(&passport, dir, out, &json),
        None => print(&json),
    }
}

/// Decrypts every file found in DIR into OUT and prints `json`, all or
/// nothing: each file is streamed (within `Limits::file`) into the staging
/// folder inside OUT, and published only once every one verified.
fn decrypt_files(passport: &DecryptedPassport, dir: &Path, out: &Path, json: &str) -> Result<(), String> {
    let documents = passport.elements().iter().filter_map(|e| match e {
        Element::Document(document) => Some(document),
        _ => None,
    });
    let mut files = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for file in documents.flat_map(|d| d.all_files()) {
        let file_id = match file.location() {
            FileLocation::BotApi(file) => file.file_id.clone(),
            FileLocation::Mtproto(file) => file.id.to_string(),
            _ => continue,
        };
        let name = safe_file_name(&file_id)?.to_owned();
        let source = dir.join(&name);
        if !source.is_file() {
            continue;
        }
        if !names.contains(&name) {
            names.push(name.clone());
        }
        files.push((name, source, file));
    }
    let staging = Staging::begin(out, &names)?;
    for (name, source, file) in files {
        let encrypted = File::open(&source).map_err(|e| format!("cannot read {}: {e}", source.display()))?;
        file.decrypt_to_path(encrypted, &staging.folder.join(name))
            .map_err(|e| format!("{}: {e}", source.display()))?;
    }
    staging.publish(&names, json)
}

/// The staging folders' names in OUT: file ids never start with a dot.
const STAGING: &str = ".decrypt-staging-";
const DONE: &str = ".decrypt-done-";
/// In a staging folder, locked by its run for as long as it lives.
const LOCK: &str = ".lock";

/// One run's work in OUT: its owner-only staging folder, the names it
/// linked into OUT, the folders it created. Unless committed, dropping it
/// removes all of that, and OUT is as before the run.
struct Staging {
    out: PathBuf,
    folder: PathBuf,
    /// Held for the run's life: recovery leaves alone a folder whose lock
    /// is held.
    _lock: File,
    /// Names this run linked into OUT: its own, as a link never replaces.
    linked: Vec<String>,
    /// OUT and its parents if this run created them, deepest first.
    created: Vec<PathBuf>,
    committed: bool,
}

impl Staging {
    /// Creates OUT if missing, undoes what killed runs left in it, refuses
    /// any of `names` that OUT already holds, and makes the staging folder.
    fn begin(out: &Path, names: &[String]) -> Result<Self, String> {
        let created = create_folders(out)?;
        match Self::claim(out, names) {
            Ok((folder, lock)) => Ok(Self {
                out: out.to_owned(),
                folder,
                _lock: lock,
                linked: Vec::new(),
                created,
                committed: false,
            }),
            Err(e) => {
                remove_folders(&created);
                Err(e)
            }
        }
    }

    fn claim(out: &Path, names: &[String]) -> Result<(PathBuf, File), String> {
        // OUT's own lock orders the runs' recoveries and the making of their
        // staging folders: a folder without a lock is a dead run's. (On
        // other platforms a folder cannot be opened to be locked.)
        #[cfg(unix)]
        let _out_lock = File::open(out)
            .and_then(|folder| folder.lock().map(|()| folder))
            .map_err(|e| format!("cannot lock {}: {e}", out.display()))?;
        recover(out)?;
        for name in names {
            let path = out.join(name);
            match std::fs::symlink_metadata(&path) {
                Ok(_) => return Err(format!("{} already exists; nothing was written", path.display())),
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(format!("cannot check {}: {e}", path.display())),
            }
        }
        let mut builder = tempfile::Builder::new();
        builder.prefix(STAGING);
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
        let folder = builder
            .tempdir_in(out)
            .map_err(|e| format!("cannot create a folder in {}: {e}", out.display()))?
            .keep();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options
            .open(folder.join(LOCK))
            .and_then(|lock| lock.lock().map(|()| lock))
        {
            Ok(lock) => Ok((folder, lock)),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&folder);
                Err(format!("cannot lock {}: {e}", folder.display()))
            }
        }
    }

    /// Links every staged file into OUT (never replacing: a name that
    /// appeared since [`Staging::begin`] fails), writes `json` to stdout,
    /// then commits: the staging folder becomes `.decrypt-done-*`, which no
    /// recovery undoes, and is removed.
    fn publish(mut self, names: &[String], json: &str) -> Result<(), String> {
        for name in names {
            let path = self.out.join(name);
            std::fs::hard_link(self.folder.join(name), &path).map_err(|e| match e.kind() {
                ErrorKind::AlreadyExists => format!("{} already exists; nothing was written", path.display()),
                _ => format!("cannot write {}: {e}", path.display()),
            })?;
            self.linked.push(name.clone());
        }
        // The links durable before stdout says they are there; not every
        // platform can sync a folder.
        if let Ok(out) = File::open(&self.out) {
            let _ = out.sync_all();
        }
        print(json)?;
        let suffix = self
            .folder
            .file_name()
            .map(|name| name.to_string_lossy().replacen(STAGING, "", 1));
        let done = self.out.join(format!("{DONE}{}", suffix.unwrap_or_default()));
        std::fs::rename(&self.folder, &done).map_err(|e| format!("cannot write to {}: {e}", self.out.display()))?;
        self.committed = true;
        // What a failure leaves here, the next run removes.
        let _ = std::fs::remove_dir_all(&done);
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let mut undone = true;
        for name in &self.linked {
            let path = self.out.join(name);
            if same_file(&self.folder.join(name), &path) != Some(false) {
                undone &= match std::fs::remove_file(path) {
                    Err(e) => e.kind() == ErrorKind::NotFound,
                    Ok(()) => true,
                };
            }
        }
        // A name that could not be removed keeps the folder that proves it
        // this run's, for the next run to undo.
        if undone {
            let _ = std::fs::remove_dir_all(&self.folder);
            remove_folders(&self.created);
        }
    }
}

/// Undoes what runs killed before their commit left in OUT: removes the
/// names they linked (proven theirs by inode), then their staging folders;
/// removes committed folders. Skips any folder whose run still holds its
/// lock.
fn recover(out: &Path) -> Result<(), String> {
    let failed = |path: &Path, e: std::io::Error| format!("cannot undo {}: {e}", path.display());
    for entry in std::fs::read_dir(out).map_err(|e| failed(out, e))? {
        let entry = entry.map_err(|e| failed(out, e))?;
        let (folder, name) = (entry.path(), entry.file_name());
        let committed = name.to_string_lossy().starts_with(DONE);
        if !committed && !name.to_string_lossy().starts_with(STAGING) {
            continue;
        }
        if !entry.file_type().map_err(|e| failed(&folder, e))?.is_dir() {
            continue;
        }
        let _lock = match File::open(folder.join(LOCK)) {
            Ok(lock) => match lock.try_lock() {
                Ok(()) => Some(lock),
                Err(std::fs::TryLockError::WouldBlock) => continue,
                Err(std::fs::TryLockError::Error(e)) => return Err(failed(&folder, e)),
            },
            // Killed before it made its lock, or gone while we look.
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(failed(&folder, e)),
        };
        if !committed {
            let staged = match std::fs::read_dir(&folder) {
                Ok(staged) => staged,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(failed(&folder, e)),
            };
            for file in staged {
                let file = file.map_err(|e| failed(&folder, e))?;
                let path = out.join(file.file_name());
                if same_file(&file.path(), &path) == Some(true) {
                    match std::fs::remove_file(&path) {
                        Err(e) if e.kind() != ErrorKind::NotFound => return Err(failed(&path, e)),
                        _ => {}
                    }
                }
            }
        }
        match std::fs::remove_dir_all(&folder) {
            Err(e) if e.kind() != ErrorKind::NotFound => return Err(failed(&folder, e)),
            _ => {}
        }
    }
    Ok(())
}

/// Whether `a` and `b` are one file (links not followed): on Unix the
/// inode tells, and a missing name is not the same file; elsewhere `None`.
fn same_file(a: &Path, b: &Path) -> Option<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some(match (std::fs::symlink_metadata(a), std::fs::symlink_metadata(b)) {
            (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
            _ => false,
        })
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        None
    }
}

/// Creates `out` (owner-only on Unix) and its missing parents; returns the
/// folders it created, deepest first.
fn create_folders(out: &Path) -> Result<Vec<PathBuf>, String> {
    let mut missing = Vec::new();
    let mut folder = out;
    loop {
        match std::fs::symlink_metadata(folder) {
            Ok(_) => break,
            Err(e) if e.kind() == ErrorKind::NotFound => missing.push(folder),
            Err(e) => return Err(format!("cannot create {}: {e}", folder.display())),
        }
        match folder.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => folder = parent,
            _ => break,
        }
    }
    if missing.is_empty() && !out.is_dir() {
        return Err(format!("{} is not a folder", out.display()));
    }
    let mut created = Vec::new();
    for folder in missing.into_iter().rev() {
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        if folder == out {
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        }
        match builder.create(folder) {
            Ok(()) => created.insert(0, folder.to_owned()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => {
                remove_folders(&created);
                return Err(format!("cannot create {}: {e}", folder.display()));
            }
        }
    }
    Ok(created)
}

/// Removes `folders` in order, each only if empty.
fn remove_folders(folders: &[PathBuf]) {
    for folder in folders {
        let _ = std::fs::remove_dir(folder);
    }
}

/// Writes the one line on stderr. If even that fails, the exit status
/// alone tells of the failure.
fn report(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "decrypt: {}", one_line(message));
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            report(&message);
            ExitCode::from(2)
        }
        Err(Failure::Run(message)) => {
            report(&message);
            ExitCode::FAILURE
        }
    }
}
