//! RSA-OAEP decoding of what a token's raw RSA gave back (RFC 8017
//! §7.1.2, SHA-1, MGF1-SHA-1, empty label), for a 32-byte message.
//!
//! Invariant: every check runs over every byte whatever the input, so the
//! time taken says nothing about which check failed.

use zeroize::Zeroizing;

use crate::secret::Secret;

/// The secret in the raw RSA output `em`, if it is one. `k` is the
/// modulus size; a token that drops the output's leading zero bytes has
/// them put back (in time that depends only on the output's length, which
/// such a token shows anyway).
pub(super) fn oaep_sha1_decode(em: &[u8], k: usize) -> Option<Secret> {
    use sha1::{Digest, Sha1};
    use subtle::{Choice, ConstantTimeEq};

    const H: usize = 20;
    let db_len = k.checked_sub(H + 1)?;
    // lHash, then at least no zero bytes of PS, then 0x01 and the message.
    if em.len() > k || db_len < H + 1 + Secret::LEN {
        return None;
    }
    let mut padded = Zeroizing::new(vec![0u8; k]);
    padded.get_mut(k - em.len()..)?.copy_from_slice(em);
    let (y, rest) = padded.split_first()?;
    let (masked_seed, masked_db) = rest.split_at(H);
    let mut seed = Zeroizing::new([0u8; H]);
    seed.copy_from_slice(masked_seed);
    mgf1_sha1_xor(masked_db, seed.as_mut_slice());
    let mut db = Zeroizing::new(masked_db.to_vec());
    mgf1_sha1_xor(seed.as_slice(), &mut db);

    let one_at = db_len - Secret::LEN - 1;
    let (l_hash, rest) = db.split_at(H);
    let (ps, rest) = rest.split_at(one_at - H);
    let (one, message) = rest.split_at(1);
    let mut valid = y.ct_eq(&0) & l_hash.ct_eq(Sha1::digest([]).as_slice());
    let mut nonzero = 0u8;
    for byte in ps {
        nonzero |= byte;
    }
    valid &= nonzero.ct_eq(&0) & one.ct_eq(&[1]);
    let secret = Secret::from_slice(message);
    match bool::from(valid) && bool::from(Choice::from(u8::from(secret.is_some()))) {
        true => secret,
        false => None,
    }
}

/// `out ^= MGF1-SHA-1(seed, out.len())`.
fn mgf1_sha1_xor(seed: &[u8], out: &mut [u8]) {
    use sha1::{Digest, Sha1};
    for (counter, chunk) in out.chunks_mut(20).enumerate() {
        let mut hash = Sha1::new();
        hash.update(seed);
        hash.update((counter as u32).to_be_bytes());
        let mask = Zeroizing::new(hash.finalize());
        for (byte, m) in chunk.iter_mut().zip(mask.iter()) {
            *byte ^= m;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    /// RFC 8017 §7.1.1's encoding with a fixed seed: what raw RSA gives
    /// back for a ciphertext OAEP made.
    fn oaep_encode(message: &[u8], k: usize, seed: [u8; 20]) -> Vec<u8> {
        use sha1::{Digest, Sha1};
        let mut db = Sha1::digest([]).to_vec();
        db.resize(k - 21 - message.len() - 1, 0);
        db.push(1);
        db.extend_from_slice(message);
        mask(db, seed)
    }

    /// The leading zero, the masked seed and the masked `db`.
    fn mask(mut db: Vec<u8>, seed: [u8; 20]) -> Vec<u8> {
        let mut masked_seed = seed;
        mgf1_sha1_xor(&seed, &mut db);
        mgf1_sha1_xor(&db, &mut masked_seed);
        [&[0u8][..], &masked_seed, &db].concat()
    }

    #[test]
    fn oaep_is_decoded_here_as_rfc_8017_says_and_anything_else_is_refused() {
        let (k, message) = (256, [7u8; 32]);
        let em = oaep_encode(&message, k, [9; 20]);
        assert_eq!(oaep_sha1_decode(&em, k).unwrap().expose(), &message);
        // A token that drops the leading zero byte.
        assert_eq!(oaep_sha1_decode(&em[1..], k).unwrap().expose(), &message);
        // Another length of message decodes as OAEP but is no secret.
        assert!(oaep_sha1_decode(&oaep_encode(&[7; 31], k, [9; 20]), k).is_none());
        // Every byte matters: the leading zero, the seed, lHash, PS, 0x01.
        for at in [0, 1, 25, 60, k - 34, k - 33] {
            let mut bad = em.clone();
            bad[at] ^= 0x01;
            assert!(oaep_sha1_decode(&bad, k).is_none(), "byte {at}");
        }
        assert!(oaep_sha1_decode(&[em.clone(), vec![0]].concat(), k).is_none());
        assert!(oaep_sha1_decode(&em[..60], 60).is_none());
    }

    /// PS must be all zeros: a non-zero byte anywhere in it (the seed and
    /// the masks are right, so only that check can refuse it) is refused.
    #[test]
    fn a_non_zero_byte_in_the_padding_string_is_refused() {
        use sha1::{Digest, Sha1};
        let (k, message) = (256, [7u8; 32]);
        let ps = k - 21 - 20 - 1 - 32;
        for at in [0, 1, ps / 2, ps - 1] {
            for value in [1u8, 0x80, 0xff] {
                let mut db = Sha1::digest([]).to_vec();
                let mut padding = vec![0u8; ps];
                padding[at] = value;
                db.extend_from_slice(&padding);
                db.push(1);
                db.extend_from_slice(&message);
                assert!(
                    oaep_sha1_decode(&mask(db, [9; 20]), k).is_none(),
                    "PS byte {at} = {value:#x}"
                );
            }
        }
    }

    /// 74 bytes is the smallest modulus with room for a secret (a leading
    /// zero, the seed, lHash, no PS, 0x01, 32 bytes); any smaller one is
    /// refused before anything is read, without a panic.
    #[test]
    fn the_smallest_modulus_that_holds_a_secret_decodes_and_no_smaller_one_does() {
        let message = [7u8; 32];
        let em = oaep_encode(&message, 74, [9; 20]);
        assert_eq!(em.len(), 74);
        assert_eq!(oaep_sha1_decode(&em, 74).unwrap().expose(), &message);
        for k in 0..74 {
            assert!(oaep_sha1_decode(&em[74 - k..], k).is_none(), "k = {k}");
        }
    }

    /// Raw RSA outputs of ciphertexts that Python's `cryptography` made
    /// with OAEP (SHA-1), undone by Python's `pow` (tests/data/oaep): an
    /// encoder that is not this crate's. Each 32-byte message with the
    /// empty label decodes, with its leading zero or without; other
    /// lengths and a label are refused.
    #[test]
    fn an_independent_encoders_outputs_decode_and_only_secrets_do() {
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/data/oaep/vectors.json")).unwrap();
        let hex = |text: &serde_json::Value| {
            let text = text.as_str().unwrap();
            (0..text.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
                .collect::<Vec<u8>>()
        };
        let vectors = vectors.as_array().unwrap();
        let mut secrets = 0;
        for vector in vectors {
            let (k, em, message) = (
                vector["k"].as_u64().unwrap() as usize,
                hex(&vector["em"]),
                hex(&vector["message"]),
            );
            assert_eq!((em.len(), em[0]), (k, 0), "{vector}");
            let decoded = oaep_sha1_decode(&em, k);
            let without_zero = oaep_sha1_decode(&em[1..], k);
            match vector["expect"].as_str().unwrap() {
                "secret" => {
                    assert_eq!(decoded.unwrap().expose(), message.as_slice(), "{vector}");
                    assert_eq!(without_zero.unwrap().expose(), message.as_slice(), "{vector}");
                    secrets += 1;
                }
                _ => assert!(decoded.is_none() && without_zero.is_none(), "{vector}"),
            }
        }
        assert_eq!((vectors.len(), secrets), (33, 24));
    }
}
