//! The examples' and tools' command-line convention: `--help` prints the
//! usage on stdout and exits 0; a wrong command line prints it on stderr
//! and exits 2. [`no_arguments`] keeps it in a program;
//! [`follows_the_convention`] checks a built executable from outside.

use std::path::Path;
use std::process::Command;

/// For a program that takes no arguments: handles `--help` and refuses
/// anything else, exiting; returns if there are no arguments.
pub fn no_arguments(name: &str, usage: &str) {
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("--help" | "-h") => {
            println!("{usage}");
            std::process::exit(0);
        }
        Some(other) => {
            eprintln!("{name}: unexpected argument {other:?}\n\n{usage}");
            std::process::exit(2);
        }
    }
}

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
