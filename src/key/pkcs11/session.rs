//! The sessions of one key: each on the token the URI names, logged in,
//! with the key found in it; kept in a small pool.
//!
//! Invariants:
//! - A session is used by one thread at a time: a submission takes one
//!   from the pool (opening one when none is idle, up to
//!   [`MAX_SESSIONS`]), so submissions do not queue behind one another.
//! - A session of an earlier module generation is dropped without being
//!   closed: its handle may name another key's session now.
//! - Once the token refused the key's PIN, the key logs in no more: each
//!   try would count towards the token's lockout.

use std::sync::atomic::Ordering;
use std::sync::PoisonError;

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::{Attribute, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki::slot::Slot;
use zeroize::Zeroizing;

use super::module::{Check, Module};
use super::uri::Selector;
use super::{lock, Failure, Inner, MAX_SESSIONS};

/// The sessions of one key: idle ones, and how many are open in all.
pub(super) struct Pool {
    idle: Vec<Pooled>,
    open: usize,
}

impl Pool {
    pub(super) fn with(first: Pooled) -> Self {
        Self {
            idle: vec![first],
            open: 1,
        }
    }

    pub(super) fn open(&self) -> usize {
        self.open
    }
}

/// A session, logged in, with the key's handle in it, and the module
/// generation it was opened in.
pub(super) struct Pooled {
    pub(super) session: Session,
    pub(super) key: ObjectHandle,
    pub(super) generation: u64,
}

impl Pooled {
    /// Closes the session; one of a module state that is gone is dropped
    /// without a call (sessions are opened not to close on drop).
    pub(super) fn close(self, current: u64) {
        if self.generation == current {
            let _ = self.session.close();
        }
    }
}

/// A session on the token `select` names, logged in with `pin`, with the
/// key found in it. Made with [`Module::enter`] held.
pub(super) fn connect(
    module: &Module,
    select: &Selector,
    pin: &Zeroizing<String>,
    check: Check,
) -> Result<Pooled, Failure> {
    let generation = module.generation();
    let slot = find_slot(module, select)?;
    let session = module.context.open_ro_session_no_drop(slot)?;
    let found = module
        .login(&session, slot, pin, check)
        .and_then(|()| find_key(&session, select));
    match found {
        Ok(key) => Ok(Pooled {
            session,
            key,
            generation,
        }),
        Err(failure) => {
            let _ = session.close();
            Err(failure)
        }
    }
}

/// The slot whose token the URI names. A slot whose token cannot tell
/// what it is does not stop the search; if no slot matches, what it said
/// is the answer (it may be the token asked for, stuck).
fn find_slot(module: &Module, select: &Selector) -> Result<Slot, Failure> {
    let context = &module.context;
    let mut unanswered = None;
    for slot in context.get_slots_with_token()? {
        if select.slot_id.is_some_and(|id| id != slot.id()) {
            continue;
        }
        let info = match context.get_token_info(slot) {
            Ok(info) => info,
            // Removed while we look.
            Err(CkError::Pkcs11(RvError::TokenNotPresent | RvError::DeviceRemoved, _)) => continue,
            Err(other) => {
                unanswered.get_or_insert(other);
                continue;
            }
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
    Err(unanswered.map_or(Failure::NoToken, Failure::Module))
}

fn find_key(session: &Session, select: &Selector) -> Result<ObjectHandle, Failure> {
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

impl Inner {
    /// An idle session of the current module generation, or a new one
    /// (then `true`); waits while [`MAX_SESSIONS`] are in use. Called with
    /// [`Module::enter`] held.
    pub(super) fn checkout(&self) -> Result<(Pooled, bool), Failure> {
        let mut pool = lock(&self.pool);
        loop {
            let generation = self.module.generation();
            while let Some(pooled) = pool.idle.pop() {
                if pooled.generation == generation {
                    return Ok((pooled, false));
                }
                pool.open = pool.open.saturating_sub(1);
                pooled.close(generation);
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
                return opened.map(|pooled| (pooled, true));
            }
            pool = self.returned.wait(pool).unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn open_pooled(&self) -> Result<Pooled, Failure> {
        if self.pin_refused.load(Ordering::Acquire) {
            return Err(Failure::PinRefusedBefore);
        }
        let opened = connect(&self.module, &self.select, &self.pin, Check::Session);
        if let Err(Failure::Module(CkError::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _))) = &opened {
            self.pin_refused.store(true, Ordering::Release);
        }
        opened
    }

    pub(super) fn checkin(&self, pooled: Pooled) {
        lock(&self.pool).idle.push(pooled);
        self.returned.notify_one();
    }

    /// A session the token invalidated: closed if it may still be open,
    /// and its place in the pool freed.
    pub(super) fn discard(&self, pooled: Pooled) {
        pooled.close(self.module.generation());
        let mut pool = lock(&self.pool);
        pool.open = pool.open.saturating_sub(1);
        self.returned.notify_one();
    }

    /// Closes every idle session: what invalidated one (a logout, the
    /// token's objects gone) invalidated them all.
    pub(super) fn discard_idle(&self) {
        let generation = self.module.generation();
        let idle = std::mem::take(&mut lock(&self.pool).idle);
        let count = idle.len();
        for pooled in idle {
            pooled.close(generation);
        }
        let mut pool = lock(&self.pool);
        pool.open = pool.open.saturating_sub(count);
        self.returned.notify_all();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _calls = self.module.enter();
        let generation = self.module.generation();
        let pool = self.pool.get_mut().unwrap_or_else(PoisonError::into_inner);
        for pooled in pool.idle.drain(..) {
            pooled.close(generation);
        }
    }
}
