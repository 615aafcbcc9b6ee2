//! The crate's examples, built with the features of the test that runs
//! them, as real executables.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

/// Builds the examples `selection` names (`["--examples"]`, or
/// `["--example", "decrypt"]`) with this test's features and profile (a
/// bench's are optimised); returns each executable by example name.
pub fn build(selection: &[&str]) -> BTreeMap<String, PathBuf> {
    let features: Vec<&str> = [
        ("aws-lc", cfg!(feature = "aws-lc")),
        ("redis", cfg!(feature = "redis")),
        ("redis-async", cfg!(feature = "redis-async")),
        ("redis-cluster", cfg!(feature = "redis-cluster")),
        ("tracing", cfg!(feature = "tracing")),
        ("tokio", cfg!(feature = "tokio")),
        ("pkcs11", cfg!(feature = "pkcs11")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    let mut command = Command::new(env!("CARGO"));
    command
        .args(["build", "--quiet", "--message-format=json"])
        .args(selection)
        .args(["--no-default-features", "--features", &features.join(",")])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["target"]["kind"][0] == "example")
        .filter_map(|message| {
            let name = message["target"]["name"].as_str()?.to_owned();
            Some((name, PathBuf::from(message["executable"].as_str()?)))
        })
        .collect()
}

/// The `decrypt` example, built once per test process with its features.
#[allow(dead_code, reason = "not every test that builds examples runs this one")]
pub fn decrypt_tool() -> Command {
    static TOOL: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let tool = TOOL.get_or_init(|| {
        build(&["--example", "decrypt"])
            .remove("decrypt")
            .expect("cargo build names the decrypt example's executable")
    });
    Command::new(tool)
}
