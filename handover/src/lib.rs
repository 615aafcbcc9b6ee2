//! Tests only: `tests/` hands what grammers, frankenstein, teloxide (the
//! raw webhook body) and any other framework (a `serde_json::Value`)
//! receive to telegram-passport, as the main crate's README shows.
