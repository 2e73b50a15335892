#!/bin/sh
# SPDX-License-Identifier: MIT
# Makes the fixed keys and the manifest test-sign.c reads, with OpenSSL and
# Python's cryptography: code other than sign.c. Running it again makes new
# keys, and the constants at the top of test-sign.c must then be updated
# from what it prints.
set -eu
cd "$(dirname "$0")"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out a.key
openssl pkey -in a.key -pubout -out a.pub
# b.key is SEC 1 ("EC PRIVATE KEY"), the other PEM form of a P-256 key.
openssl ecparam -name prime256v1 -genkey -noout -out b.key
openssl pkey -in b.key -pubout -out b.pub
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.key
openssl pkey -in p384.key -pubout -out p384.pub
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa.key
openssl pkey -in rsa.key -pubout -out rsa.pub
openssl genpkey -algorithm ED25519 -out ed25519.key
openssl pkey -in ed25519.key -pubout -out ed25519.pub
rm ed25519.key
python3 - <<'PY'
import hashlib, struct, zlib
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

def key_id(pub):
    n = pub.public_numbers()
    return hashlib.sha256(n.x.to_bytes(32, "big") + n.y.to_bytes(32, "big")).digest()[:8]

for f in ("a", "b"):
    pub = serialization.load_pem_public_key(open(f + ".pub", "rb").read())
    print(f + ".pub id", key_id(pub).hex())

# known.sig: firmware "sensor", version 42, the 1000-byte image i*7+3 mod 256.
image = bytes((i * 7 + 3) & 0xFF for i in range(1000))
priv = serialization.load_pem_private_key(open("a.key", "rb").read(), None)
head = struct.pack("<4sIIIII8s64s32s", b"OTAM", 1, 42, len(image), zlib.crc32(image), 0,
                   key_id(priv.public_key()), b"sensor", hashlib.sha256(image).digest())
r, s = decode_dss_signature(priv.sign(head, ec.ECDSA(hashes.SHA256())))
open("known.sig", "wb").write(head + r.to_bytes(32, "big") + s.to_bytes(32, "big"))
print("image crc", "%08x" % zlib.crc32(image))
PY
