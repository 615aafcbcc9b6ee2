//! Where accepted applications are kept: `DATA_DIR/<application id>/`, a
//! folder that appears whole or not at all. Each application is written
//! into a private temporary folder under `DATA_DIR/.incoming/` (files
//! 0600, folders 0700, everything synced to disk), then renamed into place
//! in one step. A second writer of the same application (a redelivered
//! update, another instance) finds the folder there and leaves it alone.

use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Temporary folders older than this at start-up belong to a crashed run.
const STALE: Duration = Duration::from_secs(3600);

/// The data folder.
pub(crate) struct Archive {
    root: PathBuf,
    incoming: PathBuf,
}

/// An application being written; dropped unfinished, it is deleted.
pub(crate) struct Draft {
    dir: tempfile::TempDir,
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
    /// Opens (creating, owner-only) the data folder, and deletes temporary
    /// folders a crashed run left behind.
    pub(crate) fn open(root: PathBuf) -> std::io::Result<Self> {
        let incoming = root.join(".incoming");
        create_private_dir(&incoming)?;
        for entry in std::fs::read_dir(&incoming)? {
            let entry = entry?;
            let age = entry.metadata()?.modified()?.elapsed().unwrap_or_default();
            if age > STALE {
                std::fs::remove_dir_all(entry.path())?;
            }
        }
        Ok(Self { root, incoming })
    }

    /// A new, empty, owner-only draft.
    pub(crate) fn draft(&self) -> std::io::Result<Draft> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("application-");
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
        let dir = builder.tempdir_in(&self.incoming)?;
        Ok(Draft { dir })
    }

    /// Whether the application's folder exists.
    pub(crate) fn contains(&self, application_id: &str) -> bool {
        self.root.join(application_id).exists()
    }
}

impl Draft {
    /// Writes a file of the application, owner-only, synced to disk.
    pub(crate) fn write(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(self.dir.path().join(name))?;
        file.write_all(bytes)?;
        file.sync_all()
    }

    /// Renames the draft into place as `application_id`'s folder, unless
    /// that folder already exists.
    pub(crate) fn commit(self, archive: &Archive, application_id: &str) -> std::io::Result<Committed> {
        if !is_safe_name(application_id) {
            return Err(std::io::Error::new(ErrorKind::InvalidInput, "not an application id"));
        }
        sync_dir(self.dir.path())?;
        let target = archive.root.join(application_id);
        match std::fs::rename(self.dir.path(), &target) {
            Ok(()) => {
                // Kept: it is the application's folder now.
                let _ = self.dir.keep();
                sync_dir(&archive.root)?;
                sync_dir(&archive.incoming)?;
                Ok(Committed::Stored)
            }
            Err(error) if matches!(error.kind(), ErrorKind::AlreadyExists | ErrorKind::DirectoryNotEmpty) => {
                Ok(Committed::AlreadyStored)
            }
            Err(error) => Err(error),
        }
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
    std::fs::File::open(path)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
