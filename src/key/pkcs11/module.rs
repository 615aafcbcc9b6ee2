//! A PKCS#11 module, loaded and initialised once per process and path and
//! shared by every key on it; started afresh when it is stuck; and the
//! login it holds for each token.
//!
//! Invariants:
//! - Every call into the module is made with [`Module::enter`] held; a
//!   restart (`C_Finalize`, `C_Initialize`) waits until no call is under
//!   way and holds every other off meanwhile: PKCS#11 leaves `C_Finalize`
//!   undefined while another thread is in the module.
//! - The generation counts restarts: a session, a handle or a login of an
//!   earlier generation belongs to a module state that is gone.
//! - A full restart (finalise, then initialise) happens at most once per
//!   [`RESTART_INTERVAL`], however many keys and threads ask for one; a
//!   module found finalised underneath is initialised at once, unless the
//!   last attempt failed less than that interval ago.
//! - A login is made only by a PIN the token checked: the PIN of every
//!   login this crate made is kept as a salted SHA-256 digest, zeroized,
//!   so that a key opened while the token is logged in already is held to
//!   that PIN without asking the token (which would only say "already
//!   logged in") and without logging the other keys out.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{lock, Failure};
use crate::error::{Error, Pkcs11Problem, Result};
use crate::text::excerpt;

/// The least time between two full restarts of one module.
pub(super) const RESTART_INTERVAL: Duration = Duration::from_secs(1);

pub(super) struct Module {
    pub(super) path: PathBuf,
    pub(super) context: Pkcs11,
    generation: AtomicU64,
    calls: RwLock<()>,
    restarts: Mutex<Restarts>,
    logins: Mutex<Vec<Login>>,
}

/// The last restart: when, and whether the module initialised.
struct Restarts {
    last: Option<(Instant, bool)>,
}

/// What a module in trouble needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Restart {
    /// It was finalised underneath (`CKR_CRYPTOKI_NOT_INITIALIZED`):
    /// initialise it again.
    Initialize,
    /// It or its token is stuck (an error a new session did not clear):
    /// finalise it, initialise it again, and find the token anew.
    Full,
}

/// Whether [`Module::login`] must be sure of the PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Check {
    /// When a key is opened: a login the token holds already counts only
    /// if it was made with this PIN.
    Pin,
    /// For another session of an opened key: any login the token holds.
    Session,
}

/// A login this crate made: to which token, in which generation, and a
/// salted digest of its PIN.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Login {
    slot: u64,
    generation: u64,
    salt: [u8; 16],
    digest: [u8; 32],
}

impl Login {
    fn new(slot: Slot, generation: u64, pin: &str) -> Result<Self> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|_| Error::Random)?;
        let digest = digest(&salt, pin);
        Ok(Self {
            slot: slot.id(),
            generation,
            salt,
            digest: *digest,
        })
    }

    fn made_with(&self, pin: &str) -> bool {
        bool::from(digest(&self.salt, pin).ct_eq(&self.digest))
    }
}

fn digest(salt: &[u8; 16], pin: &str) -> Zeroizing<[u8; 32]> {
    let mut hash = Sha256::new();
    hash.update(salt);
    hash.update(pin.as_bytes());
    Zeroizing::new(hash.finalize().into())
}

/// Why a key may not use a login the token holds already.
#[derive(Debug, thiserror::Error)]
#[error(
    "the token is logged in already, with another PIN (that of another key of this process); \
     the token was not asked, and counted no attempt"
)]
struct PinDiffers;

/// Why a module did not load, as the system said it: escaped and
/// bounded, since the system's message repeats the configured path.
#[derive(thiserror::Error)]
#[error("{0}")]
struct LoadFailed(String);

impl std::fmt::Debug for LoadFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Module {
    /// The process's one instance of the module at `path`, loaded and
    /// initialised on first use.
    pub(super) fn load(path: &Path) -> Result<Arc<Self>> {
        static MODULES: OnceLock<Mutex<HashMap<PathBuf, Arc<Module>>>> = OnceLock::new();
        let failed = |source: CkError| Error::Pkcs11 {
            problem: Pkcs11Problem::Module { path: path.to_owned() },
            source: Some(Box::new(LoadFailed(excerpt(&source.to_string())))),
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
            calls: RwLock::new(()),
            restarts: Mutex::new(Restarts { last: None }),
            logins: Mutex::new(Vec::new()),
        });
        modules.insert(path.to_owned(), Arc::clone(&module));
        Ok(module)
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Held while calling into the module. Never taken twice by one
    /// thread, and never held while asking for a restart.
    pub(super) fn enter(&self) -> RwLockReadGuard<'_, ()> {
        self.calls.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Restarts the module as `how` says, unless it was restarted since
    /// generation `seen` (then there is nothing to do). A full restart
    /// sooner than [`RESTART_INTERVAL`] after the last one is refused, or
    /// with `wait` waited for. Returns whether the module is now in a
    /// newer generation and initialised.
    pub(super) fn restart(&self, seen: u64, how: Restart, wait: bool) -> bool {
        let mut restarts = lock(&self.restarts);
        if self.generation() != seen {
            return true;
        }
        let early = too_early(restarts.last, how, Instant::now());
        if !early.is_zero() {
            if !wait {
                return false;
            }
            drop(restarts);
            std::thread::sleep(early);
            return self.restart(seen, how, false);
        }
        let initialised = {
            let _alone = self.calls.write().unwrap_or_else(PoisonError::into_inner);
            if how == Restart::Full {
                // Fails only if it was finalised already, which is as good.
                let _ = self.context.clone().finalize();
            }
            let initialised = initialize(&self.context).is_ok();
            self.generation.fetch_add(1, Ordering::AcqRel);
            initialised
        };
        restarts.last = Some((Instant::now(), initialised));
        initialised
    }

    /// Logs the user in to the token in `slot` with `pin`, on `session`
    /// (the login then holds for every session of this process on the
    /// token). With [`Check::Pin`], a login the token holds already counts
    /// only if this crate made it with the same PIN; one made by other
    /// code in the process is logged out, and the token asked.
    pub(super) fn login(
        &self,
        session: &Session,
        slot: Slot,
        pin: &Zeroizing<String>,
        check: Check,
    ) -> std::result::Result<(), Failure> {
        let mut logins = lock(&self.logins);
        let generation = self.generation();
        let auth = AuthPin::from(pin.as_str());
        let record = |logins: &mut Vec<Login>| -> std::result::Result<(), Failure> {
            let login = Login::new(slot, generation, pin).map_err(Failure::Reported)?;
            logins.retain(|login| login.slot != slot.id() && login.generation == generation);
            logins.push(login);
            Ok(())
        };
        match session.login(UserType::User, Some(&auth)) {
            Ok(()) => record(&mut logins),
            Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) if check == Check::Session => Ok(()),
            Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {
                let made = logins
                    .iter()
                    .find(|login| login.slot == slot.id() && login.generation == generation);
                match made {
                    Some(login) if login.made_with(pin) => Ok(()),
                    Some(_) => Err(Failure::Reported(Error::Pkcs11 {
                        problem: Pkcs11Problem::PinIncorrect,
                        source: Some(Box::new(PinDiffers)),
                    })),
                    None => {
                        session.logout()?;
                        session.login(UserType::User, Some(&auth))?;
                        record(&mut logins)
                    }
                }
            }
            Err(other) => Err(other.into()),
        }
    }
}

/// How much sooner than allowed a restart as `how` at `now` would be,
/// after the last one (when, and whether the module initialised then).
fn too_early(last: Option<(Instant, bool)>, how: Restart, now: Instant) -> Duration {
    match last {
        Some((at, initialised)) if how == Restart::Full || !initialised => {
            RESTART_INTERVAL.saturating_sub(now.saturating_duration_since(at))
        }
        _ => Duration::ZERO,
    }
}

fn initialize(context: &Pkcs11) -> std::result::Result<(), CkError> {
    match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_full_restart_waits_a_second_after_any_other_and_initialising_only_after_a_failed_one() {
        let ms = Duration::from_millis;
        let now = Instant::now() + ms(10_000);
        let at = |ago: u64, initialised| Some((now - ms(ago), initialised));
        assert_eq!(too_early(None, Restart::Full, now), Duration::ZERO);
        assert_eq!(too_early(None, Restart::Initialize, now), Duration::ZERO);
        assert_eq!(too_early(at(300, true), Restart::Full, now), ms(700));
        assert_eq!(too_early(at(300, false), Restart::Full, now), ms(700));
        assert_eq!(too_early(at(1000, true), Restart::Full, now), Duration::ZERO);
        assert_eq!(too_early(at(2500, false), Restart::Full, now), Duration::ZERO);
        // Finalised underneath: initialised at once, unless that just failed.
        assert_eq!(too_early(at(10, true), Restart::Initialize, now), Duration::ZERO);
        assert_eq!(too_early(at(300, false), Restart::Initialize, now), ms(700));
    }

    #[test]
    fn a_login_matches_its_own_pin_only() {
        let login = Login::new(Slot::try_from(3u64).unwrap(), 0, "1234").unwrap();
        assert!(login.made_with("1234"));
        for other in ["1235", "123", "12345", "", "1234\n"] {
            assert!(!login.made_with(other), "{other:?}");
        }
        let again = Login::new(Slot::try_from(3u64).unwrap(), 0, "1234").unwrap();
        assert_ne!(login.salt, again.salt, "salted");
        assert_ne!(login.digest, again.digest, "salted");
    }
}
