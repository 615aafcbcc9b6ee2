//! The examples' command-line convention: `--help` prints the usage on
//! stdout and exits 0; a wrong command line prints it on stderr and exits 2.

/// For a program that takes no arguments: handles `--help` and refuses
/// anything else, exiting; returns if there are no arguments.
pub(crate) fn no_arguments(name: &str, usage: &str) {
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
