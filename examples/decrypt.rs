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
//! (2 for a wrong command line), one line on stderr (the last, after any
//! that recovery wrote; see below), nothing on stdout.
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
//! with the same OUT undoes that first, and touches only what is provably a
//! killed run's own. A folder counts only if it is owned by the user
//! running the tool, has the permission bits 0700, and holds a `.lock` that
//! is a regular file of the user's alone (no other link, nobody else may
//! read or write it) with the marker the run wrote for that very folder
//! (its device and inode); `.lock` is opened without following a link or
//! waiting on a FIFO. A name in OUT is removed only while it is still the
//! file the run linked: its device, inode and link count as the run's
//! journal in `.lock` recorded them before linking. The folder of a run
//! still alive (which holds its `.lock`) is skipped; anything else named
//! like the tool's folders, and any name that changed, is left as it is
//! and named on stderr, a line each (`decrypt: left … alone: …`); the run
//! goes on, and a failure is still its last line. (Elsewhere than on Unix
//! nothing proves a folder the tool's: recovery leaves every one alone.)

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use telegram_passport::mtproto::{self, SecureValuesSentMe};
use telegram_passport::{
    decrypt_with_limits, one_line, DecryptedPassport, Element, FileLocation, KeyRef, KeyRing, Limits, NonceCheck,
    PassportData,
};

const USAGE: &str =
    "usage: decrypt --key KEY [--key OLDER_KEY ...] [--nonce NONCE] [--files DIR --out OUT] [--tl] INPUT";
/// `--help` says this after the usage.
const OUT_RULES: &str = "Each KEY is a PEM file or a pkcs11: URI; the first is tried first.

OUT may exist; a name the run would write that OUT already holds is refused
before anything is written. Files are all or nothing: on any failure OUT is
left as it was. A run that was killed is undone by the next run with the
same OUT, which removes only what is provably the killed run's: its own
folder (the user's, mode 0700, with the marker it wrote) and the names it
linked while they are still the files it linked. Anything else is left as
it is and named on stderr (\"left ... alone\").";

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
    let keys = args.keys.iter().map(|key| KeyRef::new(key).open());
    let keys = keys.collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    let key = KeyRing::from_keys(keys).ok_or("no key given")?;
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
/// In a staging folder: its run's lock for as long as the run lives, and
/// the marker and journal that let a later run prove the folder and its
/// links this tool's (see [`Marker`]).
const LOCK: &str = ".lock";
/// The marker's first line.
const FORMAT: &str = "telegram-passport decrypt staging 1";
/// A `.lock` longer than this is not one this tool wrote (a line a name,
/// and names are few).
const MARKER_LIMIT: u64 = 1 << 20;

/// One run's work in OUT: its owner-only staging folder, the names it
/// linked into OUT, the folders it created. Unless committed, dropping it
/// removes all of that, and OUT is as before the run.
struct Staging {
    out: PathBuf,
    folder: PathBuf,
    /// The folder's `.lock`, held for the run's life: recovery leaves alone
    /// a folder whose lock is held. It holds the marker and the journal.
    lock: File,
    /// What the journal says this run links, in order.
    journal: Vec<Link>,
    /// How many of `journal` are linked: this run's own, as a link never
    /// replaces.
    linked: usize,
    /// OUT and its parents if this run created them, deepest first.
    created: Vec<PathBuf>,
    committed: bool,
}

impl Staging {
    /// Creates OUT if missing, makes the staging folder, undoes what killed
    /// runs left in OUT, and refuses any of `names` that OUT already holds.
    fn begin(out: &Path, names: &[String]) -> Result<Self, String> {
        let created = create_folders(out)?;
        // OUT's own lock orders the runs' recoveries and the making of their
        // staging folders: a folder without a whole marker is a dead run's.
        // (On other platforms a folder cannot be opened to be locked.)
        #[cfg(unix)]
        let _out_lock = match File::open(out).and_then(|folder| folder.lock().map(|()| folder)) {
            Ok(lock) => lock,
            Err(e) => {
                remove_folders(&created);
                return Err(format!("cannot lock {}: {e}", out.display()));
            }
        };
        let (folder, lock) = match make_folder(out) {
            Ok(made) => made,
            Err(e) => {
                remove_folders(&created);
                return Err(e);
            }
        };
        // From here on, a failure drops `staging`, which removes what it made.
        let staging = Self {
            out: out.to_owned(),
            folder,
            lock,
            journal: Vec::new(),
            linked: 0,
            created,
            committed: false,
        };
        for note in recover(out, &staging.folder)? {
            report(&note);
        }
        for name in names {
            let path = out.join(name);
            match std::fs::symlink_metadata(&path) {
                Ok(_) => return Err(format!("{} already exists; nothing was written", path.display())),
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(format!("cannot check {}: {e}", path.display())),
            }
        }
        Ok(staging)
    }

    /// Records every staged file in the journal, links each into OUT (never
    /// replacing: a name that appeared since [`Staging::begin`] fails),
    /// writes `json` to stdout, then commits: the staging folder becomes
    /// `.decrypt-done-*`, which no recovery undoes, and is removed.
    fn publish(mut self, names: &[String], json: &str) -> Result<(), String> {
        // The journal before any link: a killed run's name is undone only if
        // it is still what the journal says, so a link made must be in it.
        for name in names {
            let staged = self.folder.join(name);
            let meta =
                std::fs::symlink_metadata(&staged).map_err(|e| format!("cannot read {}: {e}", staged.display()))?;
            let mut link = Link::of(name, &meta);
            link.nlink += 1;
            self.journal.push(link);
        }
        let lines: String = self.journal.iter().map(Link::line).collect();
        let journal = self.folder.join(LOCK);
        self.lock
            .write_all(lines.as_bytes())
            .and_then(|()| self.lock.sync_data())
            .map_err(|e| format!("cannot write {}: {e}", journal.display()))?;
        for link in &self.journal {
            let path = self.out.join(&link.name);
            std::fs::hard_link(self.folder.join(&link.name), &path).map_err(|e| match e.kind() {
                ErrorKind::AlreadyExists => format!("{} already exists; nothing was written", path.display()),
                _ => format!("cannot write {}: {e}", path.display()),
            })?;
            self.linked += 1;
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
        let _ = remove_own(&done);
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let mut undone = true;
        for link in self.journal.iter().take(self.linked) {
            // A name that is no longer this run's file is someone else's now.
            undone &= link.undo(&self.out).is_ok();
        }
        // A name that could not be removed keeps the folder that proves it
        // this run's, for the next run to undo.
        if undone {
            let _ = remove_own(&self.folder);
            remove_folders(&self.created);
        }
    }
}

/// Makes this run's staging folder in OUT, owner-only, with its `.lock`
/// locked and holding the marker: the format and the folder's identity,
/// so that a marker copied into another folder proves nothing there.
fn make_folder(out: &Path) -> Result<(PathBuf, File), String> {
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
    let marked = options.open(folder.join(LOCK)).and_then(|mut lock| {
        lock.lock()?;
        let (dev, ino, _) = identity(&std::fs::symlink_metadata(&folder)?);
        lock.write_all(format!("{FORMAT}\nfolder {dev} {ino}\n").as_bytes())?;
        Ok(lock)
    });
    match marked {
        Ok(lock) => Ok((folder, lock)),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&folder);
            Err(format!("cannot lock {}: {e}", folder.display()))
        }
    }
}

/// A name a run links into OUT, as its journal records it before the link:
/// the staged file's device and inode, and the link count the link leaves.
#[derive(PartialEq, Eq)]
struct Link {
    name: String,
    dev: u64,
    ino: u64,
    nlink: u64,
}

/// What [`Link::undo`] found at the name.
enum Undo {
    Removed,
    Missing,
    /// Another file, or the same with more or fewer links: left alone.
    Changed,
}

impl Link {
    fn of(name: &str, meta: &std::fs::Metadata) -> Self {
        let (dev, ino, nlink) = identity(meta);
        Self {
            name: name.to_owned(),
            dev,
            ino,
            nlink,
        }
    }

    /// The journal's line for this link.
    fn line(&self) -> String {
        format!("link {} {} {} {}\n", self.dev, self.ino, self.nlink, self.name)
    }

    /// Reads a journal line; `None` for anything this tool does not write.
    fn parse(line: &str) -> Option<Self> {
        let mut words = line.strip_prefix("link ")?.split(' ');
        let mut number = || words.next()?.parse::<u64>().ok();
        let (dev, ino, nlink) = (number()?, number()?, number()?);
        let name = safe_file_name(words.next()?).ok()?.to_owned();
        words.next().is_none().then_some(Self { name, dev, ino, nlink })
    }

    /// Removes the name from `out` only if it is still the very file the
    /// run linked, with the links the run left it with (links not followed).
    fn undo(&self, out: &Path) -> std::io::Result<Undo> {
        let path = out.join(&self.name);
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Undo::Missing),
            Err(e) => return Err(e),
        };
        // Elsewhere only a live run undoes, and only names it linked itself.
        let same = !cfg!(unix) || (meta.is_file() && Self::of(&self.name, &meta) == *self);
        if !same {
            return Ok(Undo::Changed);
        }
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Undo::Missing),
            Err(e) => Err(e),
            Ok(()) => Ok(Undo::Removed),
        }
    }
}

/// A file's device, inode and link count; zeros where the platform does not
/// say, which [`inspect`] never trusts.
fn identity(meta: &std::fs::Metadata) -> (u64, u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino(), meta.nlink())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        (0, 0, 0)
    }
}

/// A dead run's folder, proven this tool's, with its `.lock` held.
struct Marker {
    _lock: Option<File>,
    /// Empty for a run killed before it linked anything, or while it made
    /// its folder (then the folder holds nothing else).
    links: Vec<Link>,
}

/// Whether a folder in OUT named like the tool's is a dead run's of this
/// tool, and if so its marker; `Ok(None)` for a run still alive or a folder
/// gone meanwhile; `Err` says why it cannot be proven the tool's.
///
/// Proof: the folder and its `.lock` are owned by whoever owns this run's
/// own folder, the folder is owner-only (0700), `.lock` is a regular file
/// (opened without following a link or waiting on a FIFO), nobody else's to
/// read or write, with no other link, and holds the marker written for that
/// very folder.
#[cfg(unix)]
fn inspect(folder: &Path, own: &std::fs::Metadata) -> Result<Option<Marker>, String> {
    use std::os::unix::fs::MetadataExt;
    let meta = match std::fs::symlink_metadata(folder) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    if !meta.is_dir() {
        return Err("not a folder".to_owned());
    }
    if meta.uid() != own.uid() {
        return Err(format!("owned by uid {}, not by this user", meta.uid()));
    }
    if meta.mode() & 0o777 != 0o700 {
        return Err(format!("its mode is {:o}, not 700", meta.mode() & 0o7777));
    }
    let lock = match open_lock(&folder.join(LOCK)) {
        Ok(lock) => lock,
        // Killed before it made its `.lock`, or after it removed it:
        // nothing to undo.
        Err(e) if e.kind() == ErrorKind::NotFound && is_empty(folder) => {
            return Ok(Some(Marker {
                _lock: None,
                links: Vec::new(),
            }))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => return Err("it holds no .lock".to_owned()),
        Err(e) => return Err(format!("cannot open its .lock: {e}")),
    };
    let opened = lock.metadata().map_err(|e| format!("cannot read its .lock: {e}"))?;
    if !opened.is_file() {
        return Err(".lock is not a regular file".to_owned());
    }
    if opened.uid() != own.uid() || opened.mode() & 0o077 != 0 || opened.nlink() != 1 {
        return Err(".lock is not this user's alone".to_owned());
    }
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
        Err(std::fs::TryLockError::Error(e)) => return Err(format!("cannot lock its .lock: {e}")),
    }
    let mut text = String::new();
    (&lock)
        .take(MARKER_LIMIT + 1)
        .read_to_string(&mut text)
        .map_err(|_| ".lock is not this tool's marker".to_owned())?;
    // Killed between making its `.lock` and writing to it.
    if text.is_empty() && only_lock(folder) {
        return Ok(Some(Marker {
            _lock: Some(lock),
            links: Vec::new(),
        }));
    }
    let links = parse_marker(&text, (meta.dev(), meta.ino()))?;
    Ok(Some(Marker {
        _lock: Some(lock),
        links,
    }))
}

#[cfg(not(unix))]
fn inspect(_: &Path, _: &std::fs::Metadata) -> Result<Option<Marker>, String> {
    Err("this platform cannot tell whose it is".to_owned())
}

/// The journal of a marker written for the folder `(dev, ino)`.
fn parse_marker(text: &str, folder: (u64, u64)) -> Result<Vec<Link>, String> {
    let not_ours = || ".lock is not this tool's marker".to_owned();
    if text.len() as u64 > MARKER_LIMIT {
        return Err(not_ours());
    }
    // Written whole lines at a time: a cut line is not the tool's.
    let mut lines = text.strip_suffix('\n').ok_or_else(not_ours)?.split('\n');
    if lines.next() != Some(FORMAT) {
        return Err(not_ours());
    }
    let written_for = lines.next().and_then(|line| {
        let (dev, ino) = line.strip_prefix("folder ")?.split_once(' ')?;
        Some((dev.parse::<u64>().ok()?, ino.parse::<u64>().ok()?))
    });
    match written_for {
        Some(id) if id == folder => {}
        Some(_) => return Err("its .lock is the marker of another folder".to_owned()),
        None => return Err(not_ours()),
    }
    lines.map(|line| Link::parse(line).ok_or_else(not_ours)).collect()
}

/// `O_NOFOLLOW | O_NONBLOCK`, which std does not name.
#[cfg(unix)]
const NO_FOLLOW_NO_BLOCK: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK;

/// Opens a `.lock` for recovery: never following a link, never waiting on
/// a FIFO or a device.
#[cfg(unix)]
fn open_lock(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(NO_FOLLOW_NO_BLOCK)
        .open(path)
}

/// Whether `folder` holds nothing.
#[cfg(unix)]
fn is_empty(folder: &Path) -> bool {
    std::fs::read_dir(folder).is_ok_and(|mut entries| entries.next().is_none())
}

/// Whether `folder` holds its `.lock` and nothing else.
#[cfg(unix)]
fn only_lock(folder: &Path) -> bool {
    std::fs::read_dir(folder).is_ok_and(|entries| {
        entries
            .map(|entry| entry.map(|entry| entry.file_name() == LOCK))
            .all(|lock| lock.unwrap_or(false))
    })
}

/// Undoes what runs killed before their commit left in OUT, touching only
/// what is provably theirs (see [`inspect`]): removes the names they linked
/// that are still as their journals say, then their folders; removes
/// committed folders. Skips any folder whose run still holds its lock;
/// returns a note for everything else it leaves alone.
fn recover(out: &Path, own_path: &Path) -> Result<Vec<String>, String> {
    let failed = |path: &Path, e: std::io::Error| format!("cannot undo {}: {e}", path.display());
    let own = std::fs::symlink_metadata(own_path).map_err(|e| failed(own_path, e))?;
    let mut notes = Vec::new();
    for entry in std::fs::read_dir(out).map_err(|e| failed(out, e))? {
        let entry = entry.map_err(|e| failed(out, e))?;
        let (folder, name) = (entry.path(), entry.file_name());
        let committed = name.to_string_lossy().starts_with(DONE);
        if !committed && !name.to_string_lossy().starts_with(STAGING) || Some(name.as_os_str()) == own_path.file_name()
        {
            continue;
        }
        let marker = match inspect(&folder, &own) {
            Ok(Some(marker)) => marker,
            Ok(None) => continue,
            Err(why) => {
                notes.push(format!(
                    "left {} alone: not provably this tool's ({why})",
                    folder.display()
                ));
                continue;
            }
        };
        if !committed {
            for link in &marker.links {
                if let Undo::Changed = link.undo(out).map_err(|e| failed(&out.join(&link.name), e))? {
                    notes.push(format!(
                        "left {} alone: not the file a killed run linked there",
                        out.join(&link.name).display()
                    ));
                }
            }
        }
        remove_own(&folder).map_err(|e| failed(&folder, e))?;
    }
    Ok(notes)
}

/// Removes one of this tool's folders, its `.lock` last: a removal cut
/// short leaves a folder the next run still proves this tool's.
fn remove_own(folder: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_name() == LOCK {
            continue;
        }
        match entry.file_type()?.is_dir() {
            true => std::fs::remove_dir_all(entry.path())?,
            false => std::fs::remove_file(entry.path())?,
        }
    }
    for removed in [std::fs::remove_file(folder.join(LOCK)), std::fs::remove_dir(folder)] {
        match removed {
            Err(e) if e.kind() != ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
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
