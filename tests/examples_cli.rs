//! Every example follows one command-line convention: `--help` prints the
//! usage on stdout and exits 0; a wrong command line prints the usage on
//! stderr and exits 2. (Examples whose features this build lacks are not
//! built, and not listed.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

/// Every example this build has, by name, built with this test's features.
fn examples() -> BTreeMap<String, PathBuf> {
    let features: Vec<&str> = [
        ("aws-lc", cfg!(feature = "aws-lc")),
        ("redis-async", cfg!(feature = "redis-async")),
        ("redis-cluster", cfg!(feature = "redis-cluster")),
        ("tracing", cfg!(feature = "tracing")),
        ("openssl-compare", cfg!(feature = "openssl-compare")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    let output = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--examples",
            "--message-format=json",
            "--no-default-features",
        ])
        .args(["--features", &features.join(",")])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
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

#[test]
fn help_on_stdout_and_usage_errors_exit_2() {
    let examples = examples();
    for name in [
        "decrypt",
        "demo",
        "failure_timing",
        "peak_memory",
        "peer_bench",
        "request_link",
    ] {
        assert!(examples.contains_key(name), "{name} not built: {examples:?}");
    }
    for (name, path) in &examples {
        let help = Command::new(path).arg("--help").output().unwrap();
        let stdout = String::from_utf8_lossy(&help.stdout);
        assert_eq!(help.status.code(), Some(0), "{name} --help");
        assert!(stdout.to_lowercase().starts_with("usage: "), "{name} --help: {stdout}");
        assert!(help.stderr.is_empty(), "{name} --help wrote to stderr");

        let wrong = Command::new(path).arg("--no-such-option").output().unwrap();
        let stderr = String::from_utf8_lossy(&wrong.stderr);
        assert_eq!(wrong.status.code(), Some(2), "{name} --no-such-option: {stderr}");
        assert!(stderr.to_lowercase().contains("usage: "), "{name}: {stderr}");
        assert!(wrong.stdout.is_empty(), "{name} --no-such-option wrote to stdout");
    }
}
