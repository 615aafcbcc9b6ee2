//! Where this instance keeps accepted applications: `DATA_DIR/<application
//! id>/`, a folder that appears whole or not at all.
//!
//! Each application is written into a private draft folder under
//! `DATA_DIR/.incoming/` (files 0600, folders 0700, everything synced to
//! disk) that its writer holds locked. A complete draft is *sealed* with the
//! claim it was written under (`claim.json`: nonce, fencing token, holder),
//! and only once that claim consumed the nonce is it renamed into place.
//! A draft nobody holds belongs to a dead attempt: [`Archive::abandoned`]
//! finds them (at start-up and while running, other instances' live drafts
//! left alone), and the caller settles each one by its claim.

use std::fs::File;
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};

/// The file a sealed draft names its claim in.
const CLAIM: &str = "claim.json";
/// How a draft's name starts, and a draft's that is being made.
const DRAFT: &str = "draft-";
const NEW: &str = "new-";
/// A `new-` folder older than this belongs to a writer that died making it.
const STILLBORN: std::time::Duration = std::time::Duration::from_secs(60);

/// The data folder.
pub(crate) struct Archive {
    root: PathBuf,
    incoming: PathBuf,
}

/// An application being written, locked by its writer; dropped before it
/// is committed, it is deleted.
pub(crate) struct Draft {
    path: PathBuf,
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

/// What [`Draft::commit`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Committed {
    /// This draft is now the application's folder.
    Stored,
    /// The application's folder was already there; this draft is discarded.
    AlreadyStored,
}

impl Archive {
    /// Opens (creating, owner-only) the data folder.
    pub(crate) fn open(root: PathBuf) -> std::io::Result<Self> {
        let incoming = root.join(".incoming");
        create_private_dir(&incoming)?;
        Ok(Self { root, incoming })
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
    /// sealed under (`None`: it was never complete). Entries that vanish
    /// meanwhile (committed or removed by another) are skipped.
    pub(crate) fn abandoned(&self) -> std::io::Result<Vec<(Draft, Option<Sealed>)>> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.incoming)? {
            let path = match entry {
                Ok(entry) => entry.path(),
                Err(error) if error.kind() == ErrorKind::NotFound => continue,
                Err(error) => return Err(error),
            };
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if !name.starts_with(DRAFT) {
                let age = std::fs::symlink_metadata(&path).and_then(|meta| meta.modified());
                let old = age.is_ok_and(|modified| modified.elapsed().unwrap_or_default() > STILLBORN);
                if !(name.starts_with(NEW) && old) {
                    continue;
                }
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
            let sealed = std::fs::read(path.join(CLAIM))
                .ok()
                .and_then(|json| serde_json::from_slice(&json).ok());
            let draft = Draft {
                path,
                _lock: lock,
                kept: false,
            };
            found.push((draft, sealed));
        }
        Ok(found)
    }
}

impl Draft {
    /// Writes a file of the application, owner-only, synced to disk.
    pub(crate) fn write(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(self.path.join(name))?;
        file.write_all(bytes)?;
        file.sync_all()
    }

    /// Marks the draft complete, written under `claim`: from now on it is
    /// committed if that claim consumes the nonce, and deleted otherwise.
    pub(crate) fn seal(&self, claim: &Sealed) -> std::io::Result<()> {
        self.write(CLAIM, &serde_json::to_vec(claim)?)?;
        sync_dir(&self.path)
    }

    /// Leaves the sealed draft as it is, unlocked, for a later sweep to
    /// settle by its claim (the store could not say whether it consumed).
    pub(crate) fn leave(mut self) {
        self.kept = true;
    }

    /// Renames the draft into place as `application_id`'s folder, unless
    /// that folder already exists.
    pub(crate) fn commit(mut self, archive: &Archive, application_id: &str) -> std::io::Result<Committed> {
        if !is_safe_name(application_id) {
            return Err(std::io::Error::new(ErrorKind::InvalidInput, "not an application id"));
        }
        sync_dir(&self.path)?;
        let target = archive.root.join(application_id);
        match std::fs::rename(&self.path, &target) {
            Ok(()) => {
                self.kept = true;
                sync_dir(&archive.root)?;
                sync_dir(&archive.incoming)?;
                // Its work is done; a crash before this leaves it, harmless.
                let _ = std::fs::remove_file(target.join(CLAIM));
                Ok(Committed::Stored)
            }
            Err(error) if matches!(error.kind(), ErrorKind::AlreadyExists | ErrorKind::DirectoryNotEmpty) => {
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
        }
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
fn is_safe_name(name: &str) -> bool {
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
