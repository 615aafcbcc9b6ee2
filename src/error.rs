//! The crate's one error type.
//!
//! Every failure a remote sender could learn something from (RSA-OAEP
//! rejecting the secret, a hash mismatch, bad padding) is the single opaque
//! [`Error::Decryption`]. Its `Display` names only *what* could not be
//! decrypted; the failed step is kept for local debugging in `Debug` output
//! and is never part of the message.

use std::fmt;

use crate::element_type::ElementType;

/// Everything that can go wrong in this crate.
///
/// [`kind`](Error::kind) groups the variants by what a caller does about
/// them, [`is_retryable`](Error::is_retryable) says whether the same call
/// may succeed later, and [`code`](Error::code) names the variant for logs
/// and metrics without any of the text that says it:
///
/// ```
/// use telegram_passport::{Error, ErrorKind};
///
/// let replayed = Error::NonceReplayed;
/// assert_eq!(replayed.kind(), ErrorKind::Nonce);
/// assert!(!replayed.is_retryable());
/// assert_eq!(replayed.code(), "nonce_replayed");
///
/// let outage = Error::NonceStoreUnavailable("connection refused".into());
/// assert_eq!(outage.kind(), ErrorKind::NonceStore);
/// assert!(outage.is_retryable());
/// ```
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum Error {
    /// Credentials, element data or a file could not be decrypted or failed
    /// verification. Deliberately opaque: see [`DecryptionError`].
    #[error(transparent)]
    Decryption(#[from] DecryptionError),

    /// The credentials decrypted, but carry a nonce other than the expected one.
    #[error("the credentials' nonce is not the one this request issued")]
    NonceMismatch,

    /// The private key is not an RSA key.
    #[error("{found}, not RSA: Telegram Passport needs an RSA key (`openssl genrsa -out private.key 2048` makes one)")]
    KeyNotRsa {
        /// What was found instead, for a person: `an EC key`, `an Ed25519 key` …
        found: String,
    },

    /// The private key is protected by a password.
    #[error("the private key is encrypted with a password; store it unencrypted (`openssl rsa -in KEY -out PLAIN`)")]
    KeyEncrypted,

    /// The RSA modulus is outside the supported range.
    #[error("an RSA key of {bits} bits is not supported: use 2048 to 4096 bits")]
    KeySize {
        /// The modulus size of the key given.
        bits: usize,
    },

    /// The key text or bytes could not be read as an RSA private key.
    #[error("could not read the RSA private key: {reason}")]
    KeyMalformed {
        /// What was wrong.
        reason: String,
        /// The parser's error, where one said it.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// Something other than a private key, or a private key in a form
    /// that is not read, was given where the bot's private key belongs:
    /// [`KeyFound`] says what, and what to do. Never shows key material.
    #[error("{found}")]
    KeyFormat {
        /// What was found.
        found: KeyFound,
    },

    /// A setting that lists keys cannot be read without cutting a
    /// `pkcs11:` URI, or lists none ([`KeyRef::list`](crate::KeyRef::list)).
    /// Nothing was opened, and nothing that follows the URI is repeated: it
    /// may be a piece of its query, which may hold a PIN.
    #[error("{problem}")]
    KeyList {
        /// What is wrong with the list.
        problem: KeyListProblem,
    },

    /// A key named in configuration could not be opened
    /// ([`KeyRef::open`](crate::KeyRef::open)).
    #[error("{key}: {error}")]
    KeyOpen {
        /// The key, as [`KeyRef::shown`](crate::KeyRef::shown) names it: a
        /// file's path, or a token key's URI without its query.
        key: String,
        /// Why it could not be opened.
        error: Box<Error>,
    },

    /// A key held in a PKCS#11 token could not be loaded: checked when the
    /// key is opened ([`Pkcs11Key::open`](crate::Pkcs11Key::open), feature
    /// `pkcs11`), never at the first submission.
    #[error("PKCS#11 key: {problem}")]
    Pkcs11 {
        /// What is wrong: the URI, the module, the token, the PIN or the key.
        problem: Pkcs11Problem,
        /// The module's or the system's error, where there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The key could not be asked to unwrap the credentials secret: its
    /// token is unavailable (removed, not logged in, its module failing).
    /// Nothing was decided about the submission: unlike
    /// [`Error::Decryption`], it is worth retrying (a service answers `503`,
    /// and Telegram delivers the update again).
    #[error("the key is unavailable ({reason}); nothing was decided: try the submission again later")]
    KeyUnavailable {
        /// What the token or its module said.
        reason: String,
        /// The module's error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Random,

    /// Input JSON could not be parsed.
    #[error("malformed {what} JSON: {source}")]
    Json {
        /// Which document: `PassportData`, `credentials`, `passport data` …
        what: String,
        /// The parser's report: the field, a bounded message, line and column.
        #[source]
        source: JsonError,
    },

    /// Something other than a JSON object where the protocol has an object
    /// (serde would otherwise read a struct from an array, field by field).
    #[error("{field} must be a JSON object, not {found}")]
    NotAnObject {
        /// The field, as a path such as `credentials.secure_data.passport`.
        field: String,
        /// What was there instead (bounded, escaped): `sequence`, `integer \`5\`` …
        found: String,
    },

    /// A JSON document parsed, but holds no passport data.
    #[error("no passport_data found: expected a PassportData, Message or Update JSON object")]
    NoPassportData,

    /// A field that must be base64 is not.
    #[error("{field} is not valid base64")]
    Base64 {
        /// The field, as a path such as `credentials.secret`.
        field: String,
    },

    /// A binary field has the wrong size.
    #[error("{field} must be {expected} bytes, got {actual}")]
    Length {
        /// The field, as a path such as `credentials.hash`.
        field: String,
        /// The size the protocol requires.
        expected: usize,
        /// The size received.
        actual: usize,
    },

    /// An element type name outside the 13 the protocol defines (the name
    /// as received, bounded and escaped: see [`EXCERPT_MAX`](crate::EXCERPT_MAX)).
    #[error("unknown element type \"{0}\"")]
    UnknownElementType(String),

    /// The same element type was sent twice.
    #[error("the {0} element appears twice")]
    DuplicateElement(ElementType),

    /// An element (or one of its parts) has no matching entry in the credentials.
    #[error("the credentials hold no {part} for the {element} element")]
    MissingCredentials {
        /// The element.
        element: ElementType,
        /// Which part: `data`, `front_side`, `files[2]` …
        part: String,
    },

    /// A part was given to an element type that cannot carry it.
    #[error("the {element} element cannot carry {part}")]
    NotAllowed {
        /// The element.
        element: ElementType,
        /// The part: `data`, `selfie` …
        part: &'static str,
    },

    /// A padding length that the protocol does not allow for this plaintext
    /// (encryption side only).
    #[error("padding of {padding} bytes is invalid for {length} bytes of plaintext: it must be 32 to 255 and make the total a multiple of 16")]
    InvalidPadding {
        /// The plaintext length.
        length: usize,
        /// The padding length asked for.
        padding: usize,
    },

    /// A scope Telegram would refuse, or scope JSON that cannot be read.
    #[error("invalid scope: {0}")]
    InvalidScope(String),

    /// A request or deep link that cannot be built or read.
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// The nonce was never issued by this store (or was forgotten long ago).
    #[error("the nonce was never issued")]
    NonceUnknown,

    /// The nonce was issued but its time-to-live has passed.
    #[error("the nonce has expired: issue a new request")]
    NonceExpired,

    /// The nonce was already consumed: this is a replay.
    #[error("the nonce was already used: replayed passport data is refused")]
    NonceReplayed,

    /// The in-memory nonce store is full of nonces that claims hold under
    /// a live lease: there is nothing it may make room from.
    #[error("the nonce store is full ({capacity} nonces, every one claimed): raise its capacity or shorten leases")]
    NonceStoreFull {
        /// The store's capacity.
        capacity: usize,
    },

    /// The nonce store's backend failed in a way other than being
    /// unreachable (for example, Redis refused a command).
    #[error("the nonce store failed: {0}")]
    NonceStore(#[source] Box<dyn std::error::Error + Send + Sync>),

    /// The nonce store holds, under this store's keys, data it did not
    /// write (with Redis, a value of another type: `WRONGTYPE`), so another
    /// program shares its key prefix. Nothing was decided about the
    /// submission, and no retry fixes it: give the store a prefix of its
    /// own.
    #[error("the nonce store holds data it did not write under its keys: {0}")]
    NonceStoreUnexpectedData(#[source] Box<dyn std::error::Error + Send + Sync>),

    /// The nonce store could not be reached in time (refused, dropped,
    /// timed out, stalled). Nothing was consumed: the same submission may be
    /// tried again. Distinct from a replayed, unknown or expired nonce.
    #[error("the nonce store is unavailable: {0}")]
    NonceStoreUnavailable(#[source] Box<dyn std::error::Error + Send + Sync>),

    /// Another claim holds the nonce: the same submission (or another one
    /// with this nonce) is being processed elsewhere. Worth retrying after
    /// `retry_after`, when that claim's lease ends unless it is consumed
    /// first (a service answers `503` with `Retry-After`).
    #[error("the nonce is claimed by another holder: try again in {retry_after:?}")]
    NonceClaimed {
        /// How long until the other claim's lease ends.
        retry_after: std::time::Duration,
    },

    /// The claim no longer holds its nonce: it was released, or its lease
    /// ended and a later claim (with a higher fencing token) took the nonce
    /// over. Not worth retrying: undo what was stored under this claim.
    #[error("the claim on the nonce was lost (released, or taken over after its lease ended): undo what it stored")]
    ClaimLost,

    /// A claim's lease outside 1 ms to 1 hour.
    #[error("a claim's lease must be between 1 ms and 1 hour, not {lease:?}")]
    InvalidLease {
        /// The lease given.
        lease: std::time::Duration,
    },

    /// Reading encrypted or writing decrypted file bytes failed.
    #[error("file input/output failed: {0}")]
    Io(#[source] std::io::Error),

    /// Input beyond one of the [`Limits`](crate::Limits).
    #[error("{what} is {actual} (bytes or items); the limit is {limit}")]
    TooLarge {
        /// What was too large, e.g. `passport.data`.
        what: String,
        /// Its size.
        actual: u64,
        /// The limit.
        limit: u64,
    },

    /// MTProto TL bytes that are not a well-formed
    /// `messageActionSecureValuesSentMe`.
    #[error("malformed MTProto TL at byte {offset}: {problem}")]
    Tl {
        /// Where in the input.
        offset: usize,
        /// What is wrong there.
        problem: TlProblem,
    },

    /// A nonce's time-to-live outside 1 ms to 30 days.
    #[error("a nonce's time-to-live must be between 1 ms and 30 days, not {ttl:?}")]
    InvalidTtl {
        /// The time-to-live given.
        ttl: std::time::Duration,
    },

    /// A `files` or `translation_files` error report that names no file.
    #[error("a {source_name} error names at least one file")]
    EmptyFileList {
        /// `files` or `translation_files`.
        source_name: &'static str,
    },

    /// Not a bot token (`123456:ABC-DEF…`, the bot id before the `:`).
    #[error("a bot token looks like 123456:ABC-DEF…, with the bot id before the ':'")]
    InvalidBotToken,

    /// Text that is not a real `DD.MM.YYYY` calendar date.
    #[error("{0:?} is not a DD.MM.YYYY calendar date")]
    InvalidDate(String),

    /// The MTProto values and the decrypted credentials disagree about a
    /// field both state: a `secureData.data_hash` or a `secureFile.file_hash`
    /// other than the `data_hash` or `file_hash` the credentials hold for
    /// it. Input that does not hold together is refused, like undefined
    /// TL flag bits; which side is wrong is not said, as nothing tells.
    ///
    /// Not folded into [`Error::Decryption`], because it is no oracle: it
    /// is only ever returned after the credentials were RSA-decrypted,
    /// hash-checked, unpadded and parsed, so a sender who cannot produce
    /// valid credentials for the service's key never gets this far, and
    /// nothing about the RSA step or its timing changes. The two values
    /// compared both come from the sender, and the TL's is the one Telegram
    /// relays in the clear next to the ciphertext, so the answer tells no
    /// one anything they did not send or could not already read; the
    /// comparison is constant-time all the same. The `secret`s of the TL
    /// are not compared: they are the app's cloud-storage encryption of the
    /// secrets, never the secrets the credentials carry.
    #[error("{field} in the MTProto values contradicts the credentials")]
    Inconsistent {
        /// The field, as a path such as `passport.data_hash` or
        /// `utility_bill.files[2].file_hash`.
        field: String,
    },

    /// An element lacks a part its type requires.
    #[error("the {element} element has no {part}")]
    MissingPart {
        /// The element.
        element: ElementType,
        /// The missing part: `data`, `phone_number` …
        part: &'static str,
    },
}

/// Why a setting's list of keys cannot be read ([`Error::KeyList`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyListProblem {
    /// A `pkcs11:` URI is followed by white space and then by neither
    /// another URI nor an existing file: a URI cut at a space.
    #[error(
        "key {key}: a pkcs11: URI is followed by white space and then neither another pkcs11: URI nor an \
         existing file; what follows is not repeated here, as it may be a piece of the URI cut at a space (its \
         query may hold a PIN): inside a URI a space is written %20"
    )]
    UriCutAtSpace {
        /// The key's place in the list, from 1.
        key: usize,
    },
    /// A comma inside a `pkcs11:` URI is followed by the name of a key file
    /// that does not exist: a wrong path, or a piece of the query.
    #[error(
        "key {key}: a comma inside a pkcs11: URI is followed by the name of a key file that does not exist, not \
         repeated here (the URI's query may hold a PIN): if it is a key, check its path; if it is part of the \
         URI, write the comma as %2C"
    )]
    CommaBeforeMissingFile {
        /// The key's place in the list, from 1.
        key: usize,
    },
    /// The list names no key.
    #[error("no key given")]
    Empty,
}

/// What a caller does about an [`Error`]: the groups of [`Error::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// What was received cannot be decrypted, read or accepted as it is
    /// (including [`Error::Decryption`], opaque by design). Refuse the
    /// submission; the same bytes fail the same way every time.
    Input,
    /// The nonce refuses the submission: unknown, expired, replayed, not the
    /// one expected, held by another claim ([`Error::NonceClaimed`], the one
    /// worth retrying) or a claim lost.
    Nonce,
    /// The nonce store failed: unreachable, full, refusing a command, or
    /// holding data it did not write. Nothing was decided about the
    /// submission.
    NonceStore,
    /// The private key: it cannot be read, is not one this crate uses, or
    /// its token is unavailable ([`Error::KeyUnavailable`], the one worth
    /// retrying). Fix the configuration or the token.
    Key,
    /// The caller's own arguments: a scope, a request, a time-to-live, a
    /// lease, a bot token or an error report that cannot be built.
    Usage,
    /// Reading or writing outside the crate failed: file bytes, or the
    /// operating system's random number generator.
    Io,
}

impl Error {
    /// What a caller does about this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Decryption(_)
            | Error::Json { .. }
            | Error::NotAnObject { .. }
            | Error::NoPassportData
            | Error::Base64 { .. }
            | Error::Length { .. }
            | Error::UnknownElementType(_)
            | Error::DuplicateElement(_)
            | Error::MissingCredentials { .. }
            | Error::NotAllowed { .. }
            | Error::TooLarge { .. }
            | Error::Tl { .. }
            | Error::InvalidDate(_)
            | Error::Inconsistent { .. }
            | Error::MissingPart { .. } => ErrorKind::Input,
            Error::NonceMismatch
            | Error::NonceUnknown
            | Error::NonceExpired
            | Error::NonceReplayed
            | Error::NonceClaimed { .. }
            | Error::ClaimLost => ErrorKind::Nonce,
            Error::NonceStoreFull { .. }
            | Error::NonceStore(_)
            | Error::NonceStoreUnexpectedData(_)
            | Error::NonceStoreUnavailable(_) => ErrorKind::NonceStore,
            Error::KeyNotRsa { .. }
            | Error::KeyEncrypted
            | Error::KeySize { .. }
            | Error::KeyMalformed { .. }
            | Error::KeyFormat { .. }
            | Error::KeyList { .. }
            | Error::KeyOpen { .. }
            | Error::Pkcs11 { .. }
            | Error::KeyUnavailable { .. } => ErrorKind::Key,
            Error::InvalidPadding { .. }
            | Error::InvalidScope(_)
            | Error::InvalidRequest(_)
            | Error::InvalidLease { .. }
            | Error::InvalidTtl { .. }
            | Error::EmptyFileList { .. }
            | Error::InvalidBotToken => ErrorKind::Usage,
            Error::Io(_) | Error::Random => ErrorKind::Io,
        }
    }

    /// Whether the same call, with the same input, may succeed later:
    /// nothing was decided about the submission. A service answers `503`
    /// (with `Retry-After` where the error says when) and Telegram delivers
    /// the update again.
    ///
    /// True for a store that cannot answer now (unreachable, full of live
    /// claims, or refusing a command for a reason of its own such as its
    /// memory or permissions), a nonce held by another claim, a key whose
    /// token is unavailable, and failed input or output. False for
    /// everything the input, the nonce or the configuration decided, and for
    /// a store holding data it did not write.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::NonceStoreUnavailable(_)
                | Error::NonceStore(_)
                | Error::NonceStoreFull { .. }
                | Error::NonceClaimed { .. }
                | Error::KeyUnavailable { .. }
                | Error::Io(_)
        )
    }

    /// The variant's name in `snake_case` (`"nonce_replayed"`,
    /// `"decryption"`): what went wrong, without the text that says it, so
    /// safe for logs, traces and metrics. Stable within a major version.
    pub fn code(&self) -> &'static str {
        self.into()
    }
}

/// What is wrong with TL bytes ([`Error::Tl`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlProblem {
    /// The input ends before what it announces.
    #[error("{wanted} more bytes needed, {left} left")]
    Truncated {
        /// Bytes the next item needs.
        wanted: usize,
        /// Bytes left in the input.
        left: usize,
    },
    /// A constructor id the schema does not allow here.
    #[error("expected {expected}, found constructor #{found:08x}")]
    UnknownConstructor {
        /// The type or constructor expected.
        expected: &'static str,
        /// The id found.
        found: u32,
    },
    /// `flags` bits the schema does not define.
    #[error("flag bits {flags:#x} are not defined by the schema")]
    UndefinedFlags {
        /// The undefined bits that were set.
        flags: u32,
    },
    /// Bytes after the end of the message action.
    #[error("{count} bytes after the end")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// A `bytes` length prefix of 255, which TL does not define.
    #[error("a length prefix of 255 is not valid TL bytes")]
    BadLength,
    /// A `string` that is not UTF-8.
    #[error("{field} is not UTF-8")]
    NotUtf8 {
        /// The field.
        field: &'static str,
    },
    /// `secureFileEmpty` inside a file list.
    #[error("secureFileEmpty in a {field} list")]
    EmptyFileInList {
        /// `files` or `translation`.
        field: &'static str,
    },
}

/// What is wrong with a PKCS#11 key ([`Error::Pkcs11`]). No message ever
/// shows a PIN, or a URI (which may hold one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Pkcs11Problem {
    /// The text is not a PKCS#11 URI this crate can use (RFC 7512).
    #[error("malformed PKCS#11 URI: {0}")]
    Uri(String),
    /// This build has no PKCS#11 support.
    #[error("this build cannot use PKCS#11 keys: build with the feature `pkcs11`")]
    NotBuilt,
    /// The module (`module-path=`) could not be loaded or initialised.
    #[error("cannot load the PKCS#11 module {}", crate::text::excerpt(&path.to_string_lossy()))]
    Module {
        /// The module's path, as the URI gave it.
        path: std::path::PathBuf,
    },
    /// No token present matches the URI's `token=` (and `serial=`,
    /// `manufacturer=`, `model=`, `slot-id=`).
    #[error("no token \"{}\" is present in the module", crate::text::excerpt(token))]
    TokenNotFound {
        /// The label asked for (empty if the URI named none).
        token: String,
    },
    /// The PIN file (`pin-source=`) could not be read, or is not UTF-8.
    #[error("cannot read the PIN from {}", crate::text::excerpt(&path.to_string_lossy()))]
    PinUnreadable {
        /// The file.
        path: std::path::PathBuf,
    },
    /// The PIN file is not a regular file (a FIFO, a device, a folder):
    /// refused before anything is read from it.
    #[error("the PIN file {} is {found}, not a regular file", crate::text::excerpt(&path.to_string_lossy()))]
    PinFileNotRegular {
        /// The file.
        path: std::path::PathBuf,
        /// What it is: `a FIFO`, `a character device`, `a folder` …
        found: &'static str,
    },
    /// The PIN file holds more than `max` bytes: refused, not cut.
    #[error(
        "the PIN file {} holds more than {max} bytes: it should hold the PIN alone",
        crate::text::excerpt(&path.to_string_lossy())
    )]
    PinFileTooLong {
        /// The file.
        path: std::path::PathBuf,
        /// The most bytes a PIN file may hold, its newline included.
        max: usize,
    },
    /// The PIN file is empty or holds more than one line.
    #[error(
        "the PIN file {} should hold one line, the PIN (a newline after it is allowed)",
        crate::text::excerpt(&path.to_string_lossy())
    )]
    PinFileNotOneLine {
        /// The file.
        path: std::path::PathBuf,
    },
    /// The token refused the PIN; or, while this process is logged in to
    /// the token, the PIN differs from the one that login was made with
    /// (its `source` then says so, and the token was not asked).
    #[error("the token refused the PIN")]
    PinIncorrect,
    /// The token's user PIN is locked (too many wrong PINs).
    #[error("the token's PIN is locked")]
    PinLocked,
    /// No private key on the token matches `object=` and `id=`.
    #[error("no private key on the token matches {0}")]
    KeyNotFound(String),
    /// Several private keys match; the URI must name one.
    #[error("{count} private keys on the token match {selector}: add id= or object=")]
    KeyAmbiguous {
        /// The URI's `object=` and `id=`.
        selector: String,
        /// How many matched.
        count: usize,
    },
    /// The key is not an RSA key.
    #[error("the key is not an RSA key; Telegram Passport needs RSA")]
    NotRsa,
    /// The key may not decrypt (`CKA_DECRYPT` is false).
    #[error("the key may not decrypt (CKA_DECRYPT is false)")]
    NotForDecryption,
    /// The token could not unwrap a secret encrypted to the key's own
    /// public half when the key was loaded (for example, it lacks
    /// RSA-OAEP with SHA-1).
    #[error("the token could not unwrap a test secret with the key: {0}")]
    SelfTest(String),
    /// Any other refusal of the module while the key was loaded.
    #[error("the module refused: {0}")]
    Token(String),
}

/// What was given where the bot's private key belongs ([`Error::KeyFormat`]),
/// each said with what to do. The mistakes newcomers make most; a key
/// protected by a password, one of another algorithm or of the wrong size
/// are [`Error::KeyEncrypted`], [`Error::KeyNotRsa`] and [`Error::KeySize`].
///
/// ```
/// use telegram_passport::{Error, KeyFound, PrivateKey};
///
/// let certificate = "-----BEGIN CERTIFICATE-----\nMIIBCgKCAQEAqhsI\n-----END CERTIFICATE-----\n";
/// let error = PrivateKey::from_pem(certificate).unwrap_err();
/// assert!(matches!(error, Error::KeyFormat { found: KeyFound::Certificate }));
/// assert!(error.to_string().starts_with("a certificate, not a private key"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFound {
    /// A public key (`BEGIN PUBLIC KEY`, `BEGIN RSA PUBLIC KEY`, or its DER).
    #[error(
        "a public key where the private key belongs: decrypting needs the private key it was made from (a PEM \
         block that starts with -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----); the public key is \
         the half that goes to BotFather"
    )]
    PublicKey,
    /// An OpenSSH public key line (`ssh-rsa AAAA…`, as in a `.pub` file).
    #[error(
        "an OpenSSH public key (a line such as ssh-rsa AAAA… or ssh-ed25519 AAAA…), not the bot's private key: \
         make an RSA key for the bot (`openssl genrsa -out private.key 2048`)"
    )]
    OpenSshPublicKey,
    /// A certificate (`BEGIN CERTIFICATE`, or its DER).
    #[error(
        "a certificate, not a private key: Telegram Passport needs no certificate, only the bot's private key (a \
         PEM block that starts with -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)"
    )]
    Certificate,
    /// A certificate signing request (`BEGIN CERTIFICATE REQUEST`, or its DER).
    #[error(
        "a certificate request, not a private key: Telegram Passport needs no certificate, only the bot's private \
         key (a PEM block that starts with -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)"
    )]
    CertificateRequest,
    /// A private key in OpenSSH's own format (`BEGIN OPENSSH PRIVATE KEY`,
    /// what `ssh-keygen` writes), whatever its algorithm.
    #[error(
        "an OpenSSH key (-----BEGIN OPENSSH PRIVATE KEY-----, ssh-keygen's own format), which is not read here: \
         make a separate RSA key for the bot (`openssl genrsa -out private.key 2048`)"
    )]
    OpenSsh,
    /// A PKCS#12 bundle (`.p12`, `.pfx`): a key and its certificates,
    /// under a password.
    #[error(
        "a PKCS#12 bundle (.p12 or .pfx), not a key: take the key out of it \
         (`openssl pkcs12 -in bundle.p12 -nocerts -nodes -out key.pem` asks for its password)"
    )]
    Pkcs12,
    /// Binary data where PEM text belongs: DER, or another binary file.
    #[error(
        "binary data, not PEM text: if it is a DER key, load it as DER or convert it \
         (`openssl pkey -inform DER -in key.der -out key.pem`)"
    )]
    Der,
    /// PEM text where DER bytes belong.
    #[error("PEM text (-----BEGIN …), not DER bytes: load it as PEM")]
    Pem,
    /// Text that holds no PEM block at all.
    #[error(
        "not a key: a PEM key file holds a block that starts with -----BEGIN PRIVATE KEY----- or \
         -----BEGIN RSA PRIVATE KEY-----"
    )]
    NotPem,
    /// A PEM block's base64 without its `-----BEGIN` and `-----END` lines.
    #[error("base64 without its -----BEGIN and -----END lines: copy the whole key, those lines included")]
    Unarmoured,
    /// Nothing at all, or only white space.
    #[error("no key: the text is empty")]
    Empty,
    /// A PEM block with no `-----END` line: the key was cut short.
    #[error("a key cut short: its -----END line is missing; copy the whole key again")]
    Incomplete,
    /// A PEM key whose line breaks were written as the two characters
    /// `\n`, as when a key is pasted into a setting.
    #[error(
        "a key whose line breaks are written as \\n (two characters): put real line breaks in, or keep the key \
         in a file and give its path"
    )]
    EscapedNewlines,
    /// More than one private key: which one is meant is not guessed.
    #[error("{count} private keys where one belongs: keep each key in a file of its own")]
    SeveralKeys {
        /// How many private-key blocks there are.
        count: usize,
    },
    /// A PEM block of another type (`EC PARAMETERS`, `PGP PRIVATE KEY
    /// BLOCK` …) and no private key.
    #[error(
        "a PEM block of type {label}, not a private key: the bot's key is a PEM block that starts with \
         -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----"
    )]
    OtherPem {
        /// The block's type as its BEGIN line names it, quoted, when it is
        /// a short line of letters, digits and spaces; otherwise a
        /// description.
        label: String,
    },
}

/// Why a JSON document could not be read.
///
/// Keeps what a backend engineer needs from the parser's report, with its
/// message bounded (see [`EXCERPT_MAX`](crate::EXCERPT_MAX)): the parser's own messages repeat
/// received strings in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    message: String,
    field: String,
    line: usize,
    column: usize,
}

impl JsonError {
    pub(crate) fn new(message: String, field: String, line: usize, column: usize) -> Self {
        Self {
            message,
            field,
            line,
            column,
        }
    }

    /// The parser's message, bounded and escaped.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where in the document: a path such as `credentials.secure_data.passport.data`.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The line of the input (1-based; 0 when not known).
    pub fn line(&self) -> usize {
        self.line
    }

    /// The column of the input (1-based; 0 when not known).
    pub fn column(&self) -> usize {
        self.column
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)?;
        if self.line > 0 {
            write!(f, " (line {}, column {})", self.line, self.column)?;
        }
        Ok(())
    }
}

impl std::error::Error for JsonError {}

/// The one opaque decryption failure.
///
/// `Display` says only what could not be decrypted ("could not decrypt
/// credentials"), identical whether RSA-OAEP, the hash check or the padding
/// check failed, so nothing sent back to a remote party can serve as an
/// oracle. `Debug` adds the failed step for local logs.
#[derive(Clone, PartialEq, Eq)]
pub struct DecryptionError {
    target: Target,
    step: Step,
}

/// What was being decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// The `EncryptedCredentials`.
    Credentials,
    /// The `data` of an element.
    ElementData,
    /// An encrypted file.
    File,
}

/// The step that failed; local diagnostics only. Its name in the audit
/// trail is the variant's in `snake_case`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub(crate) enum Step {
    /// RSA-OAEP rejected the encrypted secret.
    Rsa,
    /// A secret or hash of the wrong size.
    KeyMaterial,
    /// Ciphertext empty or not a whole number of AES blocks.
    Length,
    /// SHA-256 of the padded plaintext differs from the expected hash.
    Hash,
    /// The padding length byte is below 32 or beyond the data.
    Padding,
}

impl DecryptionError {
    pub(crate) fn new(target: Target, step: Step) -> Self {
        Self { target, step }
    }

    /// What could not be decrypted.
    pub fn target(&self) -> Target {
        self.target
    }

    /// The step that failed, for local logs.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn step(&self) -> Step {
        self.step
    }
}

impl fmt::Display for DecryptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.target {
            Target::Credentials => f.write_str("could not decrypt credentials"),
            Target::ElementData => f.write_str("could not decrypt element data"),
            Target::File => f.write_str("could not decrypt file"),
        }
    }
}

impl fmt::Debug for DecryptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptionError")
            .field("target", &self.target)
            .field("failed_step", &self.step)
            .finish()
    }
}

impl std::error::Error for DecryptionError {}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;
