//! The PIN file a `pin-source=` names.
//!
//! Invariants: whatever is at the path, reading it ends at once and costs
//! at most [`PIN_FILE_MAX`] bytes of memory: only a regular file is read
//! (a FIFO nobody writes to, a device such as `/dev/zero`, a folder are
//! refused before any read, and the open itself never waits on a FIFO);
//! a longer file is refused, not cut. Symbolic links are followed, since
//! Kubernetes mounts secrets as links; what they lead to must be a
//! regular file all the same. No message shows what the file holds.

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, Pkcs11Problem, Result};

/// The most bytes a PIN file may hold, its newline included.
pub(crate) const PIN_FILE_MAX: usize = 256;

/// The PIN: the file's one line, without its newline (`\n` or `\r\n`).
pub(super) fn read(path: &Path) -> Result<Zeroizing<String>> {
    let problem = |problem| Error::Pkcs11 { problem, source: None };
    let unreadable = |source: Option<std::io::Error>| Error::Pkcs11 {
        problem: Pkcs11Problem::PinUnreadable { path: path.to_owned() },
        source: source.map(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
    };
    let regular = |metadata: &Metadata| match metadata.is_file() {
        true => Ok(()),
        false => Err(problem(Pkcs11Problem::PinFileNotRegular {
            path: path.to_owned(),
            found: kind(metadata),
        })),
    };
    let too_long = || {
        problem(Pkcs11Problem::PinFileTooLong {
            path: path.to_owned(),
            max: PIN_FILE_MAX,
        })
    };
    // Looked at before it is opened, since opening some devices does
    // something; and again once open, since the name may have been
    // pointed elsewhere meanwhile.
    let before = std::fs::metadata(path).map_err(|e| unreadable(Some(e)))?;
    regular(&before)?;
    let mut file = open(path).map_err(|e| unreadable(Some(e)))?;
    let metadata = file.metadata().map_err(|e| unreadable(Some(e)))?;
    regular(&metadata)?;
    if metadata.len() > PIN_FILE_MAX as u64 {
        return Err(too_long());
    }
    let mut buffer = Zeroizing::new([0u8; PIN_FILE_MAX + 1]);
    let mut length = 0;
    while let Some(rest) = buffer.get_mut(length..).filter(|rest| !rest.is_empty()) {
        match file.read(rest) {
            Ok(0) => break,
            Ok(read) => length += read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(unreadable(Some(e))),
        }
    }
    // Grown since it was looked at.
    if length > PIN_FILE_MAX {
        return Err(too_long());
    }
    let content = buffer.get(..length).unwrap_or_default();
    let line = match content.strip_suffix(b"\n") {
        Some(line) => line.strip_suffix(b"\r").unwrap_or(line),
        None => content,
    };
    if line.is_empty() || line.iter().any(|&b| b == b'\n' || b == b'\r') {
        return Err(problem(Pkcs11Problem::PinFileNotOneLine { path: path.to_owned() }));
    }
    let pin = std::str::from_utf8(line).map_err(|_| unreadable(None))?;
    Ok(Zeroizing::new(pin.to_owned()))
}

/// Opens for reading without waiting: a FIFO put in the file's place
/// after it was looked at would otherwise block the open until someone
/// writes to it.
#[cfg(unix)]
fn open(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

#[cfg(not(unix))]
fn open(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

/// What a path that is not a regular file leads to, for the message.
fn kind(metadata: &Metadata) -> &'static str {
    let file_type = metadata.file_type();
    if file_type.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    "something else"
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    fn problem(result: Result<Zeroizing<String>>) -> Pkcs11Problem {
        match result {
            Err(Error::Pkcs11 { problem, .. }) => problem,
            other => panic!("not a PKCS#11 problem: {:?}", other.map(|pin| pin.len())),
        }
    }

    #[test]
    fn a_pin_file_of_the_largest_size_is_read_whole_and_one_byte_more_is_refused() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("pin");
        std::fs::write(&path, "7".repeat(PIN_FILE_MAX)).unwrap();
        assert_eq!(read(&path).unwrap().as_str(), "7".repeat(PIN_FILE_MAX));
        std::fs::write(&path, "7".repeat(PIN_FILE_MAX + 1)).unwrap();
        assert!(matches!(problem(read(&path)), Pkcs11Problem::PinFileTooLong { .. }));
    }

    /// A regular file whose size says 0 but that holds more (as files in
    /// /proc do, or one that grew after it was looked at) is refused once
    /// its bytes pass the bound, not cut to it.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_longer_than_its_size_says_is_refused_when_read() {
        let path = Path::new("/proc/self/environ");
        assert_eq!(std::fs::metadata(path).unwrap().len(), 0);
        let content = std::fs::read(path).unwrap();
        assert!(content.len() > PIN_FILE_MAX + 1, "this test needs a longer environment");
        assert!(matches!(problem(read(path)), Pkcs11Problem::PinFileTooLong { .. }));
    }

    /// A read that fails (reading address 0 of this process's memory) is
    /// reported at once, not tried again.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_failing_read_is_reported() {
        let problem = problem(read(Path::new("/proc/self/mem")));
        assert!(matches!(problem, Pkcs11Problem::PinUnreadable { .. }), "{problem:?}");
    }

    /// A FIFO that replaced the file after it was looked at: opening it
    /// does not wait for a writer.
    #[cfg(unix)]
    #[test]
    fn opening_does_not_wait_on_a_fifo() {
        let folder = tempfile::tempdir().unwrap();
        let fifo = folder.path().join("pin");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let file = open(&fifo).unwrap();
        use std::os::unix::fs::FileTypeExt as _;
        assert!(file.metadata().unwrap().file_type().is_fifo());
    }
}
