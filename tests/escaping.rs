//! Received text in messages stays on one line, in order, visible: checked
//! over every Unicode scalar value against Python's `unicodedata` (an
//! implementation that is not ours, with its own Unicode tables), through
//! `one_line` and through the error messages that repeat received text.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::process::Command;

use telegram_passport::{one_line, CalendarDate, PassportData};

/// Python's view: the characters that break a line, reorder text or hide
/// (categories Cc, Cf, Zl, Zp, Co, Zs but the space; bidirectional classes
/// B, S and the explicit embeddings, overrides and isolates), and the
/// characters that are plainly visible (L, M, N, P, S).
fn python_classes() -> (BTreeSet<char>, BTreeSet<char>) {
    let script = r#"
import sys, unicodedata
print(unicodedata.unidata_version, file=sys.stderr)
bidi = {"B", "S", "LRE", "RLE", "PDF", "LRO", "RLO", "LRI", "RLI", "FSI", "PDI"}
bad, good = [], []
for cp in range(0x110000):
    if 0xD800 <= cp <= 0xDFFF:
        continue
    c = chr(cp)
    cat = unicodedata.category(c)
    if cat in ("Cc", "Cf", "Zl", "Zp", "Co") or (cat == "Zs" and c != " ") or unicodedata.bidirectional(c) in bidi:
        bad.append(cp)
    elif cat[0] in "LMNPS":
        good.append(cp)
print(" ".join(map(str, bad)))
print(" ".join(map(str, good)))
"#;
    let output = Command::new("python3")
        .args(["-c", script])
        .output()
        .expect("python3 is needed for this cross-check (CI installs it)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let mut lines = stdout.lines();
    let mut set = || -> BTreeSet<char> {
        lines
            .next()
            .unwrap()
            .split(' ')
            .map(|n| char::from_u32(n.parse().unwrap()).unwrap())
            .collect()
    };
    let bad = set();
    let good = set();
    assert!(
        bad.len() > 130_000 && good.len() > 100_000,
        "{} {}",
        bad.len(),
        good.len()
    );
    (bad, good)
}

#[test]
fn every_scalar_value_against_unicodedata() {
    let (bad, good) = python_classes();
    let mut kept = 0;
    for c in (0..=0x10FFFF).filter_map(char::from_u32) {
        let text = c.to_string();
        let line = one_line(&text);
        if bad.contains(&c) {
            // Escaped, and only into plain ASCII.
            assert!(
                line.starts_with('\\') && line.is_ascii(),
                "U+{:04X} came out as {line:?}",
                c as u32
            );
        } else if good.contains(&c) {
            // Visible characters as they are (Python's Unicode may be older
            // than ours, never the other way round for assigned ones).
            assert_eq!(line, text, "U+{:04X} was escaped", c as u32);
            kept += 1;
        }
        // Whatever it is, nothing that Python calls dangerous comes out.
        assert!(!line.chars().any(|out| bad.contains(&out)), "U+{:04X}", c as u32);
    }
    assert!(kept > 100_000);
    // In running text, around ordinary characters, the same holds.
    let mixed: String = bad.iter().step_by(97).flat_map(|&c| ['q', c, 'ж']).collect();
    let line = one_line(&mixed);
    assert!(!line.chars().any(|c| bad.contains(&c)));
    assert_eq!(line.matches('q').count(), mixed.matches('q').count());
    assert_eq!(line.matches('ж').count(), mixed.matches('ж').count());
}

#[test]
fn error_messages_repeat_received_text_on_one_line() {
    let (bad, _) = python_classes();
    // Private-use planes are large and alike: a sample of them.
    let chars = bad
        .iter()
        .copied()
        .filter(|&c| (c as u32) < 0xF0000 || (c as u32).is_multiple_of(251));
    for c in chars {
        let text = format!("x{c}y");
        let quoted = serde_json::to_string(&text).unwrap();
        let messages = [
            // An unknown element type.
            PassportData::from_json(
                format!(
                    r#"{{"data":[{{"type":{quoted},"hash":""}}],"credentials":{{"data":"","hash":"","secret":""}}}}"#
                )
                .as_bytes(),
            )
            .unwrap_err()
            .to_string(),
            // A string where an object belongs.
            PassportData::from_json(format!(r#"{{"data":[],"credentials":{quoted}}}"#).as_bytes())
                .unwrap_err()
                .to_string(),
            // A date that is not one.
            text.parse::<CalendarDate>().unwrap_err().to_string(),
        ];
        for message in messages {
            assert!(
                !message.chars().any(|m| bad.contains(&m)),
                "U+{:04X}: {message:?}",
                c as u32
            );
            assert!(message.contains('x') && message.contains('y'), "{message:?}");
        }
    }
}
