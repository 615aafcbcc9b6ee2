//! What the user's app sends, as received, within [`limits`]: the Bot API's
//! JSON ([`bot_api`], read through [`json`] and [`base64`]) and MTProto's
//! TL ([`mtproto`](crate::mtproto), read by [`tl`]). Both become one internal form,
//! [`received`], the only thing the opening side reads.

pub(crate) mod base64;
pub(crate) mod bot_api;
pub(crate) mod json;
pub(crate) mod limits;
pub(crate) mod mtproto;
pub(crate) mod received;
pub(crate) mod tl;
