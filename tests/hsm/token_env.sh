# Sourced by tests/hsm/*: a fresh SoftHSM2 token in a temporary SOFTHSM2_CONF, and the settings
# tests/interop/lib.sh's new_ca uses to make a CA's keys in it. Needs HSM_WORK (a temp dir that
# the caller removes). Sets TOKEN_LABEL, PIN_FILE, SO_PIN, PKCS11_MODULE.
PKCS11_MODULE=${PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
[ -f "$PKCS11_MODULE" ] || { echo "FAIL hsm: no $PKCS11_MODULE (Debian package softhsm2)" >&2; exit 1; }
command -v pkcs11-tool > /dev/null || { echo "FAIL hsm: no pkcs11-tool (Debian package opensc)" >&2; exit 1; }
mkdir -p "$HSM_WORK/tokens"
cat > "$HSM_WORK/softhsm2.conf" <<CONF
directories.tokendir = $HSM_WORK/tokens
objectstore.backend = file
log.level = ERROR
CONF
export SOFTHSM2_CONF=$HSM_WORK/softhsm2.conf
TOKEN_LABEL=scepd-test-$$
SO_PIN=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
PIN=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
softhsm2-util --init-token --free --label "$TOKEN_LABEL" --so-pin "$SO_PIN" --pin "$PIN" > /dev/null \
  || { echo "FAIL hsm: softhsm2-util --init-token" >&2; exit 1; }
PIN_FILE=$HSM_WORK/pin
(umask 077 && printf '%s\n' "$PIN" > "$PIN_FILE")
export SCEP_TEST_TOKEN_URI="pkcs11:token=$TOKEN_LABEL"
export SCEP_TEST_PKCS11_MODULE=$PKCS11_MODULE
export SCEP_TEST_PIN_FILE=$PIN_FILE
