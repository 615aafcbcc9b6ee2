//! Every example follows one command-line convention: `--help` prints the
//! usage on stdout and exits 0; a wrong command line prints the usage on
//! stderr and exits 2. (Examples whose features this build lacks are not
//! built, and not listed.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::process::Command;

#[test]
fn help_on_stdout_and_usage_errors_exit_2() {
    let examples = common::examples::build(&["--examples"]);
    for name in ["decrypt", "demo", "failure_timing", "peak_memory", "request_link"] {
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
