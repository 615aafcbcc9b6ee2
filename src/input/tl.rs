//! MTProto's TL binary form of `messageActionSecureValuesSentMe#1b287353`,
//! read and written: what any TL library (grammers, Telethon, TDLib …)
//! gives for the service message that carries a passport.
//!
//! Reading is bounded: every length and count is checked against the
//! bytes left and against [`Limits`] before anything is allocated, so a
//! reader never allocates more than its input's size. Unknown
//! constructors, truncation, flag bits the schema does not define and bytes
//! after the end are [`Error::Tl`], naming the offset; nothing panics.

use crate::element_type::ElementType;
use crate::error::{Error, Result, TlProblem};
use crate::input::limits::check;
use crate::input::limits::Limits;
use crate::input::mtproto::{
    SecureCredentialsEncrypted, SecureData, SecureFile, SecurePlainData, SecureValue, SecureValuesSentMe,
};

/// `messageActionSecureValuesSentMe#1b287353`.
pub(crate) const SECURE_VALUES_SENT_ME: u32 = 0x1b28_7353;
const VECTOR: u32 = 0x1cb5_c415;
const SECURE_VALUE: u32 = 0x187f_a0ca;
const SECURE_DATA: u32 = 0x8aea_bec3;
/// `secureFile#7d09c27e` (`size:long`, layer 143 on).
const SECURE_FILE: u32 = 0x7d09_c27e;
/// `secureFile#e0277a62` (`size:int`, older layers).
const SECURE_FILE_INT_SIZE: u32 = 0xe027_7a62;
const SECURE_FILE_EMPTY: u32 = 0x6419_9744;
const SECURE_PLAIN_PHONE: u32 = 0x7d60_99dd;
const SECURE_PLAIN_EMAIL: u32 = 0x21ec_5a5f;
const SECURE_CREDENTIALS_ENCRYPTED: u32 = 0x33f0_ea47;

/// The `flags` bits `secureValue` defines: data (0), front side (1),
/// reverse side (2), selfie (3), files (4), plain data (5), translation (6).
const SECURE_VALUE_FLAGS: u32 = 0x7f;

impl SecureValuesSentMe {
    /// Reads the boxed TL serialisation of a
    /// `messageActionSecureValuesSentMe`, as a TL library writes it (for
    /// grammers: `Serializable::to_bytes` of the `MessageAction`), within
    /// the default [`Limits`].
    ///
    /// ```
    /// use telegram_passport::{client::PassportBuilder, mtproto, NonceCheck, PrivateKey};
    ///
    /// let key = PrivateKey::generate()?;
    /// let sealed = PassportBuilder::new().email("a@example.org").seal(&key.public_key(), "n-1")?;
    /// let bytes = sealed.mtproto.to_tl_bytes(); // what the TL library received
    ///
    /// let sent = mtproto::SecureValuesSentMe::from_tl(&bytes)?;
    /// let passport = mtproto::decrypt(&key, &sent, NonceCheck::Expect("n-1"))?;
    /// assert_eq!(passport.email(), Some("a@example.org"));
    /// # Ok::<(), telegram_passport::Error>(())
    /// ```
    pub fn from_tl(bytes: &[u8]) -> Result<Self> {
        Self::from_tl_with_limits(bytes, &Limits::default())
    }

    /// [`SecureValuesSentMe::from_tl`] with other [`Limits`]: `input_json`
    /// bounds the whole input, `elements` the values, `files_per_element`
    /// each file list, `element_data` each value's data and `credentials`
    /// the encrypted credentials and their secret.
    pub fn from_tl_with_limits(bytes: &[u8], limits: &Limits) -> Result<Self> {
        check(|| "MTProto input".to_owned(), bytes.len(), limits.input_json)?;
        let mut reader = Reader { bytes, at: 0, limits };
        let sent = reader.secure_values_sent_me()?;
        if reader.at != bytes.len() {
            return Err(reader.fail(TlProblem::TrailingBytes {
                count: bytes.len() - reader.at,
            }));
        }
        Ok(sent)
    }

    /// The boxed TL serialisation, as Telegram sends it (`secureFile` in
    /// its current form, with `size:long`). TL `bytes` hold at most
    /// 16 MiB - 1: a longer field has no TL form.
    pub fn to_tl_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_u32(&mut out, SECURE_VALUES_SENT_ME);
        put_u32(&mut out, VECTOR);
        put_u32(&mut out, self.values.len() as u32);
        for value in &self.values {
            put_value(&mut out, value);
        }
        put_u32(&mut out, SECURE_CREDENTIALS_ENCRYPTED);
        for field in [&self.credentials.data, &self.credentials.hash, &self.credentials.secret] {
            put_bytes(&mut out, field);
        }
        out
    }
}

fn put_value(out: &mut Vec<u8>, value: &SecureValue) {
    let flags = u32::from(value.data.is_some())
        | u32::from(value.front_side.is_some()) << 1
        | u32::from(value.reverse_side.is_some()) << 2
        | u32::from(value.selfie.is_some()) << 3
        | u32::from(!value.files.is_empty()) << 4
        | u32::from(value.plain_data.is_some()) << 5
        | u32::from(!value.translation.is_empty()) << 6;
    put_u32(out, SECURE_VALUE);
    put_u32(out, flags);
    put_u32(out, value.value_type.mtproto_constructor());
    if let Some(data) = &value.data {
        put_u32(out, SECURE_DATA);
        for field in [&data.data, &data.data_hash, &data.secret] {
            put_bytes(out, field);
        }
    }
    for file in [&value.front_side, &value.reverse_side, &value.selfie]
        .into_iter()
        .flatten()
    {
        put_file(out, file);
    }
    if !value.translation.is_empty() {
        put_files(out, &value.translation);
    }
    if !value.files.is_empty() {
        put_files(out, &value.files);
    }
    match &value.plain_data {
        Some(SecurePlainData::Phone(phone)) => {
            put_u32(out, SECURE_PLAIN_PHONE);
            put_bytes(out, phone.as_bytes());
        }
        Some(SecurePlainData::Email(email)) => {
            put_u32(out, SECURE_PLAIN_EMAIL);
            put_bytes(out, email.as_bytes());
        }
        None => {}
    }
    put_bytes(out, &value.hash);
}

fn put_files(out: &mut Vec<u8>, files: &[SecureFile]) {
    put_u32(out, VECTOR);
    put_u32(out, files.len() as u32);
    for file in files {
        put_file(out, file);
    }
}

fn put_file(out: &mut Vec<u8>, file: &SecureFile) {
    put_u32(out, SECURE_FILE);
    out.extend_from_slice(&file.id.to_le_bytes());
    out.extend_from_slice(&file.access_hash.to_le_bytes());
    out.extend_from_slice(&file.size.to_le_bytes());
    out.extend_from_slice(&file.dc_id.to_le_bytes());
    out.extend_from_slice(&file.date.to_le_bytes());
    put_bytes(out, &file.file_hash);
    put_bytes(out, &file.secret);
}

pub(crate) fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// TL `bytes`/`string`: a length prefix (1 byte, or 0xfe and 3 bytes), the
/// data, and zero padding to a multiple of 4.
pub(crate) fn put_bytes(out: &mut Vec<u8>, data: &[u8]) {
    let start = out.len();
    if data.len() < 254 {
        out.push(data.len() as u8);
    } else {
        out.push(0xfe);
        out.extend_from_slice(&(data.len() as u32).to_le_bytes()[..3]);
    }
    out.extend_from_slice(data);
    while !(out.len() - start).is_multiple_of(4) {
        out.push(0);
    }
}

/// A cursor over the input.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    limits: &'a Limits,
}

impl Reader<'_> {
    fn fail(&self, problem: TlProblem) -> Error {
        Error::Tl {
            offset: self.at,
            problem,
        }
    }

    fn take(&mut self, count: usize) -> Result<&[u8]> {
        let end = self.at.checked_add(count).filter(|&end| end <= self.bytes.len());
        let taken = end.and_then(|end| self.bytes.get(self.at..end));
        match taken {
            Some(taken) => {
                self.at += count;
                Ok(taken)
            }
            None => Err(self.fail(TlProblem::Truncated {
                wanted: count,
                left: self.bytes.len() - self.at,
            })),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// A constructor id that must be `expected`, named `what` in errors.
    fn expect(&mut self, expected: u32, what: &'static str) -> Result<()> {
        let start = self.at;
        let found = self.u32()?;
        if found != expected {
            self.at = start;
            return Err(self.fail(TlProblem::UnknownConstructor { expected: what, found }));
        }
        Ok(())
    }

    /// TL `bytes`, at most `limit` long (named `what` when longer).
    fn bytes(&mut self, what: impl FnOnce() -> String, limit: usize) -> Result<Vec<u8>> {
        let start = self.at;
        let [first] = self.array()?;
        let (length, header) = match first {
            0..=253 => (usize::from(first), 1),
            254 => {
                let [a, b, c] = self.array()?;
                (usize::from(a) | usize::from(b) << 8 | usize::from(c) << 16, 4)
            }
            255 => {
                self.at = start;
                return Err(self.fail(TlProblem::BadLength));
            }
        };
        check(what, length, limit)?;
        let data = self.take(length)?.to_vec();
        let padding = (4 - (header + length) % 4) % 4;
        self.take(padding)?;
        Ok(data)
    }

    /// TL `string`: UTF-8 `bytes`.
    fn string(&mut self, what: &'static str) -> Result<String> {
        let start = self.at;
        let bytes = self.bytes(|| what.to_owned(), usize::MAX)?;
        String::from_utf8(bytes).map_err(|_| Error::Tl {
            offset: start,
            problem: TlProblem::NotUtf8 { field: what },
        })
    }

    /// A `Vector<T>`'s header: its count, checked against `limit` and
    /// against the bytes left (every item takes at least `min_item` bytes)
    /// before the caller allocates for it.
    fn vector(&mut self, what: impl FnOnce() -> String, limit: usize, min_item: usize) -> Result<usize> {
        self.expect(VECTOR, "Vector")?;
        let start = self.at;
        let count = self.u32()? as usize;
        check(what, count, limit)?;
        let wanted = count.saturating_mul(min_item);
        let left = self.bytes.len() - self.at;
        if wanted > left {
            // Counted from the count itself, where the error points.
            self.at = start;
            return Err(self.fail(TlProblem::Truncated {
                wanted: wanted.saturating_add(4),
                left: left + 4,
            }));
        }
        Ok(count)
    }

    fn secure_values_sent_me(&mut self) -> Result<SecureValuesSentMe> {
        self.expect(SECURE_VALUES_SENT_ME, "messageActionSecureValuesSentMe")?;
        let count = self.vector(|| "values".to_owned(), self.limits.elements, 16)?;
        let mut values = Vec::with_capacity(count);
        for _ in 0..count {
            values.push(self.secure_value()?);
        }
        self.expect(SECURE_CREDENTIALS_ENCRYPTED, "secureCredentialsEncrypted")?;
        let limit = self.limits.credentials;
        let credentials = SecureCredentialsEncrypted {
            data: self.bytes(|| "credentials.data".to_owned(), limit)?,
            hash: self.bytes(|| "credentials.hash".to_owned(), limit)?,
            secret: self.bytes(|| "credentials.secret".to_owned(), limit)?,
        };
        Ok(SecureValuesSentMe { values, credentials })
    }

    fn secure_value(&mut self) -> Result<SecureValue> {
        self.expect(SECURE_VALUE, "secureValue")?;
        let flags_at = self.at;
        let flags = self.u32()?;
        if flags & !SECURE_VALUE_FLAGS != 0 {
            self.at = flags_at;
            return Err(self.fail(TlProblem::UndefinedFlags {
                flags: flags & !SECURE_VALUE_FLAGS,
            }));
        }
        let type_at = self.at;
        let id = self.u32()?;
        let value_type = ElementType::from_mtproto_constructor(id).ok_or(Error::Tl {
            offset: type_at,
            problem: TlProblem::UnknownConstructor {
                expected: "SecureValueType",
                found: id,
            },
        })?;
        let on = |bit: u32| flags & (1 << bit) != 0;
        let limits = *self.limits;
        let data = match on(0) {
            true => {
                self.expect(SECURE_DATA, "secureData")?;
                Some(SecureData {
                    data: self.bytes(|| format!("{value_type}.data"), limits.element_data)?,
                    data_hash: self.bytes(|| format!("{value_type}.data_hash"), limits.element_data)?,
                    secret: self.bytes(|| format!("{value_type}.secret"), limits.element_data)?,
                })
            }
            false => None,
        };
        let front_side = if on(1) { self.secure_file()? } else { None };
        let reverse_side = if on(2) { self.secure_file()? } else { None };
        let selfie = if on(3) { self.secure_file()? } else { None };
        let translation = if on(6) {
            self.secure_files(value_type, "translation")?
        } else {
            Vec::new()
        };
        let files = if on(4) {
            self.secure_files(value_type, "files")?
        } else {
            Vec::new()
        };
        let plain_data = match on(5) {
            true => Some(self.plain_data()?),
            false => None,
        };
        let hash = self.bytes(|| format!("{value_type}.hash"), limits.element_data)?;
        Ok(SecureValue {
            value_type,
            data,
            front_side,
            reverse_side,
            selfie,
            translation,
            files,
            plain_data,
            hash,
        })
    }

    /// A `SecureFile`; `secureFileEmpty` is `None`.
    fn secure_file(&mut self) -> Result<Option<SecureFile>> {
        let start = self.at;
        let id = self.u32()?;
        let int_size = match id {
            SECURE_FILE => false,
            SECURE_FILE_INT_SIZE => true,
            SECURE_FILE_EMPTY => return Ok(None),
            found => {
                self.at = start;
                return Err(self.fail(TlProblem::UnknownConstructor {
                    expected: "SecureFile",
                    found,
                }));
            }
        };
        let id = self.i64()?;
        let access_hash = self.i64()?;
        let size = match int_size {
            true => i64::from(self.u32()? as i32),
            false => self.i64()?,
        };
        let dc_id = self.u32()? as i32;
        let date = self.u32()? as i32;
        let limit = self.limits.element_data;
        Ok(Some(SecureFile {
            id,
            access_hash,
            size,
            dc_id,
            date,
            file_hash: self.bytes(|| "secureFile.file_hash".to_owned(), limit)?,
            secret: self.bytes(|| "secureFile.secret".to_owned(), limit)?,
        }))
    }

    /// A `Vector<SecureFile>`: every item a file (an empty one would shift
    /// the credentials' list against it).
    fn secure_files(&mut self, value_type: ElementType, part: &'static str) -> Result<Vec<SecureFile>> {
        let count = self.vector(|| format!("{value_type}.{part}"), self.limits.files_per_element, 4)?;
        let mut files = Vec::with_capacity(count);
        for _ in 0..count {
            let start = self.at;
            match self.secure_file()? {
                Some(file) => files.push(file),
                None => {
                    return Err(Error::Tl {
                        offset: start,
                        problem: TlProblem::EmptyFileInList { field: part },
                    })
                }
            }
        }
        Ok(files)
    }

    fn plain_data(&mut self) -> Result<SecurePlainData> {
        let start = self.at;
        match self.u32()? {
            SECURE_PLAIN_PHONE => Ok(SecurePlainData::Phone(self.string("phone")?)),
            SECURE_PLAIN_EMAIL => Ok(SecurePlainData::Email(self.string("email")?)),
            found => {
                self.at = start;
                Err(self.fail(TlProblem::UnknownConstructor {
                    expected: "SecurePlainData",
                    found,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;
    use crate::client::PassportBuilder;
    use crate::decode::values::IdDocumentData;
    use crate::element_type::FileSlot;
    use crate::key::PrivateKey;

    fn sample() -> (SecureValuesSentMe, Vec<u8>) {
        let key = PrivateKey::generate().unwrap();
        let sealed = PassportBuilder::new()
            .id_document(ElementType::Passport, &IdDocumentData::new("AB1", None))
            .file(ElementType::Passport, FileSlot::FrontSide, "front", vec![0xff; 300])
            .file(ElementType::Passport, FileSlot::Translation, "t1", vec![1; 10])
            .file(ElementType::Passport, FileSlot::Translation, "t2", vec![2; 10])
            .phone_number("4512345678")
            .email("a@example.org")
            .seal(&key.public_key(), "nonce-1")
            .unwrap();
        let bytes = sealed.mtproto.to_tl_bytes();
        (sealed.mtproto, bytes)
    }

    fn problem(bytes: &[u8]) -> (usize, TlProblem) {
        match SecureValuesSentMe::from_tl(bytes) {
            Err(Error::Tl { offset, problem }) => (offset, problem),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bytes_are_prefixed_and_padded() {
        let mut out = Vec::new();
        put_bytes(&mut out, b"abc");
        assert_eq!(out, b"\x03abc");
        out.clear();
        put_bytes(&mut out, b"abcd");
        assert_eq!(out, b"\x04abcd\0\0\0");
        out.clear();
        put_bytes(&mut out, &[7; 300]);
        assert_eq!(&out[..4], &[0xfe, 0x2c, 0x01, 0x00]);
        assert_eq!(out.len(), 304);
    }

    /// The layout TL `bytes` must have for `data`, from the schema's rule.
    fn layout(data: &[u8]) -> Vec<u8> {
        let n = data.len();
        let mut out = match n {
            0..=253 => vec![n as u8],
            _ => vec![0xfe, n as u8, (n >> 8) as u8, (n >> 16) as u8],
        };
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(4), 0);
        out
    }

    fn read_bytes(input: &[u8]) -> (Vec<u8>, usize) {
        let limits = Limits::default();
        let mut reader = Reader {
            bytes: input,
            at: 0,
            limits: &limits,
        };
        let data = reader.bytes(|| "field".to_owned(), usize::MAX).unwrap();
        (data, reader.at)
    }

    /// Every length where the prefix or the padding changes form, up to the
    /// largest TL `bytes` can announce: written as the schema says, and read
    /// back to exactly the bytes written, stopping at the end of the padding.
    #[test]
    fn bytes_round_trip_at_every_length_boundary() {
        let lengths = [
            0, 1, 2, 3, 4, 5, 6, 7, 8, 251, 252, 253, 254, 255, 256, 257, 258, 65535, 65536, 65537, 70000, 0xff_ffff,
        ];
        for n in lengths {
            let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            let mut out = Vec::new();
            put_bytes(&mut out, &data);
            assert_eq!(out.len() % 4, 0, "{n}");
            assert!(out == layout(&data), "{n}: layout differs");
            // Followed by more input, the reader stops at the padding's end.
            out.extend_from_slice(&[0xee; 4]);
            let (read, at) = read_bytes(&out);
            assert!(read == data, "{n}: read back differs");
            assert_eq!(at, out.len() - 4, "{n}");
        }
    }

    #[test]
    fn bytes_pad_what_they_add_to_any_buffer() {
        let mut out = vec![0xaa];
        put_bytes(&mut out, b"abc");
        assert_eq!(out, b"\xaa\x03abc");
        let mut out = vec![0xaa; 3];
        put_bytes(&mut out, &[1; 254]);
        assert_eq!(&out[..7], &[0xaa, 0xaa, 0xaa, 0xfe, 254, 0, 0]);
        assert_eq!(out.len(), 3 + 4 + 256);
    }

    /// A length whose third byte is used (64 KiB and over), with the prefix
    /// built by hand: the reader takes the bytes as little-endian.
    #[test]
    fn a_long_string_with_a_hand_built_prefix_is_read() {
        let email = "a".repeat(70_000 - "@example.org".len()) + "@example.org";
        let mut value = Vec::new();
        put_u32(&mut value, SECURE_VALUE);
        put_u32(&mut value, 1 << 5);
        put_u32(&mut value, ElementType::Email.mtproto_constructor());
        put_u32(&mut value, SECURE_PLAIN_EMAIL);
        value.extend_from_slice(&[0xfe, 0x70, 0x11, 0x01]); // 70000 = 0x01_1170
        value.extend_from_slice(email.as_bytes()); // a multiple of 4: no padding
        value.extend_from_slice(&[0, 0, 0, 0]); // hash: empty bytes
        let mut action = Vec::new();
        put_u32(&mut action, SECURE_VALUES_SENT_ME);
        put_u32(&mut action, VECTOR);
        put_u32(&mut action, 1);
        action.extend_from_slice(&value);
        put_u32(&mut action, SECURE_CREDENTIALS_ENCRYPTED);
        action.extend_from_slice(&[0; 12]);
        let sent = SecureValuesSentMe::from_tl(&action).unwrap();
        assert_eq!(sent.values.len(), 1);
        assert!(sent.values[0].plain_data == Some(SecurePlainData::Email(email)));
        assert!(sent.values[0].hash.is_empty());
        assert_eq!(sent.to_tl_bytes(), action);
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `tests/data/tl/bytes.json` comes from `tests/data/mtproto_tl.py`, a
    /// serialiser written from the schema in Python: this writer agrees with
    /// it byte for byte, at 254 and 70 000 bytes among others, and reads its
    /// output back.
    #[test]
    fn bytes_match_an_independent_serialiser() {
        use sha2::{Digest, Sha256};
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tl/bytes.json");
        let vectors: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let cases = vectors["cases"].as_array().unwrap();
        for length in [254, 70_000] {
            assert!(cases.iter().any(|case| case["length"] == length), "{length} is covered");
        }
        for case in cases {
            let n = case["length"].as_u64().unwrap() as usize;
            let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            let mut out = Vec::new();
            put_bytes(&mut out, &data);
            assert_eq!(out.len() as u64, case["size"].as_u64().unwrap(), "{n}");
            assert_eq!(hex(&out[..8.min(out.len())]), case["head"], "{n}");
            assert_eq!(hex(&out[out.len().saturating_sub(8)..]), case["tail"], "{n}");
            assert_eq!(hex(&Sha256::digest(&out)), case["sha256"], "{n}");
            if let Some(tl) = case.get("tl") {
                assert_eq!(hex(&out), *tl, "{n}");
            }
            let (read, at) = read_bytes(&out);
            assert!(read == data, "{n}");
            assert_eq!(at, out.len(), "{n}");
        }
    }

    /// Every optional part of a `secureValue` (each flag bit on its own
    /// and together), in the TL and back.
    #[test]
    fn every_part_round_trips() {
        let key = PrivateKey::generate().unwrap();
        let license = ElementType::DriverLicense;
        let sealed = PassportBuilder::new()
            .id_document(license, &IdDocumentData::new("D1", None))
            .file(license, FileSlot::FrontSide, "f", vec![1; 20])
            .file(license, FileSlot::ReverseSide, "r", vec![2; 20])
            .file(license, FileSlot::Selfie, "s", vec![3; 20])
            .file(license, FileSlot::Translation, "t", vec![4; 20])
            .file(ElementType::UtilityBill, FileSlot::Files, "u0", vec![5; 20])
            .file(ElementType::UtilityBill, FileSlot::Files, "u1", vec![6; 20])
            .file(ElementType::BankStatement, FileSlot::Translation, "b", vec![7; 20])
            .file(ElementType::RentalAgreement, FileSlot::Files, "r", vec![8; 20])
            .phone_number("4512345678")
            .seal(&key.public_key(), "nonce-1")
            .unwrap();
        let full = sealed.mtproto;
        let value = |element| full.values.iter().find(|v| v.value_type == element).unwrap().clone();
        let mut parts = vec![value(license), value(ElementType::UtilityBill)];
        let whole = value(license);
        for strip in 0..6 {
            let mut part = whole.clone();
            match strip {
                0 => part.data = None,
                1 => part.front_side = None,
                2 => part.reverse_side = None,
                3 => part.selfie = None,
                4 => part.translation.clear(),
                _ => (part.front_side, part.reverse_side, part.selfie) = (None, None, None),
            }
            parts.push(part);
        }
        for part in parts.into_iter().chain(full.values.iter().cloned()) {
            let one = SecureValuesSentMe::new(vec![part], full.credentials.clone());
            let bytes = one.to_tl_bytes();
            assert_eq!(SecureValuesSentMe::from_tl(&bytes).unwrap(), one);
        }
        let flags = |element| {
            let one = SecureValuesSentMe::new(vec![value(element)], full.credentials.clone());
            u32::from_le_bytes(one.to_tl_bytes()[16..20].try_into().unwrap())
        };
        assert_eq!(flags(license), 0b100_1111);
        assert_eq!(flags(ElementType::UtilityBill), 0b1_0000);
        assert_eq!(flags(ElementType::BankStatement), 0b100_0000);
        assert_eq!(flags(ElementType::PhoneNumber), 0b10_0000);
    }

    #[test]
    fn round_trip() {
        let (sent, bytes) = sample();
        assert_eq!(SecureValuesSentMe::from_tl(&bytes).unwrap(), sent);
    }

    #[test]
    fn every_truncation_and_any_trailing_byte_is_refused() {
        let (_, bytes) = sample();
        for end in 0..bytes.len() {
            let (offset, problem) = problem(&bytes[..end]);
            assert!(matches!(problem, TlProblem::Truncated { .. }), "{end}: {problem:?}");
            assert!(offset <= end);
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(problem(&longer), (bytes.len(), TlProblem::TrailingBytes { count: 1 }));
        longer.extend_from_slice(&[0; 4]);
        assert_eq!(problem(&longer), (bytes.len(), TlProblem::TrailingBytes { count: 5 }));
    }

    /// Each cut names where the item that does not fit starts, what it
    /// needs and exactly what is left from there to the end.
    #[test]
    fn truncation_errors_count_exactly() {
        let (_, bytes) = sample();
        for end in 0..bytes.len() {
            match problem(&bytes[..end]) {
                (offset, TlProblem::Truncated { wanted, left }) => {
                    assert_eq!(offset + left, end, "cut at {end}");
                    assert!(wanted > left, "cut at {end}: wanted {wanted}, left {left}");
                }
                other => panic!("cut at {end}: {other:?}"),
            }
        }
        // The action's constructor, then the values' vector header: 4 bytes
        // wanted where 3 are left, at the start and at byte 4.
        assert_eq!(problem(&bytes[..3]), (0, TlProblem::Truncated { wanted: 4, left: 3 }));
        assert_eq!(problem(&bytes[..7]), (4, TlProblem::Truncated { wanted: 4, left: 3 }));
        // A `bytes` whose data is cut names the data's start and length.
        let mut long = Vec::new();
        put_bytes(&mut long, &[9; 300]);
        let limits = Limits::default();
        let mut reader = Reader {
            bytes: &long[..200],
            at: 0,
            limits: &limits,
        };
        let error = reader.bytes(|| "field".to_owned(), usize::MAX).unwrap_err();
        assert!(
            matches!(
                error,
                Error::Tl {
                    offset: 4,
                    problem: TlProblem::Truncated { wanted: 300, left: 196 }
                }
            ),
            "{error:?}"
        );
        // Data complete, padding cut: the padding is what is wanted.
        let mut padded = Vec::new();
        put_bytes(&mut padded, b"abcd");
        let mut reader = Reader {
            bytes: &padded[..6],
            at: 0,
            limits: &limits,
        };
        let error = reader.bytes(|| "field".to_owned(), usize::MAX).unwrap_err();
        assert!(
            matches!(
                error,
                Error::Tl {
                    offset: 5,
                    problem: TlProblem::Truncated { wanted: 3, left: 1 }
                }
            ),
            "{error:?}"
        );
    }

    /// A vector's count is checked against the bytes after it: a count that
    /// exactly fits goes on to its items, one item more is refused at the
    /// count, before any allocation.
    #[test]
    fn a_vector_count_is_checked_against_the_bytes_left() {
        let limits = Limits::default();
        let header = |count: u32, tail: usize| {
            let mut out = Vec::new();
            put_u32(&mut out, VECTOR);
            put_u32(&mut out, count);
            out.resize(8 + tail, 0xab);
            out
        };
        for (count, tail) in [(0, 0), (1, 4), (2, 8), (3, 13)] {
            let input = header(count, tail);
            let mut reader = Reader {
                bytes: &input,
                at: 0,
                limits: &limits,
            };
            assert_eq!(reader.vector(String::new, 10, 4).unwrap(), count as usize);
            assert_eq!(reader.at, 8);
        }
        for (count, tail) in [(1, 0), (2, 7), (3, 11)] {
            let input = header(count, tail);
            let mut reader = Reader {
                bytes: &input,
                at: 0,
                limits: &limits,
            };
            let error = reader.vector(String::new, 10, 4).unwrap_err();
            // Counted from the count: its 4 bytes and the items'.
            let expected = TlProblem::Truncated {
                wanted: 4 + count as usize * 4,
                left: 4 + tail,
            };
            assert!(
                matches!(&error, Error::Tl { offset: 4, problem } if *problem == expected),
                "{count}, {tail}: {error:?}"
            );
        }
        let input = header(11, 44);
        let mut reader = Reader {
            bytes: &input,
            at: 0,
            limits: &limits,
        };
        assert!(matches!(
            reader.vector(String::new, 10, 4),
            Err(Error::TooLarge {
                actual: 11,
                limit: 10,
                ..
            })
        ));
    }

    #[test]
    fn constructors_flags_and_lengths_are_checked() {
        let (_, bytes) = sample();
        let mut wrong = bytes.clone();
        wrong[0] ^= 1;
        assert!(matches!(
            problem(&wrong),
            (
                0,
                TlProblem::UnknownConstructor {
                    expected: "messageActionSecureValuesSentMe",
                    ..
                }
            )
        ));
        // The first value's flags are at byte 16 (action, vector, count, secureValue).
        let mut flags = bytes.clone();
        flags[16] |= 0x80;
        assert_eq!(problem(&flags), (16, TlProblem::UndefinedFlags { flags: 0x80 }));
        let mut value_type = bytes.clone();
        value_type[20] ^= 1;
        assert!(matches!(
            problem(&value_type),
            (
                20,
                TlProblem::UnknownConstructor {
                    expected: "SecureValueType",
                    ..
                }
            )
        ));
        let mut count = bytes.clone();
        count[8..12].copy_from_slice(&1000u32.to_le_bytes());
        assert!(matches!(
            SecureValuesSentMe::from_tl(&count),
            Err(Error::TooLarge { .. })
        ));
        let lenient = Limits {
            elements: usize::MAX,
            ..Limits::default()
        };
        count[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        // A count the input cannot hold is refused before anything is allocated.
        assert!(matches!(
            SecureValuesSentMe::from_tl_with_limits(&count, &lenient),
            Err(Error::Tl {
                offset: 8,
                problem: TlProblem::Truncated { .. }
            })
        ));
    }

    #[test]
    fn empty_files_and_bad_strings() {
        let file = |constructor: u32| {
            let mut value = Vec::new();
            put_u32(&mut value, SECURE_VALUE);
            put_u32(&mut value, 1 << 4);
            put_u32(&mut value, ElementType::UtilityBill.mtproto_constructor());
            put_u32(&mut value, VECTOR);
            put_u32(&mut value, 1);
            put_u32(&mut value, constructor);
            value
        };
        let action = |value: &[u8]| {
            let mut out = Vec::new();
            put_u32(&mut out, SECURE_VALUES_SENT_ME);
            put_u32(&mut out, VECTOR);
            put_u32(&mut out, 1);
            out.extend_from_slice(value);
            out
        };
        assert_eq!(
            problem(&action(&file(SECURE_FILE_EMPTY))),
            (32, TlProblem::EmptyFileInList { field: "files" })
        );
        let mut phone = Vec::new();
        put_u32(&mut phone, SECURE_VALUE);
        put_u32(&mut phone, 1 << 5);
        put_u32(&mut phone, ElementType::PhoneNumber.mtproto_constructor());
        put_u32(&mut phone, SECURE_PLAIN_PHONE);
        put_bytes(&mut phone, &[0xff, 0xfe]);
        assert_eq!(problem(&action(&phone)), (28, TlProblem::NotUtf8 { field: "phone" }));
        let mut long = Vec::new();
        put_u32(&mut long, SECURE_VALUE);
        put_u32(&mut long, 1 << 5);
        put_u32(&mut long, ElementType::Email.mtproto_constructor());
        put_u32(&mut long, SECURE_PLAIN_EMAIL);
        long.extend_from_slice(&[0xff, 0, 0, 0]);
        assert_eq!(problem(&action(&long)), (28, TlProblem::BadLength));
    }

    #[test]
    fn old_layer_files_with_an_int_size_are_read() {
        let (sent, _) = sample();
        let passport = sent
            .values
            .iter()
            .find(|v| v.value_type == ElementType::Passport)
            .unwrap();
        let front = passport.front_side.clone().unwrap();
        let mut old = Vec::new();
        put_u32(&mut old, SECURE_FILE_INT_SIZE);
        old.extend_from_slice(&front.id.to_le_bytes());
        old.extend_from_slice(&front.access_hash.to_le_bytes());
        old.extend_from_slice(&(front.size as i32).to_le_bytes());
        old.extend_from_slice(&front.dc_id.to_le_bytes());
        old.extend_from_slice(&front.date.to_le_bytes());
        put_bytes(&mut old, &front.file_hash);
        put_bytes(&mut old, &front.secret);
        let limits = Limits::default();
        let mut reader = Reader {
            bytes: &old,
            at: 0,
            limits: &limits,
        };
        assert_eq!(reader.secure_file().unwrap(), Some(front));
        assert_eq!(reader.at, old.len());
    }
}
