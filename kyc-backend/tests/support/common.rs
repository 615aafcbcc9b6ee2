//! What the service's tests share with the library's: the Redis servers
//! they start, and the test keys and fixtures in the library's
//! `tests/data/`.

#![allow(dead_code, unreachable_pub, unused_imports)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

pub use telegram_passport_dev_support::redis_server;

use std::path::{Path, PathBuf};

use telegram_passport::PrivateKey;

/// The library's test data (`tests/data/` beside this package).
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data")
}

/// The private key at `relative` under [`data_dir`].
pub fn key(relative: &str) -> PrivateKey {
    let pem = std::fs::read_to_string(data_dir().join(relative)).unwrap();
    PrivateKey::from_pem(&pem).unwrap()
}
