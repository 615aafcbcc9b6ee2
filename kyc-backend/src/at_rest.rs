//! What an application's files are at rest: plaintext, or encrypted to the
//! reviewers' `age` recipients (`ARCHIVE_RECIPIENTS`) as they are written,
//! so that the service, which holds no identity, cannot read back what it
//! stored; a reviewer decrypts with `age -d -i identity` (or `rage`). An
//! encrypted file's name ends in `.age`.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::str::FromStr as _;

/// The reviewers an archive encrypts to.
#[derive(Clone)]
pub(crate) struct Recipients(Vec<age::x25519::Recipient>);

impl Recipients {
    /// `age1…` recipients, separated by commas (spaces around them
    /// allowed); at least one.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let recipients = text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                age::x25519::Recipient::from_str(item).map_err(|reason| {
                    let shown: String = item.chars().take(12).collect();
                    format!("not an age recipient (age1…): {shown}…: {reason}")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        match recipients.is_empty() {
            true => Err("no recipient".to_owned()),
            false => Ok(Self(recipients)),
        }
    }

    /// How many there are.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// A file of an application being written: finish it, or it is incomplete
/// (an encrypted one then fails to decrypt; either is removed with its
/// draft).
pub(crate) enum FileWriter {
    Plain(File),
    Encrypted(age::stream::StreamWriter<File>),
}

impl FileWriter {
    /// A new file, owner-only, at `path` (with `.age` added when
    /// encrypting to `recipients`); never one that exists.
    pub(crate) fn create(path: &Path, recipients: Option<&Recipients>) -> std::io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match recipients {
            None => Ok(Self::Plain(options.open(path)?)),
            Some(recipients) => {
                let mut name = path.as_os_str().to_owned();
                name.push(".age");
                let file = options.open(Path::new(&name))?;
                let each = recipients.0.iter().map(|r| r as &dyn age::Recipient);
                let encryptor = age::Encryptor::with_recipients(each).map_err(std::io::Error::other)?;
                Ok(Self::Encrypted(encryptor.wrap_output(file)?))
            }
        }
    }

    /// Ends the file (an encrypted one's last chunk) and syncs it to disk.
    pub(crate) fn finish(self) -> std::io::Result<()> {
        let file = match self {
            Self::Plain(file) => file,
            Self::Encrypted(stream) => stream.finish()?,
        };
        file.sync_all()
    }
}

impl Write for FileWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(file) => file.write(bytes),
            Self::Encrypted(stream) => stream.write(bytes),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Plain(file) => file.flush(),
            Self::Encrypted(stream) => stream.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_read_whole_or_refused() {
        let one = age::x25519::Identity::generate().to_public().to_string();
        let two = age::x25519::Identity::generate().to_public().to_string();
        assert_eq!(Recipients::parse(&one).unwrap().len(), 1);
        assert_eq!(Recipients::parse(&format!(" {one} , {two},")).unwrap().len(), 2);
        for bad in ["", " , ", "age1nope", "ssh-ed25519 AAAA", &format!("{one},x")] {
            assert!(Recipients::parse(bad).is_err(), "{bad}");
        }
        // The refusal shows the start of what was given, not all of it.
        let long = format!("AGE-SECRET-KEY-1{}", "Q".repeat(50));
        let refused = Recipients::parse(&long).err().unwrap();
        assert!(!refused.contains(&"Q".repeat(20)), "{refused}");
    }

    #[test]
    fn what_is_written_decrypts_with_the_identity_and_only_when_finished() {
        let identity = age::x25519::Identity::generate();
        let recipients = Recipients::parse(&identity.to_public().to_string()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("photo.jpg");
        let mut file = FileWriter::create(&path, Some(&recipients)).unwrap();
        let photo: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        file.write_all(&photo).unwrap();
        file.finish().unwrap();
        assert!(!path.exists(), "no plaintext name");
        let sealed = std::fs::read(dir.path().join("photo.jpg.age")).unwrap();
        assert!(!sealed.windows(64).any(|w| photo.windows(64).next() == Some(w)));
        let decryptor = age::Decryptor::new(&sealed[..]).unwrap();
        let mut reader = decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .unwrap();
        let mut read = Vec::new();
        std::io::Read::read_to_end(&mut reader, &mut read).unwrap();
        assert_eq!(read, photo);

        // Not finished: truncated, and age says so.
        let mut cut = FileWriter::create(&dir.path().join("cut.jpg"), Some(&recipients)).unwrap();
        cut.write_all(&photo).unwrap();
        drop(cut);
        let sealed = std::fs::read(dir.path().join("cut.jpg.age")).unwrap();
        let decryptor = age::Decryptor::new(&sealed[..]).unwrap();
        let mut reader = decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .unwrap();
        assert!(std::io::Read::read_to_end(&mut reader, &mut Vec::new()).is_err());
    }
}
