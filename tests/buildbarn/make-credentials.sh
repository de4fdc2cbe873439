#!/usr/bin/env bash
# Makes the throwaway credentials the test cluster's two guarded
# listeners check, under $BB/auth (once per data root):
#   - a CA, a server certificate for 127.0.0.1/localhost, a client
#     certificate (mutual TLS on 127.0.0.1:8981), and a second CA nobody
#     trusts (to test a rejected server);
#   - an RSA key as a JSON Web Key Set and an RS256 JWT signed with it
#     (bearer token on 127.0.0.1:8979), plus a token signed with another key.
set -euo pipefail
BB=${GOMABARN_BB_DIR:-/tmp/gomabarn-bb}
A="$BB/auth"
[ -s "$A/token.jwt" ] && [ -s "$A/client.pem" ] && exit 0
mkdir -p "$A"
cd "$A"
quiet() { "$@" >/dev/null 2>&1 || { echo "make-credentials: $* failed" >&2; exit 1; }; }

quiet openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=gomabarn test CA" \
    -keyout ca.key -out ca.pem
quiet openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=untrusted CA" \
    -keyout other-ca.key -out other-ca.pem
issue() { # issue NAME SUBJECT EXTENSIONS
    quiet openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr"
    printf '%s\n' "$3" >"$1.ext"
    quiet openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile "$1.ext" -out "$1.pem"
}
issue server "/CN=localhost" "subjectAltName=IP:127.0.0.1,DNS:localhost"
issue client "/CN=gomabarn test client" "extendedKeyUsage=clientAuth"
echo "not a certificate" >garbage.pem

# RS256 (go-jose accepts no symmetric keys in a key set): openssl signs,
# Python only assembles the JSON.
quiet openssl genrsa -out jwt.key 2048
quiet openssl genrsa -out wrong-jwt.key 2048
python3 - <<'PY'
import base64, json, subprocess
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def token(keyfile):
    header = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "gomabarn-test"}).encode())
    claims = b64(json.dumps({"sub": "gomabarn-test", "exp": 4102444800}).encode())
    signing_input = (header + "." + claims).encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", keyfile], input=signing_input,
                         capture_output=True, check=True).stdout
    return header + "." + claims + "." + b64(sig)
modulus = subprocess.run(["openssl", "rsa", "-in", "jwt.key", "-noout", "-modulus"],
                         capture_output=True, check=True, text=True).stdout.strip().split("=", 1)[1]
key = {"kty": "RSA", "kid": "gomabarn-test", "alg": "RS256", "use": "sig",
       "n": b64(bytes.fromhex(modulus)), "e": b64((65537).to_bytes(3, "big"))}
json.dump({"keys": [key]}, open("jwks.json", "w"))
open("token.jwt", "w").write(token("jwt.key") + "\n")
open("wrong-token.jwt", "w").write(token("wrong-jwt.key") + "\n")
PY
chmod 600 ./*.key
