//! The examples' and tools' command-line convention, checked on a built
//! executable: `--help` prints the usage on stdout and exits 0; a wrong
//! command line prints the usage on stderr and exits 2.

#![allow(dead_code, unreachable_pub)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;
use std::process::Command;

/// Panics, naming `name`, where the executable at `path` breaks the convention.
pub fn follows_the_convention(name: &str, path: &Path) {
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
