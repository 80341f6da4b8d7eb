# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A manifest of a directory tree taken at one instant, and the comparison of two manifests.

What a server replacement proves "nothing lost" with: one entry per path (relative to the root, the root
itself as ``.``) with its type, size, mode, owner, mtime, sha256, link target, device numbers, extended
attributes (POSIX ACLs are the ``system.posix_acl_*`` attributes) and hard-link group. It avoids the failure
modes of hashdeep audits (``../shared/notes/anchors-next.md``, c): paths are relative (a moved tree compares),
names with newlines or bytes that are not UTF-8 are escaped reversibly (``%0A``, ``%FF``; ``%`` itself is
``%25``), a file missing on one side is reported even when an identical copy exists elsewhere (entries are
matched by path, never by hash), and two manifests compare without re-hashing anything. A hash cache keyed by
device, inode, size, mtime and ctime lets an interrupted or repeated manifest skip the files it already read.

The manifest file is JSON lines: a header ``{"rackwright_manifest": 1, "root": ...}``, the entries sorted by
path bytes, and an ``{"end": summary}`` line; a file without its end line is incomplete and refused.
"""

import hashlib
import json
import os
import stat
import time

FORMAT = 1
# The fields compared between two entries of the same path, in report order.
FIELDS = (
    "type",
    "size",
    "mode",
    "uid",
    "gid",
    "mtime_ns",
    "sha256",
    "target",
    "rdev",
    "xattrs",
    "link_group",
)
# The entry type by the file-type bits of st_mode (one lookup per entry).
TYPES = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink", stat.S_IFCHR: "char"}
TYPES.update({stat.S_IFBLK: "block", stat.S_IFIFO: "fifo", stat.S_IFSOCK: "socket"})
_PLAIN = frozenset(range(0x20, 0x7F)) - {ord("%")}
CHUNK = 1024 * 1024
CACHE_SAVE_S = 30.0


class ManifestError(Exception):
    """A manifest cannot be taken or read; the message names the path and what was expected."""


def encode_path(raw):
    """Relative path bytes -> a printable, reversible string: UTF-8 text stays as it is, control bytes, ``%``
    and bytes that are not UTF-8 become ``%XX``."""
    out = []
    i = 0
    while i < len(raw):
        byte = raw[i]
        if byte in _PLAIN:
            out.append(chr(byte))
            i += 1
            continue
        if byte >= 0x80:
            for width in (4, 3, 2):
                try:
                    char = raw[i : i + width].decode("utf-8")
                except UnicodeDecodeError:
                    continue
                if len(char) == 1:
                    out.append(char)
                    i += width
                    break
            else:
                out.append(f"%{byte:02X}")
                i += 1
            continue
        out.append(f"%{byte:02X}")
        i += 1
    return "".join(out)


def decode_path(text):
    """The inverse of encode_path."""
    out = bytearray()
    i = 0
    while i < len(text):
        if text[i] == "%":
            out.append(int(text[i + 1 : i + 3], 16))
            i += 3
        else:
            out += text[i].encode("utf-8")
            i += 1
    return bytes(out)


def _kind(mode):
    return TYPES[stat.S_IFMT(mode)]


def _xattrs(path):
    """name -> sha256 of the value, for every extended attribute of PATH (not following a symlink)."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:  # a filesystem without xattrs, or a symlink where the kernel refuses
        return {}
    found = {}
    for name in sorted(names):
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
        found[name] = hashlib.sha256(value).hexdigest()
    return found


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


class HashCache:
    """sha256 by (device, inode, size, mtime_ns, ctime_ns), kept in a JSON file between runs."""

    def __init__(self, path=None):
        self.path = path
        self.known = {}
        self.hits = self.misses = 0
        self._saved = time.monotonic()
        if path and os.path.exists(path):
            try:
                with open(path, encoding="utf-8") as handle:
                    loaded = json.load(handle)
                self.known = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self.known = {}  # a cache that does not read is only a slower run, never a wrong one

    def sha256(self, path, st):
        key = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
        if key in self.known:
            self.hits += 1
            return self.known[key]
        self.misses += 1
        value = self.known[key] = file_sha256(path)
        if self.path and time.monotonic() - self._saved > CACHE_SAVE_S:
            self.save()
        return value

    def save(self):
        if not self.path:
            return
        tmp = f"{self.path}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(self.known, handle)
        os.replace(tmp, self.path)
        self._saved = time.monotonic()


def _walk(root, one_file_system, skip=()):
    """(relative bytes path, absolute bytes path, lstat) for the root and everything below it, depth first
    in byte order, never following a symlink; SKIP: relative paths (bytes) left out with all below them."""
    root_st = os.lstat(root)
    if not stat.S_ISDIR(root_st.st_mode):
        raise ManifestError(f"{os.fsdecode(root)} is not a directory")
    stack = [(b".", root, root_st)]
    while stack:
        rel, path, st = stack.pop()
        yield rel, path, st
        if not stat.S_ISDIR(st.st_mode) or (one_file_system and st.st_dev != root_st.st_dev):
            continue
        children = []
        with os.scandir(path) as listing:
            for child in listing:
                child_rel = child.name if rel == b"." else rel + b"/" + child.name
                if child_rel in skip:
                    continue
                children.append((child_rel, child.path, os.lstat(child.path)))
        stack.extend(sorted(children, key=lambda item: item[0], reverse=True))


def take(root, cache=None, one_file_system=False, skip=()):
    """The entries of the tree at ROOT (str or bytes), sorted by path, and its summary; SKIP: relative paths
    left out (a filesystem's lost+found, which a copy does not carry)."""
    root = os.fsencode(root)
    skip = {os.fsencode(path).strip(b"/") for path in skip}
    cache = cache or HashCache()
    entries, links = [], {}
    summary = {"entries": 0, "bytes": 0, "types": {}}
    try:
        for rel, path, st in _walk(root, one_file_system, skip):
            kind = _kind(st.st_mode)
            entry = {
                "path": encode_path(rel),
                "type": kind,
                "mode": f"{stat.S_IMODE(st.st_mode):04o}",
                "uid": st.st_uid,
                "gid": st.st_gid,
                "mtime_ns": st.st_mtime_ns,
                "xattrs": _xattrs(path),
            }
            if kind == "file":
                entry["size"] = st.st_size
                entry["sha256"] = cache.sha256(path, st)
                summary["bytes"] += st.st_size
                if st.st_nlink > 1:
                    links.setdefault((st.st_dev, st.st_ino), []).append(entry)
            elif kind == "symlink":
                entry["target"] = encode_path(os.readlink(path))
            elif kind in ("char", "block"):
                entry["rdev"] = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
            entries.append(entry)
            summary["types"][kind] = summary["types"].get(kind, 0) + 1
    except OSError as exc:
        raise ManifestError(f"cannot read {os.fsdecode(exc.filename or root)}: {exc.strerror}") from None
    finally:
        cache.save()
    for group in links.values():
        if len(group) > 1:  # a file whose other names are all outside the tree is no group here
            leader = min(entry["path"] for entry in group)
            for entry in group:
                entry["link_group"] = leader
    summary["entries"] = len(entries)
    summary["hash_cache"] = {"hits": cache.hits, "misses": cache.misses}
    return entries, summary


def write(handle, root, entries, summary):
    """Write a manifest to an open text file."""
    handle.write(
        json.dumps({"rackwright_manifest": FORMAT, "root": os.fsdecode(root)}, sort_keys=True) + "\n"
    )
    for entry in entries:
        handle.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")
    handle.write(json.dumps({"end": summary}, sort_keys=True) + "\n")


def read(path):
    """(header, entries, summary) of the manifest file PATH; an incomplete or foreign file is refused."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot read the manifest {path}: {exc}") from None
    try:
        records = [json.loads(line) for line in lines]
    except ValueError as exc:
        raise ManifestError(f"{path} is not a rackwright manifest (a line is not JSON: {exc})") from None
    if not records or not isinstance(records[0], dict) or records[0].get("rackwright_manifest") != FORMAT:
        raise ManifestError(f"{path} is not a rackwright manifest (format {FORMAT} header missing)")
    if len(records) < 2 or not isinstance(records[-1], dict) or "end" not in records[-1]:
        raise ManifestError(
            f"{path} is incomplete: it has no end line (taken by a run that was interrupted?)"
        )
    entries = records[1:-1]
    if any(not isinstance(entry, dict) or "path" not in entry for entry in entries):
        raise ManifestError(f"{path}: an entry is not an object with a path")
    return records[0], entries, records[-1]["end"]


def compare(source, destination, ignore=(), limit=1000):
    """Compare two entry lists both ways, by path: ``{identical, missing, extra, differ, counts}``.

    missing: paths only in SOURCE; extra: only in DESTINATION; differ: ``{path, fields: {name: [source,
    destination]}}`` for the fields in FIELDS less IGNORE. Each list holds at most LIMIT items (counts has
    them all), so a wholly wrong destination still gives a readable report.
    """
    fields = [name for name in FIELDS if name not in ignore]
    src = {entry["path"]: entry for entry in source}
    dst = {entry["path"]: entry for entry in destination}
    missing = sorted(set(src) - set(dst))
    extra = sorted(set(dst) - set(src))
    differ = []
    for path in sorted(set(src) & set(dst)):
        changed = {
            name: [src[path].get(name), dst[path].get(name)]
            for name in fields
            if src[path].get(name) != dst[path].get(name)
        }
        if changed:
            differ.append({"path": path, "fields": changed})
    counts = {
        "source": len(src),
        "destination": len(dst),
        "identical": len(set(src) & set(dst)) - len(differ),
        "missing": len(missing),
        "extra": len(extra),
        "differ": len(differ),
    }
    return {
        "verified": not (missing or extra or differ),
        "counts": counts,
        "missing": missing[:limit],
        "extra": extra[:limit],
        "differ": differ[:limit],
    }


def describe(result):
    """One sentence for a technician: 'verified: N entries identical' or what differs, first paths named."""
    counts = result["counts"]
    if result["verified"]:
        return f"verified: all {counts['identical']} entries identical on both sides"
    parts = []
    for key, label in (("missing", "missing on the destination"), ("extra", "only on the destination")):
        if counts[key]:
            parts.append(f"{counts[key]} {label} ({', '.join(result[key][:5])})")
    if counts["differ"]:
        first = ", ".join(f"{d['path']} [{'/'.join(d['fields'])}]" for d in result["differ"][:5])
        parts.append(f"{counts['differ']} differ ({first})")
    return "NOT verified: " + "; ".join(parts)
