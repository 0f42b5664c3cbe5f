"""Interop helper for the settings-encryption tests, using PyNaCl (the
library OpenKAT encrypts settings with).

  python3 scripts/pynacl_vectors.py make          -> JSON: a fresh key pair and a blob PyNaCl encrypted
  python3 scripts/pynacl_vectors.py decrypt PRIV PUB BLOB  -> the plain text PyNaCl decrypts
  python3 scripts/pynacl_vectors.py decrypt-file PRIV PUB FILE  -> the bytes PyNaCl decrypts from a raw file (nonce || box), hex
  python3 scripts/pynacl_vectors.py encrypt-hex PRIV PUB HEX  -> nonce || box of the bytes, hex

`core/tests/vectors/pynacl_box.json` was made with `make`.
"""
import base64
import json
import sys

from nacl.public import Box, PrivateKey, PublicKey

PLAIN = json.dumps({"PORTS": "22,80", "API_KEY": "s3cr3t-from-pynacl", "TIMEOUT_MS": 500})


def make():
    private = PrivateKey.generate()
    public = private.public_key
    blob = Box(private, public).encrypt(PLAIN.encode())
    print(json.dumps({
        "private": base64.b64encode(bytes(private)).decode(),
        "public": base64.b64encode(bytes(public)).decode(),
        "plain": PLAIN,
        "blob": base64.b64encode(bytes(blob)).decode(),
    }, indent=2))


def decrypt(private_b64, public_b64, blob_b64):
    box = Box(PrivateKey(base64.b64decode(private_b64)), PublicKey(base64.b64decode(public_b64)))
    sys.stdout.write(box.decrypt(base64.b64decode(blob_b64)).decode())


def raw_box(private_b64, public_b64):
    return Box(PrivateKey(base64.b64decode(private_b64)), PublicKey(base64.b64decode(public_b64)))


if __name__ == "__main__":
    if sys.argv[1:2] == ["make"]:
        make()
    elif sys.argv[1:2] == ["decrypt"] and len(sys.argv) == 5:
        decrypt(*sys.argv[2:5])
    elif sys.argv[1:2] == ["decrypt-file"] and len(sys.argv) == 5:
        with open(sys.argv[4], "rb") as f:
            sys.stdout.write(raw_box(sys.argv[2], sys.argv[3]).decrypt(f.read()).hex())
    elif sys.argv[1:2] == ["encrypt-hex"] and len(sys.argv) == 5:
        sys.stdout.write(bytes(raw_box(sys.argv[2], sys.argv[3]).encrypt(bytes.fromhex(sys.argv[4]))).hex())
    else:
        sys.exit(__doc__)
