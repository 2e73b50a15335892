#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A simulated ESP8266 (AT firmware 1.x) for the QEMU smoke test.

QEMU connects the guest's USART1 to the TCP port this script listens on.
Commands get the answers of a real module, with its noise (echo until ATE0,
boot garbage, unsolicited "WIFI GOT IP"). In transparent mode the stream is
forwarded to 127.0.0.1:SERVER_PORT, whatever host AT+CIPSTART names, and
"+++" alone between two quiet guard periods leaves it, as on the module.

--stuck starts in transparent mode with a connection already open: the state
a module is left in when the MCU resets in the middle of a download.
"""
import argparse
import os
import re
import select
import socket
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True, help="write the listening port here")
ap.add_argument("--server-port", type=int, required=True)
# The guest's milliseconds run about ten times fast in QEMU (its SysTick counts
# the emulated 168 MHz clock), so its 1.1 s guard is about 0.1 s here.
ap.add_argument("--guard", type=float, default=0.05)
ap.add_argument("--ssid", default="otad-demo")
ap.add_argument("--password", default="change-me")
ap.add_argument("--stuck", action="store_true")
args = ap.parse_args()


def log(*a):
    print("[esp]", *a, file=sys.stderr, flush=True)


listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(listener.getsockname()[1]))
os.rename(args.port_file + ".tmp", args.port_file)
listener.settimeout(30)
uart, _ = listener.accept()
uart.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

echo, joined, cipmode, tcp, transparent = True, False, 0, None, False
ncmds = 0


def send(s):
    uart.sendall(s.encode() if isinstance(s, str) else s)


def connect():
    c = socket.create_connection(("127.0.0.1", args.server_port), timeout=2)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return c


if args.stuck:
    echo, joined, cipmode, transparent = False, True, 1, True
    tcp = connect()
    log("starting in transparent mode")
else:
    send(b"\x00\xfe\x8f garbage at 74880 baud \xff\r\n\r\nready\r\n")


def unescape(s):
    return re.sub(r"\\(.)", r"\1", s)


def command(cmd):
    global echo, joined, cipmode, tcp, transparent, ncmds
    ncmds += 1
    log("cmd", cmd)
    if echo:
        send(cmd + "\r\r\n")
    if cmd == "AT":
        send("\r\nOK\r\n")
    elif cmd == "ATE0":
        echo = False
        send("\r\nOK\r\n")
    elif cmd in ("AT+CWMODE=1", "AT+CIPMUX=0"):
        send("\r\nOK\r\n")
    elif cmd == "AT+CWJAP?":
        if joined:
            send('+CWJAP:"%s","aa:bb:cc:dd:ee:ff",6,-50\r\n\r\nOK\r\n' % args.ssid)
        else:
            send("No AP\r\n\r\nOK\r\n")
    elif cmd.startswith("AT+CWJAP="):
        m = re.match(r'AT\+CWJAP="((?:[^"\\]|\\.)*)","((?:[^"\\]|\\.)*)"$', cmd)
        time.sleep(0.1)
        if m and unescape(m.group(1)) == args.ssid and unescape(m.group(2)) == args.password:
            joined = True
            send("WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n")
        else:
            send("+CWJAP:3\r\n\r\nFAIL\r\n")
    elif cmd in ("AT+CIPMODE=0", "AT+CIPMODE=1"):
        cipmode = int(cmd[-1])
        send("\r\nOK\r\n")
    elif cmd.startswith("AT+CIPSTART="):
        if tcp:
            send("ALREADY CONNECTED\r\n\r\nERROR\r\n")
            return
        try:
            tcp = connect()
            send("CONNECT\r\n\r\nOK\r\n")
        except OSError:
            send("CLOSED\r\n\r\nERROR\r\n")
    elif cmd == "AT+CIPSEND":
        if cipmode == 1 and tcp:
            send("\r\nOK\r\n\r\n>")
            transparent = True
            return
        send("link is not valid\r\n\r\nERROR\r\n")
    elif cmd == "AT+CIPCLOSE":
        if tcp:
            tcp.close()
            tcp = None
            send("CLOSED\r\n\r\nOK\r\n")
        else:
            send("\r\nERROR\r\n")
    else:
        send("\r\nERROR\r\n")
    if ncmds % 7 == 0:
        send("WIFI GOT IP\r\n")


cmdbuf = b""
held = b""         # transparent mode: a possible "+++" held back
escaping = False   # held started after a quiet guard period
last_rx = time.monotonic()
while True:
    watch = [uart] + ([tcp] if tcp and transparent else [])
    ready, _, _ = select.select(watch, [], [], args.guard / 2)
    now = time.monotonic()
    if transparent and held:
        if held == b"+++" and now - last_rx >= args.guard:
            log("escape +++")
            transparent, held, escaping = False, b"", False
            continue
        if not (escaping and b"+++".startswith(held)):
            if tcp:
                tcp.sendall(held)
            held, escaping = b"", False
    if uart in ready:
        data = uart.recv(4096)
        if not data:
            log("guest gone")
            break
        if transparent:
            if not held and b"+++".startswith(data) and now - last_rx >= args.guard:
                held, escaping = data, True
            else:
                escaping = escaping and b"+++".startswith(held + data)
                held += data
        else:
            cmdbuf += data
            while b"\r\n" in cmdbuf:
                line, cmdbuf = cmdbuf.split(b"\r\n", 1)
                command(line.decode(errors="replace"))
        last_rx = time.monotonic()
    if tcp and transparent and tcp in ready:
        data = tcp.recv(4096)
        if data:
            uart.sendall(data)
        else:
            log("server closed the connection")
            tcp.close()
            tcp = None
