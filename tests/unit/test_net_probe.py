"""net_probe for real on 127.0.0.1 only: a listening socket (open), a closed port (refused), tiny DNS and SNTP
responders in threads, ping when the system has it. "filtered" (a timeout or an ICMP prohibited) cannot be
produced on loopback without root (no firewall to drop packets): the pure judge covers it."""

import errno
import shutil
import socket
import struct
import threading
import time

import pytest

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_probe import (
    RMCP_PING,
    dns_answer,
    dns_query,
    ping_result,
    resolver_from,
    sntp_offset,
    sntp_request,
    tcp_state,
)
from ansible_collections.rackwright.infra.plugins.modules import net_probe


@pytest.fixture
def run(run_module):
    """net_probe's result for ARGS (a failure too: fail_json prints its result as exit_json does)."""
    return lambda args: run_module(net_probe, args)


def udp_responder(answer):
    """A UDP socket on 127.0.0.1 answering each datagram with ANSWER(datagram) (None: stay silent)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)

    def serve():
        try:
            while True:
                data, peer = sock.recvfrom(4096)
                reply = answer(data)
                if reply is not None:
                    sock.sendto(reply, peer)
        except OSError:
            pass

    threading.Thread(target=serve, daemon=True).start()
    return sock


def dns_reply(records, rcode=0):
    """A responder answering each query with RECORDS {qtype: rdata bytes}."""

    def answer(query):
        end = query.index(b"\0", 12) + 5
        qtype = struct.unpack("!H", query[end - 4 : end - 2])[0]
        rdata = records.get(qtype)
        header = query[:2] + struct.pack("!HHHHH", 0x8180 | rcode, 1, 1 if rdata else 0, 0, 0)
        body = query[12:end]
        if rdata:
            body += struct.pack("!HHHIH", 0xC00C, qtype, 1, 60, len(rdata)) + rdata
        return header + body

    return answer


def wire_name(name):
    return b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"


@pytest.fixture
def listening():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock.getsockname()[1]
    sock.close()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_tcp_open_and_closed_on_loopback(run, listening):
    closed = free_port()
    probes = [{"address": "127.0.0.1", "port": listening}, {"address": "127.0.0.1", "port": closed}]
    result = run({"tcp": probes})
    assert result["changed"] is False and result["health"] == "ok"
    assert [(r["state"], r["errno"]) for r in result["tcp"]] == [("open", None), ("closed", "ECONNREFUSED")]


def test_filtered_is_judged_from_the_errno_or_the_timeout():
    # Not reproducible on loopback without root (no firewall): the judge the module uses is fed the errors.
    assert tcp_state("timeout") == ("filtered", "timeout")
    assert tcp_state(errno.EHOSTUNREACH) == ("filtered", "EHOSTUNREACH")
    assert tcp_state(errno.ECONNREFUSED) == ("closed", "ECONNREFUSED")
    assert tcp_state(None) == ("open", None)


def test_dns_forward_and_reverse_from_a_responder(run):
    good = udp_responder(dns_reply({1: bytes([127, 0, 0, 12]), 12: wire_name("new-server.lab")}))
    wrong = udp_responder(dns_reply({1: bytes([10, 77, 0, 99])}))
    nxdomain = udp_responder(dns_reply({}, rcode=3))
    ask = {"name": "new-server.lab", "address": "127.0.0.12", "server": "127.0.0.1"}
    probes = [dict(ask, port=sock.getsockname()[1]) for sock in (good, wrong, nxdomain)]
    result = run({"dns": probes})
    answers = [
        (r["forward"]["rcode"], r["forward"]["answers"], r["reverse"]["answers"]) for r in result["dns"]
    ]
    assert answers == [
        ("NOERROR", ["127.0.0.12"], ["new-server.lab"]),
        ("NOERROR", ["10.77.0.99"], []),
        ("NXDOMAIN", [], []),
    ]
    for sock in (good, wrong, nxdomain):
        sock.close()


def test_dns_without_an_answer(run):
    silent = udp_responder(lambda query: None)
    probe = {"name": "h.lab", "address": "127.0.0.1", "server": "127.0.0.1", "port": silent.getsockname()[1],
             "timeout": 0.3}  # fmt: skip
    [result] = run({"dns": [probe]})["dns"]
    assert result["forward"]["error"] == "no answer" and result["reverse"]["error"] == "no answer"
    silent.close()


def test_sntp_offset_from_a_responder(run):
    def answer(request):  # a server whose clock is 2.5 s ahead
        now = time.time() + 2.5
        stamp = struct.pack("!II", int(now + 2208988800), int((now % 1) * 2**32))
        return bytes([0x24, 2, 0, 0]) + bytes(20) + request[40:48] + stamp + stamp

    server = udp_responder(answer)
    [result] = run({"ntp": [{"server": "127.0.0.1", "port": server.getsockname()[1]}]})["ntp"]
    assert result["error"] is None and 2400 < result["offset_ms"] < 2600
    server.close()


def test_rmcp_presence_pong(run):
    bmc = udp_responder(lambda ping: ping[:8] + bytes([0x40]) + ping[9:10] + bytes([0, 16]) + bytes(16))
    [result] = run({"rmcp": [{"address": "127.0.0.1", "port": bmc.getsockname()[1]}]})["rmcp"]
    assert result == {"address": "127.0.0.1", "answered": True, "reason": ""}
    assert RMCP_PING[8] == 0x80
    bmc.close()


@pytest.mark.skipif(shutil.which("ping") is None, reason="no ping binary on this machine (iputils-ping)")
def test_ping_loopback(run):
    result = run({"ping": [{"address": "127.0.0.1"}]})
    assert result["ping"][0]["answered"] is True, result


def test_ping_judge():
    assert ping_result(0, "1 received", "", None) == (True, "")
    assert ping_result(1, "0 received", "", None) == (False, "no reply")
    too_long = "ping: local error: message too long, mtu=1500"
    assert ping_result(1, "", too_long, 9000)[1].startswith("message too long")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"tcp": [{"address": "127.0.0.1", "port": 0}]}, "tcp[0].port 0 is not a port number (1 to 65535)"),
        ({"tcp": [{"port": 22}]}, "missing required arguments: address"),
        ({"ping": [{"address": "-f"}]}, "ping[0].address '-f' is not an address or host name"),
        ({"ping": [{"address": "127.0.0.1", "mtu": 20}]}, "ping[0].mtu 20 is not an MTU (68 to 65535)"),
        ({"dns": [{"name": "h.lab", "address": "nope"}]}, "dns[0].address 'nope' is not an IP address"),
        ({"ntp": [{"server": "127.0.0.1", "timeout": 0}]}, "ntp[0].timeout 0.0 is not a number of seconds"),
        # a string where a list of mappings belongs: AnsibleModule refuses it (its message, not naming tcp)
        ({"tcp": "127.0.0.1:22"}, "dictionary requested"),
    ],
)
def test_bad_input_is_named(run, args, message):
    result = run(args)
    assert result.get("failed") and message in result["msg"], result


def test_wire_formats():
    query = dns_query(7, "a.lab", "A")
    assert query[:2] == b"\x00\x07" and query.endswith(b"\x01a\x03lab\x00\x00\x01\x00\x01")
    with pytest.raises(ValueError):
        dns_answer(b"\x00\x07", 7)
    with pytest.raises(ValueError):
        dns_answer(query, 7)  # a query, not a response
    assert resolver_from("# x\nsearch lab\nnameserver 10.77.0.13\nnameserver 1.1.1.1\n") == "10.77.0.13"
    assert resolver_from("search lab\n") is None
    request = sntp_request(1000.0)
    with pytest.raises(ValueError, match="kiss-of-death"):
        sntp_offset(bytes([0x24, 0]) + bytes(10) + b"RATE" + bytes(32), 1000.0, 1000.1)
    with pytest.raises(ValueError, match="originate"):
        sntp_offset(bytes([0x24, 2]) + bytes(46), 1000.0, 1000.1)
    assert len(request) == 48
