//! Which client a request comes from: the connection's peer, or the last
//! element of the header a trusted load balancer sets.
//!
//! The header is read whole or refused. A value read only in part lets the
//! client decide where its own text ends and the balancer's begins (an
//! unterminated quote that swallows the balancer's element turns the
//! client's `for=` into the last one), so every field line must parse by
//! itself to its very end, the client's lines included; a quoted string
//! never runs past its line. The lines then form one list in order (RFC 9110
//! §5.3), empty elements are ignored, and the last element — the one the
//! balancer appended — names the client.
//!
//! - `Forwarded` (RFC 7239 §4): each element is `[pair] *(";" [pair])`, a
//!   pair is `token "=" (token / quoted-string)` with RFC 9110 §5.6.2
//!   tokens and §5.6.4 quoted strings (quoted pairs unescaped); whitespace
//!   may surround `,` and `;`, nowhere else. No parameter occurs twice in an
//!   element, and every `for=` value is a node. The last element's `for=`
//!   counts.
//! - Any other header (`X-Forwarded-For`, `X-Real-IP`, …) is a
//!   comma-separated list whose every element is a node: no quoted strings,
//!   no parameters, so a quote or backslash anywhere refuses it.
//!
//! A node (RFC 7239 §6, and as X-Forwarded-For writes it) is an IPv4
//! address, an IPv6 address bare or in brackets, `unknown`, or an
//! obfuscated identifier (`_x`); all but bare IPv6 may carry a port (up to
//! 65535, or obfuscated). An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
//! how a dual-stack listener sees an IPv4 client) is that IPv4 address.
//!
//! Refused as well: a configured header that is missing or lists nothing,
//! and a last element that names no address (`unknown`, an obfuscated
//! identifier, a `Forwarded` element without `for=`). Counting such a
//! request as the balancer would let one client spend everyone's share.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::http::header::FORWARDED;
use axum::http::{HeaderMap, HeaderName};

/// Why a request's client could not be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreadable {
    /// The configured header is not there, or lists nothing.
    Missing,
    /// A line of it does not parse to its end, or an element of it is not
    /// a node.
    Malformed,
    /// Its last element names no address (`unknown`, an obfuscated
    /// identifier, or no `for=`).
    NotAnAddress,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Missing => "the client address header is missing",
            Self::Malformed => "the client address header does not parse to its end",
            Self::NotAnAddress => "the last element of the client address header names no address",
        })
    }
}

/// The client of a request that came over a connection from `peer`, told
/// by `header` when one is configured.
pub(crate) fn client(peer: SocketAddr, headers: &HeaderMap, header: Option<&HeaderName>) -> Result<IpAddr, Unreadable> {
    let Some(name) = header else {
        return Ok(peer.ip().to_canonical());
    };
    let read: fn(&[u8]) -> Result<Option<Named>, Unreadable> = if name == FORWARDED {
        forwarded_line
    } else {
        node_list_line
    };
    let mut last = None;
    for line in headers.get_all(name) {
        if let Some(element) = read(line.as_bytes())? {
            last = Some(element);
        }
    }
    let address = last.ok_or(Unreadable::Missing)?.ok_or(Unreadable::NotAnAddress)?;
    Ok(address.to_canonical())
}

/// The address a list element names; `None` for `unknown`, an obfuscated
/// identifier, or a `Forwarded` element without `for=`.
type Named = Option<IpAddr>;

/// The last element of one line of a comma-separated list of nodes, if it
/// lists any.
fn node_list_line(line: &[u8]) -> Result<Option<Named>, Unreadable> {
    let mut last = None;
    for element in line.split(|&byte| byte == b',') {
        let element = trim_ows(element);
        if !element.is_empty() {
            last = Some(node(element).ok_or(Unreadable::Malformed)?);
        }
    }
    Ok(last)
}

/// `text` without the optional whitespace (spaces and tabs, RFC 9110
/// §5.6.3) around it.
fn trim_ows(mut text: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = text {
        text = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = text {
        text = rest;
    }
    text
}

/// The last element of one `Forwarded` line, if it lists any.
fn forwarded_line(line: &[u8]) -> Result<Option<Named>, Unreadable> {
    let mut cursor = Cursor(line);
    let mut last = None;
    loop {
        cursor.skip_ows();
        if let Some(element) = forwarded_element(&mut cursor)? {
            last = Some(element);
        }
        match cursor.byte() {
            None => return Ok(last),
            Some(b',') => {}
            Some(_) => return Err(Unreadable::Malformed),
        }
    }
}

/// One `Forwarded` element, read up to the `,` or line end after it;
/// `None` if it is empty.
fn forwarded_element(cursor: &mut Cursor<'_>) -> Result<Option<Named>, Unreadable> {
    use Unreadable::Malformed;
    let (mut names, mut named, mut empty) = (BTreeSet::new(), None, true);
    loop {
        if let Some(name) = cursor.token() {
            if !cursor.eat(b'=') {
                return Err(Malformed);
            }
            let value = cursor.value().ok_or(Malformed)?;
            // RFC 7239 §4: a parameter occurs at most once per element.
            if !names.insert(name.to_ascii_lowercase()) {
                return Err(Malformed);
            }
            if name.eq_ignore_ascii_case(b"for") {
                named = Some(node(&value).ok_or(Malformed)?);
            }
            empty = false;
            cursor.skip_ows();
        }
        if !cursor.eat(b';') {
            return Ok((!empty).then(|| named.flatten()));
        }
        empty = false;
        cursor.skip_ows();
    }
}

/// What is left of a field line to read.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&byte, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(byte)
    }

    fn eat(&mut self, byte: u8) -> bool {
        let eaten = self.0.first() == Some(&byte);
        if eaten {
            self.byte();
        }
        eaten
    }

    fn skip_ows(&mut self) {
        while self.eat(b' ') || self.eat(b'\t') {}
    }

    /// A token (RFC 9110 §5.6.2), if one starts here.
    fn token(&mut self) -> Option<&'a [u8]> {
        let length = self.0.iter().take_while(|&&byte| is_tchar(byte)).count();
        let (token, rest) = self.0.split_at_checked(length)?;
        self.0 = rest;
        (!token.is_empty()).then_some(token)
    }

    /// A parameter's value: a token, or a quoted string's content with its
    /// quoted pairs unescaped (RFC 9110 §5.6.4).
    fn value(&mut self) -> Option<Vec<u8>> {
        if !self.eat(b'"') {
            return self.token().map(<[u8]>::to_vec);
        }
        let mut content = Vec::new();
        loop {
            match self.byte()? {
                b'"' => return Some(content),
                b'\\' => content.push(self.byte().filter(|&byte| is_quotable(byte))?),
                byte if is_quotable(byte) => content.push(byte),
                _ => return None,
            }
        }
    }
}

/// HTAB, SP, VCHAR or obs-text: what a quoted string holds, escaped or not.
fn is_quotable(byte: u8) -> bool {
    byte == b'\t' || (byte >= b' ' && byte != 0x7f)
}

/// A byte of a token (RFC 9110 §5.6.2).
fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// A node: `1.2.3.4`, `1.2.3.4:5555`, `::1`, `[::1]`, `[::1]:5555`,
/// `unknown`, `_hidden`, a port obfuscated as `_x`; `None` if `text` is
/// none of these.
fn node(text: &[u8]) -> Option<Named> {
    let text = std::str::from_utf8(text).ok()?;
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(Some(address));
    }
    if let Some(bracketed) = text.strip_prefix('[') {
        let (host, port) = bracketed.split_once(']')?;
        if !(port.is_empty() || port.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return host.parse::<Ipv6Addr>().ok().map(|address| Some(IpAddr::V6(address)));
    }
    // Bare IPv6 takes no port: its last group would read as one.
    let (name, port) = match text.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (text, None),
    };
    if !port.is_none_or(is_port) {
        return None;
    }
    if let Ok(address) = name.parse::<Ipv4Addr>() {
        Some(Some(IpAddr::V4(address)))
    } else {
        (name.eq_ignore_ascii_case("unknown") || is_obfuscated(name)).then_some(None)
    }
}

/// A port: up to five digits that fit, or an obfuscated one (RFC 7239 §6.3).
fn is_port(text: &str) -> bool {
    is_obfuscated(text) || (text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit()) && text.parse::<u16>().is_ok())
}

/// An obfuscated identifier (RFC 7239 §6.3).
fn is_obfuscated(text: &str) -> bool {
    text.strip_prefix('_').is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use proptest::prelude::*;
    use proptest::sample::{select, Index};

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

    fn check(name: &str, cases: &[Case]) {
        for (lines, expected) in cases {
            let shown: Vec<String> = lines.iter().map(|l| String::from_utf8_lossy(l).into_owned()).collect();
            assert_eq!(&client_of(PEER, Some(name), lines), expected, "{shown:?}");
        }
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
        use Unreadable::{Malformed, Missing, NotAnAddress};
        check(
            XFF,
            &[
                (&[b"1.2.3.4"], ip("1.2.3.4")),
                (&[b"  1.2.3.4 \t"], ip("1.2.3.4")),
                (&[b"6.6.6.6, 1.2.3.4"], ip("1.2.3.4")),
                (&[b"6.6.6.6,1.2.3.4"], ip("1.2.3.4")),
                (&[b"6.6.6.6\t,\t1.2.3.4"], ip("1.2.3.4")),
                // The client's own line first, the balancer's second.
                (&[b"6.6.6.6", b"1.2.3.4"], ip("1.2.3.4")),
                (&[b"6.6.6.6, 7.7.7.7", b"1.2.3.4"], ip("1.2.3.4")),
                // Earlier hops that hide themselves.
                (&[b"unknown, _hidden:_port, UNKNOWN:80", b"1.2.3.4"], ip("1.2.3.4")),
                // Empty elements are ignored.
                (&[b"1.2.3.4,", b" , "], ip("1.2.3.4")),
                (&[b"1.2.3.4, ,"], ip("1.2.3.4")),
                (&[b", ,1.2.3.4"], ip("1.2.3.4")),
                // Ports and brackets.
                (&[b"10.0.0.3:5555"], ip("10.0.0.3")),
                (&[b"1.2.3.4:0"], ip("1.2.3.4")),
                (&[b"1.2.3.4:_port"], ip("1.2.3.4")),
                (&[b"::1"], ip("::1")),
                (&[b"[::1]"], ip("::1")),
                (&[b"[::1]:5555"], ip("::1")),
                (&[b"2001:db8::1"], ip("2001:db8::1")),
                (&[b"[2001:db8::1]:443"], ip("2001:db8::1")),
                // IPv4-mapped counts as IPv4.
                (&[b"::ffff:1.2.3.4"], ip("1.2.3.4")),
                (&[b"[::ffff:1.2.3.4]:80"], ip("1.2.3.4")),
                (&[b"::ffff:102:304"], ip("1.2.3.4")),
                // Missing: refused, never the peer.
                (&[], Err(Missing)),
                (&[b""], Err(Missing)),
                (&[b" , ,"], Err(Missing)),
                (&[b"1.2.3.4", b""], ip("1.2.3.4")),
                // A last element that hides the client.
                (&[b"1.2.3.4", b"unknown"], Err(NotAnAddress)),
                (&[b"1.2.3.4, _hidden"], Err(NotAnAddress)),
                // Any element that is not a node, on any line: the whole
                // header is refused, not just that element.
                (&[b"garbage", b"1.2.3.4"], Err(Malformed)),
                (&[b"\"", b"1.2.3.4"], Err(Malformed)),
                (&[b"\"6.6.6.6, 1.2.3.4"], Err(Malformed)),
                (&[b"6.6.6.6\\, 1.2.3.4"], Err(Malformed)),
                (&[b"\xff\xfe", b"1.2.3.4"], Err(Malformed)),
                (&[b"6.6.6.6;x=\", 1.2.3.4"], Err(Malformed)),
                (&[b"1.2.3.4", b"garbage"], Err(Malformed)),
                (&[b"1.2.3.4", b"\xff"], Err(Malformed)),
                (&[b"1.2.3.4:99999"], Err(Malformed)),
                (&[b"1.2.3.4:080808"], Err(Malformed)),
                (&[b"1.2.3.4:"], Err(Malformed)),
                (&[b"1.2.3.4:+80"], Err(Malformed)),
                (&[b"1.2.3"], Err(Malformed)),
                (&[b"01.2.3.4"], Err(Malformed)),
                (&[b"1.2.3.4.5"], Err(Malformed)),
                (&[b"::1:5555x"], Err(Malformed)),
                (&[b"[::1"], Err(Malformed)),
                (&[b"[::1]x"], Err(Malformed)),
                (&[b"[::1]:"], Err(Malformed)),
                (&[b"[1.2.3.4]"], Err(Malformed)),
                (&[b"[1.2.3.4]:80"], Err(Malformed)),
                (&[b"\"1.2.3.4\""], Err(Malformed)),
                (&[b"1.2.3.4 5.6.7.8"], Err(Malformed)),
                (&[b"for=1.2.3.4"], Err(Malformed)),
                (&[b"fe80::1%eth0"], Err(Malformed)),
                (&[b"_"], Err(Malformed)),
                (&[b"unknown:"], Err(Malformed)),
            ],
        );
    }

    #[test]
    fn any_configured_header_name_is_read_the_same() {
        assert_eq!(
            client_of(PEER, Some("x-real-ip"), &[b"6.6.6.6", b"[::ffff:9.9.9.9]:1"]),
            ip("9.9.9.9")
        );
        assert_eq!(client_of(PEER, Some("X-Client-IP"), &[]), Err(Unreadable::Missing));
        assert_eq!(
            client_of(PEER, Some("x-real-ip"), &[b"for=9.9.9.9"]),
            Err(Unreadable::Malformed)
        );
    }

    #[test]
    fn forwarded_the_last_elements_for() {
        use Unreadable::{Malformed, Missing, NotAnAddress};
        check(
            "forwarded",
            &[
                (&[b"for=192.0.2.60"], ip("192.0.2.60")),
                (&[b"For=192.0.2.60"], ip("192.0.2.60")),
                (&[b"for=192.0.2.60;proto=http;by=203.0.113.43"], ip("192.0.2.60")),
                (&[b"proto=https; for=192.0.2.60 ;by=10.0.0.1"], ip("192.0.2.60")),
                (&[b";for=192.0.2.60;;proto=http;"], ip("192.0.2.60")),
                (&[b"for=\"192.0.2.60:4711\""], ip("192.0.2.60")),
                (&[b"for=\"[2001:db8:cafe::17]\""], ip("2001:db8:cafe::17")),
                (&[b"for=\"[2001:db8:cafe::17]:4711\""], ip("2001:db8:cafe::17")),
                (&[b"for=\"[2001:db8:cafe::17]:_port\""], ip("2001:db8:cafe::17")),
                (&[b"for=\"[::ffff:192.0.2.60]:4711\""], ip("192.0.2.60")),
                (&[b"for=\"\\1\\9\\2.0.2.60\""], ip("192.0.2.60")),
                // Several elements and lines: the last element counts.
                (&[b"for=6.6.6.6, for=192.0.2.60"], ip("192.0.2.60")),
                (&[b"for=6.6.6.6\t,\tfor=192.0.2.60"], ip("192.0.2.60")),
                (&[b"for=6.6.6.6", b"for=192.0.2.60;proto=https"], ip("192.0.2.60")),
                (
                    &[b"for=unknown, for=_hidden, by=_x", b"for=192.0.2.60"],
                    ip("192.0.2.60"),
                ),
                (&[b"for=192.0.2.60,"], ip("192.0.2.60")),
                // Quoted strings hold what tokens cannot, commas and
                // semicolons included, and do not split.
                (&[b"for=6.6.6.6, by=\"a,b\";for=192.0.2.60"], ip("192.0.2.60")),
                (&[b"for=192.0.2.60;by=\"a;for=6.6.6.6\""], ip("192.0.2.60")),
                (&[b"host=\"a\\\"b, c\";for=192.0.2.60"], ip("192.0.2.60")),
                (&[b"host=\"\";x=\"\xc3\xbc\\\xff\";for=192.0.2.60"], ip("192.0.2.60")),
                (&[b"x=!#$%&'*+-.^_`|~09AZaz;for=192.0.2.60"], ip("192.0.2.60")),
                // Missing, or no address in the last element.
                (&[], Err(Missing)),
                (&[b" , "], Err(Missing)),
                (&[b"for=unknown"], Err(NotAnAddress)),
                (&[b"for=\"unknown\""], Err(NotAnAddress)),
                (&[b"for=_hidden"], Err(NotAnAddress)),
                (&[b"for=192.0.2.60, for=_SEVKISEK"], Err(NotAnAddress)),
                (&[b"for=192.0.2.60, proto=https"], Err(NotAnAddress)),
                (&[b"for=192.0.2.60, ;"], Err(NotAnAddress)),
                // Not read to the end: refused whole, whichever line.
                (&[b"for=\"6.6.6.6, for=7.7.7.7\"", b"for=192.0.2.60"], Err(Malformed)),
                (&[b"for=\"", b"for=192.0.2.60"], Err(Malformed)),
                (&[b"for=192.0.2.60, for=\"[::1]"], Err(Malformed)),
                (&[b"for=192.0.2.60, for=\"1.2.3.4\"x"], Err(Malformed)),
                (&[b"for=192.0.2.60, for=\"1.2.3.4\" x"], Err(Malformed)),
                (&[b"for=1.2.3.4\\, for=192.0.2.60"], Err(Malformed)),
                (&[b"by=\"\\", b"for=192.0.2.60"], Err(Malformed)),
                (&[b"for=garbage, for=192.0.2.60"], Err(Malformed)),
                (&[b"for=\"for=6.6.6.6\", for=192.0.2.60"], Err(Malformed)),
                (&[b"for="], Err(Malformed)),
                (&[b"=1.2.3.4"], Err(Malformed)),
                (&[b"192.0.2.60"], Err(Malformed)),
                (&[b"for =192.0.2.60"], Err(Malformed)),
                (&[b"for= 192.0.2.60"], Err(Malformed)),
                (&[b"for=192.0.2.60 by=10.0.0.1"], Err(Malformed)),
                (&[b"proto=https for=192.0.2.60"], Err(Malformed)),
                (&[b"for=\"[2001:db8:cafe::17]:99999\""], Err(Malformed)),
                (&[b"for=\xff"], Err(Malformed)),
                (&[b"x\xff=1;for=192.0.2.60"], Err(Malformed)),
                (&[b"x=(1);for=192.0.2.60"], Err(Malformed)),
                (&[b"for=\"192.0.2.60\xff\""], Err(Malformed)),
                // Ports and IPv6 need the quotes RFC 7239 gives them.
                (&[b"for=192.0.2.60:4711"], Err(Malformed)),
                (&[b"for=[2001:db8:cafe::17]"], Err(Malformed)),
                // A parameter twice in one element, in any case.
                (&[b"for=6.6.6.6;for=192.0.2.60"], Err(Malformed)),
                (&[b"for=192.0.2.60;FOR=6.6.6.6"], Err(Malformed)),
                (&[b"proto=http;for=192.0.2.60;Proto=https"], Err(Malformed)),
                (&[b"for=6.6.6.6;for=7.7.7.7, for=192.0.2.60"], Err(Malformed)),
            ],
        );
    }

    /// The report: the client's element ends in an unterminated quoted
    /// string, and the balancer's `, for=…` joins its line. Were the quote
    /// to swallow the balancer's element, the client's `for=` would count.
    #[test]
    fn an_unterminated_quote_does_not_swallow_the_balancers_element() {
        for lines in [
            &[&b"for=203.0.113.1;x=\", for=198.51.100.7"[..]][..],
            &[b"for=203.0.113.1;x=\", for=\"198.51.100.7:4711\""],
            &[b"for=203.0.113.1;x=\", for=\"[2001:db8::7]\""],
            &[b"for=203.0.113.1;x=\"", b"for=198.51.100.7"],
            &[b"for=203.0.113.1;x=\"\\", b"for=198.51.100.7"],
        ] {
            assert_eq!(
                client_of(PEER, Some("forwarded"), lines),
                Err(Unreadable::Malformed),
                "{lines:?}"
            );
        }
        let lines: &[&[u8]] = &[b"203.0.113.1;x=\", 198.51.100.7"];
        assert_eq!(client_of(PEER, Some(XFF), lines), Err(Unreadable::Malformed));
    }

    /// Any address, IPv4-mapped ones too.
    fn address() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<Ipv4Addr>().prop_map(IpAddr::V4),
            any::<Ipv6Addr>().prop_map(IpAddr::V6),
            any::<Ipv4Addr>().prop_map(|address| IpAddr::V6(address.to_ipv6_mapped())),
        ]
    }

    fn port() -> impl Strategy<Value = String> {
        prop_oneof![any::<u16>().prop_map(|port| port.to_string()), "_[A-Za-z0-9._-]{1,8}"]
    }

    /// A node naming an address, as a balancer writes it: with or without
    /// a port, IPv6 with or without brackets.
    fn address_node() -> impl Strategy<Value = (String, IpAddr)> {
        (address(), proptest::option::of(port()), any::<bool>()).prop_map(|(address, port, bracketed)| {
            let text = match (address, port) {
                (IpAddr::V4(v4), None) => v4.to_string(),
                (IpAddr::V4(v4), Some(port)) => format!("{v4}:{port}"),
                (IpAddr::V6(v6), None) if !bracketed => v6.to_string(),
                (IpAddr::V6(v6), None) => format!("[{v6}]"),
                (IpAddr::V6(v6), Some(port)) => format!("[{v6}]:{port}"),
            };
            (text, address)
        })
    }

    /// A node that names no address.
    fn hidden_node() -> impl Strategy<Value = String> {
        let name = prop_oneof![
            Just("unknown".to_owned()),
            Just("Unknown".to_owned()),
            "_[A-Za-z0-9._-]{1,8}"
        ];
        (name, proptest::option::of(port())).prop_map(|(name, port)| match port {
            Some(port) => format!("{name}:{port}"),
            None => name,
        })
    }

    /// A list element, as written, and the address it names.
    type Element = (String, Named);

    /// An element of a comma-separated list of nodes; the last one names an
    /// address.
    fn node_element(last: bool) -> BoxedStrategy<Element> {
        let named = address_node().prop_map(|(text, address)| (text, Some(address)));
        if last {
            named.boxed()
        } else {
            prop_oneof![named, hidden_node().prop_map(|text| (text, None))].boxed()
        }
    }

    /// `text` as a parameter value: a token if it is one and `quote` is
    /// false, else a quoted string that escapes the characters `escapes`
    /// marks as well as those it must.
    fn value(text: &str, quote: bool, escapes: u64) -> String {
        if !quote && !text.is_empty() && text.bytes().all(is_tchar) {
            return text.to_owned();
        }
        let mut quoted = String::from('"');
        for (i, c) in text.chars().enumerate() {
            if matches!(c, '"' | '\\') || (escapes >> (i % 64)) & 1 == 1 {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        quoted.push('"');
        quoted
    }

    const OWS: &[&str] = &["", "", " ", "\t", " \t "];

    /// Pairs a balancer may write besides `for=`, each name at most once.
    fn other_pairs() -> impl Strategy<Value = Vec<String>> {
        let by = (
            prop_oneof![address_node().prop_map(|(text, _)| text), hidden_node()],
            any::<bool>(),
            any::<u64>(),
        )
            .prop_map(|(node, quote, escapes)| format!("by={}", value(&node, quote, escapes)));
        let proto = select(&["proto=https", "Proto=http", "proto=\"https\""][..]);
        let host = select(
            &[
                "host=example.com",
                "HOST=\"example.com:8443\"",
                "host=\"a,b;c=d\\\"e\"",
                "host=\"\u{fc}\"",
            ][..],
        );
        let extension = "[a-z]{1,5}-ext=[!#$%&'*+.^_`|~0-9A-Za-z-]{1,8}";
        (
            proptest::option::of(by),
            proptest::option::of(proto.prop_map(str::to_owned)),
            proptest::option::of(host.prop_map(str::to_owned)),
            proptest::option::of(extension),
        )
            .prop_map(|(by, proto, host, extension)| [by, proto, host, extension].into_iter().flatten().collect())
    }

    /// A `Forwarded` element, its pairs in any order with optional
    /// whitespace and empty pairs between them; the last one's `for=`
    /// names an address.
    fn forwarded_element(last: bool) -> BoxedStrategy<Element> {
        let named = address_node().prop_map(|(text, address)| (Some(text), Some(address)));
        let node = if last {
            named.boxed()
        } else {
            prop_oneof![
                named,
                hidden_node().prop_map(|text| (Some(text), None)),
                Just((None, None))
            ]
            .boxed()
        };
        let separators = proptest::collection::vec((select(OWS), select(OWS), any::<bool>()), 4);
        (
            node,
            select(&["for", "For", "FOR"][..]),
            any::<bool>(),
            any::<u64>(),
            other_pairs(),
            any::<Index>(),
            separators,
            any::<bool>(),
        )
            .prop_map(
                |((node, named), name, quote, escapes, mut pairs, at, separators, lead)| {
                    if let Some(node) = node {
                        pairs.insert(
                            at.index(pairs.len() + 1),
                            format!("{name}={}", value(&node, quote, escapes)),
                        );
                    }
                    let mut text = String::from(if lead { ";" } else { "" });
                    for (i, pair) in pairs.iter().enumerate() {
                        if let Some((before, after, doubled)) = separators.get(i % 4).filter(|_| i > 0) {
                            text.push_str(before);
                            text.push_str(if *doubled { "; ;" } else { ";" });
                            text.push_str(after);
                        }
                        text.push_str(pair);
                    }
                    (text, named)
                },
            )
            .boxed()
    }

    /// A well-formed header as field lines, and the address its last
    /// element names: elements joined on one line or broken onto the
    /// next, with optional whitespace and empty elements between.
    fn list(element: fn(bool) -> BoxedStrategy<Element>) -> impl Strategy<Value = (Vec<Vec<u8>>, IpAddr)> {
        let join = (any::<bool>(), select(OWS), select(OWS), 0..3usize);
        (
            proptest::collection::vec(element(false), 0..5),
            element(true),
            proptest::collection::vec(join, 6),
            select(OWS),
            0..3usize,
        )
            .prop_map(|(mut elements, last, joins, edge, trailing)| {
                let expected = last.1.expect("the last element names an address");
                elements.push(last);
                let mut text = edge.to_owned();
                for (i, (element, _)) in elements.iter().enumerate() {
                    if let Some((break_line, before, after, empty)) = joins.get(i % 6).filter(|_| i > 0) {
                        text.push_str(before);
                        text.push(if *break_line { '\n' } else { ',' });
                        text.push_str(&" ,".repeat(*empty));
                        text.push_str(after);
                    }
                    text.push_str(element);
                }
                text.push_str(edge);
                text.push_str(&",".repeat(trailing));
                let lines = text.split('\n').map(|line| line.as_bytes().to_vec()).collect();
                (lines, expected.to_canonical())
            })
    }

    /// A byte a header line may hold, most often one that means something
    /// to a list or a quoted string.
    fn header_byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            3 => select(&b"\"\\,;= "[..]),
            1 => prop_oneof![Just(b'\t'), 0x20u8..0x7f, 0x80u8..=0xff],
        ]
    }

    /// Inserts, deletes or replaces a byte: which line, where, which edit.
    type Edit = (Index, Index, u8, u8);

    fn edit(lines: &mut [Vec<u8>], (line, at, kind, byte): &Edit) {
        let Some(line) = lines.get_mut(line.index(lines.len().max(1))) else {
            return;
        };
        match kind % 3 {
            0 => line.insert(at.index(line.len() + 1), *byte),
            _ if line.is_empty() => {}
            1 => {
                line.remove(at.index(line.len()));
            }
            _ => {
                let at = at.index(line.len());
                if let Some(old) = line.get_mut(at) {
                    *old = *byte;
                }
            }
        }
    }

    /// Lines the client wrote, edited by `edits`, then the balancer's
    /// element `appended`, joined onto the last line after `, ` or on a
    /// line of its own: the answer is the address `expected` or a
    /// refusal.
    fn check_appended(
        name: &str,
        mut lines: Vec<Vec<u8>>,
        edits: &[Edit],
        appended: &str,
        own_line: bool,
        expected: IpAddr,
    ) -> Result<(), TestCaseError> {
        for change in edits {
            edit(&mut lines, change);
        }
        match lines.last_mut().filter(|_| !own_line) {
            Some(last) => last.extend_from_slice(format!(", {appended}").as_bytes()),
            None => lines.push(appended.as_bytes().to_vec()),
        }
        let lines: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let answer = client_of(PEER, Some(name), &lines);
        let shown: Vec<String> = lines.iter().map(|l| String::from_utf8_lossy(l).into_owned()).collect();
        prop_assert!(
            answer.is_err() || answer == Ok(expected.to_canonical()),
            "{shown:?}: {answer:?}"
        );
        Ok(())
    }

    fn edits() -> impl Strategy<Value = Vec<Edit>> {
        proptest::collection::vec((any::<Index>(), any::<Index>(), any::<u8>(), header_byte()), 1..5)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// However a well-formed header is laid out, its last element counts.
        #[test]
        fn a_well_formed_header_names_its_last_element(
            (xff, xff_last) in list(node_element),
            (forwarded, forwarded_last) in list(forwarded_element),
        ) {
            let xff: Vec<&[u8]> = xff.iter().map(Vec::as_slice).collect();
            prop_assert_eq!(client_of(PEER, Some(XFF), &xff), Ok(xff_last));
            let forwarded: Vec<&[u8]> = forwarded.iter().map(Vec::as_slice).collect();
            prop_assert_eq!(client_of(PEER, Some("forwarded"), &forwarded), Ok(forwarded_last));
        }

        /// Whatever the client makes of its part of `Forwarded`, the
        /// balancer's element counts or the header is refused.
        #[test]
        fn a_mangled_forwarded_gives_the_balancers_element_or_nothing(
            (client, _) in list(forwarded_element),
            edits in edits(),
            (node, balancer) in address_node(),
            quote in any::<bool>(),
            own_line in any::<bool>(),
        ) {
            let appended = format!("for={}", value(&node, quote, 0));
            check_appended("forwarded", client, &edits, &appended, own_line, balancer)?;
        }

        /// The same for a comma-separated list of nodes.
        #[test]
        fn a_mangled_list_gives_the_balancers_element_or_nothing(
            (client, _) in list(node_element),
            edits in edits(),
            (node, balancer) in address_node(),
            own_line in any::<bool>(),
        ) {
            check_appended(XFF, client, &edits, &node, own_line, balancer)?;
        }

        /// Whatever bytes a header line holds, the answer is an address or
        /// a refusal, never a panic.
        #[test]
        fn any_bytes_are_an_answer(
            lines in proptest::collection::vec(proptest::collection::vec(header_byte(), 0..40), 0..4),
        ) {
            let lines: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
            for name in [XFF, "forwarded"] {
                let _ = client_of(PEER, Some(name), &lines);
            }
        }
    }
}
