//! Received text, as a message may repeat it: on one line, in the order it
//! was written, every character visible.
//!
//! What is escaped is chosen by Unicode class, not by a list: every
//! control (`Cc`), format (`Cf`: the bidirectional controls, zero-width
//! characters, U+061C …), line separator (`Zl`), paragraph separator
//! (`Zp`), space other than U+0020 (`Zs`), private-use (`Co`), surrogate
//! and unassigned (`Cn`) character, as this crate's Unicode version
//! classes them.

use std::borrow::Cow;
use std::fmt::Write as _;

use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// The most characters an error message shows of received text, escapes
/// included: the text is escaped as [`one_line`] escapes it, and cut where
/// the escaped form would pass this length, then marked with `…` and the
/// text's full length; so an error message is one line of bounded length
/// whatever a sender sent, even text made of characters that each escape
/// to ten.
pub const EXCERPT_MAX: usize = 128;

/// Whether `c` must be escaped to keep text on one line, in order and
/// visible.
fn escaped(c: char) -> bool {
    match c.general_category_group() {
        GeneralCategoryGroup::Other => true,
        GeneralCategoryGroup::Separator => c != ' ',
        _ => false,
    }
}

/// `text` on one line of visible characters, for a log line or a message
/// that repeats what a sender wrote: every control, format, separator
/// (but the plain space), private-use and unassigned character becomes its
/// Rust escape (`\n`, `\u{202e}`). Error messages of this crate repeat
/// received text only through it.
///
/// ```
/// use telegram_passport::one_line;
///
/// assert_eq!(one_line("Ann\u{2028}Lee\u{202e}"), "Ann\\u{2028}Lee\\u{202e}");
/// assert_eq!(one_line("Zoë Ångström, 東京"), "Zoë Ångström, 東京");
/// ```
pub fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut line = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push(&mut line, c);
    }
    Cow::Owned(line)
}

fn push(line: &mut String, c: char) {
    match escaped(c) {
        true => line.extend(c.escape_default()),
        false => line.push(c),
    }
}

/// `text` as an error message may repeat it: escaped, at most
/// [`EXCERPT_MAX`] characters shown, on one line.
pub(crate) fn excerpt(text: &str) -> String {
    let mut out = String::new();
    let mut shown = 0;
    for c in text.chars() {
        let width = match escaped(c) {
            true => c.escape_default().count(),
            false => 1,
        };
        if shown + width > EXCERPT_MAX {
            let _ = write!(out, "… ({} bytes)", text.len());
            break;
        }
        push(&mut out, c);
        shown += width;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text of exactly the bound is shown whole; one character more is cut
    /// at the bound and its length told.
    #[test]
    fn an_excerpt_shows_up_to_its_bound_exactly() {
        let whole = "a".repeat(EXCERPT_MAX);
        assert_eq!(excerpt(&whole), whole);
        let longer = "a".repeat(EXCERPT_MAX + 1);
        assert_eq!(excerpt(&longer), format!("{whole}… ({} bytes)", EXCERPT_MAX + 1));
        // An escape that would pass the bound is not begun.
        let escaped = format!("{}\n", "a".repeat(EXCERPT_MAX - 1));
        assert_eq!(
            excerpt(&escaped),
            format!("{}… ({} bytes)", "a".repeat(EXCERPT_MAX - 1), EXCERPT_MAX)
        );
    }
}
