#!/usr/bin/python3
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rackwright-service-address: hold or release a service address, announcing it with gratuitous ARP.

Run by rackwright-service-address@<service>.service (roles/migration), whose instance's environment file
names the interface and the address:

    rackwright-service-address up IFACE ADDRESS/PREFIX     add the address, then announce it (3 ARP frames)
    rackwright-service-address down IFACE ADDRESS/PREFIX   remove the address (nothing to do if it is gone)

The announcement is an ARP request and an ARP reply whose sender and target address are the service address
(RFC 5227's announcement; what arping -U and -A send), so the switches and the neighbours' ARP caches move to
this host's MAC at once. A link that is down cannot announce: that is a warning, since the address is held and
the neighbours will ask for it. Python's standard library only (an AF_PACKET socket), so the host needs no
arping.
"""

import ipaddress
import socket
import struct
import subprocess
import sys
import time

ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6


def mac_of(iface):
    with open(f"/sys/class/net/{iface}/address", encoding="ascii") as handle:
        return bytes.fromhex(handle.read().strip().replace(":", ""))


def arp_frame(mac, ip, operation):
    """An Ethernet broadcast ARP frame announcing IP at MAC (operation 1: request, 2: reply)."""
    ether = BROADCAST + mac + struct.pack("!H", ETH_P_ARP)
    target_mac = b"\x00" * 6 if operation == 1 else BROADCAST
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, operation) + mac + ip + target_mac + ip
    return ether + arp


def announce(iface, address, count=3, interval=0.2):
    ip = ipaddress.ip_interface(address).ip
    if ip.version != 4:
        return "IPv6 addresses are announced by the kernel's unsolicited neighbour advertisements"
    mac = mac_of(iface)
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
        sock.bind((iface, ETH_P_ARP))
        for i in range(count):
            for operation in (1, 2):
                sock.send(arp_frame(mac, ip.packed, operation))
            if i < count - 1:
                time.sleep(interval)
    return None


def held(iface, address):
    shown = subprocess.run(
        ["ip", "-o", "addr", "show", "dev", iface], capture_output=True, text=True, check=False
    )
    return f" {address} " in shown.stdout


def main(argv):
    if len(argv) != 3 or argv[0] not in ("up", "down"):
        print("usage: rackwright-service-address up|down IFACE ADDRESS/PREFIX", file=sys.stderr)
        return 2
    action, iface, address = argv
    if action == "down":
        if held(iface, address):
            subprocess.run(["ip", "addr", "del", address, "dev", iface], check=True)
            print(f"released {address} from {iface}")
        return 0
    subprocess.run(["ip", "addr", "replace", address, "dev", iface], check=True)
    try:
        note = announce(iface, address)
    except OSError as exc:
        note = f"could not announce it ({exc}); neighbours learn it when they ask"
    print(f"holding {address} on {iface}" + (f": {note}" if note else ", announced with gratuitous ARP"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
