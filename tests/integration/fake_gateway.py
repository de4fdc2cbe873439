#!/usr/bin/env python3
"""A gateway that misbehaves, for cc_race_test.sh only.

A real gomabarn gateway cannot be made to stall forever, or to die at an
exact point of a request, on demand; this stands in for it in those two
cases and nothing else (the normal remote path is tested against the real
gateway and Buildbarn in cc_test.sh and cc_race_test.sh).

  fake_gateway.py MODE PORT_FILE
    stall  accept, read the request, never answer (a hung gateway or pool)
    close  read the request's head, then close without answering (a
           gateway killed mid-request)
    reset  the same with a TCP reset, as the kernel sends for a killed
           process that left the request unread

It writes the port it listens on to PORT_FILE and exits after 120 s.
"""
import socket
import struct
import sys
import threading
import time


def serve(conn, mode):
    conn.settimeout(120)
    try:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        if mode == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if mode in ("close", "reset"):
            conn.close()
            return
        while conn.recv(65536):  # stall: take everything, answer nothing
            pass
    except OSError:
        pass


def main():
    mode, port_file = sys.argv[1], sys.argv[2]
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    import os

    os.rename(port_file + ".tmp", port_file)
    end = time.time() + 120
    s.settimeout(1)
    while time.time() < end:
        try:
            conn, _ = s.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(conn, mode), daemon=True).start()


if __name__ == "__main__":
    main()
