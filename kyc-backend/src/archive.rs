//! Where this instance keeps accepted applications: `DATA_DIR/<application
//! id>/`, a folder that appears whole or not at all.
//!
//! Each application is written into a private draft folder under
//! `DATA_DIR/.incoming/` (files 0600, folders 0700, everything synced to
//! disk) that its writer holds locked. A complete draft is *sealed* with the
//! claim it was written under (`draft-….claim` beside it: nonce, fencing
//! token, holder, application), and only once that claim consumed the nonce
//! is it renamed into place. The claim file outlives the rename: it is the
//! durable note that the ledger may not know of the application yet, and it
//! goes only once the ledger does ([`Unrecorded::recorded`]), so a record
//! that failed, or a crash between the rename and the record, is repaired
//! by the next sweep instead of leaving the applicant's page waiting. An
//! application's folder holds the application only. A draft nobody holds
//! belongs to a dead attempt: [`Archive::abandoned`] finds them (at start-up
//! and while running, other instances' live drafts left alone), and the
//! caller settles each one by its claim.
//!
//! Every file is written through [`FileWriter`]: plaintext, or encrypted
//! to the reviewers as it is written (`ARCHIVE_RECIPIENTS`, `at_rest`).

use std::fs::File;
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};

use crate::at_rest::{FileWriter, Recipients};
use crate::objects::Objects;

/// The ending of the file beside a sealed draft that names its claim.
const CLAIM: &str = ".claim";
/// The ending of the note a draft committed to object storage leaves,
/// naming its application, until the ledger knows of it.
const STORED: &str = ".stored";
/// How a draft's name starts, and a draft's that is being made.
const DRAFT: &str = "draft-";
const NEW: &str = "new-";
/// A `new-` folder older than this belongs to a writer that died making it
/// (a live writer locks and names it within microseconds).
pub(crate) const STILLBORN: std::time::Duration = std::time::Duration::from_secs(2);

/// The data folder.
pub(crate) struct Archive {
    root: PathBuf,
    incoming: PathBuf,
    /// Whom every file is encrypted to; `None`: plaintext.
    recipients: Option<Recipients>,
    /// Where applications are committed, if not into this folder.
    objects: Option<Objects>,
}

/// An application being written, locked by its writer; dropped before it
/// is committed, it is deleted.
pub(crate) struct Draft {
    path: PathBuf,
    recipients: Option<Recipients>,
    /// The draft folder itself, locked while this value lives.
    _lock: File,
    /// Committed, or left for a later sweep: not deleted on drop.
    kept: bool,
}

/// The claim a complete draft was written under.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Sealed {
    pub(crate) nonce: String,
    pub(crate) application: String,
    pub(crate) token: u64,
    pub(crate) holder: String,
}

/// What [`Archive::abandoned`] found.
pub(crate) struct Abandoned {
    /// Each draft, locked, with the claim it was sealed under, if it was.
    pub(crate) drafts: Vec<(Draft, Option<Sealed>)>,
    /// Stored applications whose record in the ledger was not confirmed.
    pub(crate) unrecorded: Vec<Unrecorded>,
    /// A folder too young to judge was passed over.
    pub(crate) young: bool,
}

/// What [`Draft::commit`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Committed {
    /// This draft is now the application's folder, to be recorded.
    Stored(Unrecorded),
    /// The application's folder was already there; this draft is discarded.
    AlreadyStored,
}

/// A stored application the ledger may not know of yet, by the claim file
/// of the draft that became its folder: kept until the ledger does.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unrecorded {
    pub(crate) application: String,
    claim: PathBuf,
}

impl Unrecorded {
    /// The ledger holds the application as stored: its note goes. Not
    /// synced: a removal a crash undoes only has it recorded again.
    pub(crate) fn recorded(self) -> std::io::Result<()> {
        remove_file(&self.claim)
    }
}

impl Archive {
    /// Opens (creating, owner-only) the data folder; every file written
    /// into it is encrypted to `recipients`, if any.
    pub(crate) fn open(
        root: PathBuf,
        recipients: Option<Recipients>,
        objects: Option<Objects>,
    ) -> std::io::Result<Self> {
        let incoming = root.join(".incoming");
        create_private_dir(&incoming)?;
        Ok(Self {
            root,
            incoming,
            recipients,
            objects,
        })
    }

    /// The object storage applications are committed to, if any.
    pub(crate) fn objects(&self) -> Option<&Objects> {
        self.objects.as_ref()
    }

    /// Where `application_id`'s folder is, if the id can name one: the
    /// application is stored here once that folder exists.
    pub(crate) fn folder(&self, application_id: &str) -> Option<PathBuf> {
        is_safe_name(application_id).then(|| self.root.join(application_id))
    }

    /// A new, empty, owner-only draft, locked. It is made under a `new-`
    /// name, locked, and only then renamed to its `draft-` name, so a sweep
    /// never finds an unlocked draft that is alive.
    pub(crate) fn draft(&self) -> std::io::Result<Draft> {
        loop {
            let name = telegram_passport::generate_nonce().map_err(std::io::Error::other)?;
            let new = self.incoming.join(format!("{NEW}{name}"));
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            match builder.create(&new) {
                Ok(()) => {}
                Err(error) if error.kind() == ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(error),
            }
            let path = self.incoming.join(format!("{DRAFT}{name}"));
            let locked = File::open(&new).and_then(|lock| {
                lock.lock()?;
                std::fs::rename(&new, &path)?;
                Ok(lock)
            });
            return match locked {
                Ok(lock) => Ok(Draft {
                    path,
                    recipients: self.recipients.clone(),
                    _lock: lock,
                    kept: false,
                }),
                Err(error) => {
                    let _ = std::fs::remove_dir(&new);
                    Err(error)
                }
            };
        }
    }

    /// The drafts no live writer holds (any instance's, if several share
    /// this folder), each now locked by the caller, with the claim it was
    /// sealed under (`None`: it was never complete); and whether a folder
    /// too young to judge was passed over (a writer may be making it).
    /// A claim file whose draft is gone names a stored application still
    /// to be recorded if the application's folder is there (this draft or
    /// another of it was committed), and is removed otherwise (the draft
    /// was deleted). Entries that vanish meanwhile (committed or removed by
    /// another) are skipped.
    pub(crate) fn abandoned(&self) -> std::io::Result<Abandoned> {
        let (mut found, mut unrecorded, mut young) = (Vec::new(), Vec::new(), false);
        for entry in std::fs::read_dir(&self.incoming)? {
            let path = match entry {
                Ok(entry) => entry.path(),
                Err(error) if error.kind() == ErrorKind::NotFound => continue,
                Err(error) => return Err(error),
            };
            let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            if name.ends_with(STORED) {
                let named: Option<Sealed> = std::fs::read(&path)
                    .ok()
                    .and_then(|json| serde_json::from_slice(&json).ok());
                match named.filter(|sealed| is_safe_name(&sealed.application)) {
                    Some(sealed) => unrecorded.push(Unrecorded {
                        application: sealed.application,
                        claim: path,
                    }),
                    None => remove_file(&path)?,
                }
                continue;
            }
            if let Some(draft) = name.strip_suffix(CLAIM) {
                if !self.incoming.join(draft).exists() {
                    match self.stored_under(&path) {
                        Some(application) => unrecorded.push(Unrecorded {
                            application,
                            claim: path,
                        }),
                        None => remove_file(&path)?,
                    }
                }
                continue;
            }
            if name.starts_with(NEW) {
                let made = std::fs::symlink_metadata(&path).and_then(|meta| meta.modified());
                if made.is_ok_and(|made| made.elapsed().unwrap_or_default() <= STILLBORN) {
                    young = true;
                    continue;
                }
            } else if !name.starts_with(DRAFT) {
                continue;
            }
            let lock = match File::open(&path) {
                Ok(lock) => lock,
                Err(error) if error.kind() == ErrorKind::NotFound => continue,
                Err(error) => return Err(error),
            };
            match lock.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => continue,
                Err(std::fs::TryLockError::Error(error)) => return Err(error),
            }
            // Still the entry we locked: not renamed away meanwhile.
            if !same_file(&lock, &path) {
                continue;
            }
            let draft = Draft {
                path,
                recipients: self.recipients.clone(),
                _lock: lock,
                kept: false,
            };
            let sealed = std::fs::read(draft.claim_file())
                .ok()
                .and_then(|json| serde_json::from_slice(&json).ok());
            found.push((draft, sealed));
        }
        Ok(Abandoned {
            drafts: found,
            unrecorded,
            young,
        })
    }

    /// Removes application `id`'s folder, if this archive holds it; true
    /// if it did. The removal is synced to disk.
    pub(crate) fn erase(&self, id: &str) -> std::io::Result<bool> {
        let Some(folder) = self.folder(id) else {
            return Ok(false);
        };
        match std::fs::remove_dir_all(&folder) {
            Ok(()) => {
                sync_dir(&self.root)?;
                Ok(true)
            }
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// The applications stored more than `age` ago (by when their folder
    /// was committed), oldest first.
    pub(crate) fn stored_before(&self, age: std::time::Duration) -> std::io::Result<Vec<String>> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.root)? {
            let Ok(entry) = entry else { continue };
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(meta) = entry.metadata() else { continue };
            if !is_safe_name(&name) || !meta.is_dir() {
                continue;
            }
            let stored = meta.modified()?;
            if stored.elapsed().unwrap_or_default() > age {
                found.push((stored, name));
            }
        }
        found.sort();
        Ok(found.into_iter().map(|(_, name)| name).collect())
    }

    /// The application the claim file at `claim` was sealed for, if its
    /// folder is in place.
    fn stored_under(&self, claim: &Path) -> Option<String> {
        let sealed: Sealed = serde_json::from_slice(&std::fs::read(claim).ok()?).ok()?;
        let stored = is_safe_name(&sealed.application) && self.root.join(&sealed.application).is_dir();
        stored.then_some(sealed.application)
    }
}

impl Draft {
    /// A new file `name` of the application (a name the service makes,
    /// never one from the request), owner-only, encrypted if the archive
    /// is: finish it to sync it to disk.
    pub(crate) fn create(&self, name: &str) -> std::io::Result<FileWriter> {
        FileWriter::create(&self.path.join(name), self.recipients.as_ref())
    }

    /// Writes a whole file of the application, as [`Draft::create`] does.
    pub(crate) fn write(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let mut file = self.create(name)?;
        file.write_all(bytes)?;
        file.finish()
    }

    /// Marks the draft complete, written under `claim`: from now on it is
    /// committed if that claim consumes the nonce, and deleted otherwise.
    pub(crate) fn seal(&self, claim: &Sealed) -> std::io::Result<()> {
        sync_dir(&self.path)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(self.claim_file())?;
        file.write_all(&serde_json::to_vec(claim)?)?;
        file.sync_all()?;
        sync_dir(self.path.parent().unwrap_or(Path::new(".")))
    }

    /// The file beside the draft that names its claim once it is sealed.
    fn claim_file(&self) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(CLAIM);
        PathBuf::from(name)
    }

    /// The draft's folder, and its name (unique among drafts).
    pub(crate) fn folder(&self) -> (&Path, String) {
        let name = self.path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        (&self.path, name)
    }

    /// The draft was committed to object storage as `application_id`: a
    /// note naming the application replaces its claim file (synced), and
    /// the local copy goes.
    pub(crate) fn committed_elsewhere(mut self, archive: &Archive, application_id: &str) -> std::io::Result<Committed> {
        self.kept = true;
        let mut note = self.path.clone().into_os_string();
        note.push(STORED);
        let note = PathBuf::from(note);
        let sealed: Sealed = serde_json::from_slice(&std::fs::read(self.claim_file())?)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&note)?;
        file.write_all(&serde_json::to_vec(&sealed)?)?;
        file.sync_all()?;
        sync_dir(&archive.incoming)?;
        remove_file(&self.claim_file())?;
        std::fs::remove_dir_all(&self.path)?;
        sync_dir(&archive.incoming)?;
        Ok(Committed::Stored(Unrecorded {
            application: application_id.to_owned(),
            claim: note,
        }))
    }

    /// Leaves the sealed draft as it is, unlocked, for a later sweep to
    /// settle by its claim (the store could not say whether it consumed).
    pub(crate) fn leave(mut self) {
        self.kept = true;
    }

    /// Renames the draft into place as `application_id`'s folder, unless
    /// that folder already exists. Its claim file stays, as the note that
    /// the application is still to be recorded. A draft that could not be
    /// renamed is left for a later sweep: its claim consumed the nonce, so
    /// no delivery would write it again.
    pub(crate) fn commit(mut self, archive: &Archive, application_id: &str) -> std::io::Result<Committed> {
        if !is_safe_name(application_id) {
            return Err(std::io::Error::new(ErrorKind::InvalidInput, "not an application id"));
        }
        // Deleted from here on only as a second copy of a stored application.
        self.kept = true;
        sync_dir(&self.path)?;
        let target = archive.root.join(application_id);
        match std::fs::rename(&self.path, &target) {
            Ok(()) => {
                sync_dir(&archive.root)?;
                sync_dir(&archive.incoming)?;
                Ok(Committed::Stored(Unrecorded {
                    application: application_id.to_owned(),
                    claim: self.claim_file(),
                }))
            }
            Err(error) if matches!(error.kind(), ErrorKind::AlreadyExists | ErrorKind::DirectoryNotEmpty) => {
                self.kept = false;
                Ok(Committed::AlreadyStored)
            }
            Err(error) => Err(error),
        }
    }
}

impl Drop for Draft {
    fn drop(&mut self) {
        if !self.kept {
            // A leftover is found by the next sweep.
            let _ = std::fs::remove_dir_all(&self.path);
            let _ = std::fs::remove_file(self.claim_file());
        }
    }
}

/// Removes a file that may already be gone.
fn remove_file(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Whether the open `file` is what `path` names now.
fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        match (file.metadata(), std::fs::symlink_metadata(path)) {
            (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        path.exists()
    }
}

/// Application ids are nonces: URL-safe base64, never a path.
pub(crate) fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Creates `path` (and its parents) readable by the owner only (0700 on Unix).
fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// Makes a folder's entries (a new file, a rename) durable.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    File::open(path)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
