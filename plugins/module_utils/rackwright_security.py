# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A suspected break-in: collect the evidence read-only, seal it, and triage it.

``collect`` runs on the suspect host (the ``evidence_collect`` module): it reads, in order of volatility
(RFC 3227: processes and sockets first, logs last), what a first responder needs, writes each piece to a
numbered file of a bundle directory with an acquisition log and a SHA256SUMS manifest. It reads /proc and the
files itself where it can, so a trojaned ``ps`` or ``ss`` does not hide what it is asked about; the
commands it does run are named in the acquisition log with their exit code.

``binaries`` is the sha256 manifest of the system's executable directories (``rackwright_manifest.take``):
taken once when rackwright first installs a host and kept on the controller (the trusted baseline, which the
suspect host cannot change), and again in every bundle.

``findings`` triages a sealed bundle on the controller against the inventory (known SSH keys, the ports the
host serves, files known to be local) and the baseline; ``report_markdown`` renders the result. Both are pure.
"""

import base64
import datetime
import hashlib
import json
import os
import re
import socket
import stat
import struct
import time

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_manifest as manifest

# The executable directories whose every file the baseline and the bundle hash.
BINARY_ROOTS = ("/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/usr/lib/openssh")
# Fields a changed binary is judged by (an mtime alone, or a hard link's grouping, is no tampering).
BINARY_IGNORE = ("mtime_ns", "link_group")
# Where persistence lives: cron, systemd units (transient ones included), rc files, the dynamic loader.
CRON_PATHS = (
    "/etc/crontab",
    "/etc/cron.d",
    "/etc/cron.hourly",
    "/etc/cron.daily",
    "/etc/cron.weekly",
    "/etc/cron.monthly",
    "/var/spool/cron/crontabs",
    "/etc/anacrontab",
)
UNIT_PATHS = (
    "/etc/systemd/system",
    "/run/systemd/transient",
    "/usr/local/lib/systemd/system",
    "/etc/systemd/user",
)
RC_PATHS = (
    "/etc/rc.local",
    "/etc/profile",
    "/etc/profile.d",
    "/etc/bash.bashrc",
    "/etc/environment",
    "/etc/skel",
    "/etc/ld.so.preload",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
)
USER_RC = (".bashrc", ".profile", ".bash_profile", ".bash_login", ".bash_logout", ".config/systemd/user")
SUDO_PATHS = ("/etc/sudoers", "/etc/sudoers.d")
RECENT_ROOTS = (
    "/etc",
    "/usr/bin",
    "/usr/sbin",
    "/usr/local",
    "/usr/lib/systemd",
    "/root",
    "/var/spool/cron",
    "/boot",
)
MAX_TEXT = 8 * 1024 * 1024  # a log is kept to its last 8 MiB
MAX_RECENT = 5000
TCP_STATES = {"01": "established", "0A": "listen", "06": "time-wait", "08": "close-wait"}
MANAGED_MARK = "Ansible managed"  # what rackwright's templates write first ({{ ansible_managed }})


class EvidenceError(Exception):
    """The bundle cannot be collected or read."""


def _read(path, limit=MAX_TEXT):
    """The text of PATH (its last LIMIT bytes), or None when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                handle.seek(size - limit)
            return handle.read(limit).decode("utf-8", "replace")
    except OSError:
        return None


def _files_under(root, paths, depth=3):
    """{path: text or '-> target'} of every regular file and symlink at or below PATHS (ROOT-prefixed)."""
    found = {}

    def visit(real, shown, level):
        try:
            st = os.lstat(real)
        except OSError:
            return
        if stat.S_ISLNK(st.st_mode):
            found[shown] = "-> " + os.readlink(real)
        elif stat.S_ISREG(st.st_mode):
            found[shown] = _read(real, 1024 * 1024)
        elif stat.S_ISDIR(st.st_mode) and level < depth:
            try:
                names = sorted(os.listdir(real))
            except OSError:
                return
            for name in names:
                visit(os.path.join(real, name), shown.rstrip("/") + "/" + name, level + 1)

    for path in paths:
        visit(root + path, path, 0)
    return found


def accounts(passwd_text):
    """[{name, uid, gid, home, shell}] of /etc/passwd's lines (malformed lines are skipped)."""
    out = []
    for line in (passwd_text or "").splitlines():
        parts = line.split(":")
        if len(parts) < 7 or not parts[2].lstrip("-").isdigit():
            continue
        out.append(
            {"name": parts[0], "uid": int(parts[2]), "gid": parts[3], "home": parts[5], "shell": parts[6]}
        )
    return out


def _processes(root):
    procs, inodes = [], {}
    proc = root + "/proc"
    for name in sorted(os.listdir(proc), key=lambda n: int(n) if n.isdigit() else -1):
        if not name.isdigit():
            continue
        base = f"{proc}/{name}"
        try:
            exe = os.readlink(base + "/exe")
        except OSError:
            exe = None  # a kernel thread, or gone
        status = _read(base + "/status", 65536) or ""
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        cmdline = (_read(base + "/cmdline", 65536) or "").replace("\0", " ").strip()
        if exe is None and not cmdline:
            continue
        try:
            for fd in os.listdir(base + "/fd"):
                target = os.readlink(f"{base}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.setdefault(target[8:-1], int(name))
        except OSError:
            pass
        procs.append(
            {
                "pid": int(name),
                "ppid": int(fields.get("PPid", "0").strip() or 0),
                "uid": int((fields.get("Uid", "0").split() or ["0"])[0]),
                "name": fields.get("Name", "").strip(),
                "exe": exe[: -len(" (deleted)")] if exe and exe.endswith(" (deleted)") else exe,
                "deleted": bool(exe and exe.endswith(" (deleted)")),
                "cmdline": cmdline,
            }
        )
    return procs, inodes


def _address(hex_text):
    raw = bytes.fromhex(hex_text)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = struct.unpack("<4I", raw)
    return socket.inet_ntop(socket.AF_INET6, struct.pack(">4I", *words))


def sockets(tables, owners=None):
    """The sockets of /proc/net/{tcp,tcp6,udp,udp6}. TABLES: {protocol: text}; OWNERS: {inode: pid}.
    Returns [{proto, local, port, remote, remote_port, state, pid}]."""
    owners = owners or {}
    out = []
    for proto, text in sorted(tables.items()):
        for line in (text or "").splitlines()[1:]:
            parts = line.split()
            if len(parts) < 10 or ":" not in parts[1]:
                continue
            try:
                (local, lport), (remote, rport) = (part.split(":") for part in parts[1:3])
                entry = {
                    "proto": proto,
                    "local": _address(local),
                    "port": int(lport, 16),
                    "remote": _address(remote),
                    "remote_port": int(rport, 16),
                }
            except (ValueError, OSError):
                continue
            state = parts[3].upper()
            if proto.startswith("udp"):
                entry["state"] = "bound" if entry["remote_port"] == 0 else "connected"
            else:
                entry["state"] = TCP_STATES.get(state, state)
            entry["pid"] = owners.get(parts[9])
            out.append(entry)
    return out


def _shadow_status(text):
    rows = []
    for line in (text or "").splitlines():
        parts = line.split(":")
        if len(parts) < 2:
            continue
        secret = parts[1]
        state = (
            "locked" if secret.startswith("!") else "no password" if secret in ("*", "") else "password set"
        )
        expires = parts[7] if len(parts) > 7 and parts[7] else "never"
        rows.append(f"{parts[0]} {state} expires:{expires}")
    return "\n".join(rows) + "\n"


DEFAULT_KEY_FILES = (".ssh/authorized_keys", ".ssh/authorized_keys2")


def key_files(sshd_effective):
    """The AuthorizedKeysFile patterns of ``sshd -T``'s output (sshd's own default when it says none)."""
    for line in (sshd_effective or "").splitlines():
        words = line.split()
        if words and words[0].lower() == "authorizedkeysfile" and len(words) > 1 and words[1] != "none":
            return tuple(words[1:])
    return DEFAULT_KEY_FILES


def _authorized_keys(root, users, patterns=DEFAULT_KEY_FILES):
    """{path: {user, text}} of every account's authorized keys files, where sshd looks for them: each
    AuthorizedKeysFile pattern with %h, %u and %% expanded, a relative one under the account's home."""
    keys = {}
    for user in users:
        home = user["home"].rstrip("/") or "/"
        for pattern in patterns:
            path = (
                pattern.replace("%%", "\0").replace("%h", home).replace("%u", user["name"]).replace("\0", "%")
            )
            if not path.startswith("/"):
                path = f"{home.rstrip('/')}/{path}"
            text = _read(root + path, 1024 * 1024)
            if text is not None:
                keys.setdefault(path, {"user": user["name"], "text": text})
    return keys


def _recent(root, days, now):
    since = now - days * 86400
    found = []
    for top in RECENT_ROOTS:
        start = root + top
        if not os.path.isdir(start):
            continue
        device = os.lstat(start).st_dev
        for directory, dirs, files in os.walk(start):
            try:
                if os.lstat(directory).st_dev != device:
                    dirs[:] = []
                    continue
            except OSError:
                continue
            for name in files + [d for d in dirs if os.path.islink(os.path.join(directory, d))]:
                path = os.path.join(directory, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if max(st.st_mtime, st.st_ctime) >= since:
                    found.append(
                        {
                            "path": path[len(root) :] or "/",
                            "mtime": _iso(st.st_mtime),
                            "ctime": _iso(st.st_ctime),
                            "size": st.st_size,
                            "mode": f"{st.st_mode:o}",
                            "uid": st.st_uid,
                        }
                    )
                if len(found) >= MAX_RECENT:
                    return found, True
    return sorted(found, key=lambda f: f["path"]), False


def _iso(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).isoformat(timespec="seconds")


def binaries(root="", roots=BINARY_ROOTS):
    """The manifest entries (rackwright_manifest) of each executable directory that exists, paths absolute."""
    entries = []
    for top in roots:
        if not os.path.isdir(root + top):
            continue
        try:
            listed, _summary = manifest.take(root + top)
        except manifest.ManifestError as exc:
            raise EvidenceError(str(exc)) from None
        for entry in listed:
            entry["path"] = top if entry["path"] == "." else f"{top}/{entry['path']}"
            entries.append(entry)
    return entries


def _json(value):
    return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def collectors(root, run, recent_days, now):
    """(file name, what it holds, a function returning its text) in order of volatility."""
    state = {}

    def procs():
        state["procs"], state["inodes"] = _processes(root)
        return _json(state["procs"])

    def socks():
        tables = {p: _read(f"{root}/proc/net/{p}") for p in ("tcp", "tcp6", "udp", "udp6")}
        return _json(sockets({k: v for k, v in tables.items() if v is not None}, state.get("inodes")))

    def command(*argv):
        return lambda: run(list(argv))

    def file(path):
        return lambda: _read(root + path)

    def users():
        return accounts(_read(root + "/etc/passwd"))

    def sshd_effective():
        state["sshd"] = run(["sshd", "-T"])
        return state["sshd"]

    def owners():
        paths = sorted(persistence_files(root))
        return run(["dpkg-query", "--search", *paths]) if paths else ""

    return [
        ("01-processes.json", "processes: executable (deleted ones flagged), user, command line", procs),
        ("02-sockets.json", "network connections and listening sockets with their process", socks),
        ("03-addresses.txt", "addresses (ip -d addr)", command("ip", "-d", "addr")),
        ("03-routes.txt", "routes (ip route show table all)", command("ip", "route", "show", "table", "all")),
        ("04-who.txt", "logged-in users (who -a)", command("who", "-a")),
        ("04-last.txt", "recent logins (last)", command("last", "-F", "-w", "-n", "500")),
        ("04-lastb.txt", "failed logins (lastb)", command("lastb", "-F", "-w", "-n", "500")),
        ("05-modules.txt", "kernel modules (/proc/modules)", file("/proc/modules")),
        ("06-passwd.txt", "users (/etc/passwd)", file("/etc/passwd")),
        ("06-group.txt", "groups (/etc/group)", file("/etc/group")),
        (
            "06-shadow-status.txt",
            "password state of each account (no hashes)",
            lambda: _shadow_status(_read(root + "/etc/shadow")),
        ),
        ("06-sudoers.json", "sudoers", lambda: _json(_files_under(root, SUDO_PATHS))),
        ("07-sshd-effective.txt", "sshd's effective configuration (sshd -T)", sshd_effective),
        (
            "07-authorized_keys.json",
            "SSH authorized keys of every account, in every file sshd's AuthorizedKeysFile names",
            lambda: _json(_authorized_keys(root, users(), key_files(state.get("sshd")))),
        ),
        ("08-cron.json", "cron tables", lambda: _json(_files_under(root, CRON_PATHS))),
        (
            "09-units.json",
            "systemd unit files outside the packages' directories",
            lambda: _json(_files_under(root, UNIT_PATHS)),
        ),
        (
            "09-timers.txt",
            "timers (systemctl list-timers)",
            command("systemctl", "list-timers", "--all", "--no-pager"),
        ),
        (
            "09-services.txt",
            "services (systemctl list-units)",
            command("systemctl", "list-units", "--type=service", "--all", "--no-pager", "--plain"),
        ),
        (
            "10-rc-files.json",
            "rc files, ld.so.preload and every account's shell rc files",
            lambda: _json(_files_under(root, RC_PATHS + home_rc_paths(root))),
        ),
        ("11-owners.txt", "which package owns each persistence file (dpkg-query --search)", owners),
        (
            "11-recent-files.json",
            f"files changed in the last {recent_days} days in system paths",
            lambda: _json(dict(zip(("files", "truncated"), _recent(root, recent_days, now), strict=True))),
        ),
        (
            "12-binaries.json",
            "sha256 of every file in " + ", ".join(BINARY_ROOTS),
            lambda: _json(binaries(root)),
        ),
        (
            "12-dpkg-verify.txt",
            "dpkg --verify (against the host's own package database)",
            command("dpkg", "--verify"),
        ),
        ("13-auth.log", "authentication log (/var/log/auth.log, last 8 MiB)", file("/var/log/auth.log")),
        (
            "13-journal.txt",
            f"the journal of the last {recent_days} days (last 8 MiB)",
            command("journalctl", "--no-pager", "-o", "short-iso-precise", "--since", f"-{recent_days}d"),
        ),
    ]


def collect(dest, run, root="", recent_days=7, now=None):
    """Write the evidence into the empty directory DEST; RUN(argv) -> (rc, text). Returns the acquisition log
    rows [{file, what, started, finished, rc, bytes, sha256}]; DEST/SHA256SUMS covers every file written,
    the acquisition log included."""
    now = now if now is not None else time.time()
    log = []

    def runner(argv):
        rc, text = run(argv)
        log_rc[0] = rc
        if len(text) > MAX_TEXT:
            text = text[-MAX_TEXT:]
        return text

    for name, what, produce in collectors(root, runner, recent_days, now):
        log_rc = [0]
        started = time.time()
        try:
            text = produce()
        except (OSError, EvidenceError) as exc:
            text, log_rc[0] = f"not collected: {exc}\n", 1
        if text is None:
            text, log_rc[0] = "not present on this host\n", 2
        path = os.path.join(dest, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        log.append(
            {
                "file": name,
                "what": what,
                "started": _iso(started),
                "finished": _iso(time.time()),
                "rc": log_rc[0],
                "bytes": os.path.getsize(path),
                "sha256": manifest.file_sha256(path),
            }
        )
    with open(os.path.join(dest, "acquisition.json"), "w", encoding="utf-8") as handle:
        handle.write(_json(log))
    names = sorted(os.listdir(dest))
    with open(os.path.join(dest, "SHA256SUMS"), "w", encoding="utf-8") as handle:
        for name in names:
            handle.write(f"{manifest.file_sha256(os.path.join(dest, name))}  {name}\n")
    return log


def verify(directory):
    """Check DIRECTORY's SHA256SUMS: the list of problems (empty when every file is there and matches, and
    no file is there that the manifest does not name)."""
    sums = _read(os.path.join(directory, "SHA256SUMS"))
    if sums is None:
        return ["SHA256SUMS is missing"]
    listed, problems = {}, []
    for line in sums.splitlines():
        match = re.fullmatch(r"([0-9a-f]{64})  (\S+)", line)
        if not match or "/" in match.group(2):
            problems.append(f"SHA256SUMS: unreadable line {line!r}")
            continue
        listed[match.group(2)] = match.group(1)
    for name, digest in sorted(listed.items()):
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            problems.append(f"{name} is listed but missing")
        elif manifest.file_sha256(path) != digest:
            problems.append(f"{name} does not match its sha256")
    extra = sorted(set(os.listdir(directory)) - set(listed) - {"SHA256SUMS"})
    problems += [f"{name} is not in SHA256SUMS" for name in extra]
    return problems


def read_bundle(directory):
    """{file name: text} of a verified bundle; EvidenceError naming what is wrong otherwise."""
    if not os.path.isdir(directory):
        raise EvidenceError(f"{directory} is not a directory")
    problems = verify(directory)
    if problems:
        raise EvidenceError(f"the evidence in {directory} does not verify: " + "; ".join(problems))
    return {name: _read(os.path.join(directory, name)) for name in sorted(os.listdir(directory))}


# ---- triage ---------------------------------------------------------------------------------------------


def key_fingerprint(line):
    """(type, 'SHA256:...') of an authorized_keys line (options before the key allowed), or None."""
    for index, word in enumerate(line.split()):
        if word.startswith(("ssh-", "ecdsa-", "sk-")) and index + 1 < len(line.split()):
            blob = line.split()[index + 1]
            try:
                raw = base64.b64decode(blob, validate=True)
            except ValueError:
                return None
            return word, "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")
    return None


def _loads(text, default):
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default


def _finding(severity, kind, item, evidence, detail):
    return {"severity": severity, "kind": kind, "item": item, "evidence": evidence, "detail": detail}


def _owned(owners_text):
    owned = set()
    for line in (owners_text or "").splitlines():
        if ": " in line and not line.startswith("dpkg-query:"):
            for path in line.split(": ", 1)[1].split(", "):
                owned.add(path.strip())
    return owned


def home_rc_paths(root=""):
    """The shell rc files and user unit directories of every account with a home (root's included)."""
    homes = {u["home"].rstrip("/") for u in accounts(_read(root + "/etc/passwd"))}
    homes = sorted((homes - {"", "/nonexistent"}) | {"/root"})
    return tuple(f"{home}/{rc}" for home in homes for rc in USER_RC)


def persistence_files(root=""):
    """{path: text or '-> target'} of every cron table, systemd unit file, rc file and sudoers file."""
    return _files_under(root, CRON_PATHS + UNIT_PATHS + RC_PATHS + SUDO_PATHS + home_rc_paths(root))


def _vouched(path, text, owned, known, rc_files):
    """Whether something vouches for a persistence file the baseline does not hold."""
    if path in owned or path in known or path.startswith("/run/systemd/transient/session-"):
        return True
    target = text[3:] if text.startswith("-> ") else None
    if target is not None and (
        target in owned or target == "/dev/null" or target.startswith(("/lib/systemd/", "/usr/lib/systemd/"))
    ):
        return True  # a package's unit enabled (or masked)
    if MANAGED_MARK in text[:400]:
        return True
    base = path.rsplit("/", 1)[-1]
    if text and rc_files.get(f"/etc/skel/{base}") == text:
        return True
    return path.endswith("/ld.so.preload") and not text.strip()


def _persistence(bundle, expect, trusted):
    """Persistence entries that nothing vouches for. A file the baseline holds must still read the same; any
    other must be owned by a package, listed in known_files, a copy of /etc/skel's, an enabled package unit,
    or carry rackwright's managed marker (which can be forged: the file itself is in the evidence)."""
    owned = _owned(bundle.get("11-owners.txt"))
    known = set(expect.get("known_files") or [])
    rc_files = _loads(bundle.get("10-rc-files.json"), {})
    out = []
    for name, kind in (
        ("08-cron.json", "cron"),
        ("09-units.json", "systemd unit"),
        ("10-rc-files.json", "rc file"),
        ("06-sudoers.json", "sudoers"),
    ):
        for path, text in sorted(_loads(bundle.get(name), {}).items()):
            text = text or ""
            first = next(
                (ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), ""
            )
            severity = (
                "critical" if kind in ("cron", "sudoers") or path.endswith("/ld.so.preload") else "warning"
            )
            if trusted is not None and path in trusted:
                if trusted[path] == text:
                    continue
                why = "changed since the baseline"
            elif _vouched(path, text, owned, known, rc_files):
                continue
            else:
                why = "not in the baseline, owned by no package, not listed as known"
            out.append(_finding(severity, "persistence", path, name, f"{kind} {why}: {first[:160]}"))
    return out


def findings(bundle, baseline=None, expect=None):
    """Triage of a verified BUNDLE ({file: text}) against BASELINE (the trusted ``{binaries, files}``: the
    manifest entries of the executable directories and the persistence files' texts, or None) and EXPECT
    ({known_keys, ports, known_files}).
    Returns [{severity, kind, item, evidence, detail}], the most severe first."""
    expect = expect or {}
    out = []
    users = accounts(bundle.get("06-passwd.txt"))
    for user in users:
        if user["uid"] == 0 and user["name"] != "root":
            out.append(
                _finding(
                    "critical",
                    "uid-0 account",
                    user["name"],
                    "06-passwd.txt",
                    f"{user['name']} has uid 0 (root's powers), home {user['home']}, shell {user['shell']}",
                )
            )
    known = {fp for fp in (key_fingerprint(k) for k in expect.get("known_keys") or []) if fp}
    for path, entry in sorted(_loads(bundle.get("07-authorized_keys.json"), {}).items()):
        for line in (entry.get("text") or "").splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fingerprint = key_fingerprint(line)
            if fingerprint is None:
                out.append(
                    _finding(
                        "warning",
                        "unknown key",
                        f"{entry.get('user')}: unreadable line",
                        "07-authorized_keys.json",
                        f"{path}: {line[:80]}",
                    )
                )
            elif fingerprint not in known:
                comment = line.split()[-1] if len(line.split()) > 2 else ""
                out.append(
                    _finding(
                        "critical",
                        "unknown key",
                        f"{entry.get('user')}: {fingerprint[1]}",
                        "07-authorized_keys.json",
                        f"{path} lets in a {fingerprint[0]} key that is not in the inventory"
                        + (f" ({comment})" if comment else ""),
                    )
                )
    procs = {p["pid"]: p for p in _loads(bundle.get("01-processes.json"), [])}
    for proc in procs.values():
        exe = proc.get("exe") or ""
        if exe.startswith("/memfd:"):
            out.append(
                _finding(
                    "critical",
                    "fileless process",
                    f"pid {proc['pid']} {exe}",
                    "01-processes.json",
                    f"process {proc['pid']} runs from memory, with no file on disk: "
                    f"{proc.get('cmdline', '')[:200]}",
                )
            )
        elif proc.get("deleted"):
            out.append(
                _finding(
                    "warning",
                    "deleted binary",
                    f"pid {proc['pid']} {exe}",
                    "01-processes.json",
                    f"process {proc['pid']} runs {exe}, deleted from disk since it started (an upgrade "
                    f"does that too: compare with the package log): {proc.get('cmdline', '')[:200]}",
                )
            )
    served = []
    for port in expect.get("ports") or []:
        low, _sep, high = str(port).partition("-")
        if low.strip().isdigit() and (not high or high.strip().isdigit()):
            served.append((int(low), int(high or low)))
    seen = set()
    for sock in _loads(bundle.get("02-sockets.json"), []):
        listening = sock.get("state") in ("listen", "bound")
        served_here = any(low <= sock.get("port", -1) <= high for low, high in served)
        if not listening or served_here or sock.get("local", "").startswith(("127.", "::1")):
            continue
        key = (sock["proto"].rstrip("6"), sock["port"])
        if key in seen:
            continue
        seen.add(key)
        proc = procs.get(sock.get("pid")) or {}
        who = f"{proc.get('exe') or proc.get('name') or 'unknown process'} (pid {sock.get('pid')})"
        out.append(
            _finding(
                "warning",
                "listener",
                f"{key[0]}/{key[1]}",
                "02-sockets.json",
                f"{who} listens on {sock['local']}:{sock['port']}, not a port this host serves",
            )
        )
    out += _persistence(bundle, expect, (baseline or {}).get("files"))
    current = _loads(bundle.get("12-binaries.json"), None)
    if baseline is None:
        out.append(
            _finding(
                "unknown",
                "binaries",
                "no trusted baseline",
                "12-binaries.json",
                "the controller holds no baseline of this host's binaries (playbooks/baseline.yml "
                "records it at install time); only the host's own package database was asked",
            )
        )
        for line in (bundle.get("12-dpkg-verify.txt") or "").splitlines():
            parts = line.split()
            if (
                len(parts) >= 2
                and "5" in parts[0][:3]
                and parts[-1].startswith(tuple(r + "/" for r in BINARY_ROOTS))
            ):
                out.append(
                    _finding(
                        "critical",
                        "modified binary",
                        parts[-1],
                        "12-dpkg-verify.txt",
                        f"{parts[-1]} differs from its package's checksum (dpkg --verify, which "
                        "trusts the host's own database)",
                    )
                )
    elif current is None:
        out.append(
            _finding(
                "unknown",
                "binaries",
                "not collected",
                "12-binaries.json",
                "the bundle holds no manifest of the binaries",
            )
        )
    else:
        diff = manifest.compare(baseline.get("binaries") or [], current, ignore=BINARY_IGNORE, limit=200)
        for path in diff["differ"]:
            fields = ", ".join(sorted(path["fields"]))
            out.append(
                _finding(
                    "critical",
                    "modified binary",
                    path["path"],
                    "12-binaries.json",
                    f"{path['path']} differs from the baseline ({fields})",
                )
            )
        for path in diff["extra"]:
            out.append(
                _finding(
                    "critical", "added binary", path, "12-binaries.json", f"{path} is not in the baseline"
                )
            )
        for path in diff["missing"]:
            out.append(
                _finding(
                    "warning",
                    "removed binary",
                    path,
                    "12-binaries.json",
                    f"{path} was in the baseline and is gone",
                )
            )
    preload = (_loads(bundle.get("10-rc-files.json"), {}).get("/etc/ld.so.preload") or "").strip()
    if preload and not preload.startswith("-> "):
        out.append(
            _finding(
                "critical",
                "ld.so.preload",
                "/etc/ld.so.preload",
                "10-rc-files.json",
                f"every program loads {preload.splitlines()[0]}",
            )
        )
    order = {"critical": 0, "warning": 1, "unknown": 2}
    return sorted(out, key=lambda f: (order.get(f["severity"], 3), f["kind"], f["item"]))


def accounts_to_lock(found, keep=("root",)):
    """The accounts a containment locks: every non-root uid-0 account and every account with an unknown
    key named in FOUND (root and the accounts in KEEP stay: locking them would lock the technician out)."""
    names = []
    for finding in found:
        if finding["kind"] == "uid-0 account":
            names.append(finding["item"])
        elif finding["kind"] == "unknown key":
            names.append(finding["item"].split(":", 1)[0])
    return sorted({name for name in names if name not in keep})


def status(found):
    """The incident's status: critical when a critical finding exists, else warning, else ok."""
    severities = {f["severity"] for f in found}
    for level in ("critical", "warning", "unknown"):
        if level in severities:
            return level
    return "ok"


def report_markdown(record):
    """The security incident record as Markdown: what was collected, sealed, found and done."""
    details = record.get("details") or {}
    lines = [f"# Security incident on {record.get('host')}: {record.get('status')}", ""]
    custody = details.get("custody") or {}
    if custody:
        lines += [
            "## Evidence",
            "",
            f"- bundle: `{custody.get('bundle')}` ({custody.get('files')} files), SHA256SUMS "
            f"{custody.get('sha256sums')}, verified on the controller: {custody.get('verified')}",
            f"- collected {custody.get('collected')} by {custody.get('operator')} from "
            f"{custody.get('controller')} as {custody.get('remote_user')}@{record.get('host')}",
            "",
        ]
    found = details.get("findings") or []
    lines += ["## Findings", ""]
    if not found:
        lines.append("Nothing in the evidence matched a rule. That is no proof the host is clean.")
    for f in found:
        lines.append(
            f"- **{f['severity']}** {f['kind']} `{f['item']}`: {f['detail']} (evidence: `{f['evidence']}`)"
        )
    contained = details.get("containment")
    lines += ["", "## Containment", ""]
    if contained:
        lines.append(f"- firewall: {contained.get('firewall')}")
        lines.append(f"- accounts locked: {', '.join(contained.get('locked') or []) or 'none'}")
        lines.append("- the evidence on the host was left as it was")
    else:
        lines.append(
            "Not contained: re-run with `-e confirm_contain=" + str(record.get("host")) + "` to allow SSH "
            "from the admin networks only and lock the accounts named above."
        )
    return "\n".join(lines) + "\n"
