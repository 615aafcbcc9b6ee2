//! The `decrypt` example's interface: stdout JSON on success; on failure a
//! non-zero exit, one line on stderr and nothing on stdout.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::examples::decrypt_tool;
use common::{assert_subset, b64, data_dir, load, sha256_hex};

fn run(args: &[&str]) -> (bool, String, String) {
    let output = decrypt_tool().args(args).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    (output.status.success(), stdout, stderr)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("telegram-passport-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn decrypts_passport_data_and_files() {
    let fixture = load("passport/update.json");
    let work = scratch("cli-ok");
    let (files, out) = (work.join("files"), work.join("out"));
    std::fs::create_dir_all(&files).unwrap();
    for (file_id, entry) in fixture["files"].as_object().unwrap() {
        std::fs::write(files.join(file_id), b64(&entry["encrypted"])).unwrap();
    }
    let input = work.join("update.json");
    std::fs::write(&input, serde_json::to_vec(&fixture["update"]).unwrap()).unwrap();
    let key = data_dir().join(fixture["key"].as_str().unwrap());
    let nonce = fixture["nonce"].as_str().unwrap();

    let args = [
        "--key",
        path(&key),
        "--nonce",
        nonce,
        "--files",
        path(&files),
        "--out",
        path(&out),
        path(&input),
    ];
    let (ok, stdout, stderr) = run(&args);
    assert!(ok, "{stderr}");
    let printed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_subset(&fixture["expected"], &printed, "stdout");
    for (file_id, entry) in fixture["files"].as_object().unwrap() {
        let jpeg = std::fs::read(out.join(file_id)).unwrap();
        assert_eq!(sha256_hex(&jpeg), entry["sha256"].as_str().unwrap(), "{file_id}");
    }
    std::fs::remove_dir_all(work).unwrap();
}

#[test]
fn failures_print_one_line_on_stderr_and_nothing_on_stdout() {
    let fixture = load("passport/full.json");
    let work = scratch("cli-fail");
    let input = work.join("passport_data.json");
    std::fs::write(&input, serde_json::to_vec(&fixture["passport_data"]).unwrap()).unwrap();
    let key = data_dir().join("keys/rsa2048_pkcs1.pem");
    let other_key = data_dir().join("keys/rsa4096_pkcs1.pem");
    let garbage = work.join("garbage.json");
    std::fs::write(&garbage, b"{\"data\": [").unwrap();

    let cases: [(&[&str], &str); 6] = [
        (
            &["--key", path(&key), "--nonce", "not-the-nonce", path(&input)],
            "nonce",
        ),
        (
            &["--key", path(&other_key), path(&input)],
            "could not decrypt credentials",
        ),
        (&["--key", path(&key), path(&garbage)], "malformed PassportData JSON"),
        (&["--key", path(&input), path(&input)], "not a key"),
        (&["--key", path(&key)], "INPUT is required"),
        (
            &["--key", path(&key), "--files", path(&work), path(&input)],
            "--files and --out go together",
        ),
    ];
    for (args, needle) in cases {
        let (ok, stdout, stderr) = run(args);
        assert!(!ok, "{args:?} succeeded");
        assert_eq!(stdout, "", "{args:?}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    std::fs::remove_dir_all(work).unwrap();
}

#[test]
fn reproduces_the_real_client_vector() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors/python-telegram-bot");
    if !dir.is_dir() {
        println!("SKIPPED: real-client vectors not found at {}", dir.display());
        return;
    }
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let (key, input) = (dir.join("key.pem"), dir.join("passport_data.json"));
    let nonce = expected["nonce"].as_str().unwrap();
    let (ok, stdout, stderr) = run(&["--key", path(&key), "--nonce", nonce, path(&input)]);
    assert!(ok, "{stderr}");
    let printed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // expected.json names files by bare file_id; the tool prints objects.
    let mut expected = expected.clone();
    for element in expected["elements"].as_array_mut().unwrap() {
        for (_, value) in element.as_object_mut().unwrap().iter_mut() {
            match value {
                serde_json::Value::String(id) if id.starts_with("DgAD") => {
                    *value = serde_json::json!({ "file_id": id })
                }
                serde_json::Value::Array(ids) => {
                    for id in ids.iter_mut() {
                        *id = serde_json::json!({ "file_id": id.clone() });
                    }
                }
                _ => {}
            }
        }
    }
    assert_subset(&expected, &printed, "stdout");
}

/// A passport with two front/reverse files, written for the tool: key,
/// INPUT and DIR; the second file is tampered when `tamper` is set.
fn two_files(work: &Path, tamper: bool) -> (PathBuf, PathBuf, PathBuf) {
    use telegram_passport::client::PassportBuilder;
    use telegram_passport::{ElementType, FileSlot, IdDocumentData};
    let key_path = data_dir().join("keys/rsa2048_pkcs1.pem");
    let key = common::key("keys/rsa2048_pkcs1.pem");
    let sealed = PassportBuilder::new()
        .id_document(ElementType::IdentityCard, &IdDocumentData::new("ID1", None))
        .file(
            ElementType::IdentityCard,
            FileSlot::FrontSide,
            "aaa-front",
            vec![0xaa; 70_000],
        )
        .file(
            ElementType::IdentityCard,
            FileSlot::ReverseSide,
            "zzz-back",
            vec![0xbb; 70_000],
        )
        .seal(&key.public_key(), "n")
        .unwrap();
    let files = work.join("files");
    std::fs::create_dir_all(&files).unwrap();
    for (file_id, bytes) in &sealed.files {
        let mut bytes = bytes.clone();
        if tamper && file_id == "zzz-back" {
            bytes[1000] ^= 1;
        }
        std::fs::write(files.join(file_id), bytes).unwrap();
    }
    let input = work.join("passport.json");
    std::fs::write(&input, sealed.passport_data.to_json()).unwrap();
    (key_path, input, files)
}

/// The tool's arguments for decrypting INPUT and its files from DIR into OUT.
fn with_files<'a>(key: &'a Path, files: &'a Path, out: &'a Path, input: &'a Path) -> [&'a str; 7] {
    [
        "--key",
        path(key),
        "--files",
        path(files),
        "--out",
        path(out),
        path(input),
    ]
}

fn fails_with(args: &[&str], needle: &str) {
    let (ok, stdout, stderr) = run(args);
    assert!(!ok, "{args:?} succeeded");
    assert_eq!(stdout, "", "{args:?}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
    assert!(stderr.len() < 600, "{} bytes on stderr", stderr.len());
}

#[test]
fn files_are_all_or_nothing_and_owner_only() {
    let work = scratch("cli-all-or-nothing");
    let (key, input, files) = two_files(&work, true);
    // A new OUT is not created; an existing one stays as it was.
    let out = work.join("out");
    let args = with_files(&key, &files, &out, &input);
    fails_with(&args, "could not decrypt file");
    assert!(!out.exists(), "OUT created although a file failed");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("mine.txt"), b"kept").unwrap();
    fails_with(&args, "could not decrypt file");
    let names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["mine.txt"]);
    let leftovers: Vec<_> = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // All good: both files, owner-only.
    let (key, input, files) = two_files(&work, false);
    let fresh = work.join("fresh");
    let (ok, _, stderr) = run(&with_files(&key, &files, &fresh, &input));
    assert!(ok, "{stderr}");
    assert_eq!(std::fs::read(fresh.join("aaa-front")).unwrap(), vec![0xaa; 70_000]);
    assert_eq!(std::fs::read(fresh.join("zzz-back")).unwrap(), vec![0xbb; 70_000]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&fresh), 0o700);
        assert_eq!(mode(&fresh.join("aaa-front")), 0o600);
        assert_eq!(mode(&fresh.join("zzz-back")), 0o600);
    }
    std::fs::remove_dir_all(work).unwrap();
}

#[test]
fn reads_are_bounded() {
    let work = scratch("cli-bounded");
    let (key, input, files) = two_files(&work, false);
    // INPUT beyond the 4 MiB limit: refused without reading it whole.
    let big = work.join("big.json");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(128 << 20).unwrap(); // sparse: 128 MiB of zeros
    fails_with(&["--key", path(&key), path(&big)], "larger than 4194304 bytes");
    // An encrypted file beyond the 20 MiB limit: refused, OUT untouched.
    std::fs::File::create(files.join("zzz-back"))
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let out = work.join("out");
    fails_with(&with_files(&key, &files, &out, &input), "the encrypted file is");
    assert!(!out.exists());
    std::fs::remove_dir_all(work).unwrap();
}

#[test]
fn hostile_json_gets_one_short_line() {
    let work = scratch("cli-hostile");
    let key = data_dir().join("keys/rsa2048_pkcs1.pem");
    let long = "A".repeat(200_000);
    for (name, json) in [
        ("array.json", serde_json::json!([])),
        (
            "credentials-array.json",
            serde_json::json!({"data": [], "credentials": ["a", "b", "c"]}),
        ),
        (
            "long-type.json",
            serde_json::json!({"data": [{"type": format!("x\ny{long}"), "hash": "h"}], "credentials": {"data": "", "hash": "", "secret": ""}}),
        ),
        (
            "long-hash.json",
            serde_json::json!({"data": [{"type": "email", "hash": [long]}], "credentials": {"data": "", "hash": "", "secret": ""}}),
        ),
    ] {
        let input = work.join(name);
        std::fs::write(&input, json.to_string()).unwrap();
        fails_with(&["--key", path(&key), path(&input)], "PassportData");
    }
    std::fs::remove_dir_all(work).unwrap();
}

#[test]
fn help_is_usage_on_stdout() {
    let (ok, stdout, stderr) = run(&["--help"]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("usage: decrypt --key KEY "), "{stdout}");
    assert_eq!(stderr, "");
}

/// `--tl`: the MTProto fixture's TL bytes (serialised by
/// `tests/data/mtproto_tl.py`), with its files named by their ids.
#[test]
fn decrypts_mtproto_tl() {
    let fixture = load("passport/mtproto.json");
    let work = scratch("cli-tl");
    let (files, out) = (work.join("files"), work.join("out"));
    std::fs::create_dir_all(&files).unwrap();
    for (id, entry) in fixture["files"].as_object().unwrap() {
        std::fs::write(files.join(id), common::hex(&entry["encrypted"])).unwrap();
    }
    let input = data_dir().join("passport/mtproto.tl");
    let key = data_dir().join(fixture["key"].as_str().unwrap());
    let nonce = fixture["nonce"].as_str().unwrap();
    let args = [
        "--key",
        path(&key),
        "--nonce",
        nonce,
        "--files",
        path(&files),
        "--out",
        path(&out),
        "--tl",
        path(&input),
    ];
    let (ok, stdout, stderr) = run(&args);
    assert!(ok, "{stderr}");
    let printed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(printed["nonce"], nonce);
    let types: Vec<&str> = printed["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = fixture["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, expected);
    for (id, entry) in fixture["files"].as_object().unwrap() {
        let jpeg = std::fs::read(out.join(id)).unwrap();
        assert_eq!(sha256_hex(&jpeg), entry["sha256"].as_str().unwrap(), "{id}");
    }

    // Malformed TL: one line on stderr, nothing on stdout.
    let tl = std::fs::read(&input).unwrap();
    let cut = work.join("cut.bin");
    std::fs::write(&cut, &tl[..tl.len() - 3]).unwrap();
    let (ok, stdout, stderr) = run(&["--key", path(&key), "--tl", path(&cut)]);
    assert!(!ok);
    assert_eq!(stdout, "");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("malformed MTProto TL at byte"), "{stderr}");
    std::fs::remove_dir_all(work).unwrap();
}

/// The same passport through both inputs prints the same JSON.
#[test]
fn bot_api_and_tl_input_print_the_same() {
    use telegram_passport::client::PassportBuilder;
    use telegram_passport::{Date, Gender, PersonalDetails, ResidentialAddress};
    let key_path = data_dir().join("keys/rsa2048_pkcs1.pem");
    let key = common::key("keys/rsa2048_pkcs1.pem");
    let sealed = PassportBuilder::new()
        .personal_details(&PersonalDetails::new(
            "Anna",
            "Ivanova",
            Date::new("14.03.1991"),
            Gender::Female,
            "RU",
            "DE",
        ))
        .address(&ResidentialAddress::new("Unter den Linden 5", "Berlin", "DE", "10117"))
        .phone_number("4915112345678")
        .email("anna@example.org")
        .seal(&key.public_key(), "nonce-9")
        .unwrap();
    let work = scratch("cli-same");
    let (json, tl) = (work.join("passport_data.json"), work.join("action.bin"));
    std::fs::write(&json, sealed.passport_data.to_json()).unwrap();
    std::fs::write(&tl, sealed.mtproto.to_tl_bytes()).unwrap();
    let (ok, from_json, stderr) = run(&["--key", path(&key_path), "--nonce", "nonce-9", path(&json)]);
    assert!(ok, "{stderr}");
    let (ok, from_tl, stderr) = run(&["--key", path(&key_path), "--nonce", "nonce-9", "--tl", path(&tl)]);
    assert!(ok, "{stderr}");
    assert_eq!(from_tl, from_json);
    let printed: serde_json::Value = serde_json::from_str(&from_tl).unwrap();
    assert_eq!(printed["elements"][2]["type"], "phone_number");
    assert_eq!(printed["elements"][2]["phone_number"], "4915112345678");
    std::fs::remove_dir_all(work).unwrap();
}

#[cfg(unix)]
mod out_folder {
    //! What the tool does to OUT: it never replaces or removes what it did not
    //! write, on failure leaves OUT as it was, and a killed run is undone by the
    //! next run with the same OUT.

    use std::process::{Output, Stdio};

    use super::*;

    /// `passport/update.json` written for the tool in `work`: three files in
    /// `work/files`, named by their file ids.
    struct Update {
        key: PathBuf,
        input: PathBuf,
        files: PathBuf,
        /// The file ids: the names the tool writes in OUT.
        ids: Vec<String>,
    }

    impl Update {
        fn new(work: &Path) -> Self {
            let fixture = load("passport/update.json");
            let files = work.join("files");
            std::fs::create_dir_all(&files).unwrap();
            let mut ids = Vec::new();
            for (file_id, entry) in fixture["files"].as_object().unwrap() {
                std::fs::write(files.join(file_id), b64(&entry["encrypted"])).unwrap();
                ids.push(file_id.clone());
            }
            assert_eq!(ids.len(), 3);
            let input = work.join("update.json");
            std::fs::write(&input, serde_json::to_vec(&fixture["update"]).unwrap()).unwrap();
            let key = data_dir().join(fixture["key"].as_str().unwrap());
            Self { key, input, files, ids }
        }

        fn args<'a>(&'a self, out: &'a Path) -> [&'a str; 7] {
            with_files(&self.key, &self.files, out, &self.input)
        }

        /// Flips one bit of the last file: its decryption fails after the
        /// others succeeded.
        fn tamper(&self, on: bool) {
            let path = self.files.join(&self.ids[2]);
            let mut bytes = std::fs::read(&path).unwrap();
            let fixture = load("passport/update.json");
            let original = b64(&fixture["files"][&self.ids[2]]["encrypted"]);
            bytes.copy_from_slice(&original);
            if on {
                bytes[100] ^= 1;
            }
            std::fs::write(path, bytes).unwrap();
        }
    }

    /// What is at `root`, recursively, links not followed: each path with its
    /// kind, permission bits, and contents or link target.
    fn listing(root: &Path) -> Vec<(PathBuf, String)> {
        use std::os::unix::fs::PermissionsExt;
        let mut entries = Vec::new();
        let mut todo = vec![root.to_owned()];
        while let Some(path) = todo.pop() {
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            let what = if meta.is_symlink() {
                format!("link {mode:o} -> {}", std::fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                for entry in std::fs::read_dir(&path).unwrap() {
                    todo.push(entry.unwrap().path());
                }
                format!("dir {mode:o}")
            } else if meta.is_file() {
                format!("file {mode:o} {}", sha256_hex(&std::fs::read(&path).unwrap()))
            } else {
                format!("{:?} {mode:o}", meta.file_type())
            };
            entries.push((path.strip_prefix(root).unwrap().to_owned(), what));
        }
        entries.sort();
        entries
    }

    /// Every path under `root` whose name says it is the tool's working file.
    fn leftovers(root: &Path) -> Vec<PathBuf> {
        listing(root)
            .into_iter()
            .map(|(path, _)| path)
            .filter(|path| {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                name.starts_with(".decrypt-") || name.starts_with(".tp-")
            })
            .collect()
    }

    /// A failed run: exit 1, one line on stderr holding `needle`, nothing on
    /// stdout.
    fn assert_failed(output: &Output, needle: &str) {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            output.stdout.is_empty(),
            "stdout: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }

    /// `strace`, to inject faults and kills at the tool's system calls.
    fn strace(args: &[&str]) -> Command {
        let found = Command::new("strace").arg("-V").output();
        assert!(
            found.is_ok_and(|o| o.status.success()),
            "these tests need strace (Debian: apt-get install strace)"
        );
        let mut command = Command::new("strace");
        command.args(["-f", "-o", "/dev/null"]).args(args);
        command
    }

    /// The decrypt tool under `strace` with `args` (before the tool's own).
    fn traced(strace_args: &[&str], tool_args: &[&str]) -> Output {
        let tool = decrypt_tool();
        strace(strace_args)
            .arg(tool.get_program())
            .args(tool_args)
            .output()
            .unwrap()
    }

    #[test]
    fn names_out_already_holds_are_refused_before_anything_is_written() {
        let work = scratch("cli-taken");
        let update = Update::new(&work);
        let out = work.join("out");
        type Make = fn(&Path);
        let kinds: [(&str, Make); 4] = [
            ("file", |p| std::fs::write(p, b"the user's own").unwrap()),
            ("folder", |p| std::fs::create_dir(p).unwrap()),
            ("symlink", |p| std::os::unix::fs::symlink("../update.json", p).unwrap()),
            ("dangling symlink", |p| {
                std::os::unix::fs::symlink("nowhere", p).unwrap()
            }),
        ];
        for (kind, make) in kinds {
            for taken in 0..3 {
                let _ = std::fs::remove_dir_all(&out);
                std::fs::create_dir(&out).unwrap();
                // The user's own files: two under names the run writes, and a
                // folder in the way under a third (or `kind` there), and
                // unrelated names.
                std::fs::write(out.join("f1"), b"one").unwrap();
                std::fs::create_dir(out.join("f3")).unwrap();
                std::fs::write(out.join("f3/inside"), b"three").unwrap();
                make(&out.join(&update.ids[taken]));
                if taken != 0 {
                    std::fs::write(out.join(&update.ids[0]), b"mine too").unwrap();
                }
                let before = listing(&work);
                let output = decrypt_tool().args(update.args(&out)).output().unwrap();
                assert_failed(&output, "already exists");
                assert_eq!(listing(&work), before, "{kind} at file {taken}");
                assert_eq!(leftovers(&work), Vec::<PathBuf>::new());
            }
        }
        // With none of its names taken, the same OUT receives the files beside
        // the user's.
        std::fs::remove_dir_all(&out).unwrap();
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("f1"), b"one").unwrap();
        let (ok, _, stderr) = run(&update.args(&out));
        assert!(ok, "{stderr}");
        assert_eq!(std::fs::read(out.join("f1")).unwrap(), b"one");
        for id in &update.ids {
            assert!(out.join(id).is_file(), "{id}");
        }
        assert_eq!(leftovers(&work), Vec::<PathBuf>::new());
        std::fs::remove_dir_all(work).unwrap();
    }

    /// Every link into OUT, and the commit, failing in turn (EIO injected):
    /// OUT as it was, nothing left behind.
    #[test]
    #[cfg_attr(no_strace, ignore = "needs strace (apt-get install strace)")]
    fn a_failed_link_or_commit_leaves_out_as_it_was() {
        let work = scratch("cli-eio");
        let update = Update::new(&work);
        let out = work.join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("f1"), b"one").unwrap();
        std::fs::create_dir(out.join("f3")).unwrap();
        let before = listing(&work);
        // std's hard_link is linkat; the commit is the only rename (tempfile's
        // own are renameat).
        for fault in [
            "linkat:error=EIO:when=1",
            "linkat:error=EIO:when=2",
            "linkat:error=EIO:when=3",
            "rename:error=EIO:when=1",
        ] {
            let output = traced(&["-e", &format!("inject={fault}")], &update.args(&out));
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(1), "{fault}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{fault}: {stderr}");
            assert!(stderr.contains("Input/output error"), "{fault}: {stderr}");
            if fault.starts_with("linkat") {
                assert!(output.stdout.is_empty(), "{fault}");
            }
            assert_eq!(listing(&work), before, "{fault}");
            assert_eq!(leftovers(&work), Vec::<PathBuf>::new(), "{fault}");
        }
        // A missing OUT is created, and removed again with its new parents.
        let deep = work.join("new/deeper/out");
        for fault in ["linkat:error=EIO:when=2", "rename:error=EIO:when=1"] {
            let output = traced(&["-e", &format!("inject={fault}")], &update.args(&deep));
            assert_eq!(output.status.code(), Some(1), "{fault}");
            assert_eq!(listing(&work), before, "{fault}");
        }
        std::fs::remove_dir_all(work).unwrap();
    }

    /// Killed at each link, and at the commit: plaintext only inside OUT, the
    /// rest in an owner-only hidden folder there; the next run first undoes
    /// the killed one.
    #[test]
    #[cfg_attr(no_strace, ignore = "needs strace (apt-get install strace)")]
    fn a_killed_run_is_undone_by_the_next_run() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
        let work = scratch("cli-killed");
        let update = Update::new(&work);
        let out = work.join("out");
        for kill in [
            "linkat:signal=SIGKILL:when=1",
            "linkat:signal=SIGKILL:when=2",
            "linkat:signal=SIGKILL:when=3",
            "rename:signal=SIGKILL:when=1",
        ] {
            let _ = std::fs::remove_dir_all(&out);
            std::fs::create_dir(&out).unwrap();
            std::fs::write(out.join("f1"), b"one").unwrap();
            std::fs::create_dir(out.join("f3")).unwrap();
            let before = listing(&work);
            let output = traced(&["-e", &format!("inject={kill}")], &update.args(&out));
            assert!(!output.status.success(), "{kill}");

            // Beside OUT nothing new; in OUT the user's entries, the names
            // linked so far (owner-only) and one owner-only staging folder.
            let after = listing(&work);
            let outside = |l: &[(PathBuf, String)]| -> Vec<(PathBuf, String)> {
                l.iter().filter(|(p, _)| !p.starts_with("out")).cloned().collect()
            };
            assert_eq!(outside(&after), outside(&before), "{kill}");
            let staging: Vec<PathBuf> = std::fs::read_dir(&out)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with(".decrypt-staging-")
                })
                .collect();
            assert_eq!(staging.len(), 1, "{kill}: {after:?}");
            assert_eq!(mode(&staging[0]), 0o700, "{kill}");
            for id in &update.ids {
                assert_eq!(mode(&staging[0].join(id)), 0o600, "{kill}: {id}");
                if out.join(id).exists() {
                    assert_eq!(mode(&out.join(id)), 0o600, "{kill}: {id}");
                }
            }

            // The next run undoes the killed one before its own work; failing
            // itself, it leaves OUT as it was before the killed run.
            update.tamper(true);
            let output = decrypt_tool().args(update.args(&out)).output().unwrap();
            update.tamper(false);
            assert_failed(&output, "could not decrypt file");
            assert_eq!(listing(&work), before, "{kill}");

            // Killed again; then a run that succeeds writes every file.
            let output = traced(&["-e", &format!("inject={kill}")], &update.args(&out));
            assert!(!output.status.success(), "{kill}");
            let (ok, stdout, stderr) = run(&update.args(&out));
            assert!(ok, "{kill}: {stderr}");
            assert!(stdout.starts_with('{'), "{kill}");
            for id in &update.ids {
                assert!(out.join(id).is_file(), "{kill}: {id}");
            }
            assert_eq!(std::fs::read(out.join("f1")).unwrap(), b"one");
            assert!(out.join("f3").is_dir());
            assert_eq!(leftovers(&work), Vec::<PathBuf>::new(), "{kill}");
        }
        std::fs::remove_dir_all(work).unwrap();
    }

    /// Killed after its commit, at each removal in its done folder (its
    /// three files, its `.lock`, the folder): its files are kept, and the
    /// next run only removes that folder, saying nothing.
    #[test]
    #[cfg_attr(no_strace, ignore = "needs strace (apt-get install strace)")]
    fn a_run_killed_after_its_commit_keeps_its_files() {
        let work = scratch("cli-killed-late");
        let update = Update::new(&work);
        let empty = work.join("empty");
        std::fs::create_dir(&empty).unwrap();
        for kill in ["unlink:when=1", "unlink:when=4", "rmdir:when=1"] {
            let out = work.join("out");
            let _ = std::fs::remove_dir_all(&out);
            let output = traced(&["-e", &format!("inject={kill}:signal=SIGKILL")], &update.args(&out));
            assert!(!output.status.success(), "{kill}");
            let left = leftovers(&out);
            assert_eq!(left.len(), 1, "{kill}: {left:?}");
            assert!(
                left[0].to_string_lossy().starts_with(".decrypt-done-"),
                "{kill}: {left:?}"
            );
            let (ok, _, stderr) = run(&with_files(&update.key, &empty, &out, &update.input));
            assert!(ok, "{kill}: {stderr}");
            assert_eq!(stderr, "", "{kill}");
            for id in &update.ids {
                assert!(out.join(id).is_file(), "{kill}: {id}");
            }
            assert_eq!(leftovers(&work), Vec::<PathBuf>::new(), "{kill}");
        }
        std::fs::remove_dir_all(work).unwrap();
    }

    /// Killed while it made its folder: before its `.lock` was locked, and
    /// before the marker was written. The next run removes that folder,
    /// saying nothing: nothing was linked yet.
    #[test]
    #[cfg_attr(no_strace, ignore = "needs strace (apt-get install strace)")]
    fn a_run_killed_while_making_its_folder_is_undone() {
        let work = scratch("cli-killed-early");
        let update = Update::new(&work);
        let out = work.join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("f1"), b"one").unwrap();
        let before = listing(&work);
        // The first flock is OUT's, the second the new `.lock`'s; the first
        // write is the marker.
        for kill in ["flock:when=2", "write:when=1"] {
            let output = traced(&["-e", &format!("inject={kill}:signal=SIGKILL")], &update.args(&out));
            assert!(!output.status.success(), "{kill}");
            let left = leftovers(&out);
            assert_eq!(left.len(), 1, "{kill}: {left:?}");
            let marker = std::fs::symlink_metadata(out.join(&left[0]).join(".lock"));
            assert!(marker.is_ok_and(|m| m.is_file() && m.len() == 0), "{kill}");
            update.tamper(true);
            let output = decrypt_tool().args(update.args(&out)).output().unwrap();
            update.tamper(false);
            assert_failed(&output, "could not decrypt file");
            assert_eq!(listing(&work), before, "{kill}");
        }
        std::fs::remove_dir_all(work).unwrap();
    }

    /// OUT on its own file system: the staging folder is inside OUT, so the
    /// links stay on one file system.
    #[test]
    fn out_may_be_a_mount_point() {
        struct Mounted(PathBuf);
        impl Drop for Mounted {
            fn drop(&mut self) {
                let _ = Command::new("umount").arg(&self.0).status();
            }
        }
        let work = scratch("cli-mount");
        let update = Update::new(&work);
        let out = work.join("out");
        std::fs::create_dir(&out).unwrap();
        let mount = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs"])
            .arg(&out)
            .output();
        let mounted = matches!(&mount, Ok(o) if o.status.success());
        assert!(
            mounted,
            "this test mounts a tmpfs on OUT and needs the right to (root, CAP_SYS_ADMIN): {mount:?}"
        );
        let guard = Mounted(out.clone());
        let (ok, _, stderr) = run(&update.args(&out));
        assert!(ok, "{stderr}");
        for id in &update.ids {
            assert!(out.join(id).is_file(), "{id}");
        }
        assert_eq!(leftovers(&work), Vec::<PathBuf>::new());
        drop(guard);
        std::fs::remove_dir_all(work).unwrap();
    }

    /// stdout on a full disk or a pipe nobody reads: exit 1 with one line on
    /// stderr, never a panic; with OUT, no file is kept.
    #[test]
    fn a_failed_stdout_is_exit_1_and_keeps_no_file() {
        let work = scratch("cli-stdout");
        let update = Update::new(&work);
        let (existing, missing) = (work.join("out"), work.join("missing"));
        std::fs::create_dir(&existing).unwrap();
        std::fs::write(existing.join("f1"), b"one").unwrap();
        let before = listing(&work);
        let full = || Stdio::from(std::fs::File::create("/dev/full").unwrap());
        // A pipe whose reader is gone: SIGPIPE is ignored, the write is EPIPE.
        let closed = || {
            let (reader, writer) = std::io::pipe().unwrap();
            drop(reader);
            Stdio::from(writer)
        };
        let plain = ["--key", path(&update.key), path(&update.input)];
        let runs: [(&str, &[&str]); 4] = [
            ("plain", &plain),
            ("help", &["--help"]),
            ("existing OUT", &update.args(&existing)),
            ("missing OUT", &update.args(&missing)),
        ];
        for (what, args) in runs {
            for (sink, stdout, needle) in [
                ("/dev/full", full(), "No space left on device"),
                ("closed pipe", closed(), "Broken pipe"),
            ] {
                let output = decrypt_tool().args(args).stdout(stdout).output().unwrap();
                assert_failed(&output, needle);
                assert!(
                    String::from_utf8_lossy(&output.stderr).contains("stdout"),
                    "{what}, {sink}"
                );
                assert_eq!(listing(&work), before, "{what}, {sink}");
            }
        }
        // A reader that takes one byte and goes: the JSON is smaller than the
        // pipe's buffer, so the tool may well finish first; whichever, no panic.
        let mut child = decrypt_tool()
            .args(update.args(&existing))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut reader = child.stdout.take().unwrap();
        std::io::Read::read_exact(&mut reader, &mut [0; 1]).unwrap();
        drop(reader);
        let output = child.wait_with_output().unwrap();
        assert!(matches!(output.status.code(), Some(0 | 1)), "{output:?}");
        assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
        std::fs::remove_dir_all(work).unwrap();
    }

    /// stderr on a full disk: the exit status alone tells of the failure.
    #[test]
    fn a_failed_stderr_still_exits_non_zero() {
        let full = || Stdio::from(std::fs::File::create("/dev/full").unwrap());
        let key = data_dir().join("keys/rsa2048_pkcs1.pem");
        for (args, code) in [
            (&["--no-such-option"][..], 2),
            (&["--key", path(&key), "/no/such/input.json"][..], 1),
        ] {
            let output = decrypt_tool().args(args).stderr(full()).output().unwrap();
            assert_eq!(output.status.code(), Some(code), "{args:?}");
            assert!(output.stdout.is_empty());
            let output = decrypt_tool()
                .args(args)
                .stdout(full())
                .stderr(full())
                .output()
                .unwrap();
            assert_eq!(output.status.code(), Some(code), "{args:?}");
        }
        let output = decrypt_tool()
            .arg("--help")
            .stdout(full())
            .stderr(full())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1));
    }

    /// A run of `update` killed at its second link into `out`: its staging
    /// folder, and the one name it linked.
    fn killed_after_one_link(update: &Update, out: &Path) -> (PathBuf, String) {
        let before = if out.exists() { leftovers(out) } else { Vec::new() };
        let output = traced(&["-e", "inject=linkat:signal=SIGKILL:when=2"], &update.args(out));
        assert!(!output.status.success());
        let linked: Vec<&String> = update.ids.iter().filter(|id| out.join(id).exists()).collect();
        assert_eq!(linked.len(), 1, "{linked:?}");
        let staging: Vec<PathBuf> = leftovers(out)
            .into_iter()
            .filter(|p| !before.contains(p))
            .map(|p| out.join(p))
            .collect();
        assert_eq!(staging.len(), 1, "{staging:?}");
        (staging[0].clone(), linked[0].clone())
    }

    /// The tool writing a second passport, whose files have other names
    /// than `Update`'s, into `out`; fails the test unless it succeeds within
    /// a few seconds. Returns its stderr.
    fn other_run(work: &Path, out: &Path) -> String {
        let other = work.join("other");
        if !other.exists() {
            std::fs::create_dir(&other).unwrap();
            two_files(&other, false);
        }
        let (key, input, files) = (
            data_dir().join("keys/rsa2048_pkcs1.pem"),
            other.join("passport.json"),
            other.join("files"),
        );
        for name in ["aaa-front", "zzz-back"] {
            let _ = std::fs::remove_file(out.join(name));
        }
        let mut child = decrypt_tool()
            .args(with_files(&key, &files, out, &input))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > std::time::Duration::from_secs(5) {
                let _ = child.kill();
                panic!("the run still waits after 5 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(output.status.success(), "{stderr}");
        for name in ["aaa-front", "zzz-back"] {
            assert!(out.join(name).is_file(), "{name}");
        }
        stderr
    }

    /// `listing(out)` without the names [`other_run`] writes.
    fn listing_but_other(out: &Path) -> Vec<(PathBuf, String)> {
        let mut entries = listing(out);
        entries.retain(|(p, _)| p != Path::new("aaa-front") && p != Path::new("zzz-back"));
        entries
    }

    fn mkfifo(path: &Path) {
        let made = Command::new("mkfifo").arg(path).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo {}", path.display());
    }

    fn chmod(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Hard links to the user's file and to the user's symlink, in folders
    /// named like the tool's (owner-only or not, without a marker or with a
    /// killed run's copied in) and inside a killed run's own folder: the
    /// next run removes neither, nor anything in the planted folders, and
    /// names each planted folder on stderr.
    #[test]
    #[cfg_attr(no_strace, ignore = "needs strace (apt-get install strace)")]
    fn recovery_never_removes_what_a_killed_run_did_not_link() {
        let work = scratch("cli-planted-links");
        let update = Update::new(&work);
        let out = work.join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("precious.txt"), b"the user's own").unwrap();
        std::os::unix::fs::symlink("precious.txt", out.join("precious-link")).unwrap();
        let (donor, _) = killed_after_one_link(&update, &work.join("donor"));
        let planted = [
            (".decrypt-staging-fake", 0o700, false),
            (".decrypt-staging-open", 0o755, false),
            (".decrypt-staging-copied", 0o700, true),
            (".decrypt-done-fake", 0o700, false),
        ];
        for (name, mode, marker) in planted {
            let folder = out.join(name);
            std::fs::create_dir(&folder).unwrap();
            for file in ["precious.txt", "precious-link"] {
                std::fs::hard_link(out.join(file), folder.join(file)).unwrap();
            }
            if marker {
                std::fs::copy(donor.join(".lock"), folder.join(".lock")).unwrap();
            }
            chmod(&folder, mode);
        }
        // A killed run's own folder, with the user's file linked in beside
        // what the run staged.
        let (staging, linked) = killed_after_one_link(&update, &out);
        for file in ["precious.txt", "precious-link"] {
            std::fs::hard_link(out.join(file), staging.join(file)).unwrap();
        }
        let mut expected = listing(&out);
        let staging_name = staging.strip_prefix(&out).unwrap().to_owned();
        expected.retain(|(p, _)| !p.starts_with(&staging_name) && p != Path::new(&linked));

        let stderr = other_run(&work, &out);
        assert_eq!(listing_but_other(&out), expected);
        assert_eq!(std::fs::read(out.join("precious.txt")).unwrap(), b"the user's own");
        assert_eq!(
            std::fs::read_link(out.join("precious-link")).unwrap(),
            Path::new("precious.txt")
        );
        assert_eq!(stderr.lines().count(), planted.len(), "{stderr}");
        for (name, _, _) in planted {
            assert!(
                stderr.lines().any(|line| line.contains(&format!("{name} alone: "))),
                "{name}: {stderr}"
            );
        }
        std::fs::remove_dir_all(work).unwrap();
    }

    /// A name a killed run linked, changed since: another link to it, or
    /// replaced by the user's file, a link to the user's file, or a
    /// symlink. The next run leaves it as it is and says so; the killed
    /// run's folder goes.
    #[test]
    #[cfg_attr(no_strace, ignore = "needs strace (apt-get install strace)")]
    fn recovery_removes_a_name_only_while_it_is_the_file_the_run_linked() {
        let work = scratch("cli-changed-link");
        let update = Update::new(&work);
        let out = work.join("out");
        type Change = fn(&Path, &Path);
        let changes: [(&str, Change); 4] = [
            ("another link", |name, work| {
                std::fs::hard_link(name, work.join("backup")).unwrap()
            }),
            ("the user's file", |name, _| {
                std::fs::remove_file(name).unwrap();
                std::fs::write(name, b"the user's own").unwrap();
            }),
            ("a link to the user's file", |name, _| {
                std::fs::remove_file(name).unwrap();
                std::fs::hard_link(name.with_file_name("precious.txt"), name).unwrap();
            }),
            ("a symlink", |name, _| {
                std::fs::remove_file(name).unwrap();
                std::os::unix::fs::symlink("precious.txt", name).unwrap();
            }),
        ];
        for (change, make) in changes {
            let _ = std::fs::remove_dir_all(&out);
            let _ = std::fs::remove_file(work.join("backup"));
            std::fs::create_dir(&out).unwrap();
            std::fs::write(out.join("precious.txt"), b"precious").unwrap();
            let (staging, linked) = killed_after_one_link(&update, &out);
            make(&out.join(&linked), &work);
            let mut expected = listing(&out);
            let staging_name = staging.strip_prefix(&out).unwrap().to_owned();
            expected.retain(|(p, _)| !p.starts_with(&staging_name));

            let stderr = other_run(&work, &out);
            assert_eq!(listing_but_other(&out), expected, "{change}");
            assert_eq!(stderr.lines().count(), 1, "{change}: {stderr}");
            assert!(
                stderr.contains(&format!("{linked} alone: not the file a killed run linked there")),
                "{change}: {stderr}"
            );
            assert_eq!(std::fs::read(out.join("precious.txt")).unwrap(), b"precious");
        }
        std::fs::remove_dir_all(work).unwrap();
    }

    /// A FIFO as `.lock`, or a symlink to one, in a planted folder (with the
    /// mode of a real one or not): the next run neither waits on it nor
    /// holds OUT's lock meanwhile; the FIFOs stay.
    #[test]
    fn recovery_never_waits_on_a_planted_lock() {
        let work = scratch("cli-fifo-lock");
        let update = Update::new(&work);
        let out = work.join("out");
        std::fs::create_dir(&out).unwrap();
        let fifo = work.join("fifo");
        mkfifo(&fifo);
        let planted = [
            (".decrypt-staging-f", 0o700, ".lock is not a regular file"),
            (".decrypt-staging-g", 0o755, "its mode is 755, not 700"),
            (".decrypt-staging-h", 0o700, "cannot open its .lock"),
            (".decrypt-done-i", 0o700, ".lock is not a regular file"),
        ];
        for (name, mode, _) in planted {
            let folder = out.join(name);
            std::fs::create_dir(&folder).unwrap();
            match name {
                ".decrypt-staging-h" => std::os::unix::fs::symlink(&fifo, folder.join(".lock")).unwrap(),
                _ => mkfifo(&folder.join(".lock")),
            }
            chmod(&folder, mode);
        }
        let expected = listing(&out);
        let stderr = other_run(&work, &out);
        assert_eq!(listing_but_other(&out), expected);
        assert_eq!(stderr.lines().count(), planted.len(), "{stderr}");
        for (name, _, why) in planted {
            assert!(
                stderr.contains(&format!("{name} alone: not provably this tool's ({why}")),
                "{name}: {stderr}"
            );
        }
        // OUT is not locked: the next run goes through too.
        let (ok, _, stderr) = run(&update.args(&out));
        assert!(ok, "{stderr}");
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        std::fs::remove_dir_all(work).unwrap();
    }

    /// A killed run's folder, changed so that it no longer proves itself the
    /// tool's: the next run leaves it and the name it linked alone, and
    /// says so in one line.
    #[test]
    #[cfg_attr(no_strace, ignore = "needs strace (apt-get install strace)")]
    fn recovery_leaves_folders_it_cannot_prove_its_own() {
        let work = scratch("cli-unproven");
        let update = Update::new(&work);
        let out = work.join("out");
        type Change = fn(&Path);
        let changes: [(&str, &str, Change); 11] = [
            ("folder mode 755", "its mode is 755", |s| chmod(s, 0o755)),
            ("folder mode 770", "its mode is 770", |s| chmod(s, 0o770)),
            (".lock readable by others", ".lock is not this user's alone", |s| {
                chmod(&s.join(".lock"), 0o644)
            }),
            (".lock with another link", ".lock is not this user's alone", |s| {
                std::fs::hard_link(s.join(".lock"), s.with_file_name("lock-link")).unwrap()
            }),
            (".lock a symlink to the marker", "cannot open its .lock", |s| {
                std::fs::rename(s.join(".lock"), s.join("marker")).unwrap();
                std::os::unix::fs::symlink("marker", s.join(".lock")).unwrap();
            }),
            (".lock a FIFO", ".lock is not a regular file", |s| {
                std::fs::remove_file(s.join(".lock")).unwrap();
                mkfifo(&s.join(".lock"));
            }),
            ("no .lock", "it holds no .lock", |s| {
                std::fs::remove_file(s.join(".lock")).unwrap()
            }),
            ("marker emptied", ".lock is not this tool's marker", |s| {
                std::fs::write(s.join(".lock"), b"").unwrap()
            }),
            ("marker of another format", ".lock is not this tool's marker", |s| {
                let text = std::fs::read_to_string(s.join(".lock")).unwrap();
                let (_, rest) = text.split_once('\n').unwrap();
                std::fs::write(s.join(".lock"), format!("some other tool 1\n{rest}")).unwrap();
            }),
            ("marker cut short", ".lock is not this tool's marker", |s| {
                let text = std::fs::read_to_string(s.join(".lock")).unwrap();
                std::fs::write(s.join(".lock"), &text[..text.len() - 1]).unwrap();
            }),
            (
                "marker of another folder",
                "its .lock is the marker of another folder",
                |s| {
                    let copy = s.with_file_name(".decrypt-staging-copy");
                    std::fs::create_dir(&copy).unwrap();
                    chmod(&copy, 0o700);
                    for entry in std::fs::read_dir(s).unwrap() {
                        let entry = entry.unwrap();
                        std::fs::rename(entry.path(), copy.join(entry.file_name())).unwrap();
                    }
                    std::fs::remove_dir(s).unwrap();
                },
            ),
        ];
        for (change, why, make) in changes {
            let _ = std::fs::remove_dir_all(&out);
            std::fs::create_dir(&out).unwrap();
            let (staging, _) = killed_after_one_link(&update, &out);
            make(&staging);
            let expected = listing(&out);
            let stderr = other_run(&work, &out);
            assert_eq!(listing_but_other(&out), expected, "{change}");
            assert_eq!(stderr.lines().count(), 1, "{change}: {stderr}");
            let name = staging.file_name().unwrap().to_str().unwrap();
            let name = match change {
                "marker of another folder" => ".decrypt-staging-copy",
                _ => name,
            };
            assert!(
                stderr.contains(&format!("{name} alone: not provably this tool's ({why}")),
                "{change}: {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{change}: {stderr}");
        }
        std::fs::remove_dir_all(work).unwrap();
    }

    /// A killed run's folder, or its `.lock`, given to another user: left
    /// alone. Needs root, to give files away.
    #[test]
    #[cfg_attr(no_strace, ignore = "needs strace (apt-get install strace)")]
    fn recovery_leaves_other_users_folders_alone() {
        let work = scratch("cli-other-user");
        let update = Update::new(&work);
        let out = work.join("out");
        for (target, why) in [
            ("", "owned by uid 65534, not by this user"),
            (".lock", ".lock is not this user's alone"),
        ] {
            let _ = std::fs::remove_dir_all(&out);
            std::fs::create_dir(&out).unwrap();
            let (staging, _) = killed_after_one_link(&update, &out);
            let given = std::os::unix::fs::chown(staging.join(target), Some(65534), Some(65534));
            assert!(
                given.is_ok(),
                "this test gives a file to another user and needs the right to (root, CAP_CHOWN): {given:?}"
            );
            let expected = listing(&out);
            let stderr = other_run(&work, &out);
            assert_eq!(listing_but_other(&out), expected, "{target}");
            assert_eq!(stderr.lines().count(), 1, "{target}: {stderr}");
            assert!(
                stderr.contains(&format!("alone: not provably this tool's ({why})")),
                "{target}: {stderr}"
            );
        }
        std::fs::remove_dir_all(work).unwrap();
    }

    /// A run started while another is between its links does not undo the
    /// live one: that run holds its folder's lock.
    #[test]
    #[cfg_attr(no_strace, ignore = "needs strace (apt-get install strace)")]
    fn recovery_leaves_a_live_run_alone() {
        let work = scratch("cli-live");
        let update = Update::new(&work);
        let out = work.join("out");
        std::fs::create_dir(&out).unwrap();
        // The first run pauses for two seconds before its second link.
        let tool = decrypt_tool();
        let slow = strace(&["-e", "inject=linkat:delay_enter=2000000:when=2"])
            .arg(tool.get_program())
            .args(update.args(&out))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let first = out.join(&update.ids[0]);
        let started = std::time::Instant::now();
        while !first.exists() {
            assert!(started.elapsed().as_secs() < 20, "the first run never linked a file");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // Meanwhile a second passport into the same OUT.
        let other = work.join("other");
        std::fs::create_dir(&other).unwrap();
        let (key, input, files) = two_files(&other, false);
        let (ok, _, stderr) = run(&with_files(&key, &files, &out, &input));
        assert!(ok, "{stderr}");
        assert!(first.is_file(), "the second run undid the live one");
        let slow = slow.wait_with_output().unwrap();
        assert!(slow.status.success(), "{}", String::from_utf8_lossy(&slow.stderr));
        for name in update.ids.iter().map(String::as_str).chain(["aaa-front", "zzz-back"]) {
            assert!(out.join(name).is_file(), "{name}");
        }
        assert_eq!(leftovers(&work), Vec::<PathBuf>::new());
        std::fs::remove_dir_all(work).unwrap();
    }
}

/// Whatever a path or a message holds, stderr gets one line of visible
/// text: line and paragraph separators and bidirectional controls escaped.
#[test]
fn error_lines_escape_separators_and_bidi_controls() {
    let work = scratch("cli-escape");
    for c in [
        '\n', '\u{2028}', '\u{2029}', '\u{061c}', '\u{200e}', '\u{202e}', '\u{2066}', '\u{85}',
    ] {
        let missing = work.join(format!("no{c}such"));
        let (ok, stdout, stderr) = run(&["--key", path(&missing), path(&missing)]);
        assert!(!ok && stdout.is_empty());
        assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
        assert!(
            !stderr.trim_end_matches('\n').contains(c),
            "U+{:04X}: {stderr:?}",
            c as u32
        );
    }
    std::fs::remove_dir_all(work).unwrap();
}

#[test]
fn several_keys_open_what_was_sealed_to_either_the_first_tried_first() {
    let work = scratch("cli-ring");
    let (new, old) = (
        common::key("keys/rsa2048_pkcs1.pem"),
        common::key("keys/rsa4096_pkcs1.pem"),
    );
    let (new_path, old_path) = (
        data_dir().join("keys/rsa2048_pkcs1.pem"),
        data_dir().join("keys/rsa4096_pkcs1.pem"),
    );
    for (key, name) in [(&new, "to-new"), (&old, "to-old")] {
        let sealed = telegram_passport::client::PassportBuilder::new()
            .email("a@example.org")
            .seal(&key.public_key(), name)
            .unwrap();
        let input = work.join(format!("{name}.json"));
        std::fs::write(&input, sealed.passport_data.to_json()).unwrap();
        let (ok, stdout, stderr) = run(&["--key", path(&new_path), "--key", path(&old_path), path(&input)]);
        assert!(ok, "{name}: {stderr}");
        let printed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(printed["nonce"], name);
    }
    // A key that opens nothing: the one opaque line.
    let input = work.join("to-old.json");
    let (ok, stdout, stderr) = run(&["--key", path(&new_path), path(&input)]);
    assert!(!ok && stdout.is_empty());
    assert_eq!(stderr.trim_end(), "decrypt: could not decrypt credentials");
    std::fs::remove_dir_all(work).unwrap();
}

#[cfg(not(feature = "pkcs11"))]
#[test]
fn a_pkcs11_key_in_a_build_without_the_feature_says_what_to_build() {
    let input = data_dir().join("passport/full.json");
    let uri = "pkcs11:token=t;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234";
    let (ok, stdout, stderr) = run(&["--key", uri, path(&input)]);
    assert!(!ok && stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("build with the feature `pkcs11`"), "{stderr}");
    assert!(!stderr.contains("1234"), "{stderr}");
}
