#!/usr/bin/env python3
"""Serialises passport/mtproto.json's values and credentials as the boxed TL
of messageActionSecureValuesSentMe, written from the MTProto schema alone
(no code shared with the crate), into passport/mtproto.tl; and TL `bytes` of
every length at which the prefix or the padding changes form, into
tl/bytes.json (see `bytes_vectors`).

    python3 tests/data/mtproto_tl.py

Schema (layer 143 on):

    messageActionSecureValuesSentMe#1b287353 values:Vector<SecureValue>
        credentials:SecureCredentialsEncrypted = MessageAction;
    secureValue#187fa0ca flags:# type:SecureValueType data:flags.0?SecureData
        front_side:flags.1?SecureFile reverse_side:flags.2?SecureFile
        selfie:flags.3?SecureFile translation:flags.6?Vector<SecureFile>
        files:flags.4?Vector<SecureFile> plain_data:flags.5?SecurePlainData
        hash:bytes = SecureValue;
    secureData#8aeabec3 data:bytes data_hash:bytes secret:bytes = SecureData;
    secureFile#7d09c27e id:long access_hash:long size:long dc_id:int date:int
        file_hash:bytes secret:bytes = SecureFile;
    securePlainPhone#7d6099dd phone:string = SecurePlainData;
    securePlainEmail#21ec5a5f email:string = SecurePlainData;
    secureCredentialsEncrypted#33f0ea47 data:bytes hash:bytes secret:bytes
        = SecureCredentialsEncrypted;
    vector#1cb5c415 {t:Type} # [ t ] = Vector t;
"""

import hashlib
import json
import struct
from pathlib import Path

HERE = Path(__file__).parent
TYPES = {
    "personal_details": 0x9d2a81e3, "passport": 0x3dac6a00, "driver_license": 0x06e425c4,
    "identity_card": 0xa0d0744b, "internal_passport": 0x99a48f23, "address": 0xcbe31e26,
    "utility_bill": 0xfc36954e, "bank_statement": 0x89137c0d, "rental_agreement": 0x8b883488,
    "passport_registration": 0x99e3806a, "temporary_registration": 0xea02ec33,
    "phone_number": 0xb320aadb, "email": 0x8e3ca7ee,
}


def int32(n):
    return struct.pack("<I", n & 0xFFFFFFFF)


def int64(n):
    return struct.pack("<q", n)


def tl_bytes(data):
    if len(data) <= 253:
        out = bytes([len(data)]) + data
    else:
        out = b"\xfe" + len(data).to_bytes(3, "little") + data
    return out + b"\x00" * (-len(out) % 4)


def secure_file(f):
    return (int32(0x7d09c27e) + int64(f["id"]) + int64(f["access_hash"]) + int64(f["size"])
            + int32(f["dc_id"]) + int32(f["date"])
            + tl_bytes(bytes.fromhex(f["file_hash"])) + tl_bytes(bytes.fromhex(f["secret"])))


def vector(items):
    return int32(0x1cb5c415) + int32(len(items)) + b"".join(items)


def secure_value(v):
    flags, body = 0, b""
    if "data" in v:
        flags |= 1 << 0
        d = v["data"]
        body += int32(0x8aeabec3) + b"".join(tl_bytes(bytes.fromhex(d[k])) for k in ("data", "data_hash", "secret"))
    for bit, role in ((1, "front_side"), (2, "reverse_side"), (3, "selfie")):
        if role in v:
            flags |= 1 << bit
            body += secure_file(v[role])
    for bit, role in ((6, "translation"), (4, "files")):
        if role in v:
            flags |= 1 << bit
            body += vector([secure_file(f) for f in v[role]])
    if "plain_data" in v:
        flags |= 1 << 5
        plain = v["plain_data"]
        if "phone" in plain:
            body += int32(0x7d6099dd) + tl_bytes(plain["phone"].encode())
        else:
            body += int32(0x21ec5a5f) + tl_bytes(plain["email"].encode())
    body += tl_bytes(bytes.fromhex(v["hash"]))
    return int32(0x187fa0ca) + int32(flags) + int32(TYPES[v["type"]]) + body


# Lengths where the TL `bytes` layout changes: every padding (0-3), the last
# short prefix (253), the first long ones (254-257), and both sides of 64 KiB
# (where the length's third byte is first used).
BYTES_LENGTHS = [0, 1, 2, 3, 4, 5, 252, 253, 254, 255, 256, 257, 65535, 65536, 65537, 70000]


def bytes_pattern(n):
    """The content of an n-byte case: i % 251 for each position i."""
    return bytes(i % 251 for i in range(n))


def bytes_vectors():
    """One case a length: the serialisation's size, first 8 bytes, last 8
    bytes and SHA-256, and in full up to 300 bytes."""
    cases = []
    for n in BYTES_LENGTHS:
        out = tl_bytes(bytes_pattern(n))
        case = {"length": n, "size": len(out), "head": out[:8].hex(), "tail": out[-8:].hex(),
                "sha256": hashlib.sha256(out).hexdigest()}
        if len(out) <= 300:
            case["tl"] = out.hex()
        cases.append(case)
    return {"description": "TL bytes of i % 251 (i = 0..length), serialised by tests/data/mtproto_tl.py "
                           "from the schema's rules: a 1-byte length below 254, else 0xfe and 3 bytes "
                           "little-endian; zero padding to a multiple of 4.",
            "cases": cases}


def main():
    fixture = json.loads((HERE / "passport" / "mtproto.json").read_text())
    c = fixture["credentials"]
    out = (int32(0x1b287353) + vector([secure_value(v) for v in fixture["values"]])
           + int32(0x33f0ea47) + b"".join(tl_bytes(bytes.fromhex(c[k])) for k in ("data", "hash", "secret")))
    (HERE / "passport" / "mtproto.tl").write_bytes(out)
    print(f"passport/mtproto.tl: {len(out)} bytes")
    (HERE / "tl").mkdir(exist_ok=True)
    (HERE / "tl" / "bytes.json").write_text(json.dumps(bytes_vectors(), indent=1) + "\n")
    print("tl/bytes.json")


if __name__ == "__main__":
    main()
