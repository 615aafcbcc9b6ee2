//! A draft's file uploaded a part at a time, in memory this instance keeps
//! for parts: [`PARTS_IN_MEMORY`] buffers of [`PART`] bytes, each allocated
//! once and used again by every upload. However many applications commit
//! at once, no more is held (a part waits for a free buffer), and the
//! memory stays where it is: the same buffers, not new ones each time.

use std::io::Read as _;
use std::sync::{Arc, Mutex};

use object_store::{MultipartUpload, PutPayload};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes read from a draft's file per part of an upload (S3's smallest part).
pub(super) const PART: usize = 5 << 20;

/// Buffers for parts, over all of this instance's uploads: 20 MiB.
const PARTS_IN_MEMORY: usize = 4;

/// Parts of one file in flight at once.
const PARTS_PER_FILE: usize = 2;

/// The instance's part buffers.
pub(super) struct Parts {
    /// A permit for each buffer in use.
    permits: Arc<Semaphore>,
    /// The buffers not in use.
    free: Mutex<Vec<Vec<u8>>>,
}

impl Parts {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            permits: Arc::new(Semaphore::new(PARTS_IN_MEMORY)),
            free: Mutex::new(Vec::new()),
        })
    }

    /// A buffer of [`PART`] bytes, once one is free.
    async fn take(self: &Arc<Self>) -> object_store::Result<(Vec<u8>, OwnedSemaphorePermit)> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| super::io(std::io::Error::other(e)))?;
        let buffer = self.free.lock().ok().and_then(|mut free| free.pop());
        Ok((buffer.unwrap_or_else(|| vec![0; PART]), permit))
    }
}

/// A part in one of the instance's buffers, handed to the store. Dropped
/// once the store let go of its last copy (after the part was sent, retries
/// included): its buffer goes back, and its permit to the next part.
struct Part {
    buffer: Vec<u8>,
    len: usize,
    parts: Arc<Parts>,
    _permit: OwnedSemaphorePermit,
}

impl AsRef<[u8]> for Part {
    fn as_ref(&self) -> &[u8] {
        self.buffer.get(..self.len).unwrap_or_default()
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        let buffer = std::mem::take(&mut self.buffer);
        if let Ok(mut free) = self.parts.free.lock() {
            free.push(buffer);
        }
    }
}

/// Reads `file` into `upload` a part at a time, each in a buffer of
/// `parts`, at most [`PARTS_PER_FILE`] in flight. The sends run as tasks,
/// so that parts already read go out while the next waits for a buffer.
/// An empty file is one empty part.
pub(super) async fn upload(
    parts: &Arc<Parts>,
    mut file: std::fs::File,
    upload: &mut dyn MultipartUpload,
) -> object_store::Result<()> {
    let mut in_flight = tokio::task::JoinSet::new();
    let mut sent_any = false;
    loop {
        while in_flight.len() >= PARTS_PER_FILE {
            sent(in_flight.join_next().await)?;
        }
        let (buffer, permit) = parts.take().await?;
        let (read_from, buffer, len) = tokio::task::spawn_blocking(move || read_part(file, buffer))
            .await
            .map_err(|e| super::io(std::io::Error::other(e)))?
            .map_err(super::io)?;
        file = read_from;
        let part = Part {
            buffer,
            len,
            parts: Arc::clone(parts),
            _permit: permit,
        };
        if len == 0 && sent_any {
            break;
        }
        let send = upload.put_part(PutPayload::from_bytes(bytes::Bytes::from_owner(part)));
        in_flight.spawn(send);
        sent_any = true;
        if len < PART {
            break;
        }
    }
    while let Some(joined) = in_flight.join_next().await {
        sent(Some(joined))?;
    }
    Ok(())
}

/// The next part of `file` into `buffer` (a blocking read, on a blocking
/// thread): [`PART`] bytes, fewer at its end; the file and the buffer are
/// handed back with how much was read.
fn read_part(mut file: std::fs::File, mut buffer: Vec<u8>) -> std::io::Result<(std::fs::File, Vec<u8>, usize)> {
    buffer.resize(PART, 0);
    let mut filled = 0;
    while let Some(rest) = buffer.get_mut(filled..).filter(|rest| !rest.is_empty()) {
        match file.read(rest) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok((file, buffer, filled))
}

/// A part's send, as its task ended.
fn sent(joined: Option<Result<object_store::Result<()>, tokio::task::JoinError>>) -> object_store::Result<()> {
    match joined {
        Some(Ok(result)) => result,
        Some(Err(error)) => Err(super::io(std::io::Error::other(error))),
        None => Ok(()),
    }
}
