//! How many applications one client may open: at most `per_client` in each
//! `window`, counted in a fixed table of 65 536 counters (128 KiB) keyed
//! by a randomly seeded hash of the client's address (its /64 for IPv6),
//! so a flood of `/start` calls costs the same memory as none and cannot
//! fill the nonce store for other applicants.

use std::hash::BuildHasher as _;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

const COUNTERS: usize = 1 << 16;

pub(crate) struct StartLimiter {
    per_client: u16,
    window: Duration,
    seed: std::collections::hash_map::RandomState,
    state: Mutex<Window>,
}

struct Window {
    started: Instant,
    counts: Box<[u16]>,
}

impl StartLimiter {
    pub(crate) fn new(per_client: u16, window: Duration) -> Self {
        Self {
            per_client,
            window,
            seed: std::collections::hash_map::RandomState::new(),
            state: Mutex::new(Window {
                started: Instant::now(),
                counts: vec![0; COUNTERS].into_boxed_slice(),
            }),
        }
    }

    /// Counts a start by `client`; false once it used up this window's.
    pub(crate) fn allow(&self, client: IpAddr) -> bool {
        let key = match client {
            IpAddr::V4(v4) => u128::from(v4.to_bits()),
            // One subscriber usually holds a whole /64.
            IpAddr::V6(v6) => v6.to_bits() >> 64 | 1 << 127,
        };
        let counter = self.seed.hash_one(key) as usize % COUNTERS;
        let mut window = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if window.started.elapsed() >= self.window {
            window.counts.fill(0);
            window.started = Instant::now();
        }
        match window.counts.get_mut(counter) {
            Some(count) if *count < self.per_client => {
                *count += 1;
                true
            }
            _ => false,
        }
    }
}
