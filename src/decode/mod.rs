//! Decoding decrypted element data into typed [`values`], by the element's
//! type ([`crate::element_type`]).

pub(crate) mod values;
