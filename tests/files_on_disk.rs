//! `decrypt_to_path` as an attacker and a crash would try it: a path that is
//! a symlink, a failed check, many calls racing for one destination, a
//! reader watching the destination all along, and `kill -9` mid-way.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use telegram_passport::{client, Error, FileCredentials};

/// A file of `len` bytes, all `fill`, encrypted; and its credentials.
fn encrypted(fill: u8, len: usize) -> (Vec<u8>, FileCredentials) {
    let sealed = client::encrypt(&vec![fill; len]).unwrap();
    (sealed.data, FileCredentials::new(sealed.hash, sealed.secret))
}

/// Everything in `folder`, by name.
fn listing(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn verified_files_appear_owner_only_and_failures_leave_nothing() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("front.jpg");
    let (data, credentials) = encrypted(0xd8, 200_000);
    credentials.decrypt_to_path(&data[..], &path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), vec![0xd8; 200_000]);
    assert_eq!(listing(folder.path()), ["front.jpg"]);
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);

    // A tampered file: the old one stays, nothing else appears.
    let mut tampered = data.clone();
    tampered[100_000] ^= 1;
    let error = credentials.decrypt_to_path(&tampered[..], &path).unwrap_err();
    assert_eq!(error.to_string(), "could not decrypt file");
    assert_eq!(std::fs::read(&path).unwrap(), vec![0xd8; 200_000]);
    assert_eq!(listing(folder.path()), ["front.jpg"]);

    // A failing reader, and a file beyond the limit: the same.
    let failing = (&data[..50_000]).chain(FailingReader);
    assert!(matches!(
        credentials.decrypt_to_path(failing, &folder.path().join("b.jpg")),
        Err(Error::Io(_))
    ));
    assert!(matches!(
        credentials.decrypt_to_path(std::io::repeat(1), &folder.path().join("c.jpg")),
        Err(Error::TooLarge { .. })
    ));
    assert_eq!(listing(folder.path()), ["front.jpg"]);
}

struct FailingReader;

impl Read for FailingReader {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("connection reset"))
    }
}

#[cfg(unix)]
#[test]
fn planted_symlinks_are_replaced_never_followed() {
    let folder = tempfile::tempdir().unwrap();
    let victim = folder.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let path = folder.path().join("front.jpg");
    // At the destination, and at the name the partial file used to have.
    std::os::unix::fs::symlink(&victim, &path).unwrap();
    std::os::unix::fs::symlink(&victim, folder.path().join("front.jpg.partial")).unwrap();
    let (data, credentials) = encrypted(1, 70_000);
    credentials.decrypt_to_path(&data[..], &path).unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(std::fs::symlink_metadata(&path).unwrap().file_type().is_file());
    assert_eq!(std::fs::read(&path).unwrap(), vec![1; 70_000]);
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn racing_calls_leave_one_verified_file_and_a_reader_never_sees_another() {
    let folder = tempfile::tempdir().unwrap();
    let path: Arc<PathBuf> = Arc::new(folder.path().join("front.jpg"));
    const LEN: usize = 300_000;
    // Eight good files (each all one byte value) and eight tampered ones.
    let files: Vec<(u8, Vec<u8>, FileCredentials, bool)> = (0..16u8)
        .map(|i| {
            let (mut data, credentials) = encrypted(i + 1, LEN);
            let good = i % 2 == 0;
            if !good {
                data[LEN / 2] ^= 0x80;
            }
            (i + 1, data, credentials, good)
        })
        .collect();
    let good_fills: Vec<u8> = files.iter().filter(|f| f.3).map(|f| f.0).collect();

    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (path, done, good_fills) = (Arc::clone(&path), Arc::clone(&done), good_fills.clone());
        std::thread::spawn(move || {
            let mut seen = 0;
            while !done.load(Ordering::Relaxed) {
                if let Ok(bytes) = std::fs::read(&*path) {
                    assert_eq!(bytes.len(), LEN, "a partial file at the destination");
                    assert!(good_fills.contains(&bytes[0]), "an unverified file at the destination");
                    assert!(bytes.iter().all(|&b| b == bytes[0]), "a mix of two files");
                    seen += 1;
                }
            }
            seen
        })
    };
    for _round in 0..3 {
        std::thread::scope(|scope| {
            for (_, data, credentials, good) in &files {
                let path = Arc::clone(&path);
                scope.spawn(move || {
                    let result = credentials.decrypt_to_path(&data[..], &path);
                    assert_eq!(result.is_ok(), *good, "{result:?}");
                });
            }
        });
        let bytes = std::fs::read(&*path).unwrap();
        assert!(good_fills.contains(&bytes[0]) && bytes.iter().all(|&b| b == bytes[0]));
    }
    done.store(true, Ordering::Relaxed);
    assert!(watcher.join().unwrap() > 0, "the watcher never saw the file");
    assert_eq!(listing(folder.path()), ["front.jpg"], "temporary files left behind");
}

struct Stall;

impl Read for Stall {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        std::thread::sleep(Duration::from_secs(60));
        Ok(0)
    }
}

/// Run in a child process (this same test, with `CRASH_TEST_FOLDER` set):
/// streams half a file, then waits to be killed.
fn child_killed_mid_write(folder: &Path) {
    let (data, credentials) = encrypted(9, 1 << 20);
    let stalls_halfway = (&data[..data.len() / 2]).chain(Stall);
    let _ = credentials.decrypt_to_path(stalls_halfway, &folder.join("front.jpg"));
}

#[cfg(unix)]
#[test]
fn crash_mid_write_leaves_nothing_at_the_destination() {
    if let Some(folder) = std::env::var_os("CRASH_TEST_FOLDER") {
        child_killed_mid_write(Path::new(&folder));
        return;
    }
    let folder = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_mid_write_leaves_nothing_at_the_destination",
            "--nocapture",
        ])
        .env("CRASH_TEST_FOLDER", folder.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until half the plaintext is on disk, then kill -9.
    let deadline = Instant::now() + Duration::from_secs(30);
    let partial = loop {
        let written = listing(folder.path())
            .into_iter()
            .map(|name| folder.path().join(name))
            .find(|p| std::fs::metadata(p).map(|m| m.len() >= 256 * 1024).unwrap_or(false));
        if let Some(partial) = written {
            break partial;
        }
        assert!(Instant::now() < deadline, "the child never wrote");
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !folder.path().join("front.jpg").exists(),
        "unverified plaintext at the destination"
    );
    let name = partial.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with(".tp-") && name.ends_with(".partial"), "{name}");
    assert_eq!(mode(&partial), 0o600, "the leftover is owner-only");
}

/// Run in a child process whose working folder is the test's: writes to
/// a path with no folder part.
fn child_writes_a_bare_name() {
    let (data, credentials) = encrypted(7, 5_000);
    credentials.decrypt_to_path(&data[..], Path::new("bare.jpg")).unwrap();
}

/// A path with no folder part (`bare.jpg`) is written in the working
/// folder, its temporary file beside it.
#[test]
fn a_bare_file_name_lands_in_the_working_folder() {
    if std::env::var_os("BARE_NAME_TEST").is_some() {
        child_writes_a_bare_name();
        return;
    }
    let folder = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "a_bare_file_name_lands_in_the_working_folder"])
        .env("BARE_NAME_TEST", "1")
        .current_dir(folder.path())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read(folder.path().join("bare.jpg")).unwrap(), vec![7; 5_000]);
    assert_eq!(listing(folder.path()), ["bare.jpg"]);
}

/// A file of a decrypted passport, written where it belongs through its
/// [`FileRef`](telegram_passport::FileRef).
#[test]
fn a_passports_file_is_written_through_its_reference() {
    use telegram_passport::{ElementType, FileSlot, NonceCheck, PrivateKey};
    let key = PrivateKey::generate().unwrap();
    let sealed = client::PassportBuilder::new()
        .file(ElementType::UtilityBill, FileSlot::Files, "bill", vec![3; 70_000])
        .seal(&key.public_key(), "n")
        .unwrap();
    let passport = telegram_passport::decrypt(&key, &sealed.passport_data, NonceCheck::Skip).unwrap();
    let file = passport.address_documents().next().unwrap().files()[0].clone();
    assert_eq!(file.file_id(), Some("bill"));
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("bill.jpg");
    file.decrypt_to_path(&sealed.files["bill"][..], &path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), vec![3; 70_000]);
}
