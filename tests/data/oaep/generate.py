#!/usr/bin/env python3
"""RSA-OAEP (SHA-1, MGF1-SHA-1) vectors for the PKCS#11 key's OAEP decoder.

A token asked for raw RSA (CKM_RSA_X_509) gives back the encoded message
EM = c^d mod n; the crate then decodes OAEP itself. Each vector here is
made by an implementation independent of the crate: the Python
`cryptography` package encrypts a message with OAEP, and Python's own
`pow` undoes the RSA, so EM is exactly what a token returns.

Writes vectors.json next to this script. Rerun from the repository root
(requires `pip install cryptography`):

    python3 tests/data/oaep/generate.py

Fields of each vector: `key` (the file under tests/data/keys), `k` (the
modulus size in bytes), `em` (hex, k bytes, leading zero included),
`message` (hex), `label` (hex) and `expect`: "secret" when the crate must
return the message (32 bytes, empty label), "refused" otherwise.
"""

import json
import random
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

HERE = Path(__file__).resolve().parent
KEYS = HERE.parent / "keys"


def raw_rsa_output(key, message, label):
    public = key.public_key()
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=label or None)
    ciphertext = public.encrypt(message, oaep)
    # The cryptography package's own decryption agrees before we keep it.
    assert key.decrypt(ciphertext, oaep) == message
    numbers = key.private_numbers()
    k = (numbers.public_numbers.n.bit_length() + 7) // 8
    em = pow(int.from_bytes(ciphertext, "big"), numbers.d, numbers.public_numbers.n)
    return k, em.to_bytes(k, "big")


def main():
    rng = random.Random(8017)
    vectors = []
    for name in ["rsa2048_pkcs1.pem", "rsa3072_pkcs8.pem", "rsa4096_pkcs1.pem"]:
        key = serialization.load_pem_private_key((KEYS / name).read_bytes(), password=None)
        cases = [(32, b"", "secret")] * 8 + [(31, b"", "refused"), (33, b"", "refused"), (32, b"x", "refused")]
        for length, label, expect in cases:
            message = bytes(rng.randrange(256) for _ in range(length))
            k, em = raw_rsa_output(key, message, label)
            vectors.append(
                {
                    "key": name,
                    "k": k,
                    "em": em.hex(),
                    "message": message.hex(),
                    "label": label.hex(),
                    "expect": expect,
                }
            )
    (HERE / "vectors.json").write_text(json.dumps(vectors, indent=1) + "\n")
    print(f"{len(vectors)} vectors written")


if __name__ == "__main__":
    main()
