//! `kyc_backend --check`: what newcomers get wrong, asked of the Bot API
//! and said in plain words.

use std::process::ExitCode;

/// Runs the check on the service's settings; non-zero where the service
/// would not work.
pub(crate) async fn run() -> ExitCode {
    ExitCode::FAILURE
}
