//! The `decrypt` example's interface: stdout JSON on success; on failure a
//! non-zero exit, one line on stderr and nothing on stdout.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{assert_subset, b64, data_dir, load, sha256_hex};

fn run(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", "decrypt", "--"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
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
        (
            &["--key", path(&input), path(&input)],
            "could not read the RSA private key",
        ),
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
    assert!(stdout.starts_with("usage: decrypt --key KEY.pem"), "{stdout}");
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
