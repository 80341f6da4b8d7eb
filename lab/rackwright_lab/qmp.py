"""A minimal QMP (QEMU Machine Protocol) client over the VM's unix socket."""

import json
import socket
from pathlib import Path

from rackwright_lab.util import LabError


class Qmp:
    """One QMP session: `with Qmp(path) as q: q.cmd("query-status")`."""

    def __init__(self, path: Path, timeout: float = 10):
        self.path = path
        self.timeout = timeout
        self.events: list[dict] = []

    def __enter__(self) -> "Qmp":
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        try:
            self.sock.connect(str(self.path))
        except OSError as exc:
            self.sock.close()
            raise LabError(
                f"QEMU monitor {self.path} not reachable ({exc.strerror}); is the VM running?"
            ) from None
        self.file = self.sock.makefile("rb")
        self._read()  # greeting
        self.cmd("qmp_capabilities")
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()
        self.sock.close()

    def _read(self) -> dict:
        line = self.file.readline()
        if not line:
            raise LabError(f"QEMU monitor {self.path} closed the connection")
        return json.loads(line)

    def cmd(self, name: str, /, **args):
        """Execute NAME with ARGS; return its 'return' value or raise LabError with QEMU's message."""
        msg = {"execute": name, **({"arguments": args} if args else {})}
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(reply)
            elif "error" in reply:
                raise LabError(f"QEMU refused {name}: {reply['error'].get('desc', reply['error'])}")
            else:
                return reply.get("return")

    def wait_event(self, name: str, timeout: float) -> dict | None:
        """Wait up to TIMEOUT seconds for event NAME (also looks at events already received)."""
        for ev in self.events:
            if ev["event"] == name:
                return ev
        self.sock.settimeout(timeout)
        try:
            while True:
                reply = self._read()
                if reply.get("event") == name:
                    return reply
        except TimeoutError:
            return None
        finally:
            self.sock.settimeout(self.timeout)
