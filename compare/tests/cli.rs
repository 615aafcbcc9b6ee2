//! The comparison tools follow the examples' command-line convention:
//! `--help` prints the usage on stdout and exits 0; a wrong command line
//! prints the usage on stderr and exits 2. (`compare` is built only with
//! the `openssl` feature.)

use telegram_passport_dev_support::cli;

use std::path::Path;

#[test]
fn help_on_stdout_and_usage_errors_exit_2() {
    let tools = [
        Some(("peer_bench", env!("CARGO_BIN_EXE_peer_bench"))),
        option_env!("CARGO_BIN_EXE_compare")
            .filter(|_| cfg!(feature = "openssl"))
            .map(|path| ("compare", path)),
    ];
    for (name, path) in tools.into_iter().flatten() {
        cli::follows_the_convention(name, Path::new(path));
    }
}
