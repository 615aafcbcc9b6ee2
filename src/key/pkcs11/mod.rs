//! A key that stays in an HSM or any PKCS#11 token (feature `pkcs11`),
//! named by an RFC 7512 URI, its module loaded at run time (`cryptoki`).
//!
//! Invariants:
//! - Everything that can be wrong with the URI, the PIN file, the module,
//!   the token, the PIN or the key is found when the key is opened (a test
//!   secret is unwrapped through the token then), never at the first
//!   submission; and the PIN given is checked then, whatever else of this
//!   process is logged in to the token.
//! - A session the token invalidated (closed, logged out, its objects gone)
//!   is replaced and the unwrap asked again; a module or token that stays
//!   stuck is finalised and initialised again, at most once a second, and
//!   its token and key found anew, so a token that comes back is used
//!   again within seconds. Meanwhile a submission is
//!   [`Error::KeyUnavailable`], never a refusal.
//! - A refusal that may depend on the ciphertext is [`Unwrapped::Refused`],
//!   whatever the module's code, so it takes the opaque path every other
//!   key's refusal takes; an answer that cannot depend on it never is.
//! - The PIN lives in zeroized memory, and no message or `Debug` shows it,
//!   the URI's query, or any text of the URI this crate does not know.

mod module;
mod oaep;
mod pin;
mod session;
mod uri;

use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use cryptoki::context::Function;
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectHandle};
use cryptoki::session::Session;
use zeroize::Zeroizing;

use self::module::{Check, Module, Restart};
use self::session::{connect, Pool, Pooled};
use self::uri::{PinFrom, Selector, Uri};
use super::private::{Unwrap, Unwrapped};
use super::{CredentialsKey, PublicKey};
use crate::error::{Error, Pkcs11Problem, Result};
use crate::secret::{scrubbed, Secret};
use crate::text::excerpt;

/// Sessions one key opens at most; a submission beyond waits for one.
pub(crate) const MAX_SESSIONS: usize = 8;

/// An RSA private key that never leaves its PKCS#11 token (an HSM,
/// SoftHSM2, a smart card): the token unwraps the credentials secret with
/// `CKM_RSA_PKCS_OAEP` (SHA-1, MGF1-SHA-1, empty label).
///
/// Named by an RFC 7512 URI with the module and the PIN in its query:
///
/// ```text
/// pkcs11:token=passport;object=bot-2026?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/hsm-pin
/// pkcs11:token=passport;id=%01%02?module-path=/opt/hsm/lib/pkcs11.so&pin-value=1234
/// ```
///
/// Path attributes: `token`, `serial`, `manufacturer`, `model` and
/// `slot-id` choose the token; `object` (the key's label) and `id` (its
/// `CKA_ID`, percent-encoded bytes) the key; `type`, if given, must be
/// `private`. Query attributes: `module-path` (required), and the PIN as
/// `pin-source=file:PATH` or `pin-value=` (a `&` in it written `%26`).
/// Values are percent-decoded (RFC 3986). Anything else is refused, and
/// no message repeats a value, or a name this parser does not know.
///
/// A PIN file must be a regular file (symbolic links are followed) holding
/// the PIN on one line, at most 256 bytes with its newline: anything else
/// (a FIFO, a device, a folder, a longer file) is refused at once, before
/// it is read.
///
/// The PIN is checked when the key is opened: by the token, or, while this
/// process is logged in to the token already, against the PIN of that
/// login (kept as a salted SHA-256 digest), since the token would accept
/// any PIN then. A login made by other code of the process is logged out
/// first, so that the token checks.
///
/// A module or token that stops answering is finalised and initialised
/// again, at most once a second, and the token and key found anew: a token
/// that comes back is used again within about a second of its return.
/// Meanwhile, and while it is away, submissions are
/// [`Error::KeyUnavailable`]. A restart closes the sessions of every key
/// of the module in the process (they open new ones); other code of the
/// process using the same module sees its sessions closed too.
///
/// Cloning is cheap and shares the sessions. Every key of one module in a
/// process shares one loaded, initialised module.
///
/// ```no_run
/// use telegram_passport::{decrypt, KeyRing, NonceCheck, PassportData, Pkcs11Key, PrivateKey};
///
/// let current = Pkcs11Key::open(
///     "pkcs11:token=passport;object=bot-2026?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/hsm-pin",
/// )?;
/// let older = PrivateKey::from_pem(&std::fs::read_to_string("bot-2025.pem")?)?;
/// let ring = KeyRing::new(current).with_older(older);
///
/// let passport_data = PassportData::from_json(&std::fs::read("update.json")?)?;
/// let passport = decrypt(&ring, &passport_data, NonceCheck::Skip)?;
/// # let _ = passport;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Pkcs11Key {
    inner: Arc<Inner>,
}

struct Inner {
    /// How the token is asked: raw RSA where it allows that (OAEP is then
    /// decoded here, in constant time), RSA-OAEP in the token otherwise.
    mode: Mode,
    module: Arc<Module>,
    select: Selector,
    pin: Zeroizing<String>,
    /// The token refused the PIN after the key was opened (it was
    /// changed): trying it again would only count towards the lockout.
    pin_refused: AtomicBool,
    public: PublicKey,
    /// The modulus, big-endian, as long as a ciphertext.
    modulus: Vec<u8>,
    pool: Mutex<Pool>,
    returned: Condvar,
}

/// How the token unwraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `CKM_RSA_X_509`: the token does the private-key operation alone,
    /// which takes the same time for every ciphertext below the modulus,
    /// and the OAEP check happens here, in constant time. Preferred: a
    /// token's own OAEP failure path may take measurably longer (SoftHSM2's
    /// does, see SECURITY.md).
    Raw,
    /// `CKM_RSA_PKCS_OAEP` (SHA-1, MGF1-SHA-1): for a token whose policy
    /// refuses raw RSA with the key.
    Oaep,
}

impl Pkcs11Key {
    /// Reads the PIN, loads the module, finds the token, logs in (or, if
    /// this process is logged in to the token already, checks the PIN
    /// against that login's), finds the key, and unwraps a test secret
    /// through the token: every problem is an [`Error::Pkcs11`] here, not
    /// at the first submission.
    pub fn open(uri: &str) -> Result<Self> {
        let uri = Uri::parse(uri)?;
        let pin = match &uri.pin {
            PinFrom::Value(pin) => pin.clone(),
            PinFrom::File(path) => pin::read(path)?,
        };
        let module = Module::load(&uri.module_path)?;
        let select = uri.select;
        let (first, facts) = first_session(&module, &select, &pin)?;
        let mut key = Self {
            inner: Arc::new(Inner {
                mode: Mode::Raw,
                module,
                select,
                pin,
                pin_refused: AtomicBool::new(false),
                public: facts.public,
                modulus: facts.modulus,
                pool: Mutex::new(Pool::with(first)),
                returned: Condvar::new(),
            }),
        };
        match key.self_test() {
            Ok(()) => Ok(key),
            // The token refuses raw RSA with this key (its policy, or no
            // CKM_RSA_X_509): OAEP in the token. Anything else is no
            // reason to give up raw RSA for good.
            Err(raw) if mechanism_refused(&raw) => {
                if let Some(inner) = Arc::get_mut(&mut key.inner) {
                    inner.mode = Mode::Oaep;
                }
                key.self_test()?;
                Ok(key)
            }
            Err(other) => Err(other),
        }
    }

    /// How many sessions this key has open with its token now, idle or in
    /// use (at most 8): for a service's metrics, and to see that
    /// submissions at once are not queued behind one session.
    ///
    /// ```no_run
    /// # let key = telegram_passport::Pkcs11Key::open("pkcs11:token=t;object=k?module-path=m.so&pin-value=1")?;
    /// assert!((1..=8).contains(&key.sessions()));
    /// # Ok::<(), telegram_passport::Error>(())
    /// ```
    pub fn sessions(&self) -> usize {
        lock(&self.inner.pool).open()
    }

    /// Encrypts a random secret to the key's public half and has the token
    /// unwrap it.
    fn self_test(&self) -> Result<()> {
        let failed = |reason: String| Error::Pkcs11 {
            problem: Pkcs11Problem::SelfTest(reason),
            source: None,
        };
        let unavailable = |error: Error| match error {
            Error::KeyUnavailable { reason, source } => Error::Pkcs11 {
                problem: Pkcs11Problem::SelfTest(reason),
                source,
            },
            other => other,
        };
        let secret = Secret::random()?;
        let encrypted = self.inner.public.encrypt_secret(&secret)?;
        match self.unwrap_secret(&encrypted) {
            Unwrapped::Secret(unwrapped) if unwrapped.expose() == secret.expose() => Ok(()),
            Unwrapped::Secret(_) => Err(failed("it unwrapped another secret".to_owned())),
            Unwrapped::Refused => Err(failed("the token refused RSA-OAEP (SHA-1, MGF1-SHA-1)".to_owned())),
            Unwrapped::Unavailable(error) => Err(unavailable(error)),
        }
    }

    /// The token unwraps `encrypted`. What failed is recovered from as far
    /// as it can be, each step once: another session, the module
    /// initialised again, the module started afresh.
    fn unwrap_secret(&self, encrypted: &[u8]) -> Unwrapped {
        let inner = &*self.inner;
        // An RSA ciphertext is exactly as long as the modulus, and below
        // it (both public): raw RSA then answers every one, so that what
        // the token says can only be about the token.
        if encrypted.len() != inner.modulus.len() || (inner.mode == Mode::Raw && encrypted >= inner.modulus.as_slice())
        {
            return Unwrapped::Refused;
        }
        let (mut again, mut initialized, mut restarted) = (false, false, false);
        loop {
            let seen = inner.module.generation();
            let (failure, fresh) = match inner.ask(encrypted) {
                Ok(unwrapped) => return unwrapped,
                Err(failed) => failed,
            };
            let retried = match failure.recovery(fresh, false) {
                Recovery::Again if !again => {
                    again = true;
                    inner.discard_idle();
                    true
                }
                Recovery::Restart(Restart::Initialize) if !initialized => {
                    initialized = true;
                    inner.module.restart(seen, Restart::Initialize, false)
                }
                Recovery::Again | Recovery::Restart(Restart::Full) if !restarted => {
                    restarted = true;
                    inner.module.restart(seen, Restart::Full, false)
                }
                _ => false,
            };
            if !retried {
                return Unwrapped::Unavailable(failure.at_run());
            }
        }
    }
}

impl Inner {
    /// One try: a session from the pool, and the token asked. On failure,
    /// what failed and whether the session was a new one.
    fn ask(&self, encrypted: &[u8]) -> std::result::Result<Unwrapped, (Failure, bool)> {
        let _calls = self.module.enter();
        let (pooled, fresh) = self.checkout().map_err(|failure| (failure, true))?;
        let result = scrubbed(|| match self.mode {
            Mode::Raw => pooled
                .session
                .decrypt(&Mechanism::RsaX509, pooled.key, encrypted)
                .map(|encoded| oaep::oaep_sha1_decode(&Zeroizing::new(encoded), self.modulus.len())),
            Mode::Oaep => pooled
                .session
                .decrypt(&oaep(), pooled.key, encrypted)
                .map(|plain| Secret::from_slice(&Zeroizing::new(plain))),
        });
        match result {
            Ok(secret) => {
                self.checkin(pooled);
                Ok(secret.map_or(Unwrapped::Refused, Unwrapped::Secret))
            }
            Err(error) => {
                let about_ciphertext =
                    self.mode == Mode::Oaep && matches!(error, CkError::Pkcs11(_, Function::Decrypt));
                match Class::of(&error, about_ciphertext) {
                    Class::Refused => {
                        self.checkin(pooled);
                        Ok(Unwrapped::Refused)
                    }
                    Class::Session | Class::Module | Class::Unavailable => {
                        self.discard(pooled);
                        Err((Failure::Module(error), fresh))
                    }
                }
            }
        }
    }
}

/// What the key's object says about it.
struct KeyFacts {
    public: PublicKey,
    modulus: Vec<u8>,
}

/// The key's first session, the PIN checked, and what the key is. A
/// module stuck at that moment is started afresh once (waiting out
/// [`module::RESTART_INTERVAL`] if need be); a token or key that is not
/// found is the URI's mistake, and not restarted for.
fn first_session(module: &Module, select: &Selector, pin: &Zeroizing<String>) -> Result<(Pooled, KeyFacts)> {
    let mut restarted = false;
    loop {
        let seen = module.generation();
        let attempt = {
            let _calls = module.enter();
            connect(module, select, pin, Check::Pin).map(|pooled| {
                match key_facts(&pooled.session, pooled.key, select) {
                    Ok(facts) => Ok((pooled, facts)),
                    Err(error) => {
                        pooled.close(module.generation());
                        Err(error)
                    }
                }
            })
        };
        let failure = match attempt {
            Ok(found) => return found,
            Err(failure) => failure,
        };
        match failure.recovery(true, true) {
            Recovery::Restart(how) if !restarted && module.restart(seen, how, true) => restarted = true,
            _ => return Err(failure.at_load(select)),
        }
    }
}

/// Whether a failed self-test says the token refuses the mechanism with
/// the key, rather than anything about the token's state.
fn mechanism_refused(error: &Error) -> bool {
    let Error::Pkcs11 {
        source: Some(source), ..
    } = error
    else {
        return false;
    };
    matches!(
        source.downcast_ref::<CkError>(),
        Some(CkError::Pkcs11(
            RvError::MechanismInvalid
                | RvError::MechanismParamInvalid
                | RvError::KeyFunctionNotPermitted
                | RvError::KeyTypeInconsistent
                | RvError::FunctionNotSupported,
            _
        ))
    )
}

fn oaep() -> Mechanism<'static> {
    Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA1,
        PkcsMgfType::MGF1_SHA1,
        PkcsOaepSource::empty(),
    ))
}

/// How a module's answer is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// About the ciphertext, or could be: opaque, like any key's refusal.
    Refused,
    /// The session, its login or the key's handle is gone: another
    /// session may do.
    Session,
    /// The module or the token is stuck: only finalising and initialising
    /// the module again clears that (SoftHSM2, for one, keeps answering
    /// `CKR_GENERAL_ERROR` for a token whose folder came back until then).
    Module,
    /// Nothing this process can change (the PIN, the mechanism, memory):
    /// the key is unavailable until someone acts.
    Unavailable,
}

impl Class {
    /// `about_ciphertext`: the answer of the one call whose outcome may
    /// depend on the ciphertext (`C_Decrypt` doing OAEP in the token),
    /// where a module's own failure cannot be told from a refusal.
    fn of(error: &CkError, about_ciphertext: bool) -> Self {
        use RvError::*;
        match error {
            CkError::Pkcs11(rv, _) => match rv {
                EncryptedDataInvalid | EncryptedDataLenRange | DataInvalid | DataLenRange => Self::Refused,
                SessionHandleInvalid
                | SessionClosed
                | UserNotLoggedIn
                | KeyHandleInvalid
                | ObjectHandleInvalid
                | SessionCount
                | OperationActive
                | OperationNotInitialized => Self::Session,
                CryptokiNotInitialized
                | DeviceError
                | DeviceMemory
                | DeviceRemoved
                | TokenNotPresent
                | TokenNotRecognized
                | SlotIdInvalid => Self::Module,
                // CKR_GENERAL_ERROR is also SoftHSM2's answer to a
                // ciphertext its OAEP refuses.
                GeneralError | FunctionFailed if !about_ciphertext => Self::Module,
                PinExpired
                | PinLocked
                | PinIncorrect
                | PinInvalid
                | PinLenRange
                | UserPinNotInitialized
                | UserAnotherAlreadyLoggedIn
                | UserTooManyTypes
                | HostMemory
                | FunctionCanceled
                | MechanismInvalid
                | MechanismParamInvalid
                | KeyFunctionNotPermitted
                | KeyTypeInconsistent
                | FunctionNotSupported => Self::Unavailable,
                _ if about_ciphertext => Self::Refused,
                _ => Self::Unavailable,
            },
            _ if about_ciphertext => Self::Refused,
            _ => Self::Unavailable,
        }
    }
}

/// What may help after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recovery {
    /// Another session.
    Again,
    Restart(Restart),
    /// Nothing now.
    Nothing,
}

/// Why a session could not be had or used, before it is an [`Error`]:
/// at load time the problem is the URI's, afterwards the token's.
enum Failure {
    Module(CkError),
    NoToken,
    NoKey,
    Ambiguous(usize),
    /// The token refused this key's PIN after the key was opened.
    PinRefusedBefore,
    /// Said already, as it is to be reported.
    Reported(Error),
}

impl Failure {
    /// What may help: `fresh` if the failing session was a new one,
    /// `opening` while the key is being opened (when a token or key not
    /// found is the URI's mistake; afterwards they were there before).
    fn recovery(&self, fresh: bool, opening: bool) -> Recovery {
        match self {
            Failure::Module(error @ CkError::Pkcs11(rv, _)) => match (rv, Class::of(error, false)) {
                (RvError::CryptokiNotInitialized, _) => Recovery::Restart(Restart::Initialize),
                (_, Class::Session) if !fresh => Recovery::Again,
                (_, Class::Session | Class::Module) => Recovery::Restart(Restart::Full),
                (_, Class::Refused | Class::Unavailable) => Recovery::Nothing,
            },
            Failure::NoToken | Failure::NoKey if !opening => Recovery::Restart(Restart::Full),
            _ => Recovery::Nothing,
        }
    }

    /// What [`Pkcs11Key::open`] reports.
    fn at_load(self, select: &Selector) -> Error {
        let (problem, source) = match self {
            Failure::Module(error) => {
                let problem = match &error {
                    CkError::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _) => Pkcs11Problem::PinIncorrect,
                    CkError::Pkcs11(RvError::PinLocked, _) => Pkcs11Problem::PinLocked,
                    other => Pkcs11Problem::Token(other.to_string()),
                };
                (
                    problem,
                    Some(Box::new(error) as Box<dyn std::error::Error + Send + Sync>),
                )
            }
            Failure::NoToken => (
                Pkcs11Problem::TokenNotFound {
                    token: select.token.clone().unwrap_or_default(),
                },
                None,
            ),
            Failure::NoKey => (Pkcs11Problem::KeyNotFound(select.key_name()), None),
            Failure::Ambiguous(count) => (
                Pkcs11Problem::KeyAmbiguous {
                    selector: select.key_name(),
                    count,
                },
                None,
            ),
            Failure::PinRefusedBefore => (Pkcs11Problem::PinIncorrect, None),
            Failure::Reported(error) => return error,
        };
        Error::Pkcs11 { problem, source }
    }

    /// What a submission gets: [`Error::KeyUnavailable`].
    fn at_run(self) -> Error {
        let (reason, source) = match self {
            Failure::Module(error) => (
                error.to_string(),
                Some(Box::new(error) as Box<dyn std::error::Error + Send + Sync>),
            ),
            Failure::NoToken => ("the token is not present".to_owned(), None),
            Failure::NoKey => ("the key is no longer on the token".to_owned(), None),
            Failure::Ambiguous(count) => (format!("{count} keys on the token now match"), None),
            Failure::PinRefusedBefore => (
                "the token refused the key's PIN since the key was opened; it is not tried again, \
                 which would count towards the token's lockout: open the key again with the right PIN"
                    .to_owned(),
                None,
            ),
            Failure::Reported(Error::Pkcs11 { problem, source }) => (problem.to_string(), source),
            Failure::Reported(other) => (other.to_string(), None),
        };
        Error::KeyUnavailable { reason, source }
    }
}

impl From<CkError> for Failure {
    fn from(error: CkError) -> Self {
        Self::Module(error)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere leaves what these guard consistent: every change
    // to them is one statement.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The key's public half, from the private key object's own public
/// attributes; checks that it is an RSA key that may decrypt.
fn key_facts(session: &Session, key: ObjectHandle, select: &Selector) -> Result<KeyFacts> {
    let problem = |problem| Error::Pkcs11 { problem, source: None };
    let attributes = session
        .get_attributes(
            key,
            &[
                AttributeType::KeyType,
                AttributeType::Decrypt,
                AttributeType::Modulus,
                AttributeType::PublicExponent,
            ],
        )
        .map_err(|e| Failure::Module(e).at_load(select))?;
    let (mut rsa, mut decrypt, mut n, mut e) = (false, false, None, None);
    for attribute in attributes {
        match attribute {
            Attribute::KeyType(key_type) => rsa = key_type == KeyType::RSA,
            Attribute::Decrypt(allowed) => decrypt = allowed,
            Attribute::Modulus(bytes) => n = Some(bytes),
            Attribute::PublicExponent(bytes) => e = Some(bytes),
            _ => {}
        }
    }
    if !rsa {
        return Err(problem(Pkcs11Problem::NotRsa));
    }
    if !decrypt {
        return Err(problem(Pkcs11Problem::NotForDecryption));
    }
    let (Some(n), Some(e)) = (n, e) else {
        return Err(problem(Pkcs11Problem::Token(
            "the key's modulus and public exponent cannot be read".to_owned(),
        )));
    };
    let public = PublicKey::from_components(&n, &e)?;
    let significant = n
        .iter()
        .position(|&b| b != 0)
        .map_or(&[][..], |at| n.get(at..).unwrap_or_default());
    let mut modulus = vec![0; public.size().saturating_sub(significant.len())];
    modulus.extend_from_slice(significant);
    Ok(KeyFacts { public, modulus })
}

impl Unwrap for Pkcs11Key {
    fn unwrap_each(&self, encrypted: &[u8], attempt: &mut dyn FnMut(Unwrapped) -> bool) -> bool {
        attempt(self.unwrap_secret(encrypted))
    }
}

impl CredentialsKey for Pkcs11Key {
    fn public_key(&self) -> PublicKey {
        self.inner.public.clone()
    }
}

impl fmt::Debug for Pkcs11Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let select = &self.inner.select;
        f.debug_struct("Pkcs11Key")
            .field("module", &excerpt(&self.inner.module.path.to_string_lossy()))
            .field("token", &select.token.as_deref().map(excerpt))
            .field("key", &select.key_name())
            .field("bits", &self.inner.public.bits())
            .field(
                "mechanism",
                &match self.inner.mode {
                    Mode::Raw => "CKM_RSA_X_509",
                    Mode::Oaep => "CKM_RSA_PKCS_OAEP",
                },
            )
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    use super::*;

    /// A self-test that failed because the token will not use the key so
    /// (its policy, or no such mechanism) says so; one that failed for
    /// anything else, or for no reason the module gave, does not.
    #[test]
    fn only_a_refused_mechanism_counts_as_one() {
        use RvError::*;
        let failed = |source: Option<CkError>| Error::Pkcs11 {
            problem: Pkcs11Problem::SelfTest("raw RSA".to_owned()),
            source: source.map(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
        };
        let module = |rv| failed(Some(CkError::Pkcs11(rv, Function::Decrypt)));
        for rv in [
            MechanismInvalid,
            MechanismParamInvalid,
            KeyFunctionNotPermitted,
            KeyTypeInconsistent,
            FunctionNotSupported,
        ] {
            assert!(mechanism_refused(&module(rv)), "{rv:?}");
        }
        for rv in [
            GeneralError,
            DeviceError,
            EncryptedDataInvalid,
            PinIncorrect,
            SessionHandleInvalid,
        ] {
            assert!(!mechanism_refused(&module(rv)), "{rv:?}");
        }
        assert!(!mechanism_refused(&failed(None)));
        assert!(!mechanism_refused(&failed(Some(CkError::NotSupported))));
        assert!(!mechanism_refused(&Error::NoPassportData));
    }

    /// Every kind of answer a module gives is taken as its class says,
    /// whether it came from the one call that reads the ciphertext
    /// (`C_Decrypt` doing OAEP in the token) or from any other.
    #[test]
    fn each_answer_of_a_module_is_taken_for_what_it_is() {
        use RvError::*;
        let class =
            |rv: RvError, about_ciphertext| Class::of(&CkError::Pkcs11(rv, Function::Decrypt), about_ciphertext);
        let cases = [
            (
                &[EncryptedDataInvalid, EncryptedDataLenRange, DataInvalid, DataLenRange][..],
                Class::Refused,
                Class::Refused,
            ),
            (
                &[
                    SessionHandleInvalid,
                    SessionClosed,
                    UserNotLoggedIn,
                    KeyHandleInvalid,
                    ObjectHandleInvalid,
                    SessionCount,
                    OperationActive,
                    OperationNotInitialized,
                ],
                Class::Session,
                Class::Session,
            ),
            (
                &[
                    CryptokiNotInitialized,
                    DeviceError,
                    DeviceMemory,
                    DeviceRemoved,
                    TokenNotPresent,
                    TokenNotRecognized,
                    SlotIdInvalid,
                ],
                Class::Module,
                Class::Module,
            ),
            // SoftHSM2's answer to a ciphertext its OAEP refuses, too.
            (&[GeneralError, FunctionFailed], Class::Module, Class::Refused),
            (
                &[
                    PinExpired,
                    PinLocked,
                    PinIncorrect,
                    PinInvalid,
                    PinLenRange,
                    UserPinNotInitialized,
                    UserAnotherAlreadyLoggedIn,
                    UserTooManyTypes,
                    HostMemory,
                    FunctionCanceled,
                    MechanismInvalid,
                    MechanismParamInvalid,
                    KeyFunctionNotPermitted,
                    KeyTypeInconsistent,
                    FunctionNotSupported,
                ],
                Class::Unavailable,
                Class::Unavailable,
            ),
            // Anything else: about the ciphertext where only it can be.
            (&[ArgumentsBad, AttributeReadOnly], Class::Unavailable, Class::Refused),
        ];
        for (answers, elsewhere, about_ciphertext) in cases {
            for &rv in answers {
                assert_eq!(class(rv, false), elsewhere, "{rv:?}");
                assert_eq!(class(rv, true), about_ciphertext, "{rv:?}, about the ciphertext");
            }
        }
        let not_the_modules = CkError::NotSupported;
        assert_eq!(Class::of(&not_the_modules, false), Class::Unavailable);
        assert_eq!(Class::of(&not_the_modules, true), Class::Refused);
    }

    #[test]
    fn a_missing_module_is_a_typed_error_naming_its_path() {
        let error = Pkcs11Key::open("pkcs11:token=t;object=k?module-path=/nowhere/libnone.so&pin-value=1").unwrap_err();
        assert!(
            matches!(&error, Error::Pkcs11 { problem: Pkcs11Problem::Module { path }, .. } if path == Path::new("/nowhere/libnone.so")),
            "{error:?}"
        );
    }

    /// What the system said about a module that did not load is the
    /// error's source, the same escaped line in `Display` and `Debug`
    /// (the system repeats the configured path, which may hold anything).
    #[test]
    fn a_modules_load_failure_is_the_systems_reason_escaped_in_display_and_debug() {
        let error =
            Pkcs11Key::open("pkcs11:token=t;object=k?module-path=/nowhere/lib%0Anone.so&pin-value=1").unwrap_err();
        let source = std::error::Error::source(&error).expect("the system's reason");
        let shown = source.to_string();
        assert!(shown.contains("lib\\nnone.so"), "{shown}");
        assert_eq!(format!("{source:?}"), shown);
        assert!(!format!("{error:?}").contains('\n'), "{error:?}");
    }
}
