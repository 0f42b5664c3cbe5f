"""Interop helper for the settings-encryption tests, using PyNaCl (the
library OpenKAT encrypts settings with).

  python3 scripts/pynacl_vectors.py make          -> JSON: a fresh key pair and a blob PyNaCl encrypted
  python3 scripts/pynacl_vectors.py decrypt PRIV PUB BLOB  -> the plain text PyNaCl decrypts

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


if __name__ == "__main__":
    if sys.argv[1:2] == ["make"]:
        make()
    elif sys.argv[1:2] == ["decrypt"] and len(sys.argv) == 5:
        decrypt(*sys.argv[2:5])
    else:
        sys.exit(__doc__)
