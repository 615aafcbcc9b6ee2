//! A `tg://passport` or `tg://resolve` link: what parses reads back equal
//! from both links it writes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telegram_passport::PassportRequest;

fuzz_target!(|link: &str| {
    let Ok(request) = PassportRequest::parse_link(link) else {
        return;
    };
    for link in [request.deep_link(), request.passport_link()] {
        assert_eq!(
            PassportRequest::parse_link(&link).ok().as_ref(),
            Some(&request),
            "{link}"
        );
    }
});
