//! Every example follows one command-line convention: `--help` prints the
//! usage on stdout and exits 0; a wrong command line prints the usage on
//! stderr and exits 2. (Examples whose features this build lacks are not
//! built, and not listed.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

#[test]
fn help_on_stdout_and_usage_errors_exit_2() {
    let examples = common::examples::build(&["--examples"]);
    for name in ["decrypt", "demo", "failure_timing", "peak_memory", "request_link"] {
        assert!(examples.contains_key(name), "{name} not built: {examples:?}");
    }
    for (name, path) in &examples {
        common::cli::follows_the_convention(name, path);
    }
}
