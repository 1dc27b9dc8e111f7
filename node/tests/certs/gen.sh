#!/usr/bin/env bash
# Makes the test certificates in this folder (committed; run again only to change them):
# a CA, a node certificate it signed (for localhost and 127.0.0.1), and a second CA with a
# certificate of its own, which the first CA does not trust. Valid for 100 years.
set -euo pipefail
cd "$(dirname "$0")"
days=36500
for ca in ca other-ca; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
        -subj "/CN=gdc test $ca" -keyout "$ca.key" -out "$ca.pem" 2>/dev/null
done
sign() { # name ca
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
        -keyout "$1.key" -out "$1.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial \
        -days "$days" -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}
sign node ca
sign intruder other-ca
rm -f ./*.srl ca.key other-ca.key
