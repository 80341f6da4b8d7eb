"""The lab LAN: a tiny UDP hub on 127.0.0.1 between QEMU `-netdev socket,udp=...` NICs.

Each VM NIC sends its Ethernet frames from its own loopback port to the hub's port; the hub
forwards every frame to all other member ports (a repeater hub). Datagrams from any other
source are dropped. Nothing leaves 127.0.0.1 and the host kernel sees no lab interface.

usage: python -m rackwright_lab.hub HUB_PORT MEMBER_PORT...
"""

import contextlib
import signal
import socket
import sys


def serve(hub_port: int, members: list[int]) -> None:
    """Forward frames between MEMBERS until SIGTERM."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", hub_port))
    peers = {("127.0.0.1", p) for p in members}
    while True:
        frame, src = sock.recvfrom(65536)
        if src not in peers:
            continue
        for dst in peers:
            if dst != src:
                # a peer that is not listening (VM down) just misses the frame
                with contextlib.suppress(OSError):
                    sock.sendto(frame, dst)


if __name__ == "__main__":
    if len(sys.argv) < 3 or not all(a.isdigit() for a in sys.argv[1:]):
        sys.exit(__doc__)
    serve(int(sys.argv[1]), [int(a) for a in sys.argv[2:]])
