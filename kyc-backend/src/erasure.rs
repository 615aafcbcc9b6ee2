//! Erasing an application everywhere the service keeps it: its folder in
//! this instance's archive (or its objects, with object storage), and what the shared ledger says of it (opened,
//! stored, last told), so that its page answers "unknown" and no fresh
//! request is handed out for it. For an applicant's request to be erased,
//! and for the retention that erases applications past their time.
//!
//! The ledger's "told" facts are kept: they are keyed by nonce, hold no
//! personal data, and go by themselves within a day.

use crate::archive::Archive;
use crate::ledger::{Fact, Ledger, Unavailable};

/// What an erasure found and removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Erased {
    /// The archive held the application (this instance's folder, or the
    /// object storage).
    pub(crate) folder: bool,
}

/// Why an erasure did not finish: run it again.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Unfinished {
    #[error("the archive: {0}")]
    Archive(#[from] std::io::Error),
    #[error("the object storage: {0}")]
    Objects(#[from] object_store::Error),
    #[error(transparent)]
    Ledger(#[from] Unavailable),
}

/// Erases application `id`: the folder first (what matters most), then the
/// ledger's facts. Running it again after a failure finishes it.
pub(crate) async fn erase(archive: &Archive, ledger: &Ledger, id: &str) -> Result<Erased, Unfinished> {
    let folder = match archive.objects() {
        Some(objects) => objects.erase(id).await?,
        None => archive.erase(id)?,
    };
    for fact in [Fact::Stored(id), Fact::LastTold(id), Fact::Opened(id)] {
        ledger.forget(fact).await?;
    }
    Ok(Erased { folder })
}
