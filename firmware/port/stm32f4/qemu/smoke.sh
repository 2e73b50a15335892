#!/bin/sh
# SPDX-License-Identifier: MIT
# Smoke test of the STM32F4 port: smoke.sh BUILD_DIR OTAD
#
# Runs the bootloader in QEMU's netduinoplus2 (an STM32F405: the F401's
# USART1/USART2, SysTick and flash interface addresses) with USART1 wired to a
# simulated ESP8266 that forwards to a real otad on 127.0.0.1, and USART2 (the
# log) to a file. QEMU's flash is read-only (writes are ignored) and its IWDG
# an unimplemented device (writes ignored, reads 0, never resets), so what
# runs here is the dialogue with the module and the server, and the boot
# decisions up to the jump; flash writes and the watchdog can only be tested
# on hardware. Checks, on the f401 build:
#   blank   no boot state: the AT dialogue, the header through transparent
#           mode, and the first flash write (the record that starts the
#           download) reported failed, to the server too, and retried after
#           "+++" and AT+CIPCLOSE;
#   stuck   the module left in transparent mode by an earlier reset: escaped
#           and used;
#   app     a verified application installed: the jump, and its own start-up;
# and on the f405 build (same board: it is an F405):
#   f405-blank   no boot state: the dual-slot download starts;
#   f405-req     an update requested by the installed application: one header
#                request, nothing newer, the jump all the same;
#   f405-trial   a new application on trial: its boot counted, the jump, and
#                the application's call to ota_confirm();
#   f405-revert  an application on trial that reset before confirming: the
#                bootloader reverts it rather than start it;
# and on an f401 build that requires signatures (BearSSL's verify running on
# the port's own build):
#   signed-none  the server has no manifest: nothing is downloaded;
#   signed       a manifest signed with a trusted key: it verifies and the
#                download starts.
# Exits 77 (skipped) if qemu-system-arm is missing.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR OTAD" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
build=$(cd "$1" && pwd)
otad=$2
for tool in qemu-system-arm python3 arm-none-eabi-gcc timeout; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "skipped: $tool not found"
        exit 77
    fi
done
[ -x "$otad" ] || { echo "$otad: not an executable" >&2; exit 1; }

# The fixed test keys; this otad serves unsigned images: the legacy build.
keys="$here/../../../../tests/unit/sign/a.pub $here/../../../../tests/unit/sign/b.pub"
# QEMU's STM32F405 has no unique ID to read (it faults): the board's own
# configuration with a device id.
mkdir -p "$build/config"
{ cat "$here/../board_config.h"; echo '#define BOARD_DEVICE_ID "smoke-1"'; } \
    >"$build/config/board_config.h.new"
cmp -s "$build/config/board_config.h.new" "$build/config/board_config.h" ||
    mv "$build/config/board_config.h.new" "$build/config/board_config.h"
cfg="CONFIG_DIR=$build/config"
make -C "$here/.." --no-print-directory BUILD="$build" KEYS="$keys" OTA_REQUIRE_SIGNATURE=0 \
    "$cfg" >/dev/null
make -C "$here/.." --no-print-directory BUILD="$build" LAYOUT=f405 KEYS="$keys" \
    OTA_REQUIRE_SIGNATURE=0 "$cfg" >/dev/null
f405=$build/f405
make -C "$here/.." --no-print-directory BUILD="$build/signed" KEYS="$keys" \
    BEARSSL_SRC="$build/crypto/src" "$cfg" >/dev/null

work=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to 10 s for a condition (a shell command) to hold.
wait_for() {
    n=0
    until eval "$1"; do
        n=$((n + 1))
        [ $n -lt 100 ] || { echo "timed out waiting for: $1" >&2; exit 1; }
        sleep 0.1
    done
}

# One image on the server serves both builds: QEMU never installs it.
mkdir "$work/fw"
cp "$build/app.bin" "$work/fw/app.bin"
echo 2 >"$work/fw/app.txt"
otad_port=$(free_port)
# Run as root, otad would become nobody, who cannot enter $work (0700).
# No admin listener (its default port is one for the whole machine), and the
# device registry in the work directory, one for each otad.
printf 'user: root\nadmin:\n  port: 0\nstate_dir: %s\n' "$work/state" >"$work/otad.yaml"
printf 'user: root\nadmin:\n  port: 0\nstate_dir: %s\n' "$work/state-signed" \
    >"$work/otad-signed.yaml"
"$otad" -c "$work/otad.yaml" -d "$work/fw" -b 127.0.0.1 -p "$otad_port" >"$work/otad.log" 2>&1 &
pids="$pids $!"
wait_for "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $otad_port))' 2>/dev/null"

# A second otad with the same image and its manifest, signed with
# tests/unit/sign/a.key by Python's cryptography (include/otad/proto.h).
mkdir "$work/fw-signed"
cp "$work/fw/app.bin" "$work/fw/app.txt" "$work/fw-signed/"
python3 - "$here/../../../../tests/unit/sign/a.key" "$work/fw-signed/app.bin" \
    "$work/fw-signed/app.sig" <<'PY'
import hashlib, struct, sys, zlib
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), password=None)
image = open(sys.argv[2], "rb").read()
n = key.public_key().public_numbers()
key_id = hashlib.sha256(n.x.to_bytes(32, "big") + n.y.to_bytes(32, "big")).digest()[:8]
signed = (struct.pack("<4sIIIII", b"OTAM", 1, 2, len(image), zlib.crc32(image), 0) + key_id
          + b"app".ljust(64, b"\0") + hashlib.sha256(image).digest())
r, s = utils.decode_dss_signature(key.sign(signed, ec.ECDSA(hashes.SHA256())))
open(sys.argv[3], "wb").write(signed + r.to_bytes(32, "big") + s.to_bytes(32, "big"))
PY
signed_port=$(free_port)
"$otad" -c "$work/otad-signed.yaml" -d "$work/fw-signed" -b 127.0.0.1 -p "$signed_port" \
    >"$work/otad-signed.log" 2>&1 &
pids="$pids $!"
wait_for "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $signed_port))' 2>/dev/null"

mkimage() { python3 "$here/mkimage.py" "$@"; }
mkimage "$work/signed.img" "$build/signed/bootloader.bin"
mkimage "$work/blank.img" "$build/bootloader.bin"
mkimage "$work/app.img" "$build/bootloader.bin" --app "$build/app.bin" --version 2
# Record flags: 1 application valid, 2 update requested, 8 secondary valid,
# 16 on trial.
mkimage --layout f405 "$work/f405-blank.img" "$f405/bootloader.bin"
mkimage --layout f405 "$work/f405-req.img" "$f405/bootloader.bin" \
    --app "$f405/app.bin" --version 2 --flags 3
mkimage --layout f405 "$work/f405-trial.img" "$f405/bootloader.bin" \
    --app "$f405/app.bin" --version 3 --flags 25 --prev "$f405/app.bin" --prev-version 2
mkimage --layout f405 "$work/f405-revert.img" "$f405/bootloader.bin" \
    --app "$f405/app.bin" --version 3 --flags 25 --trials 1 \
    --prev "$f405/app.bin" --prev-version 2

# run NAME IMAGE SECONDS [fake_esp8266.py options]: the log goes to NAME.log,
# the simulated module's to NAME.esp.
run() {
    name=$1 image=$2 secs=$3
    shift 3
    python3 "$here/fake_esp8266.py" --port-file "$work/$name.port" \
        --server-port "$otad_port" "$@" 2>"$work/$name.esp" &
    esp=$!
    wait_for "[ -s '$work/$name.port' ]"
    timeout "$secs" qemu-system-arm -M netduinoplus2 -nographic -monitor none \
        -chardev "socket,id=esp,host=127.0.0.1,port=$(cat "$work/$name.port"),nodelay=on" \
        -serial chardev:esp -serial "file:$work/$name.log" \
        -device "loader,file=$image,addr=0x08000000,force-raw=on" >"$work/$name.qemu" 2>&1 || true
    kill "$esp" 2>/dev/null || true
    wait "$esp" 2>/dev/null || true
}

passed=0 failed=0
# expect NAME FILE TEXT: FILE (log or esp) of run NAME contains TEXT.
expect() {
    if grep -qF -- "$3" "$work/$1.$2"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $1: '$3' not in $1.$2:"
        sed 's/^/    /' "$work/$1.$2"
    fi
}

# reject NAME FILE TEXT: FILE of run NAME does not contain TEXT.
reject() {
    if grep -qF -- "$3" "$work/$1.$2"; then
        failed=$((failed + 1))
        echo "FAIL $1: '$3' in $1.$2:"
        sed 's/^/    /' "$work/$1.$2"
    else
        passed=$((passed + 1))
    fi
}

run blank "$work/blank.img" 5
expect blank log "otad bootloader, stm32f4 port, f401 layout"
expect blank esp 'cmd AT+CWJAP="otad-demo","change-me"'
expect blank esp 'cmd AT+CIPSTART="TCP","192.168.1.10",8000'
expect blank log "ota: downloading version 2"
# -9: the flash cannot be written (QEMU ignores the write).
expect blank log "boot: update failed (-9); retrying"
# The failure reported over the module, and answered (by whatever status
# this otad gives a report: 405 from one without /NAME/report).
expect blank log "report: failed version 2 flash: "
expect blank esp "escape +++"
expect blank esp "cmd AT+CIPCLOSE"
expect blank log "boot: update (attempt 2"

run stuck "$work/blank.img" 4 --stuck
expect stuck esp "escape +++"
expect stuck log "ota: downloading version 2"

run app "$work/app.img" 3
expect app log "boot: starting application version 2"
expect app log "app: running"

run f405-blank "$work/f405-blank.img" 3
expect f405-blank log "otad bootloader, stm32f4 port, f405 layout"
expect f405-blank log "boot: update (no valid application)"
expect f405-blank esp 'cmd AT+CIPSTART="TCP","192.168.1.10",8000'
expect f405-blank log "ota: downloading version 2"
expect f405-blank log "boot: update failed (-9); retrying"

run f405-req "$work/f405-req.img" 3
expect f405-req log "boot: update (requested)"
expect f405-req esp 'cmd AT+CIPSTART="TCP","192.168.1.10",8000'
expect f405-req log "ota: server has version 2, installed 2: nothing to do"
expect f405-req log "boot: starting application version 2"
expect f405-req log "app: running"
expect f405-req log "app: image confirmed"

run f405-trial "$work/f405-trial.img" 2
expect f405-trial log "boot: version 3 on trial, boot 1 of 1"
expect f405-trial log "boot: starting application version 3"
expect f405-trial log "app: running"
# ota_confirm() was called: on trial it must write a record, which fails here.
expect f405-trial log "app: could not confirm the image (-11)"

run f405-revert "$work/f405-revert.img" 2
expect f405-revert log "boot: version 3 not confirmed after 1 boot(s); reverting to version 2"
reject f405-revert log "boot: starting application"

run signed-none "$work/signed.img" 4
expect signed-none log "ota: version 2 has no manifest: not installing it"
reject signed-none log "ota: downloading"

server_port=$otad_port
otad_port=$signed_port
run signed "$work/signed.img" 6
otad_port=$server_port
expect signed log "ota: downloading version 2"
reject signed log "refused"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
