//! The audit trail (feature `tracing`): a span for each passport decrypted
//! and an event at each step (received, decrypted or failed, nonce
//! consumed or refused, validated), under the target `telegram_passport`.
//!
//! Invariant: fields are only the API, element types, counts, outcomes and
//! error codes (for a failed decryption, the step, which is for local logs
//! only). Never a value, a name, a number, a date, file bytes, a nonce or a
//! secret, and never an error's text (a JSON error can quote decrypted
//! credentials). Without the feature, every event here is nothing: see
//! [`shim`].

// Without the feature, the events that would read these are nothing.
#![cfg_attr(not(feature = "tracing"), allow(unused_variables, dead_code))]

mod shim;

use self::shim::{info, span, warn, Entered};
use crate::element_type::ElementType;
use crate::error::Error;

/// The span of one passport's decryption; entered while it lives.
pub(crate) struct Span {
    _entered: Entered,
}

/// Enters the span of a passport received through `api` with `elements`
/// elements, and says it was received.
pub(crate) fn received(api: &'static str, elements: usize) -> Span {
    let span = resumed(api, elements);
    info!(api, elements, "passport received");
    span
}

/// Enters the span of that passport again, for its next step.
pub(crate) fn resumed(api: &'static str, elements: usize) -> Span {
    let entered = span!("telegram_passport.decrypt", api, elements).entered();
    Span { _entered: entered }
}

/// Every element decrypted and verified.
pub(crate) fn decrypted(types: impl ExactSizeIterator<Item = ElementType> + Clone) {
    info!(elements = types.len(), types = %Joined(types), "passport decrypted");
}

/// Element types as one field: their names, separated by commas.
struct Joined<I>(I);

impl<I: Iterator<Item = ElementType> + Clone> std::fmt::Display for Joined<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, element) in self.0.clone().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(element.as_str())?;
        }
        Ok(())
    }
}

/// Decryption (or the nonce check) failed with `error`.
pub(crate) fn failed(error: &Error) {
    if let Error::Decryption(decryption) = error {
        warn!(
            error = error.code(),
            target = ?decryption.target(),
            failed_step = <&str>::from(decryption.step()),
            "passport refused"
        );
    } else {
        warn!(error = error.code(), "passport refused");
    }
}

/// The nonce check's outcome: `checked` (expected nonce), `consumed`,
/// `skipped`, or the code of the refusal.
pub(crate) fn nonce(outcome: Result<&'static str, &Error>) {
    match outcome {
        Ok(outcome) => info!(outcome, "nonce"),
        Err(error) => warn!(outcome = "refused", error = error.code(), "nonce"),
    }
}

/// A validation's outcome.
pub(crate) fn validated(accepted: bool, findings: usize, missing_elements: bool) {
    let outcome = if accepted { "accepted" } else { "rejected" };
    info!(outcome, findings, missing_elements, "passport validated");
}
