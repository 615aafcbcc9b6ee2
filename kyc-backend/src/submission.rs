//! The life of one submission, whichever instance and delivery it reaches:
//! decrypt → claim → look up → validate → store or tell → consume.
//!
//! - **Claim.** The nonce is claimed for the submission (its key derived
//!   from what was received, so a redelivery is the same submission) for a
//!   bounded lease: exactly one instance works on it. Another delivery
//!   meanwhile is answered 503 with `Retry-After`, and Telegram comes back.
//! - **Look up.** The ledger says what became of the application: already
//!   stored, or this submission already told about. Then nothing is done
//!   again; the nonce is consumed and the delivery answered 200.
//! - **Store.** Every photo streams from its download, decrypted and verified, into a draft, the
//!   draft sealed with the claim, the nonce consumed with the claim (which
//!   fails if another instance took over after the lease ended), and only
//!   then the draft renamed into place. A draft whose consume could not be
//!   confirmed is settled later by [`settle_drafts`].
//! - **Tell.** A rejection, a file or element that cannot be read, or a
//!   link this service does not know (any more): the user is told what to
//!   do, once, with a link to the application's page (which opens a fresh
//!   request) or to the page that opens a new one. A user who cannot be
//!   reached (blocked the bot) is not retried; a refusal of the service's
//!   own message is its error, logged and retried, never "told".
//!
//! Failures a retry can fix (the network, the disk, the store, 5xx and 429
//! from the Bot API) give the claim back and answer 503; everything else
//! is answered 200 once the user was told what is possible.

use std::sync::Arc;
use std::time::{Duration, Instant};

use telegram_passport::{
    open_credentials, AsyncNonceStore, Claim, DecryptedPassport, Document, ElementType, Error, FileSlot, KeyRing,
    Limits, NonceCheck, PassportData, PassportElementError, Problem, Rejected, SetPassportDataErrors, Validation,
    Validator,
};

use crate::app::{kyc_scope, request_tag, today, App, Told};
use crate::archive::{Abandoned, Committed, Draft, Sealed};
use crate::ledger::Fact;
use crate::telegram::{ApiError, Failure};

/// What became of a delivery that needs no retry.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Stored by this delivery.
    Accepted { application: String, files: usize },
    /// The application was already stored; nothing done again.
    AlreadyStored { application: String },
    /// The user was told what to do (`reached`: the message arrived), about
    /// `application` (`None`: to start a new one).
    Told {
        application: Option<String>,
        told: &'static str,
        reached: bool,
    },
    /// The user was already told about this submission.
    AlreadyTold,
    /// Another delivery of this submission finished it.
    Finished,
    /// Not sealed to this service's key: nothing to act on.
    Unusable,
}

/// Why a delivery is not finished: answered 503, and delivered again.
#[derive(Debug)]
pub(crate) struct Retry {
    /// When to come back, if known (another instance holds the claim).
    pub(crate) after: Option<Duration>,
    pub(crate) reason: Failure,
}

impl<E: Into<Failure>> From<E> for Retry {
    fn from(reason: E) -> Self {
        Self {
            after: None,
            reason: reason.into(),
        }
    }
}

/// What decrypting gave.
enum Opened {
    Passport(DecryptedPassport),
    /// The credentials opened (so the nonce is known), an element did not.
    Unreadable {
        nonce: String,
    },
    /// The credentials did not open with this service's keys.
    NotOurs,
    /// A key's token could not be asked: retried, not refused.
    KeyUnavailable(Error),
}

/// What the user is told.
enum Verdict<'a> {
    /// Validation rejected the submission.
    Fix(&'a Rejected),
    /// Files (with errors the app shows) or elements could not be read.
    Unreadable(Vec<PassportElementError>),
    /// The link is unknown or expired here: a new application.
    StartAgain,
}

/// Opens a submission: the credentials once, so the nonce is known even
/// when an element then fails. The crate's audit trail has the code and
/// the failed step.
fn open(key: &KeyRing, passport_data: &PassportData) -> Opened {
    match open_credentials(key, passport_data, &Limits::default()) {
        Ok(credentials) => {
            let nonce = credentials.nonce().to_owned();
            match credentials.decrypt(NonceCheck::Skip) {
                Ok(passport) => Opened::Passport(passport),
                Err(_) => Opened::Unreadable { nonce },
            }
        }
        Err(error) if error.is_retryable() => Opened::KeyUnavailable(error),
        // Refused before anything was decrypted (elements beyond the
        // limits): the credentials alone say whose it is.
        Err(Error::TooLarge { .. }) => match passport_data.credentials.decrypt(key) {
            Ok(credentials) => Opened::Unreadable {
                nonce: credentials.nonce().to_owned(),
            },
            Err(error) if error.is_retryable() => Opened::KeyUnavailable(error),
            Err(_) => Opened::NotOurs,
        },
        Err(_) => Opened::NotOurs,
    }
}

/// Takes `passport_data`, sent by `user_id`, as far as it goes.
pub(crate) async fn submission<S: AsyncNonceStore + 'static>(
    app: &Arc<App<S>>,
    user_id: i64,
    passport_data: PassportData,
) -> Result<Outcome, Retry> {
    let submission_key = passport_data.submission_key();
    // RSA takes a fraction of a millisecond to milliseconds: off the executor.
    let (worker, span) = (Arc::clone(app), tracing::Span::current());
    let opened =
        tokio::task::spawn_blocking(move || span.in_scope(|| open(&worker.config.key, &passport_data))).await?;
    let nonce = match &opened {
        Opened::Passport(passport) => passport.nonce().to_owned(),
        Opened::Unreadable { nonce } => nonce.clone(),
        Opened::NotOurs => return Ok(Outcome::Unusable),
        // A token restarts at most once a second: come back after one.
        Opened::KeyUnavailable(error) => {
            return Err(Retry {
                after: Some(Duration::from_secs(1)),
                reason: error.to_string().into(),
            })
        }
    };
    let claim = match app.nonces.claim(&nonce, &submission_key, app.config.claim_lease).await {
        Ok(claim) => claim,
        Err(Error::NonceClaimed { retry_after }) => {
            return Err(Retry {
                after: Some(retry_after),
                reason: "another delivery of this submission is being processed".into(),
            })
        }
        // Consumed: its outcome was settled by an earlier delivery.
        Err(Error::NonceReplayed) => return Ok(Outcome::Finished),
        Err(error @ (Error::NonceUnknown | Error::NonceExpired)) => {
            tracing::info!(reason = %error, "a link this service does not know (any more)");
            return start_again(app, user_id, &nonce).await;
        }
        Err(error @ Error::NonceStoreUnexpectedData(_)) => {
            // Not a failure to reach the store: it holds something this
            // service did not write there. Retrying cannot fix that.
            tracing::error!(reason = %error, "unexpected data in the nonce store for this submission");
            return start_again(app, user_id, &nonce).await;
        }
        Err(error) => return Err(error.into()),
    };
    match decide(app, &claim, user_id, opened).await {
        Ok(outcome) => Ok(outcome),
        Err(retry) => {
            // Given back at once for the redelivery; failing that, the lease ends by itself.
            if let Err(error) = app.nonces.release(&claim).await {
                tracing::debug!(reason = %error, "claim not released");
            }
            Err(retry)
        }
    }
}

/// With the claim held: what the ledger says, else validate and act.
async fn decide<S: AsyncNonceStore + 'static>(
    app: &Arc<App<S>>,
    claim: &Claim,
    user_id: i64,
    opened: Opened,
) -> Result<Outcome, Retry> {
    let application = claim.context().to_owned();
    if app.ledger.holds(Fact::Stored(&application)).await? {
        consume(app, claim).await?;
        return Ok(Outcome::AlreadyStored { application });
    }
    if app.ledger.holds(Fact::Told(claim.nonce())).await? {
        consume(app, claim).await?;
        return Ok(Outcome::AlreadyTold);
    }
    let passport = match opened {
        Opened::Passport(passport) => passport,
        Opened::KeyUnavailable(error) => return Err(error.into()),
        Opened::Unreadable { .. } | Opened::NotOurs => {
            return tell(app, claim, user_id, &Verdict::Unreadable(Vec::new())).await
        }
    };
    let scope = kyc_scope()?;
    let validation = Validator::new(&scope, today()).minimum_age(18).validate(passport);
    match validation {
        Validation::Accepted(accepted) => accept(app, claim, user_id, accepted.passport()).await,
        Validation::Rejected(rejected) => tell(app, claim, user_id, &Verdict::Fix(&rejected)).await,
    }
}

/// Stores an accepted passport: draft, seal, consume, commit, record. The
/// delivery is finished once the draft is committed: a record the ledger
/// does not take is left to the sweep.
async fn accept<S: AsyncNonceStore + 'static>(
    app: &Arc<App<S>>,
    claim: &Claim,
    user_id: i64,
    passport: &DecryptedPassport,
) -> Result<Outcome, Retry> {
    let application = claim.context().to_owned();
    let draft = match write_draft(app, &application, user_id, passport).await? {
        Ok(draft) => draft,
        Err(unreadable) => return tell(app, claim, user_id, &Verdict::Unreadable(unreadable)).await,
    };
    let sealed = Sealed {
        nonce: claim.nonce().to_owned(),
        application: application.clone(),
        token: claim.token(),
        holder: claim.holder().to_owned(),
    };
    let draft = blocking(move || draft.seal(&sealed).map(|()| draft)).await?;
    match consume(app, claim).await {
        Ok(()) => {}
        Err(error @ Error::NonceStoreUnavailable(_)) => {
            // Consumed or not, the store will say: the next sweep settles it.
            draft.leave();
            return Err(error.into());
        }
        // Another instance took the submission over: this draft goes.
        Err(error) => return Err(error.into()),
    }
    let committed = commit(app, draft, &application).await?;
    Ok(match committed {
        Committed::Stored(unrecorded) => {
            record_committed(app, unrecorded, RECORD_TRIES).await;
            Outcome::Accepted {
                files: count_files(passport),
                application,
            }
        }
        Committed::AlreadyStored => {
            record_stored(app, &application, RECORD_TRIES).await;
            Outcome::AlreadyStored { application }
        }
    })
}

/// Downloads and decrypts every document photo into a new draft, with the
/// values as `application.json`; or the errors for the files that cannot
/// be read (a download Telegram refuses, bytes that do not match their
/// credentials), and no draft.
async fn write_draft<S: AsyncNonceStore + 'static>(
    app: &Arc<App<S>>,
    application_id: &str,
    user_id: i64,
    passport: &DecryptedPassport,
) -> Result<Result<Draft, Vec<PassportElementError>>, Retry> {
    let archive_app = Arc::clone(app);
    let draft = blocking(move || archive_app.archive.draft()).await?;
    let mut unreadable = Vec::new();
    for document in passport.identity_documents().chain(passport.address_documents()) {
        for (index, (slot, at, file)) in slotted_files(document).into_iter().enumerate() {
            // Straight from the download into the draft, verified (and
            // encrypted, if the archive is) on the way.
            let name = format!("{}-{index}.jpg", document.element_type());
            let into = draft.create(&name).map_err(Retry::from)?;
            match app.bot_api.download_into(file, into).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(element = %document.element_type(), "a file does not match its credentials");
                    unreadable.push(file_error(document, slot, at)?);
                }
                Err(ApiError::Retryable(reason)) => return Err(reason.into()),
                Err(refused @ ApiError::Refused { .. }) => {
                    tracing::warn!(reason = %refused, "a file cannot be downloaded");
                    unreadable.push(file_error(document, slot, at)?);
                }
            }
        }
    }
    if !unreadable.is_empty() {
        return Ok(Err(unreadable));
    }
    let json = serde_json::to_vec_pretty(&serde_json::json!({
        "application_id": application_id,
        "telegram_user_id": user_id,
        "passport": passport,
    }))?;
    blocking(move || draft.write("application.json", &json).map(|()| draft))
        .await
        .map(Ok)
}

/// A document's files with their slot and place in it, in the order of
/// [`Document::all_files`].
fn slotted_files(document: &Document) -> Vec<(FileSlot, usize, &telegram_passport::FileRef)> {
    let singles = [
        (FileSlot::FrontSide, document.front_side()),
        (FileSlot::ReverseSide, document.reverse_side()),
        (FileSlot::Selfie, document.selfie()),
    ];
    let singles = singles
        .into_iter()
        .filter_map(|(slot, file)| file.map(|file| (slot, 0, file)));
    let lists = [
        (FileSlot::Files, document.files()),
        (FileSlot::Translation, document.translation()),
    ];
    let lists = lists
        .into_iter()
        .flat_map(|(slot, files)| files.iter().enumerate().map(move |(at, file)| (slot, at, file)));
    singles.chain(lists).collect()
}

/// The error the user's app shows on a file that cannot be read.
fn file_error(document: &Document, slot: FileSlot, at: usize) -> Result<PassportElementError, Error> {
    document.file_error_at(slot, at, "This file could not be read. Please upload it again.")
}

/// Tells the user `verdict` with a link to the application's page (where
/// a fresh request waits), records that, and consumes the nonce.
async fn tell<S: AsyncNonceStore>(
    app: &App<S>,
    claim: &Claim,
    user_id: i64,
    verdict: &Verdict<'_>,
) -> Result<Outcome, Retry> {
    let application = claim.context().to_owned();
    let reached = send(app, user_id, Some(&application), verdict).await?;
    // What the applicant's page shows: the message, as the bot sent it,
    // and the request it answers.
    let (_, message) = verdict.report(user_id);
    let told = Told {
        message,
        request: Some(request_tag(claim.nonce())),
    };
    app.ledger
        .record_with(Fact::LastTold(&application), &told.write())
        .await?;
    app.ledger.record(Fact::Told(claim.nonce())).await?;
    match consume(app, claim).await {
        // Told and recorded: whoever holds the nonce now finds that and consumes it.
        Ok(()) | Err(Error::ClaimLost) => Ok(Outcome::Told {
            application: Some(application),
            told: verdict.kind(),
            reached,
        }),
        Err(error) => Err(error.into()),
    }
}

/// A link this service does not know, or no longer: the user is told to
/// start again, with a link to the page that opens a new application,
/// once per nonce.
async fn start_again<S: AsyncNonceStore>(app: &App<S>, user_id: i64, nonce: &str) -> Result<Outcome, Retry> {
    if app.ledger.holds(Fact::Told(nonce)).await? {
        return Ok(Outcome::AlreadyTold);
    }
    let reached = send(app, user_id, None, &Verdict::StartAgain).await?;
    app.ledger.record(Fact::Told(nonce)).await?;
    Ok(Outcome::Told {
        application: None,
        told: Verdict::StartAgain.kind(),
        reached,
    })
}

/// Sends the error reports and the message with a link to the page of
/// `application` (or, without one, to the page that opens a new one);
/// whether the message reached the user (a user who blocked the bot or
/// deleted their account cannot be reached, and no retry changes that).
///
/// The message never carries a Telegram Passport link: Telegram refuses
/// one inside a button, and its apps ignore one opened from inside
/// Telegram. The page is where the link is opened. A refusal of the
/// service's own message is the service's error, not the user's: it is
/// logged as such and retried, never counted as told.
async fn send<S: AsyncNonceStore>(
    app: &App<S>,
    user_id: i64,
    application: Option<&str>,
    verdict: &Verdict<'_>,
) -> Result<bool, Retry> {
    let (errors, text) = verdict.report(user_id);
    if !errors.errors.is_empty() {
        match app.bot_api.set_passport_data_errors(&errors).await {
            Ok(()) => {}
            Err(ApiError::Retryable(reason)) => return Err(reason.into()),
            // The message below still says what to fix.
            Err(refused) => tracing::error!(reason = %refused, "error reports refused: the service's own request"),
        }
    }
    let (button, link) = match application {
        Some(application) => (
            "Continue verification",
            app.config.public_url.application_page(application),
        ),
        None => ("Start again", app.config.public_url.page()),
    };
    match app.bot_api.send_message(user_id, &text, button, &link).await {
        Ok(()) => Ok(true),
        Err(ApiError::Retryable(reason)) => Err(reason.into()),
        Err(refused) if refused.is_unreachable_user() => {
            tracing::warn!(reason = %refused, "the user cannot be reached");
            Ok(false)
        }
        Err(refused) => {
            tracing::error!(reason = %refused, "the service's own message was refused: not told, left for redelivery");
            Err(refused.into())
        }
    }
}

impl Verdict<'_> {
    /// The error reports and the message text.
    fn report(&self, user_id: i64) -> (SetPassportDataErrors, String) {
        match self {
            Self::Fix(rejected) => {
                let body = rejected.set_passport_data_errors(user_id);
                let text = fix_text(rejected, !body.errors.is_empty());
                (body, text)
            }
            Self::Unreadable(errors) => {
                let text = match errors.is_empty() {
                    true => "We could not read your documents. Please send them again.",
                    false => "Some of your documents could not be read: Telegram shows which. Please send them again.",
                };
                let body = SetPassportDataErrors {
                    user_id,
                    errors: errors.clone(),
                };
                (body, text.to_owned())
            }
            Self::StartAgain => (
                SetPassportDataErrors {
                    user_id,
                    errors: Vec::new(),
                },
                "This verification link is no longer valid. Please start again.".to_owned(),
            ),
        }
    }

    /// The kind, for logs.
    fn kind(&self) -> &'static str {
        match self {
            Self::Fix(_) => "what to fix",
            Self::Unreadable(_) => "send again",
            Self::StartAgain => "start again",
        }
    }
}

/// The message for a rejection: what the app shows, and the elements
/// missing altogether by name.
fn fix_text(rejected: &Rejected, reported: bool) -> String {
    let missing: Vec<String> = rejected
        .findings()
        .iter()
        .filter_map(|finding| match finding.problem() {
            Problem::MissingElement { requested } => Some(
                requested
                    .iter()
                    .map(ElementType::to_string)
                    .collect::<Vec<_>>()
                    .join(" or "),
            ),
            _ => None,
        })
        .collect();
    let missing = missing.join("; ").replace('_', " ");
    match (missing.is_empty(), reported) {
        (true, _) => {
            "Some of your documents need attention: Telegram shows what to fix. Then send them again.".to_owned()
        }
        (false, false) => format!("Please also share: {missing}."),
        (false, true) => {
            format!(
                "Some of your documents need attention (Telegram shows what to fix), and please also share: {missing}."
            )
        }
    }
}

/// Consumes the claim's nonce, trying a little longer if the store does
/// not answer (the consume is idempotent for the claim).
async fn consume<S: AsyncNonceStore>(app: &App<S>, claim: &Claim) -> Result<(), Error> {
    let mut tries = 0;
    loop {
        match app.nonces.consume_claimed(claim).await {
            Err(Error::NonceStoreUnavailable(_)) if tries < 2 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            result => return result.map(drop),
        }
    }
}

/// Records that `application` is stored, trying `tries` times; whether the
/// ledger took it.
async fn record_stored<S: AsyncNonceStore>(app: &App<S>, application: &str, tries: u32) -> bool {
    for tried in 1..=tries {
        match app.ledger.record(Fact::Stored(application)).await {
            Ok(()) => return true,
            Err(error) if tried == tries => {
                tracing::warn!(application, reason = %error, "stored, not yet recorded in the ledger");
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
    false
}

/// Settles the drafts of dead attempts (this instance's before a crash,
/// or ones whose consume could not be confirmed): a draft sealed with a
/// claim that consumed its nonce is committed; one whose claim lost, or
/// that was never complete, is deleted; one the store cannot decide on
/// now waits for the next sweep. Records the stored applications the
/// ledger may not know of (a record that failed, or a crash after the
/// commit). Whether a folder too young to judge was passed over.
pub(crate) async fn settle_drafts<S: AsyncNonceStore + 'static>(app: &Arc<App<S>>) -> bool {
    let archive_app = Arc::clone(app);
    let Abandoned {
        drafts,
        unrecorded,
        young,
    } = match blocking(move || archive_app.archive.abandoned()).await {
        Ok(found) => found,
        Err(retry) => {
            tracing::error!(reason = %retry.reason, "could not look for drafts of dead attempts");
            return false;
        }
    };
    for unrecorded in unrecorded {
        let application = unrecorded.application.clone();
        if !record_committed(app, unrecorded, 1).await {
            // The ledger takes no record now: the others wait with it.
            break;
        }
        tracing::info!(application, "a stored application recorded in the ledger");
    }
    for (draft, sealed) in drafts {
        let Some(sealed) = sealed else {
            tracing::info!("an unfinished draft of a dead attempt deleted");
            drop(draft);
            continue;
        };
        let claim = Claim::new(
            sealed.nonce.as_str(),
            sealed.application.as_str(),
            sealed.token,
            sealed.holder.as_str(),
            Instant::now(),
        );
        match app.nonces.consume_claimed(&claim).await {
            Ok(_) => match commit(app, draft, &sealed.application).await {
                Ok(committed) => {
                    match committed {
                        Committed::Stored(unrecorded) => record_committed(app, unrecorded, 1).await,
                        Committed::AlreadyStored => record_stored(app, &sealed.application, 1).await,
                    };
                    tracing::info!(application = sealed.application, "a dead attempt's application stored");
                }
                Err(retry) => {
                    tracing::error!(reason = %retry.reason, "a settled draft not committed: left for the next sweep");
                }
            },
            Err(error) if error.is_retryable() => {
                tracing::warn!(reason = %error, "a dead attempt's draft left for the next sweep");
                draft.leave();
            }
            Err(error) => {
                tracing::info!(reason = %error, "a dead attempt's draft deleted: its claim did not hold");
                drop(draft);
            }
        }
    }
    young
}

/// Commits `draft` as `application`: renamed into place in the data
/// folder, or uploaded to the object storage and made visible there by a
/// conditional create (`objects`).
async fn commit<S: AsyncNonceStore + 'static>(
    app: &Arc<App<S>>,
    draft: Draft,
    application: &str,
) -> Result<Committed, Retry> {
    let archive_app = Arc::clone(app);
    let id = application.to_owned();
    let Some(objects) = app.archive.objects() else {
        return blocking(move || draft.commit(&archive_app.archive, &id)).await;
    };
    let (folder, name) = draft.folder();
    let created = match objects.commit(application, folder, &name).await {
        Ok(created) => created,
        Err(error) => {
            // Its claim consumed the nonce: no delivery would write it
            // again. Left sealed for the sweep, which commits it.
            draft.leave();
            return Err(error.into());
        }
    };
    match created {
        true => blocking(move || draft.committed_elsewhere(&archive_app.archive, &id)).await,
        // Another draft of it was committed first: this one goes.
        false => Ok(Committed::AlreadyStored),
    }
}

/// Runs `work` (file system calls) off the executor.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> std::io::Result<T> + Send + 'static) -> Result<T, Retry> {
    Ok(tokio::task::spawn_blocking(work).await??)
}

fn count_files(passport: &DecryptedPassport) -> usize {
    passport
        .identity_documents()
        .chain(passport.address_documents())
        .map(|document| document.all_files().count())
        .sum()
}

/// How often a delivery tries to record its application before leaving
/// that to the sweep.
const RECORD_TRIES: u32 = 3;

/// Records a committed application, then lets its claim file go; one the
/// ledger does not take keeps it, for the sweep to record. Whether the
/// ledger took it.
async fn record_committed<S: AsyncNonceStore + 'static>(
    app: &Arc<App<S>>,
    unrecorded: crate::archive::Unrecorded,
    tries: u32,
) -> bool {
    if !record_stored(app, &unrecorded.application, tries).await {
        return false;
    }
    if let Err(retry) = blocking(move || unrecorded.recorded()).await {
        // The sweep records it again, which changes nothing.
        tracing::warn!(reason = %retry.reason, "a recorded application's claim file not removed");
    }
    true
}
