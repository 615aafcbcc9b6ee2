//! Which client a request comes from: the connection's peer, or the last
//! entry of the header a trusted load balancer sets.
//!
//! The header is read as RFC 9110 says: all its field lines, in order, make
//! one comma-separated list, so a client that sends its own line ahead of
//! the balancer's is not believed; the last entry is the one the balancer
//! appended. `Forwarded` is read as RFC 7239 says (the last element's
//! `for=`). An entry may carry a port, and IPv6 may be bracketed. An
//! IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, how a dual-stack listener
//! sees an IPv4 client) is that IPv4 address. A configured header that is
//! missing, or whose last entry is not an address, is refused: counting such
//! a request as the balancer would let one client spend everyone's share.

use std::net::{IpAddr, SocketAddr};

use axum::http::header::FORWARDED;
use axum::http::{HeaderMap, HeaderName};

/// Why a request's client could not be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreadable {
    /// The configured header is not there, or lists nothing.
    Missing,
    /// Its last entry is not an address (`unknown`, an obfuscated
    /// identifier, or garbage).
    NotAnAddress,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Missing => "the client address header is missing",
            Self::NotAnAddress => "the last entry of the client address header is not an address",
        })
    }
}

/// The client of a request that came over a connection from `peer`, told
/// by `header` when one is configured.
pub(crate) fn client(peer: SocketAddr, headers: &HeaderMap, header: Option<&HeaderName>) -> Result<IpAddr, Unreadable> {
    let Some(name) = header else {
        return Ok(peer.ip().to_canonical());
    };
    let lines = headers.get_all(name).iter().map(|value| value.as_bytes());
    let last = if name == FORWARDED {
        forwarded_for(last_element(lines, split_quoted))
    } else {
        let entry = last_element(lines, |line| line.split(|&byte| byte == b',').collect());
        let entry = entry.ok_or(Unreadable::Missing)?;
        std::str::from_utf8(entry)
            .ok()
            .and_then(node)
            .ok_or(Unreadable::NotAnAddress)
    };
    Ok(last?.to_canonical())
}

/// The last non-empty element of the list `lines` make (RFC 9110 §5.3:
/// empty elements are ignored), each line split by `split`.
fn last_element<'a>(
    lines: impl DoubleEndedIterator<Item = &'a [u8]>,
    split: impl Fn(&'a [u8]) -> Vec<&'a [u8]>,
) -> Option<&'a [u8]> {
    lines
        .rev()
        .flat_map(|line| split(line).into_iter().rev())
        .map(|element| element.trim_ascii())
        .find(|element| !element.is_empty())
}

/// `line` split at the commas outside quoted strings (RFC 9110 §5.6.4);
/// an unterminated quote runs to the end of the line.
fn split_quoted(line: &[u8]) -> Vec<&[u8]> {
    separated(line, b',')
}

fn separated(text: &[u8], separator: u8) -> Vec<&[u8]> {
    let (mut parts, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (i, &byte) in text.iter().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            _ if byte == separator && !quoted => {
                parts.push(text.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(text.get(start..).unwrap_or_default());
    parts
}

/// The address in `for=` of one `Forwarded` element (RFC 7239 §4, §6).
fn forwarded_for(element: Option<&[u8]>) -> Result<IpAddr, Unreadable> {
    let element = element.ok_or(Unreadable::Missing)?;
    let value = separated(element, b';')
        .into_iter()
        .filter_map(|pair| {
            let (name, value) = std::str::from_utf8(pair).ok()?.split_once('=')?;
            name.trim().eq_ignore_ascii_case("for").then(|| value.trim())
        })
        .next_back()
        .ok_or(Unreadable::NotAnAddress)?;
    let value = match value.strip_prefix('"') {
        Some(quoted) => unquote(quoted).ok_or(Unreadable::NotAnAddress)?,
        None => value.to_owned(),
    };
    node(&value).ok_or(Unreadable::NotAnAddress)
}

/// The content of a quoted string whose opening quote is gone; `None`
/// unless it ends with the closing quote.
fn unquote(text: &str) -> Option<String> {
    let (mut content, mut chars) = (String::new(), text.chars());
    while let Some(c) = chars.next() {
        match c {
            '\\' => content.push(chars.next()?),
            '"' => return chars.as_str().is_empty().then_some(content),
            c => content.push(c),
        }
    }
    None
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5555`, `::1`,
/// `[::1]`, `[::1]:5555` (a port may be obfuscated, `_x`, in `Forwarded`).
/// `unknown` and obfuscated identifiers (`_hidden`) are not addresses.
fn node(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(address) = entry.parse::<IpAddr>() {
        return Some(address);
    }
    if let Some(bracketed) = entry.strip_prefix('[') {
        let (host, port) = bracketed.split_once(']')?;
        let port = port.is_empty() || port.strip_prefix(':').is_some_and(is_port);
        return port.then(|| host.parse().ok().map(IpAddr::V6)).flatten();
    }
    // Only IPv4 takes a port without brackets.
    let (host, port) = entry.rsplit_once(':')?;
    match host.parse::<IpAddr>() {
        Ok(address @ IpAddr::V4(_)) if is_port(port) => Some(address),
        _ => None,
    }
}

/// A port: digits that fit, or an obfuscated one (RFC 7239 §6.3).
fn is_port(text: &str) -> bool {
    match text.strip_prefix('_') {
        Some(obfuscated) => {
            !obfuscated.is_empty()
                && obfuscated
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        }
        None => !text.starts_with('+') && text.parse::<u16>().is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const PEER: &str = "10.0.0.1:40000";

    /// Header lines, and the client they name.
    type Case = (&'static [&'static [u8]], Result<IpAddr, Unreadable>);
    const XFF: &str = "x-forwarded-for";

    /// The client of a request over a connection from `peer` with header
    /// lines `lines` of `name`.
    fn client_of(peer: &str, name: Option<&str>, lines: &[&[u8]]) -> Result<IpAddr, Unreadable> {
        let mut headers = HeaderMap::new();
        let name = name.map(|name| HeaderName::from_bytes(name.as_bytes()).unwrap());
        for line in lines {
            if let Some(name) = &name {
                headers.append(name.clone(), HeaderValue::from_bytes(line).unwrap());
            }
        }
        client(peer.parse().unwrap(), &headers, name.as_ref())
    }

    fn ip(text: &str) -> Result<IpAddr, Unreadable> {
        Ok(text.parse().unwrap())
    }

    #[test]
    fn the_peer_without_a_header_configured() {
        let cases: &[(&str, Result<IpAddr, Unreadable>)] = &[
            ("10.0.0.1:40000", ip("10.0.0.1")),
            ("[::1]:40000", ip("::1")),
            ("[::ffff:127.0.0.5]:40000", ip("127.0.0.5")),
            ("[2001:db8::7]:1", ip("2001:db8::7")),
            // IPv4-compatible (deprecated) is not IPv4-mapped.
            ("[::127.0.0.5]:40000", ip("::127.0.0.5")),
        ];
        for (peer, expected) in cases {
            assert_eq!(&client_of(peer, None, &[]), expected, "{peer}");
        }
    }

    #[test]
    fn x_forwarded_for_its_last_entry_over_every_line() {
        use Unreadable::{Missing, NotAnAddress};
        let cases: &[Case] = &[
            (&[b"1.2.3.4"], ip("1.2.3.4")),
            (&[b"  1.2.3.4  "], ip("1.2.3.4")),
            (&[b"6.6.6.6, 1.2.3.4"], ip("1.2.3.4")),
            (&[b"6.6.6.6,1.2.3.4"], ip("1.2.3.4")),
            // The client's own line first, the balancer's second.
            (&[b"6.6.6.6", b"1.2.3.4"], ip("1.2.3.4")),
            (&[b"6.6.6.6, 7.7.7.7", b"1.2.3.4"], ip("1.2.3.4")),
            (&[b"garbage", b"1.2.3.4"], ip("1.2.3.4")),
            (&[b"\"", b"1.2.3.4"], ip("1.2.3.4")),
            (&[b"\xff\xfe", b"1.2.3.4"], ip("1.2.3.4")),
            // Empty elements are ignored.
            (&[b"1.2.3.4,", b" , "], ip("1.2.3.4")),
            (&[b"1.2.3.4, ,"], ip("1.2.3.4")),
            // Ports and brackets.
            (&[b"10.0.0.3:5555"], ip("10.0.0.3")),
            (&[b"1.2.3.4:0"], ip("1.2.3.4")),
            (&[b"::1"], ip("::1")),
            (&[b"[::1]"], ip("::1")),
            (&[b"[::1]:5555"], ip("::1")),
            (&[b"2001:db8::1"], ip("2001:db8::1")),
            (&[b"[2001:db8::1]:443"], ip("2001:db8::1")),
            // IPv4-mapped counts as IPv4.
            (&[b"::ffff:1.2.3.4"], ip("1.2.3.4")),
            (&[b"[::ffff:1.2.3.4]:80"], ip("1.2.3.4")),
            (&[b"::ffff:102:304"], ip("1.2.3.4")),
            // Missing or unreadable: refused, never the peer.
            (&[], Err(Missing)),
            (&[b""], Err(Missing)),
            (&[b" , ,"], Err(Missing)),
            (&[b"1.2.3.4", b""], ip("1.2.3.4")),
            (&[b"1.2.3.4", b"unknown"], Err(NotAnAddress)),
            (&[b"1.2.3.4", b"garbage"], Err(NotAnAddress)),
            (&[b"1.2.3.4", b"\xff"], Err(NotAnAddress)),
            (&[b"1.2.3.4:99999"], Err(NotAnAddress)),
            (&[b"1.2.3.4:"], Err(NotAnAddress)),
            (&[b"1.2.3.4:+80"], Err(NotAnAddress)),
            (&[b"1.2.3"], Err(NotAnAddress)),
            (&[b"01.2.3.4"], Err(NotAnAddress)),
            (&[b"1.2.3.4.5"], Err(NotAnAddress)),
            (&[b"::1:5555x"], Err(NotAnAddress)),
            (&[b"[::1"], Err(NotAnAddress)),
            (&[b"[::1]x"], Err(NotAnAddress)),
            (&[b"[::1]:"], Err(NotAnAddress)),
            (&[b"[1.2.3.4]"], Err(NotAnAddress)),
            (&[b"[1.2.3.4]:80"], Err(NotAnAddress)),
            (&[b"\"1.2.3.4\""], Err(NotAnAddress)),
            (&[b"1.2.3.4 5.6.7.8"], Err(NotAnAddress)),
            (&[b"for=1.2.3.4"], Err(NotAnAddress)),
            (&[b"fe80::1%eth0"], Err(NotAnAddress)),
        ];
        for (lines, expected) in cases {
            let shown: Vec<String> = lines.iter().map(|l| String::from_utf8_lossy(l).into_owned()).collect();
            assert_eq!(&client_of(PEER, Some(XFF), lines), expected, "{shown:?}");
        }
    }

    #[test]
    fn any_configured_header_name_is_read_the_same() {
        assert_eq!(
            client_of(PEER, Some("x-real-ip"), &[b"6.6.6.6", b"[::ffff:9.9.9.9]:1"]),
            ip("9.9.9.9")
        );
        assert_eq!(client_of(PEER, Some("X-Client-IP"), &[]), Err(Unreadable::Missing));
    }

    #[test]
    fn forwarded_the_last_elements_for() {
        use Unreadable::{Missing, NotAnAddress};
        let cases: &[Case] = &[
            (&[b"for=192.0.2.60"], ip("192.0.2.60")),
            (&[b"For=192.0.2.60"], ip("192.0.2.60")),
            (&[b"for=192.0.2.60;proto=http;by=203.0.113.43"], ip("192.0.2.60")),
            (&[b"proto=https; for=192.0.2.60 ;by=10.0.0.1"], ip("192.0.2.60")),
            (&[b"for=\"192.0.2.60:4711\""], ip("192.0.2.60")),
            (&[b"for=\"[2001:db8:cafe::17]\""], ip("2001:db8:cafe::17")),
            (&[b"for=\"[2001:db8:cafe::17]:4711\""], ip("2001:db8:cafe::17")),
            (&[b"for=\"[2001:db8:cafe::17]:_port\""], ip("2001:db8:cafe::17")),
            (&[b"for=\"[::ffff:192.0.2.60]:4711\""], ip("192.0.2.60")),
            (&[b"for=\"\\1\\9\\2.0.2.60\""], ip("192.0.2.60")),
            // Several elements and lines: the last element counts.
            (&[b"for=6.6.6.6, for=192.0.2.60"], ip("192.0.2.60")),
            (&[b"for=6.6.6.6", b"for=192.0.2.60;proto=https"], ip("192.0.2.60")),
            (&[b"for=\"6.6.6.6, for=7.7.7.7\"", b"for=192.0.2.60"], ip("192.0.2.60")),
            (&[b"for=\"", b"for=192.0.2.60"], ip("192.0.2.60")),
            (&[b"for=192.0.2.60,"], ip("192.0.2.60")),
            // A quoted comma or semicolon does not split.
            (&[b"for=6.6.6.6, by=\"a,b\";for=192.0.2.60"], ip("192.0.2.60")),
            (&[b"for=192.0.2.60;by=\"a;for=6.6.6.6\""], ip("192.0.2.60")),
            // Refused.
            (&[], Err(Missing)),
            (&[b" , "], Err(Missing)),
            (&[b"for=unknown"], Err(NotAnAddress)),
            (&[b"for=\"unknown\""], Err(NotAnAddress)),
            (&[b"for=_hidden"], Err(NotAnAddress)),
            (&[b"for=192.0.2.60, for=_SEVKISEK"], Err(NotAnAddress)),
            (&[b"for=192.0.2.60, proto=https"], Err(NotAnAddress)),
            (&[b"for=192.0.2.60, for=\"[::1]"], Err(NotAnAddress)),
            (&[b"for=192.0.2.60, for=\"1.2.3.4\"x"], Err(NotAnAddress)),
            (&[b"for="], Err(NotAnAddress)),
            (&[b"192.0.2.60"], Err(NotAnAddress)),
            (&[b"for=\"[2001:db8:cafe::17]:99999\""], Err(NotAnAddress)),
            (&[b"for=\xff"], Err(NotAnAddress)),
        ];
        for (lines, expected) in cases {
            let shown: Vec<String> = lines.iter().map(|l| String::from_utf8_lossy(l).into_owned()).collect();
            assert_eq!(&client_of(PEER, Some("forwarded"), lines), expected, "{shown:?}");
        }
    }

    /// Whatever bytes a header line holds, the answer is an address or a
    /// refusal, never a panic.
    #[test]
    fn any_bytes_are_an_answer() {
        use proptest::prelude::*;
        let line = proptest::collection::vec(
            prop_oneof![
                Just(b'"'),
                Just(b','),
                Just(b';'),
                Just(b'\\'),
                Just(b'['),
                Just(b']'),
                Just(b':'),
                Just(b'='),
                32u8..127,
                128u8..=255,
            ],
            0..40,
        );
        proptest!(|(lines in proptest::collection::vec(line, 0..4))| {
            let lines: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
            for name in [XFF, "forwarded"] {
                let _ = client_of(PEER, Some(name), &lines);
            }
        });
    }
}
