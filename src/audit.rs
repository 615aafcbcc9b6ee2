//! The audit trail (feature `tracing`): a span for each passport decrypted
//! and an event at each step (received, decrypted or failed, nonce
//! consumed or refused, validated), under the target `telegram_passport`.
//!
//! Invariant: fields are only the API, element types, counts, outcomes and
//! error kinds (for a failed decryption, the step, which is for local logs
//! only). Never a value, a name, a number, a date, file bytes, a nonce or a
//! secret, and never an error's text (a JSON error can quote decrypted
//! credentials). Without the feature, every function here is empty.

use crate::error::Error;
#[cfg(feature = "tracing")]
use crate::error::Step;
use crate::ElementType;

/// The span of one passport's decryption; entered while it lives.
pub(crate) struct Span {
    #[cfg(feature = "tracing")]
    _entered: tracing::span::EnteredSpan,
}

/// Enters the span of a passport received through `api` with `elements` elements.
pub(crate) fn decrypting(api: &'static str, elements: usize) -> Span {
    #[cfg(feature = "tracing")]
    {
        let span = tracing::info_span!("telegram_passport.decrypt", api, elements).entered();
        tracing::info!(api, elements, "passport received");
        Span { _entered: span }
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = (api, elements);
        Span {}
    }
}

/// Every element decrypted and verified.
pub(crate) fn decrypted(types: impl Iterator<Item = ElementType>) {
    #[cfg(feature = "tracing")]
    {
        let types: Vec<&str> = types.map(ElementType::as_str).collect();
        tracing::info!(elements = types.len(), types = %types.join(","), "passport decrypted");
    }
    #[cfg(not(feature = "tracing"))]
    let _ = types;
}

/// Decryption (or the nonce check) failed with `error`.
pub(crate) fn failed(error: &Error) {
    #[cfg(feature = "tracing")]
    match error {
        Error::Decryption(decryption) => tracing::warn!(
            error = kind(error),
            target = ?decryption.target(),
            failed_step = step(decryption.step()),
            "passport refused"
        ),
        _ => tracing::warn!(error = kind(error), "passport refused"),
    }
    #[cfg(not(feature = "tracing"))]
    let _ = error;
}

/// The nonce check's outcome: `checked` (expected nonce), `consumed`,
/// `skipped`, or the kind of the refusal.
pub(crate) fn nonce(outcome: Result<&'static str, &Error>) {
    #[cfg(feature = "tracing")]
    match outcome {
        Ok(outcome) => tracing::info!(outcome, "nonce"),
        Err(error) => tracing::warn!(outcome = "refused", error = kind(error), "nonce"),
    }
    #[cfg(not(feature = "tracing"))]
    let _ = outcome;
}

/// A validation's outcome.
pub(crate) fn validated(accepted: bool, findings: usize, missing_elements: bool) {
    #[cfg(feature = "tracing")]
    {
        let outcome = if accepted { "accepted" } else { "rejected" };
        tracing::info!(outcome, findings, missing_elements, "passport validated");
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (accepted, findings, missing_elements);
}

#[cfg(feature = "tracing")]
fn step(step: Step) -> &'static str {
    match step {
        Step::Rsa => "rsa",
        Step::KeyMaterial => "key_material",
        Step::Length => "length",
        Step::Hash => "hash",
        Step::Padding => "padding",
    }
}

/// The variant's name: what went wrong, without the text that says it.
#[cfg(feature = "tracing")]
fn kind(error: &Error) -> &'static str {
    match error {
        Error::Decryption(_) => "decryption",
        Error::NonceMismatch => "nonce_mismatch",
        Error::KeyNotRsa { .. } => "key_not_rsa",
        Error::KeyEncrypted => "key_encrypted",
        Error::KeySize { .. } => "key_size",
        Error::KeyMalformed { .. } => "key_malformed",
        Error::KeyFormat { .. } => "key_format",
        Error::Pkcs11 { .. } => "pkcs11",
        Error::KeyUnavailable { .. } => "key_unavailable",
        Error::Random => "random",
        Error::Json { .. } => "json",
        Error::NotAnObject { .. } => "not_an_object",
        Error::NoPassportData => "no_passport_data",
        Error::Base64 { .. } => "base64",
        Error::Length { .. } => "length",
        Error::UnknownElementType(_) => "unknown_element_type",
        Error::DuplicateElement(_) => "duplicate_element",
        Error::MissingCredentials { .. } => "missing_credentials",
        Error::NotAllowed { .. } => "not_allowed",
        Error::InvalidPadding { .. } => "invalid_padding",
        Error::InvalidScope(_) => "invalid_scope",
        Error::InvalidRequest(_) => "invalid_request",
        Error::NonceUnknown => "nonce_unknown",
        Error::NonceExpired => "nonce_expired",
        Error::NonceReplayed => "nonce_replayed",
        Error::NonceStoreFull { .. } => "nonce_store_full",
        Error::NonceStore(_) => "nonce_store",
        Error::NonceStoreUnavailable(_) => "nonce_store_unavailable",
        Error::NonceClaimed { .. } => "nonce_claimed",
        Error::ClaimLost => "claim_lost",
        Error::InvalidLease { .. } => "invalid_lease",
        Error::Io(_) => "io",
        Error::TooLarge { .. } => "too_large",
        Error::Tl { .. } => "tl",
        Error::MissingPart { .. } => "missing_part",
        Error::InvalidTtl { .. } => "invalid_ttl",
        Error::EmptyFileList { .. } => "empty_file_list",
        Error::InvalidBotToken => "invalid_bot_token",
        Error::InvalidDate(_) => "invalid_date",
        Error::Inconsistent { .. } => "inconsistent",
    }
}
