//! What a server-side store's answer means: the status codes that the
//! Redis store's scripts and the PostgreSQL store's functions share, and
//! the claim made from a claim's answer.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::nonce::{Claim, Hold};

/// A consume's, peek's, release's or claim's answer: status 1 is the
/// context; any other, [`refusal`].
pub(crate) fn answered(status: i64, context: String) -> Result<String> {
    match status {
        1 => Ok(context),
        other => Err(refusal(other)),
    }
}

/// What a status other than 1 (success) and 5 (claimed by another) means.
pub(crate) fn refusal(status: i64) -> Error {
    match status {
        2 => Error::NonceReplayed,
        3 => Error::NonceExpired,
        4 => Error::NonceStoreUnavailable("the nonce store answered after the deadline".into()),
        6 => Error::ClaimLost,
        _ => Error::NonceUnknown,
    }
}

/// A claim's answer: status, context, fencing token, lease left (ms).
pub(crate) type Claimed = (i64, String, u64, u64);

/// The claim of `nonce` for `holder` from its answer, its lease measured
/// from `sent`, before the server decided; or why not.
pub(crate) fn claimed(
    nonce: &str,
    (status, context, token, left): Claimed,
    sent: Instant,
    holder: &str,
    hold: Hold,
) -> Result<Claim> {
    match status {
        1 => {
            let ends = sent + Duration::from_millis(left);
            Ok(Claim::new(nonce, context, token, holder, ends).held(hold))
        }
        5 => Err(Error::NonceClaimed {
            retry_after: Duration::from_millis(left),
        }),
        other => Err(refusal(other)),
    }
}

/// Whole milliseconds of `duration`, at least one.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX).max(1)
}
