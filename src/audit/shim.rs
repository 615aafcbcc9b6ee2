//! The one place that knows whether the feature `tracing` is on: the audit
//! trail's events and span through `tracing` when it is, and nothing at
//! all when it is not. The audit trail is written once, against these.

#[cfg(feature = "tracing")]
pub(crate) use tracing::{info, info_span as span, warn};

/// A span while it is entered.
#[cfg(feature = "tracing")]
pub(crate) type Entered = tracing::span::EnteredSpan;

/// Without the feature, an event is nothing: its fields are not evaluated.
#[cfg(not(feature = "tracing"))]
macro_rules! nothing {
    ($($anything:tt)*) => {
        ()
    };
}
#[cfg(not(feature = "tracing"))]
pub(crate) use {nothing as info, nothing as warn};

/// Without the feature, a span is nothing to enter.
#[cfg(not(feature = "tracing"))]
macro_rules! no_span {
    ($($anything:tt)*) => {
        $crate::audit::shim::NoSpan
    };
}
#[cfg(not(feature = "tracing"))]
pub(crate) use no_span as span;

/// What a span is without the feature.
#[cfg(not(feature = "tracing"))]
pub(crate) struct NoSpan;

#[cfg(not(feature = "tracing"))]
impl NoSpan {
    /// Entered, it is still nothing.
    pub(crate) fn entered(self) -> Self {
        self
    }
}

/// A span while it is entered: nothing.
#[cfg(not(feature = "tracing"))]
pub(crate) type Entered = NoSpan;
