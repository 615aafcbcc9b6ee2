//! A scope in either JSON form: what parses reads back equal from both
//! its long and its compact form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telegram_passport::Scope;

fuzz_target!(|text: &str| {
    let Ok(scope) = Scope::from_json(text) else { return };
    for json in [scope.to_json(), scope.to_compact_json()] {
        assert_eq!(Scope::from_json(&json).ok().as_ref(), Some(&scope), "{json}");
    }
});
