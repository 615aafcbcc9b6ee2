//! Opening what was received, on the one path of [`receive`]: the
//! credentials with a key ([`credentials`]), then every element's data and
//! the files' credentials ([`passport`]),
//! all through one symmetric [`primitive`] on [`crate::secret`] types; files
//! decrypted whole, streamed ([`stream`]) or async ([`async_file`]), each
//! through its reference ([`file`]).

#[cfg(feature = "tokio")]
pub(crate) mod async_file;
pub(crate) mod credentials;
pub(crate) mod file;
pub(crate) mod passport;
pub(crate) mod primitive;
pub(crate) mod receive;
pub(crate) mod stream;
