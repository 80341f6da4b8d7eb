# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The wire formats and verdicts of the net_probe module, pure (bytes and numbers in, dicts out; no socket).

A DNS client (RFC 1035: one question, the answer section's A, AAAA, PTR and CNAME records, name compression),
an SNTP client (RFC 4330: mode 3 request, the offset from the four timestamps), the RMCP presence ping a BMC
answers on UDP 623 (ASF 2.0), and the judges of a TCP connect and a ping. The module does the I/O; tests
feed these functions bytes.
"""

import errno
import ipaddress
import struct

DNS_TYPES = {"A": 1, "PTR": 12, "CNAME": 5, "AAAA": 28}
_TYPE_NAMES = {number: name for name, number in DNS_TYPES.items()}
DNS_RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


class WireError(ValueError):
    """An answer that is not what the protocol says it must be."""


def reverse_name(address):
    """The PTR name of an IPv4 or IPv6 address: 10.77.0.12 -> 12.0.77.10.in-addr.arpa."""
    return ipaddress.ip_address(address).reverse_pointer


def dns_query(qid, name, qtype):
    """One recursive query (RD set) for NAME of QTYPE (A, AAAA, PTR) with id QID."""
    labels = [label for label in name.rstrip(".").split(".") if label]
    if not labels or any(len(label.encode()) > 63 for label in labels):
        raise WireError(f"{name!r} is not a DNS name")
    question = b"".join(bytes([len(label.encode())]) + label.encode() for label in labels) + b"\0"
    return (
        struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question + struct.pack("!HH", DNS_TYPES[qtype], 1)
    )


def _name(data, offset, depth=0):
    """(name, offset after it) of the name at OFFSET, following compression pointers."""
    labels = []
    while True:
        if offset >= len(data) or depth > 20:
            raise WireError("DNS answer cut off inside a name")
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(data):
                raise WireError("DNS answer cut off inside a name")
            target = ((length & 0x3F) << 8) | data[offset + 1]
            labels.append(_name(data, target, depth + 1)[0])
            return ".".join(label for label in labels if label), offset + 2
        offset += 1
        if length == 0:
            return ".".join(labels), offset
        labels.append(data[offset : offset + length].decode("ascii", errors="replace"))
        offset += length


def dns_answer(data, qid):
    """``{rcode, answers: [{type, value}]}`` of a DNS response to query QID; WireError if it is none."""
    if len(data) < 12:
        raise WireError(f"DNS answer of {len(data)} bytes, shorter than a header")
    rid, flags, qdcount, ancount = struct.unpack("!HHHH", data[:8])
    if rid != qid or not flags & 0x8000:
        raise WireError("DNS packet is not the answer to this query (other id, or not a response)")
    offset = 12
    for _question in range(qdcount):
        offset = _name(data, offset)[1] + 4
    answers = []
    for _record in range(ancount):
        offset = _name(data, offset)[1]
        if offset + 10 > len(data):
            raise WireError("DNS answer cut off inside a record")
        rtype, _rclass, _ttl, length = struct.unpack("!HHIH", data[offset : offset + 10])
        offset += 10
        rdata = data[offset : offset + length]
        if len(rdata) != length:
            raise WireError("DNS answer cut off inside a record")
        if rtype == 1 and length == 4:
            answers.append({"type": "A", "value": str(ipaddress.IPv4Address(rdata))})
        elif rtype == 28 and length == 16:
            answers.append({"type": "AAAA", "value": str(ipaddress.IPv6Address(rdata))})
        elif rtype in (5, 12):
            answers.append({"type": _TYPE_NAMES[rtype], "value": _name(data, offset)[0]})
        offset += length
    return {"rcode": DNS_RCODES.get(flags & 0x0F, f"RCODE{flags & 0x0F}"), "answers": answers}


def resolver_from(text):
    """The first ``nameserver`` of a resolv.conf text, or None."""
    for line in text.splitlines():
        fields = line.split("#")[0].split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            return fields[1]
    return None


# SNTP (RFC 4330): NTP time is seconds since 1900; the offset is ((T2 - T1) + (T3 - T4)) / 2.
NTP_EPOCH = 2208988800


def _ntp_time(seconds):
    whole = int(seconds + NTP_EPOCH)
    return struct.pack("!II", whole & 0xFFFFFFFF, int((seconds % 1) * 2**32) & 0xFFFFFFFF)


def _ntp_seconds(data):
    whole, fraction = struct.unpack("!II", data)
    return whole - NTP_EPOCH + fraction / 2**32


def sntp_request(t1):
    """A client request (LI 0, version 4, mode 3) whose transmit timestamp is T1 (Unix seconds)."""
    return bytes([0x23]) + bytes(39) + _ntp_time(t1)


def sntp_offset(data, t1, t4):
    """Clock offset in seconds (server minus host) of an SNTP answer sent at T1 and received at T4."""
    if len(data) < 48:
        raise WireError(f"NTP answer of {len(data)} bytes, expected 48")
    mode, stratum = data[0] & 0x07, data[1]
    if mode not in (4, 5):
        raise WireError(f"NTP answer of mode {mode}, expected 4 (server)")
    if stratum == 0:
        raise WireError(f"NTP kiss-of-death {data[12:16].decode('ascii', errors='replace')!r}")
    if data[24:32] != _ntp_time(t1):
        raise WireError("NTP answer is not to this request (originate timestamp differs)")
    t2, t3 = _ntp_seconds(data[32:40]), _ntp_seconds(data[40:48])
    return ((t2 - t1) + (t3 - t4)) / 2


# RMCP presence ping (ASF 2.0): RMCP header v6, seq 0xff (no ack), class ASF; IANA 4542, type 0x80 ping.
RMCP_PING = bytes([0x06, 0x00, 0xFF, 0x06, 0x00, 0x00, 0x11, 0xBE, 0x80, 0x2A, 0x00, 0x00])


def rmcp_pong(data):
    """True when DATA is an RMCP presence pong (ASF message type 0x40) to RMCP_PING's tag."""
    return len(data) >= 12 and data[0] == 0x06 and data[3] == 0x06 and data[8] == 0x40 and data[9] == 0x2A


# A TCP connect, judged: what the peer's answer (or silence) says about the port.
FILTERED_ERRNOS = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES, errno.EPERM}


def tcp_state(error):
    """``(state, errno name)`` of a connect that raised ERROR (None: it connected; 'timeout': no answer)."""
    if error is None:
        return "open", None
    if error == "timeout":
        return "filtered", "timeout"
    name = errno.errorcode.get(error, str(error))
    if error == errno.ECONNREFUSED:
        return "closed", name  # the host answered RST
    # ICMP host/net unreachable or administratively prohibited, or a local firewall's reject.
    return "filtered", name


def ping_result(rc, out, err, mtu=None):
    """``(answered, reason)`` of one ``ping -c 1`` (with MTU: the don't-fragment probe of that size)."""
    text = f"{out}\n{err}".lower()
    if mtu is not None and ("message too long" in text or "frag needed" in text or "mtu=" in text):
        return False, "message too long (a link on the path has a smaller MTU)"
    if rc == 0:
        return True, ""
    lines = [line.strip() for line in (err or out).splitlines() if line.strip()]
    return False, lines[-1] if lines and rc != 1 else "no reply"
