//! The request side: what a service asks for ([`scope`]) and the request
//! the user's app opens ([`link`]: deep links, the JavaScript SDK's
//! parameters). Its nonce comes from [`crate::nonce`].

pub(crate) mod link;
pub(crate) mod scope;
