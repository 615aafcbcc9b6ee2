//! MTProto's TL binary form of `messageActionSecureValuesSentMe#1b287353`,
//! read and written: what any TL library (grammers, Telethon, TDLib …)
//! gives for the service message that carries a passport.
//!
//! Reading is bounded: every length and count is checked against the
//! bytes left and against [`Limits`] before anything is allocated, so a
//! reader never allocates more than its input's size. Unknown
//! constructors, truncation, flag bits the schema does not define and bytes
//! after the end are [`Error::Tl`], naming the offset; nothing panics.

use crate::error::{Error, Result, TlProblem};
use crate::limits::check;
use crate::mtproto::{
    SecureCredentialsEncrypted, SecureData, SecureFile, SecurePlainData, SecureValue, SecureValuesSentMe,
};
use crate::{ElementType, Limits};

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
    /// its current form, with `size:long`).
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
        if count.saturating_mul(min_item) > self.bytes.len() - self.at {
            self.at = start;
            return Err(self.fail(TlProblem::Truncated {
                wanted: count.saturating_mul(min_item),
                left: self.bytes.len() - self.at,
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
    use crate::{FileSlot, IdDocumentData, PrivateKey};

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
