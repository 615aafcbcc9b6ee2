//! A key that stays in an HSM or any PKCS#11 token (feature `pkcs11`),
//! named by an RFC 7512 URI, its module loaded at run time (`cryptoki`).
//!
//! Invariants:
//! - Everything that can be wrong with the URI, the module, the token, the
//!   PIN or the key is found when the key is opened (a test secret is
//!   unwrapped through the token then), never at the first submission.
//! - A session is used by one thread at a time: submissions take a session
//!   from a small pool (opening one when none is idle, up to
//!   [`MAX_SESSIONS`]), so they do not queue behind one another.
//! - A session the token invalidated (closed, logged out, the module reset
//!   underneath, the token re-inserted) is replaced and the unwrap asked
//!   again; a token that stays unavailable is [`Error::KeyUnavailable`].
//! - A refusal that depends on the ciphertext is [`Unwrapped::Refused`],
//!   whatever the module's code, so it takes the opaque path every other
//!   key's refusal takes.
//! - The PIN lives in zeroized memory, and no message or `Debug` shows it
//!   or the URI that may hold it.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use super::private::{Unwrap, Unwrapped};
use super::{CredentialsKey, PublicKey};
use crate::error::{Error, Pkcs11Problem, Result};
use crate::secret::{scrubbed, Secret};

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
/// `pin-source=file:PATH` (the file's first line) or `pin-value=`. Values
/// are percent-decoded (RFC 3986). Anything else is refused.
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
    public: PublicKey,
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

/// The sessions of one key: idle ones, and how many are open in all.
struct Pool {
    idle: Vec<Pooled>,
    open: usize,
}

/// A session, logged in, with the key's handle in it, and the module
/// generation it was opened in.
struct Pooled {
    session: Option<Session>,
    key: ObjectHandle,
    generation: u64,
}

/// What the URI says to look for.
#[derive(Default)]
struct Selector {
    token: Option<String>,
    serial: Option<String>,
    manufacturer: Option<String>,
    model: Option<String>,
    slot_id: Option<u64>,
    object: Option<String>,
    id: Option<Vec<u8>>,
}

/// A module, loaded and initialised once per process and path: a second
/// `C_Initialize` in one process is refused by the module.
struct Module {
    path: PathBuf,
    context: Pkcs11,
    /// Counts resets: a session from an earlier generation belongs to a
    /// module state that is gone, and its handle may name another's now.
    generation: AtomicU64,
    reset: Mutex<()>,
}

impl Pkcs11Key {
    /// Loads the module, finds the token, logs in, finds the key, and
    /// unwraps a test secret through the token: every problem is an
    /// [`Error::Pkcs11`] here, not at the first submission.
    pub fn open(uri: &str) -> Result<Self> {
        let uri = Uri::parse(uri)?;
        let module = Module::load(&uri.module_path)?;
        let pin = match &uri.pin {
            PinFrom::Value(pin) => pin.clone(),
            PinFrom::File(path) => read_pin(path)?,
        };
        let select = uri.select;
        let session = open_session(&module, &select).map_err(|e| e.at_load(&select))?;
        let (session, (key, public)) = closed_on_error(session, |session| {
            login(session, &pin).map_err(|e| e.at_load(&select))?;
            let key = find_key(session, &select).map_err(|e| e.at_load(&select))?;
            Ok::<_, Error>((key, public_key(session, key, &select)?))
        })?;
        let pooled = Pooled {
            session: Some(session),
            key,
            generation: module.generation(),
        };
        let mut key = Self {
            inner: Arc::new(Inner {
                mode: Mode::Raw,
                module,
                select,
                pin,
                public,
                pool: Mutex::new(Pool {
                    idle: vec![pooled],
                    open: 1,
                }),
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
        lock(&self.inner.pool).open
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

    /// The token unwraps `encrypted`; a session it invalidated is replaced
    /// and asked once more.
    fn unwrap_secret(&self, encrypted: &[u8]) -> Unwrapped {
        // An RSA ciphertext is exactly as long as the modulus.
        if encrypted.len() != self.inner.public.size() {
            return Unwrapped::Refused;
        }
        let mut last = None;
        for _ in 0..2 {
            let mut pooled = match self.inner.checkout() {
                Ok(pooled) => pooled,
                Err(failure) => return Unwrapped::Unavailable(failure.at_run()),
            };
            let Some(session) = pooled.session.as_ref() else {
                self.inner.discard(&mut pooled);
                continue;
            };
            let result = scrubbed(|| match self.inner.mode {
                Mode::Raw => session
                    .decrypt(&Mechanism::RsaX509, pooled.key, encrypted)
                    .map(|encoded| oaep_sha1_decode(&Zeroizing::new(encoded), self.inner.public.size())),
                Mode::Oaep => session
                    .decrypt(&oaep(), pooled.key, encrypted)
                    .map(|plain| Secret::from_slice(&Zeroizing::new(plain))),
            });
            match result {
                Ok(secret) => {
                    self.inner.checkin(pooled);
                    return secret.map_or(Unwrapped::Refused, Unwrapped::Secret);
                }
                Err(error) => match Class::of(&error) {
                    Class::Refused => {
                        self.inner.checkin(pooled);
                        return Unwrapped::Refused;
                    }
                    Class::Session => {
                        if matches!(error, CkError::Pkcs11(RvError::CryptokiNotInitialized, _)) {
                            self.inner.module.reset(pooled.generation);
                        }
                        self.inner.discard(&mut pooled);
                        last = Some(Failure::Module(error));
                    }
                    Class::Unavailable => {
                        self.inner.discard(&mut pooled);
                        return Unwrapped::Unavailable(Failure::Module(error).at_run());
                    }
                },
            }
        }
        Unwrapped::Unavailable(
            last.unwrap_or(Failure::Module(CkError::Pkcs11(
                RvError::SessionHandleInvalid,
                cryptoki::context::Function::Decrypt,
            )))
            .at_run(),
        )
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

/// RSA-OAEP decoding (RFC 8017 §7.1.2, SHA-1, MGF1-SHA-1, empty label) of
/// a raw RSA output `em`, for a 32-byte message: every check runs over
/// every byte whatever the input, so its time says nothing about which
/// failed. `k` is the modulus size; a token that drops the output's
/// leading zero bytes has them put back (in time that depends only on the
/// output's length, which such a token shows anyway).
fn oaep_sha1_decode(em: &[u8], k: usize) -> Option<Secret> {
    use sha1::{Digest, Sha1};
    use subtle::{Choice, ConstantTimeEq};

    const H: usize = 20;
    let db_len = k.checked_sub(H + 1)?;
    // lHash, then at least no zero bytes of PS, then 0x01 and the message.
    if em.len() > k || db_len < H + 1 + Secret::LEN {
        return None;
    }
    let mut padded = Zeroizing::new(vec![0u8; k]);
    padded.get_mut(k - em.len()..)?.copy_from_slice(em);
    let (y, rest) = padded.split_first()?;
    let (masked_seed, masked_db) = rest.split_at(H);
    let mut seed = Zeroizing::new([0u8; H]);
    seed.copy_from_slice(masked_seed);
    mgf1_sha1_xor(masked_db, seed.as_mut_slice());
    let mut db = Zeroizing::new(masked_db.to_vec());
    mgf1_sha1_xor(seed.as_slice(), &mut db);

    let one_at = db_len - Secret::LEN - 1;
    let (l_hash, rest) = db.split_at(H);
    let (ps, rest) = rest.split_at(one_at - H);
    let (one, message) = rest.split_at(1);
    let mut valid = y.ct_eq(&0) & l_hash.ct_eq(Sha1::digest([]).as_slice());
    let mut nonzero = 0u8;
    for byte in ps {
        nonzero |= byte;
    }
    valid &= nonzero.ct_eq(&0) & one.ct_eq(&[1]);
    let secret = Secret::from_slice(message);
    match bool::from(valid) && bool::from(Choice::from(u8::from(secret.is_some()))) {
        true => secret,
        false => None,
    }
}

/// `out ^= MGF1-SHA-1(seed, out.len())`.
fn mgf1_sha1_xor(seed: &[u8], out: &mut [u8]) {
    use sha1::{Digest, Sha1};
    for (counter, chunk) in out.chunks_mut(20).enumerate() {
        let mut hash = Sha1::new();
        hash.update(seed);
        hash.update((counter as u32).to_be_bytes());
        let mask = Zeroizing::new(hash.finalize());
        for (byte, m) in chunk.iter_mut().zip(mask.iter()) {
            *byte ^= m;
        }
    }
}

/// How a module's answer to an unwrap is taken.
enum Class {
    /// About the ciphertext, or could be: opaque, like any key's refusal.
    Refused,
    /// The session or its login is gone: open another and ask again.
    Session,
    /// The token or module cannot answer now: retry the submission later.
    Unavailable,
}

impl Class {
    fn of(error: &CkError) -> Self {
        use RvError::*;
        match error {
            CkError::Pkcs11(rv, _) => match rv {
                SessionHandleInvalid
                | SessionClosed
                | UserNotLoggedIn
                | KeyHandleInvalid
                | ObjectHandleInvalid
                | CryptokiNotInitialized
                | DeviceRemoved
                | TokenNotPresent
                | SessionCount => Self::Session,
                DeviceError
                | DeviceMemory
                | HostMemory
                | TokenNotRecognized
                | FunctionCanceled
                | PinExpired
                | PinLocked
                | PinIncorrect
                | UserPinNotInitialized
                | OperationActive
                | MechanismInvalid
                | MechanismParamInvalid
                | KeyFunctionNotPermitted
                | KeyTypeInconsistent
                | FunctionNotSupported => Self::Unavailable,
                // CKR_ENCRYPTED_DATA_INVALID, CKR_ENCRYPTED_DATA_LEN_RANGE,
                // CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR (SoftHSM2's answer
                // to a ciphertext OAEP refuses) and anything else a module
                // may answer to a ciphertext: never told apart.
                _ => Self::Refused,
            },
            CkError::LibraryLoading(_) | CkError::NullFunctionPointer | CkError::MissingSymbol(_) => Self::Unavailable,
            _ => Self::Refused,
        }
    }
}

/// Why a session could not be had or used, before it is an [`Error`]:
/// at load time the problem is the URI's, afterwards the token's.
enum Failure {
    Module(CkError),
    NoToken,
    NoKey,
    Ambiguous(usize),
}

impl Failure {
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
    // A panic elsewhere leaves the pool consistent: every change to it is
    // one statement.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    /// An idle session of the current module generation, or a new one;
    /// waits while [`MAX_SESSIONS`] are in use.
    fn checkout(&self) -> std::result::Result<Pooled, Failure> {
        let mut pool = lock(&self.pool);
        loop {
            let generation = self.module.generation();
            while let Some(mut pooled) = pool.idle.pop() {
                if pooled.generation == generation {
                    return Ok(pooled);
                }
                pool.open = pool.open.saturating_sub(1);
                pooled.forget();
            }
            if pool.open < MAX_SESSIONS {
                pool.open += 1;
                drop(pool);
                let opened = self.open_pooled();
                if opened.is_err() {
                    let mut pool = lock(&self.pool);
                    pool.open = pool.open.saturating_sub(1);
                    self.returned.notify_one();
                }
                return opened;
            }
            pool = self.returned.wait(pool).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// A new session, logged in, with the key found in it; after a reset
    /// of the module underneath, initialises it again first.
    fn open_pooled(&self) -> std::result::Result<Pooled, Failure> {
        let attempt = || -> std::result::Result<Pooled, Failure> {
            let generation = self.module.generation();
            let opened = open_session(&self.module, &self.select).and_then(|session| {
                closed_on_error(session, |session| {
                    login(session, &self.pin)?;
                    find_key(session, &self.select)
                })
            });
            match opened {
                Ok((session, key)) => Ok(Pooled {
                    session: Some(session),
                    key,
                    generation,
                }),
                Err(Failure::Module(CkError::Pkcs11(RvError::CryptokiNotInitialized, f))) => {
                    self.module.reset(generation);
                    Err(Failure::Module(CkError::Pkcs11(RvError::CryptokiNotInitialized, f)))
                }
                Err(other) => Err(other),
            }
        };
        match attempt() {
            Err(Failure::Module(CkError::Pkcs11(RvError::CryptokiNotInitialized, _))) => attempt(),
            other => other,
        }
    }

    fn checkin(&self, pooled: Pooled) {
        lock(&self.pool).idle.push(pooled);
        self.returned.notify_one();
    }

    /// A session the token invalidated: closed if it may still be open,
    /// and its place in the pool freed.
    fn discard(&self, pooled: &mut Pooled) {
        if pooled.generation == self.module.generation() {
            if let Some(session) = pooled.session.take() {
                let _ = session.close();
            }
        } else {
            pooled.forget();
        }
        let mut pool = lock(&self.pool);
        pool.open = pool.open.saturating_sub(1);
        self.returned.notify_one();
    }
}

impl Pooled {
    /// Drops a session of a module state that is gone without closing it:
    /// its handle may name another session now.
    fn forget(&mut self) {
        if let Some(session) = self.session.take() {
            std::mem::forget(session);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let generation = self.module.generation();
        let pool = self.pool.get_mut().unwrap_or_else(PoisonError::into_inner);
        for pooled in &mut pool.idle {
            match (pooled.generation == generation, pooled.session.take()) {
                (true, Some(session)) => {
                    let _ = session.close();
                }
                (false, Some(session)) => std::mem::forget(session),
                (_, None) => {}
            }
        }
    }
}

impl Module {
    /// The process's one instance of the module at `path`, loaded and
    /// initialised on first use.
    fn load(path: &Path) -> Result<Arc<Self>> {
        static MODULES: OnceLock<Mutex<HashMap<PathBuf, Arc<Module>>>> = OnceLock::new();
        let failed = |source: CkError| Error::Pkcs11 {
            problem: Pkcs11Problem::Module { path: path.to_owned() },
            source: Some(Box::new(source)),
        };
        let mut modules = lock(MODULES.get_or_init(Default::default));
        if let Some(module) = modules.get(path) {
            return Ok(Arc::clone(module));
        }
        let context = Pkcs11::new(path).map_err(failed)?;
        initialize(&context).map_err(failed)?;
        let module = Arc::new(Self {
            path: path.to_owned(),
            context,
            generation: AtomicU64::new(0),
            reset: Mutex::new(()),
        });
        modules.insert(path.to_owned(), Arc::clone(&module));
        Ok(module)
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The module was finalised underneath (it answered
    /// `CKR_CRYPTOKI_NOT_INITIALIZED` to a session of `seen`): initialise
    /// it again, once however many sessions noticed.
    fn reset(&self, seen: u64) {
        let _one_at_a_time = lock(&self.reset);
        if self.generation() == seen && initialize(&self.context).is_ok() {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }
}

fn initialize(context: &Pkcs11) -> std::result::Result<(), CkError> {
    match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(()),
        other => other,
    }
}

/// Runs `f` on a session just opened; closes the session if `f` fails.
fn closed_on_error<T, E>(
    session: Session,
    f: impl FnOnce(&Session) -> std::result::Result<T, E>,
) -> std::result::Result<(Session, T), E> {
    match f(&session) {
        Ok(value) => Ok((session, value)),
        Err(error) => {
            let _ = session.close();
            Err(error)
        }
    }
}

/// A read-only session on the token the URI names.
fn open_session(module: &Module, select: &Selector) -> std::result::Result<Session, Failure> {
    let slot = find_slot(&module.context, select)?;
    Ok(module.context.open_ro_session_no_drop(slot)?)
}

fn find_slot(context: &Pkcs11, select: &Selector) -> std::result::Result<Slot, Failure> {
    for slot in context.get_slots_with_token()? {
        if select.slot_id.is_some_and(|id| id != slot.id()) {
            continue;
        }
        let info = match context.get_token_info(slot) {
            Ok(info) => info,
            // Removed while we look.
            Err(CkError::Pkcs11(RvError::TokenNotPresent | RvError::DeviceRemoved, _)) => continue,
            Err(other) => return Err(other.into()),
        };
        let matches = |wanted: &Option<String>, has: &str| wanted.as_deref().is_none_or(|w| w == has.trim_end());
        if matches(&select.token, info.label())
            && matches(&select.serial, info.serial_number())
            && matches(&select.manufacturer, info.manufacturer_id())
            && matches(&select.model, info.model())
        {
            return Ok(slot);
        }
    }
    Err(Failure::NoToken)
}

/// Logs the user in; a login another session made already holds.
fn login(session: &Session, pin: &Zeroizing<String>) -> std::result::Result<(), Failure> {
    let pin = AuthPin::from(pin.as_str());
    match session.login(UserType::User, Some(&pin)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

fn find_key(session: &Session, select: &Selector) -> std::result::Result<ObjectHandle, Failure> {
    let mut template = vec![Attribute::Class(ObjectClass::PRIVATE_KEY)];
    if let Some(label) = &select.object {
        template.push(Attribute::Label(label.as_bytes().to_vec()));
    }
    if let Some(id) = &select.id {
        template.push(Attribute::Id(id.clone()));
    }
    match session.find_objects(&template)?.as_slice() {
        [key] => Ok(*key),
        [] => Err(Failure::NoKey),
        keys => Err(Failure::Ambiguous(keys.len())),
    }
}

/// The key's public half, from the private key object's own public
/// attributes; checks that it is an RSA key that may decrypt.
fn public_key(session: &Session, key: ObjectHandle, select: &Selector) -> Result<PublicKey> {
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
    match (n, e) {
        (Some(n), Some(e)) => PublicKey::from_components(&n, &e),
        _ => Err(problem(Pkcs11Problem::Token(
            "the key's modulus and public exponent cannot be read".to_owned(),
        ))),
    }
}

fn read_pin(path: &Path) -> Result<Zeroizing<String>> {
    let unreadable = |source: Option<Box<dyn std::error::Error + Send + Sync>>| Error::Pkcs11 {
        problem: Pkcs11Problem::PinUnreadable { path: path.to_owned() },
        source,
    };
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| unreadable(Some(Box::new(e))))?);
    let text = std::str::from_utf8(&bytes).map_err(|_| unreadable(None))?;
    let first_line = text.lines().next().unwrap_or_default();
    Ok(Zeroizing::new(first_line.to_owned()))
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
            .field("module", &self.inner.module.path)
            .field("token", &select.token)
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

impl Selector {
    /// The URI's `object=` and `id=`, for messages.
    fn key_name(&self) -> String {
        let mut parts = Vec::new();
        if let Some(object) = &self.object {
            parts.push(format!("object={object:?}"));
        }
        if let Some(id) = &self.id {
            let hex: String = id.iter().map(|b| format!("%{b:02x}")).collect();
            parts.push(format!("id={hex}"));
        }
        parts.join(", ")
    }
}

/// Where the PIN comes from.
enum PinFrom {
    Value(Zeroizing<String>),
    File(PathBuf),
}

/// A parsed `pkcs11:` URI.
struct Uri {
    select: Selector,
    module_path: PathBuf,
    pin: PinFrom,
}

impl Uri {
    /// RFC 7512: `pkcs11:` path attributes separated by `;`, then `?` and
    /// query attributes separated by `&`, each `name=value`, values
    /// percent-encoded.
    fn parse(text: &str) -> Result<Self> {
        let bad = |reason: String| Error::Pkcs11 {
            problem: Pkcs11Problem::Uri(reason),
            source: None,
        };
        let rest = match text.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case("pkcs11:") => text.get(7..).unwrap_or_default(),
            _ => return Err(bad("it does not start with pkcs11:".to_owned())),
        };
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut select = Selector::default();
        let mut seen = Vec::new();
        for part in path.split(';').filter(|part| !part.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("path attribute {:?} has no '='", excerpt(part))))?;
            if seen.contains(&name) {
                return Err(bad(format!("the path attribute {name} appears twice")));
            }
            seen.push(name);
            let bytes = percent_decode(value).map_err(|reason| bad(format!("{name}: {reason}")))?;
            let text = || {
                String::from_utf8(bytes.to_vec()).map_err(|_| bad(format!("{name} is not UTF-8 once percent-decoded")))
            };
            match name {
                "token" => select.token = Some(text()?),
                "serial" => select.serial = Some(text()?),
                "manufacturer" => select.manufacturer = Some(text()?),
                "model" => select.model = Some(text()?),
                "slot-id" => {
                    let id = text()?.parse().map_err(|_| bad("slot-id is not a number".to_owned()))?;
                    select.slot_id = Some(id);
                }
                "object" => select.object = Some(text()?),
                "id" => select.id = Some(bytes.to_vec()),
                "type" => match text()?.as_str() {
                    "private" => {}
                    other => {
                        return Err(bad(format!(
                            "type={} names no private key; the private key is needed",
                            excerpt(other)
                        )))
                    }
                },
                other => return Err(bad(format!("the path attribute {} is not supported", excerpt(other)))),
            }
        }
        let (mut module_path, mut pin) = (None, None);
        for part in query.split('&').filter(|part| !part.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("query attribute {:?} has no '='", excerpt_name(part))))?;
            let bytes = percent_decode(value).map_err(|reason| bad(format!("{name}: {reason}")))?;
            let text = String::from_utf8(bytes.to_vec())
                .map(Zeroizing::new)
                .map_err(|_| bad(format!("{name} is not UTF-8 once percent-decoded")))?;
            match name {
                "module-path" if module_path.is_none() => module_path = Some(PathBuf::from(text.as_str())),
                "pin-value" if pin.is_none() => pin = Some(PinFrom::Value(text)),
                "pin-source" if pin.is_none() => pin = Some(PinFrom::File(pin_file(&text).map_err(bad)?)),
                "module-path" | "pin-value" | "pin-source" => {
                    return Err(bad(format!(
                        "{name} repeats, or pin-value and pin-source are both given"
                    )))
                }
                "module-name" => return Err(bad("module-name is not supported: give module-path".to_owned())),
                other => return Err(bad(format!("the query attribute {} is not supported", excerpt(other)))),
            }
        }
        if select.object.is_none() && select.id.is_none() {
            return Err(bad("it names no key: add object= or id=".to_owned()));
        }
        if select.token.is_none() && select.serial.is_none() && select.slot_id.is_none() {
            return Err(bad("it names no token: add token= (or serial=, slot-id=)".to_owned()));
        }
        Ok(Self {
            select,
            module_path: module_path
                .ok_or_else(|| bad("module-path= is required (the module's library file)".to_owned()))?,
            pin: pin.ok_or_else(|| bad("the PIN is missing: add pin-source=file:PATH or pin-value=".to_owned()))?,
        })
    }
}

/// The file a `pin-source` names: `file:/path`, `file:///path`, or a
/// plain path (RFC 7512 leaves the scheme to the consumer).
fn pin_file(source: &str) -> std::result::Result<PathBuf, String> {
    let path = match source.strip_prefix("file:") {
        Some(rest) => match rest.strip_prefix("//") {
            // file://HOST/path: only the local host.
            Some(authority) => match authority.split_once('/') {
                Some(("" | "localhost", path)) => format!("/{path}"),
                _ => return Err("pin-source names a file on another host".to_owned()),
            },
            None => rest.to_owned(),
        },
        None if source.contains("://") => return Err("pin-source must be a file: URI or a path".to_owned()),
        None => source.to_owned(),
    };
    match path.is_empty() {
        true => Err("pin-source names no file".to_owned()),
        false => Ok(PathBuf::from(path)),
    }
}

/// RFC 3986 percent-decoding, into zeroized bytes (a `pin-value` passes
/// through here).
fn percent_decode(value: &str) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
    let mut out = Zeroizing::new(Vec::with_capacity(value.len()));
    let mut bytes = value.bytes();
    while let Some(byte) = bytes.next() {
        if byte != b'%' {
            out.push(byte);
            continue;
        }
        let digit = |b: Option<u8>| b.and_then(|b| (b as char).to_digit(16));
        match (digit(bytes.next()), digit(bytes.next())) {
            (Some(high), Some(low)) => out.push((high * 16 + low) as u8),
            _ => return Err("a '%' is not followed by two hexadecimal digits".to_owned()),
        }
    }
    Ok(out)
}

/// An attribute name for a message: short, on one line.
fn excerpt(text: &str) -> String {
    crate::one_line(&text.chars().take(40).collect::<String>()).into_owned()
}

/// The name part of a query attribute without `=`: never its value, which
/// may be a PIN.
fn excerpt_name(part: &str) -> String {
    excerpt(part.split_once('=').map_or(part, |(name, _)| name))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn problem(uri: &str) -> String {
        match Uri::parse(uri) {
            Err(Error::Pkcs11 {
                problem: Pkcs11Problem::Uri(reason),
                ..
            }) => reason,
            Err(other) => panic!("{uri}: {other}"),
            Ok(_) => panic!("{uri}: accepted"),
        }
    }

    #[test]
    fn a_full_uri_is_read_as_rfc_7512_says() {
        let uri = Uri::parse(
            "pkcs11:token=My%20Token;object=bot%3B2026;id=%01%02%ff;type=private;serial=42\
             ?module-path=/usr/lib/soft%20hsm.so&pin-source=file:///run/pin%20file",
        )
        .unwrap();
        assert_eq!(uri.select.token.as_deref(), Some("My Token"));
        assert_eq!(uri.select.object.as_deref(), Some("bot;2026"));
        assert_eq!(uri.select.id.as_deref(), Some(&[1u8, 2, 0xff][..]));
        assert_eq!(uri.select.serial.as_deref(), Some("42"));
        assert_eq!(uri.module_path, PathBuf::from("/usr/lib/soft hsm.so"));
        assert!(matches!(uri.pin, PinFrom::File(ref path) if path == Path::new("/run/pin file")));
        let uri = Uri::parse("PKCS11:token=t;id=%0A?pin-value=12%2634&module-path=m.so").unwrap();
        assert!(matches!(uri.pin, PinFrom::Value(ref pin) if pin.as_str() == "12&34"));
    }

    #[test]
    fn pin_sources_name_local_files() {
        assert_eq!(pin_file("file:/run/pin").unwrap(), PathBuf::from("/run/pin"));
        assert_eq!(pin_file("file:///run/pin").unwrap(), PathBuf::from("/run/pin"));
        assert_eq!(pin_file("file://localhost/run/pin").unwrap(), PathBuf::from("/run/pin"));
        assert_eq!(pin_file("pin.txt").unwrap(), PathBuf::from("pin.txt"));
        assert!(pin_file("file://elsewhere/run/pin").is_err());
        assert!(pin_file("https://example.org/pin").is_err());
        assert!(pin_file("file:").is_err());
    }

    #[test]
    fn malformed_uris_say_what_is_wrong_and_never_show_the_pin() {
        let m = "module-path=/m.so";
        for (uri, expected) in [
            (
                "token=t;object=k?module-path=/m.so&pin-value=1",
                "does not start with pkcs11:",
            ),
            (&format!("pkcs11:token=t?{m}&pin-value=1") as &str, "names no key"),
            (&format!("pkcs11:object=k?{m}&pin-value=1"), "names no token"),
            ("pkcs11:token=t;object=k?pin-value=1", "module-path= is required"),
            (&format!("pkcs11:token=t;object=k?{m}"), "the PIN is missing"),
            (
                &format!("pkcs11:token=t;object=k;object=j?{m}&pin-value=1"),
                "appears twice",
            ),
            (
                &format!("pkcs11:token=t;object=k%2?{m}&pin-value=1"),
                "two hexadecimal digits",
            ),
            (&format!("pkcs11:token=t;object=%ff?{m}&pin-value=1"), "not UTF-8"),
            (
                &format!("pkcs11:token=t;object=k;type=public?{m}&pin-value=1"),
                "names no private key",
            ),
            (
                &format!("pkcs11:token=t;object=k;color=red?{m}&pin-value=1"),
                "color is not supported",
            ),
            (
                &format!("pkcs11:token=t;object=k?{m}&pin-value=1&pin-source=file:/p"),
                "both given",
            ),
            (
                "pkcs11:token=t;object=k?module-name=softhsm2&pin-value=1",
                "module-name is not supported",
            ),
            (&format!("pkcs11:token=t;object=k?{m}&pin-value"), "has no '='"),
            (
                &format!("pkcs11:token=t;object=k;slot-id=x?{m}&pin-value=1"),
                "not a number",
            ),
        ] {
            let reason = problem(uri);
            assert!(reason.contains(expected), "{uri}: {reason}");
        }
        let reason = problem("pkcs11:token=t;object=k?module-path=/m.so&pin-value=secret-pin&x=1");
        assert!(!reason.contains("secret-pin"), "{reason}");
    }

    /// RFC 8017 §7.1.1's encoding with a fixed seed: what raw RSA gives
    /// back for a ciphertext OAEP made.
    fn oaep_encode(message: &[u8], k: usize, seed: [u8; 20]) -> Vec<u8> {
        use sha1::{Digest, Sha1};
        let mut db = Sha1::digest([]).to_vec();
        db.resize(k - 21 - message.len() - 1, 0);
        db.push(1);
        db.extend_from_slice(message);
        let mut masked_seed = seed;
        mgf1_sha1_xor(&seed, &mut db);
        mgf1_sha1_xor(&db, &mut masked_seed);
        [&[0u8][..], &masked_seed, &db].concat()
    }

    #[test]
    fn oaep_is_decoded_here_as_rfc_8017_says_and_anything_else_is_refused() {
        let (k, message) = (256, [7u8; 32]);
        let em = oaep_encode(&message, k, [9; 20]);
        assert_eq!(oaep_sha1_decode(&em, k).unwrap().expose(), &message);
        // A token that drops the leading zero byte.
        assert_eq!(oaep_sha1_decode(&em[1..], k).unwrap().expose(), &message);
        // Another length of message decodes as OAEP but is no secret.
        assert!(oaep_sha1_decode(&oaep_encode(&[7; 31], k, [9; 20]), k).is_none());
        // Every byte matters: the leading zero, the seed, lHash, PS, 0x01.
        for at in [0, 1, 25, 60, k - 34, k - 33] {
            let mut bad = em.clone();
            bad[at] ^= 0x01;
            assert!(oaep_sha1_decode(&bad, k).is_none(), "byte {at}");
        }
        assert!(oaep_sha1_decode(&[em.clone(), vec![0]].concat(), k).is_none());
        assert!(oaep_sha1_decode(&em[..60], 60).is_none());
    }

    #[test]
    fn a_missing_module_is_a_typed_error_naming_its_path() {
        let error = Pkcs11Key::open("pkcs11:token=t;object=k?module-path=/nowhere/libnone.so&pin-value=1").unwrap_err();
        assert!(
            matches!(&error, Error::Pkcs11 { problem: Pkcs11Problem::Module { path }, .. } if path == Path::new("/nowhere/libnone.so")),
            "{error:?}"
        );
    }
}
