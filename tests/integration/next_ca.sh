#!/usr/bin/env bash
# GetNextCACert as three kinds of client read it, in CA mode and in RA mode, during a prepared
# rollover:
#   - our client (scep getnextca) and `openssl cms -verify` against the current CA;
#   - sscep's getnextca, emulated with openssl: it finds the signer certificate in the outer
#     SignedData by issuerAndSerialNumber, checks the signature (PKCS#7 API, as
#     `openssl smime -verify -noverify` does), checks the signer against the CA chain it was
#     given, then writes every certificate of the inner certs-only message;
#   - jscep 3.0, emulated with openssl: it checks that the signerInfo names the certificate it
#     expects (the RA in RA mode, else the CA) and verifies with that certificate alone
#     (`-certfile X -nointern`), then takes the next certificates from the *outer* SignedData's
#     certificates, picking the first CA certificate as issuer and the first end-entity
#     certificate with keyEncipherment as recipient.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
cd "$WORK"

# split_certs FILE PREFIX: PREFIX-1.pem, PREFIX-2.pem, ... in the order FILE lists them.
split_certs() {
  awk -v p="$2" '/BEGIN CERT/ {n++; f = p "-" n ".pem"} f {print > f} /END CERT/ {f = ""}' "$1"
}

fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256; }

# The first certificate among PREFIX-*.pem (in order) that is a CA (ca) or an end entity with
# keyEncipherment (recipient); empty when none.
first_of() {
  local prefix=$1 kind=$2 f
  for f in $(ls "$prefix"-*.pem 2> /dev/null | sort -t- -k2 -n); do
    local text
    text=$(openssl x509 -in "$f" -noout -text)
    if [ "$kind" = ca ] && grep -q "CA:TRUE" <<< "$text"; then echo "$f"; return; fi
    if [ "$kind" = recipient ] && ! grep -q "CA:TRUE" <<< "$text" \
      && grep -q "Key Encipherment" <<< "$text"; then echo "$f"; return; fi
  done
}

# check_mode NAME [init flags...]
check_mode() {
  local name=$1; shift
  local dir=$WORK/$name
  new_ca "$dir" "$@"
  "$SCEPD" rollover --dir "$dir" --switch-in 3600 > "$name.rollover.txt" || fail "$name: scepd rollover"
  start_scepd "$dir" --challenge s3cret
  local signer=$dir/ca.pem
  [ -f "$dir/ra.pem" ] && signer=$dir/ra.pem
  curl -fs -o "$name.p7" "$URL?operation=GetNextCACert" || fail "$name: GetNextCACert over HTTP"

  # Our client, and openssl against the current CA.
  "$SCEP" getca -u "$URL" -o "$name-cadir" > /dev/null || fail "$name: scep getca"
  "$SCEP" getnextca -u "$URL" --ca "$name-cadir" -o "$name-next" > /dev/null || fail "$name: scep getnextca"
  split_certs "$name-next/certs.pem" "$name-ours"
  fingerprint "$(first_of "$name-ours" ca)" | grep -qF "$(fingerprint "$dir/next-ca.pem")" \
    || fail "$name: scep getnextca saved another CA certificate"
  openssl cms -verify -inform DER -in "$name.p7" -CAfile "$dir/ca.pem" -binary -out "$name.inner.der" \
    > /dev/null 2>&1 || fail "$name: openssl cms -verify refuses GetNextCACert against the current CA"
  ok "$name: our client and openssl cms -verify accept GetNextCACert"

  # sscep: signer from the outer certificates, signature, chain, inner certificates.
  openssl smime -verify -inform DER -in "$name.p7" -noverify -binary -out "$name.sscep-inner.der" \
    -signer "$name.sscep-signer.pem" > /dev/null 2>&1 \
    || fail "$name: the signer certificate is not in the message or its signature does not verify (sscep)"
  openssl verify -CAfile "$dir/ca.pem" "$name.sscep-signer.pem" > /dev/null \
    || fail "$name: the signer does not chain to the current CA (sscep)"
  openssl pkcs7 -inform DER -in "$name.sscep-inner.der" -print_certs > "$name.sscep-certs.pem" \
    || fail "$name: the content is not a certs-only PKCS#7 (sscep)"
  grep -qF "$(sed -n 2,4p "$dir/next-ca.pem")" "$name.sscep-certs.pem" \
    || fail "$name: sscep would not find the next CA in the inner message"
  if [ -f "$dir/next-ra.pem" ]; then
    grep -qF "$(sed -n 2,4p "$dir/next-ra.pem")" "$name.sscep-certs.pem" \
      || fail "$name: sscep would not find the next RA in the inner message"
  fi
  ok "$name: sscep's getnextca checks pass"

  # jscep: signed by the expected certificate alone, next certificates from the outer set.
  openssl cms -verify -inform DER -in "$name.p7" -certfile "$signer" -nointern -noverify -out /dev/null \
    > /dev/null 2>&1 || fail "$name: not signed by $(basename "$signer") (jscep accepts no other signer)"
  openssl pkcs7 -inform DER -in "$name.p7" -print_certs > "$name.outer.pem"
  split_certs "$name.outer.pem" "$name-outer"
  local issuer recipient
  issuer=$(first_of "$name-outer" ca)
  [ -n "$issuer" ] && [ "$(fingerprint "$issuer")" = "$(fingerprint "$dir/next-ca.pem")" ] \
    || fail "$name: jscep would take another CA than the next one from the outer certificates"
  if [ -f "$dir/next-ra.pem" ]; then
    recipient=$(first_of "$name-outer" recipient)
    [ -n "$recipient" ] && [ "$(fingerprint "$recipient")" = "$(fingerprint "$dir/next-ra.pem")" ] \
      || fail "$name: jscep would take another recipient than the next RA from the outer certificates"
  fi
  ok "$name: jscep's reading (signer, outer certificates) finds the next CA${recipient:+ and RA}"
  stop_scepd
}

check_mode ca
check_mode ra --ra
finish
