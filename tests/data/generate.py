#!/usr/bin/env python3
"""Generate the Telegram Passport test fixtures stored next to this script.

Produces:
  keys/       private keys in several encodings plus keys that must be rejected
              (see keys/README.md)
  primitive/  one JSON vector per case for the Passport symmetric primitive
              (SHA-512 key/IV derivation, AES-256-CBC, SHA-256 data hash, random
              length-prefixed padding): ok_*.json must decrypt, bad_*.json must fail
  passport/   complete Bot API PassportData / Update and MTProto secureValue
              vectors with the expected decrypted content and encrypted files

Rerun from the repository root:

    python3 tests/data/generate.py

Requires the Python `cryptography` package (pip install cryptography).

Keys already present in keys/ are reused so that a rerun does not replace them;
pass --new-keys to generate fresh ones. All other random material (secrets,
padding, plaintexts, identifiers) comes from a PRNG seeded with --seed, so
reruns only differ in the RSA-OAEP ciphertexts (OAEP is randomized).

After writing, the script reads every fixture back from disk and checks it with
a separate, straightforward decryption routine, so the committed files are
known to be consistent.
"""

import argparse
import base64
import hashlib
import json
import random
import string
import sys
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

HERE = Path(__file__).resolve().parent
KEYS_DIR = HERE / "keys"
PRIMITIVE_DIR = HERE / "primitive"
PASSPORT_DIR = HERE / "passport"

OAEP = asym_padding.OAEP(
    mgf=asym_padding.MGF1(algorithm=hashes.SHA1()),
    algorithm=hashes.SHA1(),
    label=None,
)
KEY_PASSWORD = b"password"

# Fields of the decrypted data JSON per element kind: (required, optional).
PERSONAL_DETAILS_FIELDS = (
    ["first_name", "last_name", "birth_date", "gender", "country_code",
     "residence_country_code"],
    ["middle_name", "first_name_native", "last_name_native", "middle_name_native"],
)
ID_DOCUMENT_FIELDS = (["document_no"], ["expiry_date"])
ADDRESS_FIELDS = (
    ["street_line1", "city", "country_code", "post_code"],
    ["street_line2", "state"],
)
DATA_FIELDS = {
    "personal_details": PERSONAL_DETAILS_FIELDS,
    "passport": ID_DOCUMENT_FIELDS,
    "driver_license": ID_DOCUMENT_FIELDS,
    "identity_card": ID_DOCUMENT_FIELDS,
    "internal_passport": ID_DOCUMENT_FIELDS,
    "address": ADDRESS_FIELDS,
}
ID_DOCUMENT_TYPES = ["passport", "driver_license", "identity_card", "internal_passport"]
ADDRESS_DOCUMENT_TYPES = ["utility_bill", "bank_statement", "rental_agreement",
                          "passport_registration", "temporary_registration"]
# Which parts each element type may carry.
ALLOWED_PARTS = {
    "personal_details": {"data"},
    "passport": {"data", "front_side", "selfie", "translation"},
    "internal_passport": {"data", "front_side", "selfie", "translation"},
    "driver_license": {"data", "front_side", "reverse_side", "selfie", "translation"},
    "identity_card": {"data", "front_side", "reverse_side", "selfie", "translation"},
    "address": {"data"},
    **{t: {"files", "translation"} for t in ADDRESS_DOCUMENT_TYPES},
    "phone_number": {"phone_number"},
    "email": {"email"},
}
SINGLE_FILE_ROLES = ["front_side", "reverse_side", "selfie"]
FILE_LIST_ROLES = ["translation", "files"]
URLSAFE = string.ascii_letters + string.digits + "-_"


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def b64(data):
    return base64.b64encode(data).decode("ascii")


def sha256(data):
    return hashlib.sha256(data).digest()


def write_json(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_json(path):
    return json.loads(path.read_text(encoding="utf-8"))


class Rand:
    """All non-key randomness, from one seeded PRNG."""

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def bytes(self, n):
        return self.rng.randbytes(n)

    def int(self, lo, hi):
        return self.rng.randint(lo, hi)

    def choice(self, seq):
        return self.rng.choice(seq)

    def urlsafe(self, n):
        return "".join(self.rng.choice(URLSAFE) for _ in range(n))

    def secret(self):
        """32 random bytes whose byte sum is 239 modulo 255, like every Passport secret."""
        while True:
            s = self.bytes(32)
            if sum(s) % 255 == 239:
                return s

    def padding_length(self, plain_len, lo=32):
        return self.choice([n for n in range(lo, 256) if (plain_len + n) % 16 == 0])

    def fake_jpeg(self, size=None):
        if size is None:
            size = self.int(200, 800)
        return b"\xff\xd8\xff\xe0" + self.bytes(size - 4)


# ---------------------------------------------------------------------------
# Encryption side (what the user's application does)
# ---------------------------------------------------------------------------

def derive_key_iv(secret, data_hash):
    digest = hashlib.sha512(secret + data_hash).digest()
    return digest[:32], digest[32:48]


def encrypt_padded(padded, secret):
    """Encrypt an already padded buffer; returns (ciphertext, data_hash)."""
    assert len(padded) % 16 == 0
    data_hash = sha256(padded)
    key, iv = derive_key_iv(secret, data_hash)
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(padded) + enc.finalize(), data_hash


def pad(rnd, plain, n=None):
    if n is None:
        n = rnd.padding_length(len(plain))
    assert 32 <= n <= 255 and (len(plain) + n) % 16 == 0, (n, len(plain))
    return bytes([n]) + rnd.bytes(n - 1) + plain


def encrypt(rnd, plain, secret, n=None):
    """Returns (ciphertext, data_hash, padding_length)."""
    padded = pad(rnd, plain, n)
    ciphertext, data_hash = encrypt_padded(padded, secret)
    return ciphertext, data_hash, padded[0]


# ---------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------

def pem_pkcs1(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def pem_pkcs8(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def same_private_key(a, b):
    return a.private_numbers() == b.private_numbers()


def generate_keys(rnd, new_keys):
    """Create (or reuse) every key file; returns {name: private key object} for RSA keys."""
    KEYS_DIR.mkdir(parents=True, exist_ok=True)

    def load_or_make(filename, make, serialize):
        path = KEYS_DIR / filename
        if path.exists() and not new_keys:
            return serialization.load_pem_private_key(path.read_bytes(), password=None)
        key = make()
        path.write_bytes(serialize(key))
        return key

    def make_rsa(bits):
        return lambda: rsa.generate_private_key(public_exponent=65537, key_size=bits)

    keys = {
        "rsa2048": load_or_make("rsa2048_pkcs1.pem", make_rsa(2048), pem_pkcs1),
        "rsa3072": load_or_make("rsa3072_pkcs8.pem", make_rsa(3072), pem_pkcs8),
        "rsa4096": load_or_make("rsa4096_pkcs1.pem", make_rsa(4096), pem_pkcs1),
        "rsa1024": load_or_make("rsa1024_pkcs1.pem", make_rsa(1024), pem_pkcs1),
        "rsa8192": load_or_make("rsa8192_pkcs1.pem", make_rsa(8192), pem_pkcs1),
    }
    load_or_make("ec_p256_pkcs8.pem", lambda: ec.generate_private_key(ec.SECP256R1()), pem_pkcs8)
    load_or_make("ed25519_pkcs8.pem", ed25519.Ed25519PrivateKey.generate, pem_pkcs8)

    # Other encodings of the same 2048-bit key (serialization is deterministic).
    k = keys["rsa2048"]
    pkcs1 = pem_pkcs1(k)
    (KEYS_DIR / "rsa2048_pkcs1.pem").write_bytes(pkcs1)
    (KEYS_DIR / "rsa2048_pkcs1_crlf.pem").write_bytes(pkcs1.replace(b"\n", b"\r\n"))
    (KEYS_DIR / "rsa2048_pkcs8.pem").write_bytes(pem_pkcs8(k))
    (KEYS_DIR / "rsa2048_pkcs1.der").write_bytes(
        k.private_bytes(serialization.Encoding.DER,
                        serialization.PrivateFormat.TraditionalOpenSSL,
                        serialization.NoEncryption()))
    (KEYS_DIR / "rsa2048_pkcs8.der").write_bytes(
        k.private_bytes(serialization.Encoding.DER,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption()))
    (KEYS_DIR / "rsa2048_public.pem").write_bytes(
        k.public_key().public_bytes(serialization.Encoding.PEM,
                                    serialization.PublicFormat.SubjectPublicKeyInfo))

    # Password-protected PKCS#8 (random salt/IV, so only rewritten when missing or stale).
    enc_path = KEYS_DIR / "rsa2048_encrypted_pkcs8.pem"
    keep = False
    if enc_path.exists() and not new_keys:
        try:
            keep = same_private_key(
                serialization.load_pem_private_key(enc_path.read_bytes(), KEY_PASSWORD), k)
        except (ValueError, TypeError):
            keep = False
    if not keep:
        enc_path.write_bytes(k.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(KEY_PASSWORD)))

    # Structurally valid PEM armour around bytes that are not DER at all.
    body = bytearray(rnd.bytes(600))
    body[0] = 0x04  # never a SEQUENCE tag
    encoded = b64(bytes(body))
    lines = [encoded[i:i + 64] for i in range(0, len(encoded), 64)]
    (KEYS_DIR / "garbage.pem").write_text(
        "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(lines)
        + "\n-----END RSA PRIVATE KEY-----\n", encoding="ascii")

    (KEYS_DIR / "README.md").write_text(KEYS_README, encoding="utf-8")
    return keys


KEYS_README = """\
# Test keys

All keys are throwaway keys generated for these tests only.

- `rsa2048_pkcs1.pem` - RSA 2048, PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`), LF line endings: load ok.
- `rsa2048_pkcs1_crlf.pem` - the same key and PEM with CRLF line endings: load ok.
- `rsa2048_pkcs8.pem` - the same key as unencrypted PKCS#8 PEM (`BEGIN PRIVATE KEY`): load ok.
- `rsa2048_pkcs1.der` - the same key as PKCS#1 DER: load ok (DER input).
- `rsa2048_pkcs8.der` - the same key as PKCS#8 DER: load ok (DER input).
- `rsa2048_public.pem` - the public half of the same key, SubjectPublicKeyInfo PEM (`BEGIN PUBLIC KEY`), byte-exact reference for public-key export; it is not a private key, so loading it as one must fail (malformed).
- `rsa3072_pkcs8.pem` - RSA 3072, PKCS#8 PEM: load ok.
- `rsa4096_pkcs1.pem` - RSA 4096, PKCS#1 PEM: load ok.
- `rsa1024_pkcs1.pem` - RSA 1024, PKCS#1 PEM: error, too small.
- `rsa8192_pkcs1.pem` - RSA 8192, PKCS#1 PEM: error, too large.
- `ec_p256_pkcs8.pem` - ECDSA P-256, PKCS#8 PEM (`BEGIN PRIVATE KEY`): error, not RSA.
- `ed25519_pkcs8.pem` - Ed25519, PKCS#8 PEM (`BEGIN PRIVATE KEY`): error, not RSA.
- `rsa2048_encrypted_pkcs8.pem` - the 2048-bit key as password-protected PKCS#8 (`BEGIN ENCRYPTED PRIVATE KEY`, password `password`): error, encrypted.
- `garbage.pem` - `BEGIN RSA PRIVATE KEY` armour whose base64 body is 600 random bytes (not DER): error, malformed.
"""


# ---------------------------------------------------------------------------
# Primitive vectors
# ---------------------------------------------------------------------------

OK_CASES = [
    # (padding length, plaintext length)
    (32, 0), (32, 16), (33, 15), (47, 1), (47, 17), (100, 300),
    (127, 17), (128, 0), (128, 16), (129, 15), (200, 24), (254, 18),
    (255, 1), (255, 17), (144, 4096), (240, 100000),
]


def generate_primitive(rnd):
    PRIMITIVE_DIR.mkdir(parents=True, exist_ok=True)
    for old in PRIMITIVE_DIR.glob("*.json"):
        old.unlink()

    for n, length in OK_CASES:
        secret = rnd.secret()
        plain = rnd.bytes(length)
        ciphertext, data_hash, used = encrypt(rnd, plain, secret, n)
        assert used == n
        write_json(PRIMITIVE_DIR / f"ok_pad{n}_len{length}.json", {
            "description": f"Valid: padding length {n}, plaintext length {length}, "
                           f"ciphertext length {len(ciphertext)}.",
            "secret": b64(secret),
            "hash": b64(data_hash),
            "ciphertext": b64(ciphertext),
            "expect": "ok",
            "padding_length": n,
            "plaintext": b64(plain),
        })

    def bad(name, description, secret, data_hash, ciphertext):
        write_json(PRIMITIVE_DIR / f"bad_{name}.json", {
            "description": description,
            "secret": b64(secret),
            "hash": b64(data_hash),
            "ciphertext": b64(ciphertext),
            "expect": "decryption_error",
        })

    def flip(data, bit):
        out = bytearray(data)
        out[bit // 8] ^= 1 << (bit % 8)
        return bytes(out)

    secret = rnd.secret()
    ciphertext, data_hash, _ = encrypt(rnd, rnd.bytes(17), secret, 47)  # 64 bytes
    bad("bit_flip_ciphertext",
        "One bit of the ciphertext flipped (byte 20, second block); the hash is the "
        "original one, so the SHA-256 check of the decrypted buffer fails.",
        secret, data_hash, flip(ciphertext, 20 * 8 + 3))

    secret = rnd.secret()
    ciphertext, data_hash, _ = encrypt(rnd, rnd.bytes(40), secret)
    bad("bit_flip_hash",
        "One bit of the hash flipped; key/IV derivation and the hash check both use "
        "the wrong hash.",
        secret, flip(data_hash, 7 * 8 + 0), ciphertext)

    secret = rnd.secret()
    ciphertext, data_hash, _ = encrypt(rnd, rnd.bytes(40), secret)
    bad("bit_flip_secret",
        "The secret given differs by one bit from the one used to encrypt (so its "
        "byte sum is no longer 239 mod 255 either).",
        flip(secret, 5 * 8 + 6), data_hash, ciphertext)

    secret = rnd.secret()
    ciphertext, data_hash, _ = encrypt(rnd, rnd.bytes(32), secret, 32)  # 64 bytes
    bad("truncated_block",
        "The last 16-byte block of a valid 64-byte ciphertext removed; hash is that "
        "of the full padded data.",
        secret, data_hash, ciphertext[:-16])

    secret = rnd.secret()
    ciphertext, data_hash, _ = encrypt(rnd, rnd.bytes(32), secret, 32)
    bad("length_not_multiple_of_16",
        "The last byte of a valid 64-byte ciphertext removed (63 bytes, not a whole "
        "number of AES blocks).",
        secret, data_hash, ciphertext[:-1])

    bad("empty_ciphertext",
        "Empty ciphertext with the SHA-256 of the empty string as hash; there is no "
        "room for the mandatory padding.",
        rnd.secret(), sha256(b""), b"")

    def bad_padding(name, description, first_byte, total_len):
        secret = rnd.secret()
        padded = bytes([first_byte]) + rnd.bytes(total_len - 1)
        ciphertext, data_hash = encrypt_padded(padded, secret)
        bad(name, description, secret, data_hash, ciphertext)

    bad_padding("padding_byte_below_32",
                "Padding length byte 16 (16 bytes of padding then 16 bytes of data), "
                "hash valid for the decrypted buffer; padding must be at least 32.",
                16, 32)
    bad_padding("padding_byte_31",
                "Padding length byte 31 (buffer of 32 bytes), hash valid; one below "
                "the minimum of 32.",
                31, 32)
    bad_padding("padding_byte_zero",
                "Padding length byte 0 (buffer of 48 bytes), hash valid.",
                0, 48)
    bad_padding("padding_byte_exceeds_length",
                "Padded buffer of 64 bytes whose padding length byte is 200, hash "
                "valid.",
                200, 64)
    bad_padding("padding_byte_exceeds_length_by_one",
                "Padded buffer of 48 bytes whose padding length byte is 49, hash "
                "valid; a padding length equal to the buffer length would be fine.",
                49, 48)


# ---------------------------------------------------------------------------
# Passport vectors
# ---------------------------------------------------------------------------

def build_elements(rnd, specs):
    """Encrypt the elements described by specs.

    Each spec: {"type", "data"?: dict, "ascii_json"?: bool, "data_padding_min"?: int,
    "phone_number"?/"email"?: str, "front_side"/"reverse_side"/"selfie"?: True or a
    file size, "translation"/"files"?: count}.
    Returns a list of raw elements with bytes everywhere.
    """
    elements = []
    for spec in specs:
        el = {"type": spec["type"], "hash": rnd.bytes(32)}
        parts = set(k for k in spec if k not in ("type", "ascii_json", "data_padding_min"))
        assert parts <= ALLOWED_PARTS[spec["type"]], (spec["type"], parts)
        if "data" in spec:
            plain = json.dumps(spec["data"], ensure_ascii=spec.get("ascii_json", False),
                               separators=(",", ":")).encode("utf-8")
            secret = rnd.secret()
            n = rnd.padding_length(len(plain), lo=spec.get("data_padding_min", 32))
            ciphertext, data_hash, n = encrypt(rnd, plain, secret, n)
            el["data"] = {"fields": spec["data"], "ciphertext": ciphertext,
                          "hash": data_hash, "secret": secret, "padding": n}
        for key in ("phone_number", "email"):
            if key in spec:
                el[key] = spec[key]

        def make_file(size=None):
            plain = rnd.fake_jpeg(size)
            secret = rnd.secret()
            ciphertext, data_hash, n = encrypt(rnd, plain, secret)
            return {"plain": plain, "ciphertext": ciphertext, "hash": data_hash,
                    "secret": secret, "padding": n,
                    "date": rnd.int(1_690_000_000, 1_700_000_000)}

        for role in SINGLE_FILE_ROLES:
            if spec.get(role):
                el[role] = make_file(None if spec[role] is True else spec[role])
        for role in FILE_LIST_ROLES:
            if spec.get(role):
                el[role] = [make_file() for _ in range(spec[role])]
        elements.append(el)
    return elements


def credentials_json(elements, nonce, nonce_field):
    secure_data = {}
    for el in elements:
        value = {}
        if "data" in el:
            value["data"] = {"data_hash": b64(el["data"]["hash"]),
                             "secret": b64(el["data"]["secret"])}
        for role in SINGLE_FILE_ROLES:
            if role in el:
                value[role] = {"file_hash": b64(el[role]["hash"]),
                               "secret": b64(el[role]["secret"])}
        for role in FILE_LIST_ROLES:
            if role in el:
                value[role] = [{"file_hash": b64(f["hash"]), "secret": b64(f["secret"])}
                               for f in el[role]]
        if value:
            assert el["type"] not in secure_data
            secure_data[el["type"]] = value
    return json.dumps({"secure_data": secure_data, nonce_field: nonce},
                      separators=(",", ":")).encode("utf-8")


def encrypt_credentials(rnd, elements, nonce, public_key, nonce_field="nonce"):
    plain = credentials_json(elements, nonce, nonce_field)
    secret = rnd.secret()
    ciphertext, data_hash, _ = encrypt(rnd, plain, secret)
    return {"data": ciphertext, "hash": data_hash,
            "secret": public_key.encrypt(secret, OAEP)}


def expected_data(type_, fields):
    """The decoded data the crate must produce: known fields only, empty optional strings absent."""
    required, optional = DATA_FIELDS[type_]
    out = {}
    for name in required + optional:
        if name in fields and not (name in optional and fields[name] == ""):
            out[name] = fields[name]
    return out


def expected_element(el, file_ref):
    out = {"type": el["type"]}
    if "data" in el:
        out["data"] = expected_data(el["type"], el["data"]["fields"])
    for key in ("phone_number", "email"):
        if key in el:
            out[key] = el[key]
    for role in SINGLE_FILE_ROLES:
        if role in el:
            out[role] = file_ref(el[role])
    for role in FILE_LIST_ROLES:
        if role in el:
            out[role] = [file_ref(f) for f in el[role]]
    return out


def bot_api_form(rnd, elements, credentials):
    """PassportData (Bot API), expected elements, and the encrypted file map."""
    files = {}

    def passport_file(f):
        f["file_id"] = "DQACAgIAAxkBAAI" + rnd.urlsafe(56)
        f["file_unique_id"] = "AgAD" + rnd.urlsafe(12)
        files[f["file_id"]] = {"encrypted": b64(f["ciphertext"]),
                               "sha256": sha256(f["plain"]).hex()}
        return {"file_id": f["file_id"], "file_unique_id": f["file_unique_id"],
                "file_size": len(f["ciphertext"]), "file_date": f["date"]}

    data = []
    for el in elements:
        item = {"type": el["type"]}
        if "data" in el:
            item["data"] = b64(el["data"]["ciphertext"])
        for key in ("phone_number", "email"):
            if key in el:
                item[key] = el[key]
        for role in FILE_LIST_ROLES[1:]:  # "files" before single sides, as the Bot API lists them
            if role in el:
                item[role] = [passport_file(f) for f in el[role]]
        for role in SINGLE_FILE_ROLES:
            if role in el:
                item[role] = passport_file(el[role])
        if "translation" in el:
            item["translation"] = [passport_file(f) for f in el["translation"]]
        item["hash"] = b64(el["hash"])
        data.append(item)

    passport_data = {
        "data": data,
        "credentials": {"data": b64(credentials["data"]), "hash": b64(credentials["hash"]),
                        "secret": b64(credentials["secret"])},
    }
    expected = [expected_element(el, lambda f: {"file_id": f["file_id"]}) for el in elements]
    return passport_data, expected, files


def mtproto_form(rnd, elements, credentials):
    """secureValue list (MTProto, binary fields as hex), expected elements, encrypted file map."""
    files = {}

    def secure_file(f):
        f["id"] = rnd.int(1, 2**63 - 1)
        files[str(f["id"])] = {"encrypted": f["ciphertext"].hex(),
                               "sha256": sha256(f["plain"]).hex()}
        return {"id": f["id"], "access_hash": rnd.int(-2**63, 2**63 - 1),
                "size": len(f["ciphertext"]), "dc_id": rnd.choice([1, 2, 3, 4, 5]),
                "date": f["date"], "file_hash": f["hash"].hex(), "secret": f["secret"].hex()}

    values = []
    for el in elements:
        item = {"type": el["type"]}
        if "data" in el:
            d = el["data"]
            item["data"] = {"data": d["ciphertext"].hex(), "data_hash": d["hash"].hex(),
                            "secret": d["secret"].hex()}
        for role in SINGLE_FILE_ROLES:
            if role in el:
                item[role] = secure_file(el[role])
        for role in FILE_LIST_ROLES:
            if role in el:
                item[role] = [secure_file(f) for f in el[role]]
        if "phone_number" in el:
            item["plain_data"] = {"phone": el["phone_number"]}
        if "email" in el:
            item["plain_data"] = {"email": el["email"]}
        item["hash"] = el["hash"].hex()
        values.append(item)

    creds = {k: credentials[k].hex() for k in ("data", "hash", "secret")}
    expected = [expected_element(el, lambda f: {"id": f["id"]}) for el in elements]
    return creds, values, expected, files


FULL_SPECS = [
    {"type": "personal_details", "data_padding_min": 128, "data": {
        "first_name": "Zoë", "last_name": "Ångström", "middle_name": "",
        "birth_date": "29.02.1992", "gender": "female", "country_code": "SE",
        "residence_country_code": "DE", "first_name_native": "Зоя",
        "last_name_native": "Ώνγκστρεμ", "middle_name_native": "明", "foo": "bar"}},
    {"type": "passport", "data": {"document_no": "AB1234567", "expiry_date": "31.12.2030"},
     "front_side": 3000, "selfie": True, "translation": 2},
    {"type": "driver_license", "data": {"document_no": "DL-55 0192 7", "expiry_date": ""},
     "front_side": True, "reverse_side": True, "selfie": True},
    {"type": "identity_card", "data": {"document_no": "ID998877", "expiry_date": "01.01.2029"},
     "front_side": True, "reverse_side": True},
    {"type": "internal_passport", "data": {"document_no": "4510 123456", "expiry_date": ""},
     "front_side": True},
    {"type": "address", "ascii_json": True, "data": {
        "street_line1": "Königstraße 12", "street_line2": "", "city": "Stuttgart",
        "state": "", "country_code": "DE", "post_code": "70173"}},
    {"type": "utility_bill", "files": 2, "translation": 1},
    {"type": "bank_statement", "files": 1},
    {"type": "rental_agreement", "files": 2},
    {"type": "passport_registration", "files": 1},
    {"type": "temporary_registration", "files": 1},
    {"type": "phone_number", "phone_number": "447700900123"},
    {"type": "email", "email": "zoe.angstrom@example.com"},
]

LEGACY_SPECS = [
    {"type": "personal_details", "data": {
        "first_name": "Jean", "last_name": "Dupont", "middle_name": "Éloi",
        "birth_date": "01.04.1985", "gender": "male", "country_code": "FR",
        "residence_country_code": "FR"}},
    {"type": "email", "email": "jean.dupont@example.org"},
]

UPDATE_SPECS = [
    {"type": "personal_details", "data": {
        "first_name": "Kenji", "last_name": "Sato", "birth_date": "07.11.1979",
        "gender": "male", "country_code": "JP", "residence_country_code": "JP",
        "first_name_native": "健二", "last_name_native": "佐藤"}},
    {"type": "identity_card", "data": {"document_no": "JP-0042-7781", "expiry_date": "15.08.2031"},
     "front_side": True, "reverse_side": True, "selfie": True},
    {"type": "phone_number", "phone_number": "819012345678"},
    {"type": "email", "email": "kenji.sato@example.jp"},
]

WRONG_KEY_SPECS = [
    {"type": "personal_details", "data": {
        "first_name": "Ana", "last_name": "Silva", "birth_date": "12.12.1990",
        "gender": "female", "country_code": "PT", "residence_country_code": "PT"}},
    {"type": "phone_number", "phone_number": "351912345678"},
]

MTPROTO_SPECS = [
    {"type": "personal_details", "data_padding_min": 160, "data": {
        "first_name": "Olivia", "last_name": "Brown", "middle_name": "",
        "birth_date": "03.06.1988", "gender": "female", "country_code": "GB",
        "residence_country_code": "IE", "extra": {"nested": [1, 2, 3]}}},
    {"type": "passport", "data": {"document_no": "533380006", "expiry_date": "22.09.2032"},
     "front_side": True, "selfie": True},
    {"type": "address", "data": {
        "street_line1": "1 Main Street", "street_line2": "Flat 4", "city": "Dublin",
        "state": "", "country_code": "IE", "post_code": "D02 X285"}},
    {"type": "utility_bill", "files": 2},
    {"type": "phone_number", "phone_number": "353871234567"},
    {"type": "email", "email": "olivia.brown@example.ie"},
]


def generate_passport(rnd, keys):
    PASSPORT_DIR.mkdir(parents=True, exist_ok=True)
    rsa2048_public = keys["rsa2048"].public_key()

    # full.json: every element type.
    nonce = rnd.urlsafe(32)
    elements = build_elements(rnd, FULL_SPECS)
    creds = encrypt_credentials(rnd, elements, nonce, rsa2048_public)
    passport_data, expected, files = bot_api_form(rnd, elements, creds)
    assert any(f["padding"] > 127 for el in elements for f in
               [el.get("data")] + [el.get(r) for r in SINGLE_FILE_ROLES]
               + sum((el.get(r, []) for r in FILE_LIST_ROLES), []) if f)
    write_json(PASSPORT_DIR / "full.json", {
        "description": "Bot API PassportData with all 13 element types. Decrypted data "
                       "contains non-ASCII text, an unknown field and empty optional "
                       "strings (which must read as absent); the address JSON uses "
                       "\\u escapes.",
        "key": "keys/rsa2048_pkcs1.pem",
        "nonce": nonce,
        "passport_data": passport_data,
        "expected": {"nonce": nonce, "elements": expected},
        "files": files,
    })

    # payload_legacy.json: credentials carry "payload" instead of "nonce".
    payload = rnd.urlsafe(32)
    elements = build_elements(rnd, LEGACY_SPECS)
    creds = encrypt_credentials(rnd, elements, payload, keys["rsa3072"].public_key(),
                                nonce_field="payload")
    passport_data, expected, files = bot_api_form(rnd, elements, creds)
    write_json(PASSPORT_DIR / "payload_legacy.json", {
        "description": "Credentials written by older clients: the decrypted credentials "
                       "JSON has \"payload\" instead of \"nonce\"; its value must be "
                       "returned as the nonce.",
        "key": "keys/rsa3072_pkcs8.pem",
        "nonce": payload,
        "passport_data": passport_data,
        "expected": {"nonce": payload, "elements": expected},
        "files": files,
    })

    # update.json: PassportData inside a Bot API Update.
    nonce = rnd.urlsafe(32)
    elements = build_elements(rnd, UPDATE_SPECS)
    creds = encrypt_credentials(rnd, elements, nonce, keys["rsa4096"].public_key())
    passport_data, expected, files = bot_api_form(rnd, elements, creds)
    user = {"id": 123456789, "is_bot": False, "first_name": "Kenji", "last_name": "Sato",
            "language_code": "ja"}
    write_json(PASSPORT_DIR / "update.json", {
        "description": "A Bot API Update whose message carries passport_data.",
        "key": "keys/rsa4096_pkcs1.pem",
        "nonce": nonce,
        "update": {
            "update_id": 1,
            "message": {
                "message_id": 5,
                "from": user,
                "chat": {"id": 123456789, "first_name": "Kenji", "last_name": "Sato",
                         "type": "private"},
                "date": 1700000000,
                "passport_data": passport_data,
            },
        },
        "expected": {"nonce": nonce, "elements": expected},
        "files": files,
    })

    # wrong_key.json: secret encrypted for the 3072-bit key, decrypted with the 2048-bit one.
    nonce = rnd.urlsafe(32)
    elements = build_elements(rnd, WRONG_KEY_SPECS)
    creds = encrypt_credentials(rnd, elements, nonce, keys["rsa3072"].public_key())
    passport_data, _, _ = bot_api_form(rnd, elements, creds)
    write_json(PASSPORT_DIR / "wrong_key.json", {
        "description": "Credentials secret encrypted for keys/rsa3072_pkcs8.pem (a "
                       "384-byte RSA ciphertext); decrypting with the 2048-bit key must "
                       "fail. Everything else is valid.",
        "key": "keys/rsa2048_pkcs1.pem",
        "encrypted_for": "keys/rsa3072_pkcs8.pem",
        "nonce": nonce,
        "passport_data": passport_data,
        "expect": "decryption_error",
    })

    # wrong_key_same_size.json: secret encrypted for an unrelated 2048-bit key.
    nonce = rnd.urlsafe(32)
    elements = build_elements(rnd, WRONG_KEY_SPECS)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    creds = encrypt_credentials(rnd, elements, nonce, other.public_key())
    passport_data, _, _ = bot_api_form(rnd, elements, creds)
    write_json(PASSPORT_DIR / "wrong_key_same_size.json", {
        "description": "Credentials secret encrypted for an unrelated 2048-bit key (not "
                       "stored); the RSA ciphertext has the right length but OAEP "
                       "decoding with keys/rsa2048_pkcs1.pem must fail.",
        "key": "keys/rsa2048_pkcs1.pem",
        "nonce": nonce,
        "passport_data": passport_data,
        "expect": "decryption_error",
    })

    # mtproto.json: raw MTProto secureValue form.
    nonce = rnd.urlsafe(32)
    elements = build_elements(rnd, MTPROTO_SPECS)
    creds = encrypt_credentials(rnd, elements, nonce, rsa2048_public)
    credentials, values, expected, files = mtproto_form(rnd, elements, creds)
    write_json(PASSPORT_DIR / "mtproto.json", {
        "description": "MTProto form (secureCredentialsEncrypted + secureValue list), all "
                       "binary fields as lowercase hex. secureData.secret and "
                       "secureFile.secret hold the value's secret in the clear (unused by "
                       "services: the credentials carry the secrets); data_hash and "
                       "file_hash equal the hashes in the credentials.",
        "key": "keys/rsa2048_pkcs1.pem",
        "nonce": nonce,
        "credentials": credentials,
        "values": values,
        "expected": {"nonce": nonce, "elements": expected},
        "files": files,
    })


# ---------------------------------------------------------------------------
# Verification: read everything back and decrypt it independently
# ---------------------------------------------------------------------------

class DecryptError(Exception):
    pass


def reference_decrypt(ciphertext, secret, data_hash):
    if len(ciphertext) == 0 or len(ciphertext) % 16 != 0:
        raise DecryptError("bad length")
    h = hashlib.sha512(secret + data_hash).digest()
    dec = Cipher(algorithms.AES(h[:32]), modes.CBC(h[32:48])).decryptor()
    padded = dec.update(ciphertext) + dec.finalize()
    if hashlib.sha256(padded).digest() != data_hash:
        raise DecryptError("hash mismatch")
    n = padded[0]
    if n < 32 or n > len(padded):
        raise DecryptError("bad padding")
    return padded[n:]


def load_private(rel):
    return serialization.load_pem_private_key((HERE / rel).read_bytes(), password=None)


def check_keys():
    def load(name, password=None):
        return serialization.load_pem_private_key((KEYS_DIR / name).read_bytes(), password)

    base = load("rsa2048_pkcs1.pem")
    assert isinstance(base, rsa.RSAPrivateKey) and base.key_size == 2048
    assert (KEYS_DIR / "rsa2048_pkcs1.pem").read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----\n")
    assert b"\r" not in (KEYS_DIR / "rsa2048_pkcs1.pem").read_bytes()
    crlf = (KEYS_DIR / "rsa2048_pkcs1_crlf.pem").read_bytes()
    assert crlf.count(b"\r\n") == crlf.count(b"\n") > 0
    assert same_private_key(load("rsa2048_pkcs1_crlf.pem"), base)
    assert (KEYS_DIR / "rsa2048_pkcs8.pem").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert same_private_key(load("rsa2048_pkcs8.pem"), base)
    for der in ("rsa2048_pkcs1.der", "rsa2048_pkcs8.der"):
        assert same_private_key(
            serialization.load_der_private_key((KEYS_DIR / der).read_bytes(), None), base)
    pub = serialization.load_pem_public_key((KEYS_DIR / "rsa2048_public.pem").read_bytes())
    assert pub.public_numbers() == base.public_key().public_numbers()
    for name, bits in (("rsa3072_pkcs8.pem", 3072), ("rsa4096_pkcs1.pem", 4096),
                       ("rsa1024_pkcs1.pem", 1024), ("rsa8192_pkcs1.pem", 8192)):
        k = load(name)
        assert isinstance(k, rsa.RSAPrivateKey) and k.key_size == bits, name
    assert isinstance(load("ec_p256_pkcs8.pem"), ec.EllipticCurvePrivateKey)
    assert isinstance(load("ed25519_pkcs8.pem"), ed25519.Ed25519PrivateKey)
    for name in ("ec_p256_pkcs8.pem", "ed25519_pkcs8.pem"):
        assert (KEYS_DIR / name).read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")
    enc = (KEYS_DIR / "rsa2048_encrypted_pkcs8.pem").read_bytes()
    assert enc.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    assert same_private_key(load("rsa2048_encrypted_pkcs8.pem", KEY_PASSWORD), base)
    try:
        load("rsa2048_encrypted_pkcs8.pem")
        raise AssertionError("encrypted key loaded without password")
    except TypeError:
        pass
    try:
        load("garbage.pem")
        raise AssertionError("garbage key loaded")
    except ValueError:
        pass


def check_primitive():
    count = 0
    for path in sorted(PRIMITIVE_DIR.glob("*.json")):
        case = read_json(path)
        args = [base64.b64decode(case[k], validate=True) for k in ("ciphertext", "secret", "hash")]
        if case["expect"] == "ok":
            assert path.name.startswith("ok_")
            plain = reference_decrypt(*args)
            assert plain == base64.b64decode(case["plaintext"]), path.name
        else:
            assert path.name.startswith("bad_") and case["expect"] == "decryption_error"
            assert "plaintext" not in case
            try:
                reference_decrypt(*args)
                raise AssertionError(f"{path.name} decrypted")
            except DecryptError:
                pass
        count += 1
    return count


def filter_data(type_, decoded):
    required, optional = DATA_FIELDS[type_]
    for name in required:
        assert name in decoded, (type_, name)
    return {k: decoded[k] for k in required + optional
            if k in decoded and not (k in optional and decoded[k] == "")}


def check_element_shapes(elements):
    for el in elements:
        present = {k for k in el if k not in ("type", "hash")}
        if "plain_data" in present:
            present.discard("plain_data")
            present |= {"phone_number" if "phone" in el["plain_data"] else "email"}
        assert present <= ALLOWED_PARTS[el["type"]], (el["type"], present)
        assert present, el["type"]


def check_bot_api(fixture, passport_data, key_rel):
    key = load_private(key_rel)
    creds = passport_data["credentials"]
    secret = key.decrypt(base64.b64decode(creds["secret"]), OAEP)
    assert sum(secret) % 255 == 239
    cj = json.loads(reference_decrypt(base64.b64decode(creds["data"]), secret,
                                      base64.b64decode(creds["hash"])))
    nonce = cj["nonce"] if "nonce" in cj else cj["payload"]
    assert nonce == fixture["nonce"] == fixture["expected"]["nonce"]
    assert len(fixture["nonce"]) == 32
    check_element_shapes(passport_data["data"])
    files = fixture["files"]
    used = set()

    def open_file(pf, fc):
        enc = base64.b64decode(files[pf["file_id"]]["encrypted"])
        assert pf["file_size"] == len(enc)
        assert isinstance(pf["file_date"], int) and pf["file_unique_id"]
        plain = reference_decrypt(enc, base64.b64decode(fc["secret"]),
                                  base64.b64decode(fc["file_hash"]))
        assert plain.startswith(b"\xff\xd8\xff\xe0") and 200 <= len(plain) <= 3000
        assert hashlib.sha256(plain).hexdigest() == files[pf["file_id"]]["sha256"]
        used.add(pf["file_id"])
        return {"file_id": pf["file_id"]}

    got = []
    types = [el["type"] for el in passport_data["data"]]
    assert len(types) == len(set(types))
    for el in passport_data["data"]:
        assert len(base64.b64decode(el["hash"], validate=True)) == 32
        sv = cj["secure_data"].get(el["type"], {})
        out = {"type": el["type"]}
        if "data" in el:
            dc = sv["data"]
            plain = reference_decrypt(base64.b64decode(el["data"]),
                                      base64.b64decode(dc["secret"]),
                                      base64.b64decode(dc["data_hash"]))
            out["data"] = filter_data(el["type"], json.loads(plain))
        for k in ("phone_number", "email"):
            if k in el:
                assert el["type"] == k and not sv
                out[k] = el[k]
        for role in SINGLE_FILE_ROLES:
            if role in el:
                out[role] = open_file(el[role], sv[role])
        for role in FILE_LIST_ROLES:
            if role in el:
                assert len(el[role]) == len(sv[role]) >= 1
                out[role] = [open_file(pf, fc) for pf, fc in zip(el[role], sv[role])]
        for role in sv:
            assert role in el, (el["type"], role)
        got.append(out)
    assert set(cj["secure_data"]) <= set(types)
    assert got == fixture["expected"]["elements"]
    assert used == set(files)
    return len(types)


def check_mtproto(fixture):
    key = load_private(fixture["key"])
    c = {k: bytes.fromhex(v) for k, v in fixture["credentials"].items()}
    secret = key.decrypt(c["secret"], OAEP)
    cj = json.loads(reference_decrypt(c["data"], secret, c["hash"]))
    assert cj["nonce"] == fixture["nonce"] == fixture["expected"]["nonce"]
    check_element_shapes(fixture["values"])
    files = fixture["files"]
    used = set()
    unb64 = base64.b64decode

    def open_file(sf, fc):
        entry = files[str(sf["id"])]
        enc = bytes.fromhex(entry["encrypted"])
        assert sf["size"] == len(enc)
        assert bytes.fromhex(sf["file_hash"]) == unb64(fc["file_hash"])
        assert bytes.fromhex(sf["secret"]) == unb64(fc["secret"])
        assert -2**63 <= sf["access_hash"] < 2**63 and 0 < sf["id"] < 2**63
        plain = reference_decrypt(enc, unb64(fc["secret"]), unb64(fc["file_hash"]))
        assert hashlib.sha256(plain).hexdigest() == entry["sha256"]
        used.add(str(sf["id"]))
        return {"id": sf["id"]}

    got = []
    for v in fixture["values"]:
        assert len(bytes.fromhex(v["hash"])) == 32
        sv = cj["secure_data"].get(v["type"], {})
        out = {"type": v["type"]}
        if "data" in v:
            d = {k: bytes.fromhex(x) for k, x in v["data"].items()}
            assert d["data_hash"] == unb64(sv["data"]["data_hash"])
            assert d["secret"] == unb64(sv["data"]["secret"])
            plain = reference_decrypt(d["data"], unb64(sv["data"]["secret"]),
                                      unb64(sv["data"]["data_hash"]))
            out["data"] = filter_data(v["type"], json.loads(plain))
        if "plain_data" in v:
            (k, val), = v["plain_data"].items()
            out[{"phone": "phone_number", "email": "email"}[k]] = val
        for role in SINGLE_FILE_ROLES:
            if role in v:
                out[role] = open_file(v[role], sv[role])
        for role in FILE_LIST_ROLES:
            if role in v:
                assert len(v[role]) == len(sv[role])
                out[role] = [open_file(f, fc) for f, fc in zip(v[role], sv[role])]
        got.append(out)
    assert got == fixture["expected"]["elements"]
    assert used == set(files)


def check_passport():
    full = read_json(PASSPORT_DIR / "full.json")
    assert check_bot_api(full, full["passport_data"], full["key"]) == 13
    assert full["expected"]["elements"][0]["data"] == {
        "first_name": "Zoë", "last_name": "Ångström", "birth_date": "29.02.1992",
        "gender": "female", "country_code": "SE", "residence_country_code": "DE",
        "first_name_native": "Зоя", "last_name_native": "Ώνγκστρεμ",
        "middle_name_native": "明"}

    legacy = read_json(PASSPORT_DIR / "payload_legacy.json")
    check_bot_api(legacy, legacy["passport_data"], legacy["key"])
    key = load_private(legacy["key"])
    creds = legacy["passport_data"]["credentials"]
    secret = key.decrypt(base64.b64decode(creds["secret"]), OAEP)
    cj = json.loads(reference_decrypt(base64.b64decode(creds["data"]), secret,
                                      base64.b64decode(creds["hash"])))
    assert "payload" in cj and "nonce" not in cj

    upd = read_json(PASSPORT_DIR / "update.json")
    check_bot_api(upd, upd["update"]["message"]["passport_data"], upd["key"])

    wrong = read_json(PASSPORT_DIR / "wrong_key.json")
    assert wrong["expect"] == "decryption_error"
    fake = {"nonce": wrong["nonce"], "expected": {"nonce": wrong["nonce"]}, "files": {}}
    enc_secret = base64.b64decode(wrong["passport_data"]["credentials"]["secret"])
    try:
        load_private(wrong["key"]).decrypt(enc_secret, OAEP)
        raise AssertionError("wrong key decrypted")
    except ValueError:
        pass
    # With the key it was really encrypted for, everything decrypts.
    right = load_private(wrong["encrypted_for"])
    secret = right.decrypt(enc_secret, OAEP)
    creds = wrong["passport_data"]["credentials"]
    cj = json.loads(reference_decrypt(base64.b64decode(creds["data"]), secret,
                                      base64.b64decode(creds["hash"])))
    assert cj["nonce"] == fake["nonce"]

    same = read_json(PASSPORT_DIR / "wrong_key_same_size.json")
    enc_secret = base64.b64decode(same["passport_data"]["credentials"]["secret"])
    assert len(enc_secret) == 256
    try:
        load_private(same["key"]).decrypt(enc_secret, OAEP)
        raise AssertionError("wrong key decrypted")
    except ValueError:
        pass

    check_mtproto(read_json(PASSPORT_DIR / "mtproto.json"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=20240229,
                        help="seed for all non-key randomness")
    parser.add_argument("--new-keys", action="store_true",
                        help="generate fresh keys instead of reusing keys/*.pem")
    parser.add_argument("--check-only", action="store_true",
                        help="only verify the existing fixtures")
    args = parser.parse_args()

    if not args.check_only:
        rnd = Rand(args.seed)
        keys = generate_keys(rnd, args.new_keys)
        generate_primitive(rnd)
        generate_passport(rnd, keys)
        (HERE / "README.md").write_text(DATA_README, encoding="utf-8")

    check_keys()
    n = check_primitive()
    check_passport()
    print(f"fixtures verified ({n} primitive vectors)", file=sys.stderr)


DATA_README = """\
# Test data

Fixtures for the Telegram Passport decryption code, produced by `generate.py`
with the Python `cryptography` package, an implementation independent of this
crate. Rerun from the repository root (requires `pip install cryptography`):

    python3 tests/data/generate.py

Keys under `keys/` are reused when present (`--new-keys` replaces them); the
other random material comes from a seeded PRNG (`--seed`), so a rerun only
changes the RSA-OAEP ciphertexts. The script finishes by reading every file
back and decrypting it with a separate reference routine
(`python3 tests/data/generate.py --check-only` runs just that check).

Encoding conventions: base64 is the standard alphabet with `=` padding; hex is
lowercase; JSON files are UTF-8.

## `keys/`

Private keys in PKCS#1/PKCS#8, PEM/DER, LF/CRLF, plus keys that must be
rejected (too small, too large, not RSA, encrypted, malformed). See
`keys/README.md` for the expected outcome for each file.

## `primitive/`

One JSON file per case for the symmetric primitive:

    padded     = [n] || (n-1 random bytes) || plaintext,  32 <= n <= 255, len % 16 == 0
    hash       = SHA-256(padded)
    key || iv  = SHA-512(secret || hash)[0..32] || [32..48]
    ciphertext = AES-256-CBC(key, iv, padded)      (no PKCS#7)

Fields: `description`, `secret`, `hash`, `ciphertext` (base64) and `expect`.
`ok_pad<n>_len<len>.json` have `"expect": "ok"`, `padding_length` and the
`plaintext` (base64) that decryption must return. `bad_<case>.json` have
`"expect": "decryption_error"` and no plaintext: flipped bits in ciphertext,
hash or secret, truncated or misaligned ciphertext, empty ciphertext, and
padding length bytes that are below 32 or exceed the buffer while the hash
still matches.

## `passport/`

- `full.json` - Bot API `PassportData` with all 13 element types.
- `payload_legacy.json` - credentials with `payload` instead of `nonce`.
- `update.json` - a Bot API `Update` whose message carries `passport_data`.
- `wrong_key.json`, `wrong_key_same_size.json` - credentials secret encrypted
  for another key; `"expect": "decryption_error"`.
- `mtproto.json` - the MTProto `secureCredentialsEncrypted` + `secureValue`
  form, binary fields as hex.

Common fields: `key` (path of the private key, relative to this directory),
`nonce` (the nonce the credentials must yield), `expected` and `files`.

`expected` is `{"nonce": ..., "elements": [...]}` with one entry per element,
in input order: `type`; `data` with the decrypted fields, leaving out unknown
fields and optional fields that are empty strings; `phone_number` / `email`;
`front_side` / `reverse_side` / `selfie` as a file reference; `translation` /
`files` as lists of file references. A file reference is `{"file_id": ...}` in
the Bot API fixtures and `{"id": <int>}` in `mtproto.json`.

`files` maps a file id (the `file_id` string, or the decimal `id` in
`mtproto.json`) to `{"encrypted": <base64, or hex in mtproto.json>,
"sha256": <hex SHA-256 of the decrypted file>}`. Files pair with the
credentials by position (`files[i]` with `secure_data.<type>.files[i]`).
"""


if __name__ == "__main__":
    main()
