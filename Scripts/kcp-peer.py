#!/usr/bin/env python3
"""A KCP peer backed by the reference C implementation (ikcp.c through PyPI `kcp` 0.1.6),
driven in lock step over stdin/stdout by ReliableDatagramTests' interop test.

Frames both ways are: type (1 ASCII byte), length (u32 little-endian), payload.
In:  D datagram from the Swift side -> ikcp_input
     S message to send             -> ikcp_send
     T u32 clock in ms             -> ikcp_update, then report and end the step
     Q                             -> exit
Out (after each T): M per message received (ikcp_recv), D per datagram ikcp.c emitted, then E.
A datagram ikcp_input refuses is reported as R with the reason.

Usage: kcp-peer.py CONV NODELAY INTERVAL RESEND NOCWND MTU SNDWND RCVWND
"""
import struct
import sys

import kcp


def read_exact(stream, size):
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def main():
    conv, nodelay, interval, resend, nocwnd, mtu, sndwnd, rcvwnd = (int(a) for a in sys.argv[1:9])
    peer = kcp.KCP(
        conv,
        max_transmission=mtu,
        no_delay=bool(nodelay),
        update_interval=interval,
        resend_count=resend,
        no_congestion_control=bool(nocwnd),
        send_window_size=sndwnd,
        receive_window_size=rcvwnd,
    )
    outgoing = []
    peer.include_outbound_handler(lambda _, data: outgoing.append(bytes(data)))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer

    def write(kind, payload=b""):
        stdout.write(kind + struct.pack("<I", len(payload)) + payload)

    while True:
        header = read_exact(stdin, 5)
        if header is None:
            return
        kind, size = header[:1], struct.unpack("<I", header[1:])[0]
        payload = read_exact(stdin, size)
        if payload is None:
            return
        if kind == b"D":
            try:
                peer.receive(payload)
            except Exception as error:  # ikcp_input's negative return codes
                write(b"R", str(error).encode())
        elif kind == b"S":
            peer.enqueue(payload)  # wants bytes, not bytearray
        elif kind == b"T":
            peer.update(struct.unpack("<I", payload)[0])
            while peer.get_next_packet_size() >= 0:
                write(b"M", bytes(peer.get_received()))  # hands out bytearray
            for datagram in outgoing:
                write(b"D", datagram)
            outgoing.clear()
            write(b"E")
            stdout.flush()
        elif kind == b"Q":
            return
        else:
            sys.exit(f"kcp-peer: unknown frame {kind!r}")


if __name__ == "__main__":
    main()
