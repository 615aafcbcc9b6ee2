//! The comparison tools follow the examples' command-line convention:
//! `--help` prints the usage on stdout and exits 0; a wrong command line
//! prints the usage on stderr and exits 2. (`compare` is built only with
//! the `openssl` feature.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::process::Command;

#[test]
fn help_on_stdout_and_usage_errors_exit_2() {
    let tools = [
        Some(("peer_bench", env!("CARGO_BIN_EXE_peer_bench"))),
        option_env!("CARGO_BIN_EXE_compare")
            .filter(|_| cfg!(feature = "openssl"))
            .map(|path| ("compare", path)),
    ];
    for (name, path) in tools.into_iter().flatten() {
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
