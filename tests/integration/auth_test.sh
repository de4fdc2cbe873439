#!/usr/bin/env bash
# TLS, mutual TLS and bearer tokens against the real Buildbarn: the test
# cluster's bb_storage also listens on 127.0.0.1:8981 (TLS, client
# certificate required) and 127.0.0.1:8979 (JWT bearer token required),
# with credentials from tests/buildbarn/make-credentials.sh. Each case
# runs one action through `gomabarn remote-run`.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
GOMABARN=$1
BB=${GOMABARN_BB_DIR:-/tmp/gomabarn-bb}
A="$BB/auth"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/tests/lib/gateway.sh"
WORK=$(mktemp -d /tmp/gomabarn-auth-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
. "$HERE/check.sh"

# conf NAME TARGET [KEY = VALUE; ...] writes NAME.conf
conf() {
    local name=$1 target=$2
    shift 2
    gmb_conf "$name.conf" "buildbarn = { target = \"$target\"; instance_name = \"hardlinking\"; retry = { max_attempts = 1; }; $* };"
}
run() { # run CONF: exit code of a trivial remote action
    "$GOMABARN" remote-run -q --no-cache --config "$1.conf" -- /bin/sh -c 'echo remote-ok' >out.txt 2>err.txt
}

conf mtls 127.0.0.1:8981 "tls = true; tls_ca_file = \"$A/ca.pem\"; tls_cert_file = \"$A/client.pem\"; tls_key_file = \"$A/client.key\";"
run mtls; rc=$?
check "mutual TLS: action runs" test $rc -eq 0
check "mutual TLS: output comes back" grep -qx remote-ok out.txt

conf tls-no-client 127.0.0.1:8981 "tls = true; tls_ca_file = \"$A/ca.pem\";"
run tls-no-client; rc=$?
check "TLS without a client certificate is refused" test $rc -eq 125
grep -q . err.txt && echo "     ($(head -c 300 err.txt))"

conf tls-wrong-ca 127.0.0.1:8981 "tls = true; tls_ca_file = \"$A/other-ca.pem\"; tls_cert_file = \"$A/client.pem\"; tls_key_file = \"$A/client.key\";"
run tls-wrong-ca; rc=$?
check "a server the CA does not vouch for is refused" test $rc -eq 125

conf plain-to-tls 127.0.0.1:8981 ""
run plain-to-tls; rc=$?
check "plain text to a TLS port fails" test $rc -eq 125

conf ca-missing 127.0.0.1:8981 "tls = true; tls_ca_file = \"$A/nonexistent.pem\";"
run ca-missing; rc=$?
check "missing CA file: 125" test $rc -eq 125
check "missing CA file: named" grep -q "cannot open TLS CA file $A/nonexistent.pem" err.txt

conf ca-garbage 127.0.0.1:8981 "tls = true; tls_ca_file = \"$A/garbage.pem\";"
run ca-garbage; rc=$?
check "garbage CA file: explained by OpenSSL" grep -q "is not a PEM certificate" err.txt

conf cert-no-key 127.0.0.1:8981 "tls = true; tls_cert_file = \"$A/client.pem\";"
run cert-no-key; rc=$?
check "certificate without key: explained" grep -q "needs both buildbarn.tls_cert_file and buildbarn.tls_key_file" err.txt

conf token 127.0.0.1:8979 "token_file = \"$A/token.jwt\";"
run token; rc=$?
check "bearer token: action runs" test $rc -eq 0
check "bearer token: output comes back" grep -qx remote-ok out.txt

conf no-token 127.0.0.1:8979 ""
run no-token; rc=$?
check "no token: refused" test $rc -eq 125
check "no token: UNAUTHENTICATED shown" grep -qi "unauthenticated\|authorization" err.txt
grep -q . err.txt && echo "     ($(head -c 300 err.txt))"

conf wrong-token 127.0.0.1:8979 "token_file = \"$A/wrong-token.jwt\";"
run wrong-token; rc=$?
check "token signed by another key: refused" test $rc -eq 125

check_report
