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
