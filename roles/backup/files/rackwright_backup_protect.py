#!/usr/bin/python3
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rackwright-backup-protect: root-only copies of every client's restic repository on the backup host.

Installed by the rackwright ``backup`` role (entry point ``server``) as
/usr/local/sbin/rackwright-backup-protect and started by rackwright-backup-protect.timer. Each client reaches
only its own repository, through a chrooted SFTP account; this tool keeps what the client uploaded beyond that
client's reach, so a compromised client (ransomware running ``restic forget --prune``, or ``rm`` over SFTP)
cannot destroy its backups:

    rackwright-backup-protect snapshot         copy each changed repository -> <protect_dir>/<account>/<stamp>
    rackwright-backup-protect list [ACCOUNT]   the protected copies as JSON
    rackwright-backup-protect restore ACCOUNT [--copy STAMP]
                                               put a protected copy (default: the newest) in place of the
                                               client's repository; the replaced one is kept beside it

A copy is owned by root (like ``rsync --archive --no-owner --link-dest=<previous copy>``): files unchanged
since the previous copy are hard links to that copy's inodes (restic's files are content-addressed and never
rewritten, so a copy costs only the new packs), new files are copied. The copies never share an inode with the
client's tree, so nothing the client does to its own files reaches them. Copies older than
``protect_days`` are deleted, the newest copy never. Reads /etc/rackwright/backup-server.json (written by
the role); writes <state_dir>/protect-status.json.
"""

import argparse
import datetime
import hashlib
import json
import os
import pwd
import shutil
import stat
import sys

CONFIG = os.environ.get("RACKWRIGHT_BACKUP_SERVER_CONFIG", "/etc/rackwright/backup-server.json")
STAMP = "%Y%m%dT%H%M%SZ"


class ProtectError(Exception):
    """A failure with a reason for humans."""


def now():
    return datetime.datetime.now(datetime.UTC)


def load_config(path=CONFIG):
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ProtectError(f"cannot read the configuration {path}: {exc}") from None
    missing = [
        key for key in ("server_root", "protect_dir", "protect_days", "repository") if key not in config
    ]
    if missing:
        raise ProtectError(f"{path} lacks {missing}")
    return config


def accounts(config):
    """Client accounts: <server_root>/<account>/<repository> directories (not symlinks), sorted."""
    root = config["server_root"]
    found = []
    for name in sorted(os.listdir(root)):
        repo = os.path.join(root, name, config["repository"])
        plain = not os.path.islink(os.path.join(root, name)) and not os.path.islink(repo)
        if not name.startswith(".") and plain and os.path.isdir(repo):
            found.append(name)
    return found


def fingerprint(repo):
    """sha256 over (path, size, mtime) of every file restic keeps (locks and uploads in progress left out)."""
    digest = hashlib.sha256()
    count = size = 0
    for top, dirs, files in os.walk(repo):  # os.walk never follows symlinks
        dirs.sort()
        rel = os.path.relpath(top, repo)
        if rel == "locks":
            continue
        for name in sorted(files):
            if "-restic-temp-" in name:
                continue
            st = os.lstat(os.path.join(top, name))
            digest.update(f"{rel}/{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            count += 1
            size += st.st_size
    return digest.hexdigest(), count, size


def _same_file(path, st):
    try:
        old = os.lstat(path)
    except FileNotFoundError:
        return False
    return stat.S_ISREG(old.st_mode) and (old.st_size, old.st_mtime_ns) == (st.st_size, st.st_mtime_ns)


def copy_tree(source, target, previous=None):
    """Copy SOURCE to TARGET (root-owned, directories 0700, files 0600); a file unchanged since PREVIOUS (same
    size and mtime) becomes a hard link to the copy there. Safe against a client changing its tree during the
    walk: directories are opened by fwalk (never through a symlink), files with O_NOFOLLOW, and anything that
    is not a plain file or directory is left out. Returns (files copied, files linked)."""
    copied = linked = 0
    for top, dirs, files, dirfd in os.fwalk(source):
        rel = os.path.relpath(top, source)
        dest = os.path.normpath(os.path.join(target, rel))
        os.makedirs(dest, mode=0o700, exist_ok=True)
        if rel == "locks":
            dirs[:] = []
            continue
        for name in sorted(files):
            if "-restic-temp-" in name:
                continue
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dirfd)
            except OSError:  # a symlink (ELOOP), or gone since the listing (restic's prune)
                continue
            with os.fdopen(fd, "rb") as src:
                st = os.fstat(src.fileno())
                if not stat.S_ISREG(st.st_mode):
                    continue
                old = os.path.join(previous, rel, name) if previous else None
                out = os.path.join(dest, name)
                if old and _same_file(old, st):
                    os.link(old, out)
                    linked += 1
                    continue
                with open(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))
                copied += 1
    os.chmod(target, 0o700)
    return copied, linked


def copies(config, account):
    """Finished copies of ACCOUNT, oldest first, each with its metadata."""
    base = os.path.join(config["protect_dir"], account)
    if not os.path.isdir(base):
        return []
    out = []
    for name in sorted(os.listdir(base)):
        meta = os.path.join(base, name + ".json")
        if name.endswith(".json") or name.endswith(".partial") or not os.path.isfile(meta):
            continue
        with open(meta, encoding="utf-8") as handle:
            out.append({**json.load(handle), "path": os.path.join(base, name)})
    return out


def snapshot_one(config, account):
    repo = os.path.join(config["server_root"], account, config["repository"])
    digest, files, size = fingerprint(repo)
    previous = copies(config, account)
    result = {"account": account, "source": repo, "files": files, "bytes": size, "fingerprint": digest}
    if previous and previous[-1]["fingerprint"] == digest:
        return {**result, "copy": previous[-1]["stamp"], "changed": False}
    os.makedirs(config["protect_dir"], mode=0o700, exist_ok=True)
    os.chmod(config["protect_dir"], 0o700)
    base = os.path.join(config["protect_dir"], account)
    os.makedirs(base, mode=0o700, exist_ok=True)
    stamp = now().strftime(STAMP)
    for n in range(1, 100):  # two copies within one second: stamp-1, stamp-2, ...
        if not os.path.lexists(os.path.join(base, stamp)):
            break
        stamp = f"{now().strftime(STAMP)}-{n}"
    target = os.path.join(base, stamp)
    partial = target + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        copied, linked = copy_tree(repo, partial, previous[-1]["path"] if previous else None)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    result.update(files_copied=copied, files_linked=linked)
    os.chmod(partial, 0o700)
    os.rename(partial, target)
    removed = []
    if previous:
        old = set(previous[-1].get("snapshots", []))
        removed = sorted(old - set(_snapshots(target)))
    meta = {
        **result,
        "stamp": stamp,
        "time": now().isoformat(timespec="seconds"),
        "snapshots": _snapshots(target),
    }
    meta["snapshots_removed_since_previous"] = removed
    with open(target + ".json", "w", encoding="utf-8") as handle:
        json.dump(meta, handle, indent=2, sort_keys=True)
    return {**result, "copy": stamp, "changed": True, "snapshots_removed_since_previous": removed}


def _snapshots(path):
    snaps = os.path.join(path, "snapshots")
    return sorted(os.listdir(snaps)) if os.path.isdir(snaps) else []


def expire(config, account, when=None):
    """Delete copies older than protect_days, never the newest one. Returns the stamps deleted."""
    when = when or now()
    limit = when - datetime.timedelta(days=int(config["protect_days"]))
    kept = copies(config, account)
    deleted = []
    for copy in kept[:-1]:
        taken = datetime.datetime.strptime(copy["stamp"][:16], STAMP).replace(tzinfo=datetime.UTC)
        if taken < limit:
            shutil.rmtree(copy["path"])
            os.unlink(copy["path"] + ".json")
            deleted.append(copy["stamp"])
    return deleted


def cmd_snapshot(config):
    status = {"time": now().isoformat(timespec="seconds"), "result": "ok", "accounts": [], "errors": []}
    for account in accounts(config):
        try:
            entry = snapshot_one(config, account)
            entry["expired"] = expire(config, account)
            entry["copies"] = len(copies(config, account))
            status["accounts"].append(entry)
        except (ProtectError, OSError) as exc:
            status["errors"].append(f"{account}: {exc}")
    if status["errors"]:
        status["result"] = "failed"
        status["message"] = "; ".join(status["errors"])
    else:
        status["message"] = f"{len(status['accounts'])} repositories protected"
    write_status(config, status)
    return status


def write_status(config, status):
    state = config.get("state_dir")
    if not state:
        return
    os.makedirs(state, mode=0o755, exist_ok=True)
    path = os.path.join(state, "protect-status.json")
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(status, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.chmod(path + ".tmp", 0o644)
    os.replace(path + ".tmp", path)


def cmd_restore(config, account, stamp=None):
    if account not in accounts(config) and not os.path.isdir(os.path.join(config["protect_dir"], account)):
        raise ProtectError(f"no client account {account!r} (accounts: {accounts(config)})")
    available = copies(config, account)
    chosen = [c for c in available if stamp in (None, c["stamp"])]
    if not chosen:
        raise ProtectError(
            f"no protected copy {stamp or ''} of {account!r} (copies: {[c['stamp'] for c in available]})"
        )
    copy = chosen[-1]
    repo = os.path.join(config["server_root"], account, config["repository"])
    try:
        entry = pwd.getpwnam(account)
    except KeyError:
        raise ProtectError(
            f"no user {account!r} on this host: run playbooks/backup.yml for the client first"
        ) from None
    uid, gid = entry.pw_uid, entry.pw_gid
    aside = f"{repo}.replaced-{now().strftime(STAMP)}"
    staging = repo + ".restoring"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(copy["path"], staging, symlinks=True)
    for top, dirs, files in os.walk(staging):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(top, name), uid, gid)
    os.lchown(staging, uid, gid)
    os.chmod(staging, 0o700)
    if os.path.lexists(repo):
        os.rename(repo, aside)
    else:
        aside = None
    os.rename(staging, repo)
    return {
        "account": account,
        "restored": copy["stamp"],
        "snapshots": copy.get("snapshots", []),
        "repository": repo,
        "replaced_kept_at": aside,
        "result": "ok",
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="rackwright-backup-protect",
        description=__doc__.split("\n", maxsplit=1)[0],
    )
    parser.add_argument("--config", default=CONFIG)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("snapshot")
    sub.add_parser("list").add_argument("account", nargs="?")
    restore = sub.add_parser("restore")
    restore.add_argument("account")
    restore.add_argument("--copy", help="stamp of the copy (default: the newest)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        if args.command == "snapshot":
            result = cmd_snapshot(config)
        elif args.command == "list":
            names = [args.account] if args.account else accounts(config)
            result = {name: copies(config, name) for name in names}
        else:
            result = cmd_restore(config, args.account, args.copy)
    except (ProtectError, OSError) as exc:
        print(f"rackwright-backup-protect {args.command}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, sort_keys=True))
    if isinstance(result, dict) and result.get("result") == "failed":
        print(result.get("message", "failed"), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
