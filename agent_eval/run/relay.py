"""Relay: the metering proxy reached through a unix socket, for sandboxes with no network.

A sandbox with `network: none` has its own network namespace holding only loopback, where the
harness's proxy (127.0.0.1 on the host) does not exist. Inside, this script listens on the proxy's
port and passes each connection to a unix socket bound into the sandbox; outside, the harness
passes that socket on to the proxy. pi keeps the URL it was given and gets nowhere else.

Inside the sandbox it runs as `python -I -S relay.py PORT SOCKET -- pi …`: it binds the port,
forks the relay off, then becomes pi (so pi's exit status is the sandbox's). Stdlib only: it runs
under the revision's Python, not agent-eval's.
"""

from __future__ import annotations

import os
import socket
import sys
import threading


def pump(a: socket.socket, b: socket.socket) -> None:
    """Copy both ways until both sides are done, then close both."""
    def one_way(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    other = threading.Thread(target=one_way, args=(b, a), daemon=True)
    other.start()
    one_way(a, b)
    other.join()
    a.close()
    b.close()


def serve(listener: socket.socket, connect) -> None:
    """Accept forever; each connection is pumped to a fresh `connect()` on a thread of its own."""
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return  # closed
        try:
            upstream = connect()
        except OSError:
            client.close()
            continue
        threading.Thread(target=pump, args=(client, upstream), daemon=True).start()


def _unix(path: str):
    def connect() -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
        return sock
    return connect


def main(argv: list[str]) -> None:
    port, path, dash, *command = argv
    assert dash == "--" and command, "usage: relay.py PORT SOCKET -- COMMAND…"
    listener = socket.create_server(("127.0.0.1", int(port)), backlog=64)
    if os.fork() == 0:
        serve(listener, _unix(path))
        os._exit(0)
    listener.close()
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
