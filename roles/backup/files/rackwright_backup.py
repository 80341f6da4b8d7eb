#!/usr/bin/python3
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rackwright-backup: run restic backup jobs, retention, checks and restore tests; record JSON status.

Installed by the rackwright ``backup`` role as /usr/local/sbin/rackwright-backup and started by its systemd
units. Reads /etc/rackwright/backup/config.json (written by the role); the repository password is read by
restic from the file named there (never on a command line). Every command writes a status JSON file under the
state directory that reports collect, and exits non-zero with a one-line reason on failure.

    rackwright-backup init                  create the repository if there is none (prints JSON)
    rackwright-backup run JOB               hooks, backup, retention  -> <state>/<job>-status.json
    rackwright-backup restore-test JOB      restore a sample, compare -> <state>/<job>-restore-test.json
    rackwright-backup check                 restic check              -> <state>/check-status.json
    rackwright-backup restore JOB [--target DIR] [--snapshot ID] [--include PATH ...]
    rackwright-backup snapshots JOB         the job's snapshots as JSON
"""

import argparse
import datetime
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

CONFIG = os.environ.get("RACKWRIGHT_BACKUP_CONFIG", "/etc/rackwright/backup/config.json")

# restic's messages (0.14 .. 0.17) -> what a technician should read.
DIAGNOSES = (
    ("wrong password", "wrong password: the repository key does not match backup_password"),
    ("no key found", "wrong password: the repository key does not match backup_password"),
    ("Is there a repository at the following location?", "no repository at this location (not initialised?)"),
    ("repository does not exist", "no repository at this location (not initialised?)"),
    ("Permission denied (publickey", "repository unreachable: the SFTP server refused this host's SSH key"),
    (
        "Host key verification failed",
        "repository unreachable: the SFTP server's host key is not the known one",
    ),
    ("Connection refused", "repository unreachable: connection refused"),
    ("Connection timed out", "repository unreachable: connection timed out"),
    ("No route to host", "repository unreachable: no route to host"),
    ("Could not resolve hostname", "repository unreachable: host name does not resolve"),
    ("ssh: connect to host", "repository unreachable"),
    ("unable to start the sftp session", "repository unreachable: the SFTP session did not start"),
    ("subprocess ssh", "repository unreachable"),
    ("unable to open repository", "repository unreachable"),
    ("repository is already locked", "repository is locked by another restic process"),
)


class JobError(Exception):
    """A failure with a reason for humans."""


def now():
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


# Every key the backup role's config.json.j2 writes. The role holds the defaults (its argument spec and
# template); this runner takes none of its own, so a setting has one default, and a config that lacks a key is
# named as such instead of quietly getting another value here.
CONFIG_KEYS = (
    "host",
    "repository",
    "password_file",
    "sftp_command",
    "state_dir",
    "cache_dir",
    "scratch_dir",
    "check_read_data_subset",
    "jobs",
)
JOB_KEYS = ("paths", "excludes", "pre_hooks", "post_hooks", "one_file_system", "keep", "restore_test_sample")


def load_config(path=CONFIG):
    """The role's config.json, with every key present (exits naming the file and what it lacks)."""
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except (OSError, ValueError) as exc:
        raise SystemExit(
            f"rackwright-backup: cannot read {path}: {exc} (the backup role writes it)"
        ) from None
    problems = []
    if not isinstance(config, dict) or not isinstance(config.get("jobs"), dict):
        problems.append("expected an object with a 'jobs' object")
    else:
        problems += [f"lacks {key!r}" for key in CONFIG_KEYS if key not in config]
        for name, job in config["jobs"].items():
            missing = [key for key in JOB_KEYS if not isinstance(job, dict) or key not in job]
            if missing:
                problems.append(f"job {name!r} lacks {', '.join(map(repr, missing))}")
    if problems:
        raise SystemExit(
            f"rackwright-backup: {path}: {'; '.join(problems)} (re-run the backup role to rewrite it)"
        )
    return config


def diagnose(stderr):
    """The first known restic/ssh failure in STDERR, as a readable reason (or the last line)."""
    for needle, reason in DIAGNOSES:
        if needle in stderr:
            return reason
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else "restic failed without a message"


def fatal_line(stderr):
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith("Fatal:")]
    return (fatal or lines or [""])[-1][:400]


class Restic:
    """restic with the host's repository, password file and SFTP command."""

    def __init__(self, config, runner=subprocess.run):
        self.config = config
        self.runner = runner

    def argv(self, *args):
        argv = [self.config.get("restic", "restic"), "--repo", self.config["repository"]]
        if self.config["sftp_command"]:
            argv += ["--option", f"sftp.command={self.config['sftp_command']}"]
        if self.config["cache_dir"]:
            argv += ["--cache-dir", self.config["cache_dir"]]
        return argv + list(args)

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
        env.update(RESTIC_PASSWORD_FILE=self.config["password_file"], LC_ALL="C")
        return env

    def run(self, *args, check=True, timeout=None):
        proc = self.runner(
            self.argv(*args), env=self.env(), capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise JobError(
                f"{diagnose(proc.stderr)} (repository {self.config['repository']}; "
                f"restic {args[0]} exit {proc.returncode}: {fatal_line(proc.stderr)})"
            )
        return proc

    def json_lines(self, text):
        out = []
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("{") or line.startswith("["):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out


def write_json(config, name, data):
    state_dir = config["state_dir"]
    os.makedirs(state_dir, mode=0o755, exist_ok=True)
    path = os.path.join(state_dir, name)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def job_config(config, name):
    try:
        return config["jobs"][name]
    except KeyError:
        raise JobError(f"no backup job {name!r} on this host (jobs: {sorted(config['jobs'])})") from None


def run_hooks(hooks, phase, job):
    for hook in hooks:
        proc = subprocess.run(["/bin/sh", "-c", hook], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
            raise JobError(
                f"{phase} hook of job {job!r} failed (exit {proc.returncode}): {hook!r}: {tail[0][:300]}"
            )


def cmd_init(config, restic):
    probe = restic.run("cat", "config", check=False)
    if probe.returncode == 0:
        return {"created": False, "repository": config["repository"]}
    reason = diagnose(probe.stderr)
    if not reason.startswith("no repository"):
        raise JobError(
            f"{reason} (repository {config['repository']}; restic cat config: {fatal_line(probe.stderr)})"
        )
    restic.run("init")
    return {"created": True, "repository": config["repository"]}


def cmd_run(config, restic, name):
    job = job_config(config, name)
    status = {
        "job": name,
        "host": config["host"],
        "repository": config["repository"],
        "started": now(),
        "result": "failed",
        "snapshot_id": None,
        "message": "",
    }
    begin = time.monotonic()
    try:
        try:
            run_hooks(job["pre_hooks"], "pre", name)
            paths = [p for p in job["paths"] if os.path.lexists(p)]
            status["missing_paths"] = [p for p in job["paths"] if p not in paths]
            if not paths:
                raise JobError(f"none of the paths exists: {job['paths']}")
            args = ["backup", "--json", "--host", config["host"], "--tag", f"job:{name}"]
            if job["one_file_system"]:
                args.append("--one-file-system")
            for pattern in job["excludes"]:
                args += ["--exclude", pattern]
            proc = restic.run(*args, *paths, check=False)
            summary = next(
                (m for m in restic.json_lines(proc.stdout) if m.get("message_type") == "summary"), {}
            )
            status["snapshot_id"] = summary.get("snapshot_id")
            status.update({k: summary.get(k) for k in ("files_new", "files_changed", "data_added")})
            if proc.returncode == 3 and status["snapshot_id"]:
                status["result"] = "partial"
                status["message"] = (
                    f"snapshot {status['snapshot_id'][:8]} is incomplete: some files were unreadable"
                )
            elif proc.returncode != 0 or not status["snapshot_id"]:
                raise JobError(
                    f"{diagnose(proc.stderr)} (repository {config['repository']}; restic backup exit "
                    f"{proc.returncode}: {fatal_line(proc.stderr)})"
                )
            else:
                status["result"] = "ok"
                status["message"] = f"snapshot {status['snapshot_id'][:8]} saved"
            keep = job["keep"]
            forget = ["forget", "--prune", "--host", config["host"], "--tag", f"job:{name}"]
            for period in ("daily", "weekly", "monthly"):
                if keep.get(period):
                    forget += [f"--keep-{period}", str(keep[period])]
            if len(forget) > 6:
                done = restic.run(*forget, check=False)
                if done.returncode != 0:
                    status["retention"] = f"forget --prune failed: {diagnose(done.stderr)}"
        finally:
            run_hooks(job["post_hooks"], "post", name)
    except JobError as exc:
        status["result"] = "failed"
        status["message"] = f"backup job {name!r} failed: {exc}"
    status["finished"] = now()
    status["duration_s"] = round(time.monotonic() - begin, 1)
    write_json(config, f"{name}-status.json", status)
    return status


def latest_snapshot(config, restic, name):
    proc = restic.run("snapshots", "--json", "--host", config["host"], "--tag", f"job:{name}")
    snaps = json.loads(proc.stdout or "[]")
    if not snaps:
        raise JobError(f"job {name!r} has no snapshot in {config['repository']} yet")
    return sorted(snaps, key=lambda s: s["time"])[-1]


def parse_time_us(text):
    """RFC 3339 with nanoseconds -> microseconds since the epoch (exact integer)."""
    stamp = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (stamp - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)) // datetime.timedelta(microseconds=1)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def compare_sample(nodes, scratch):
    """Compare each restored file with its source. Returns (checked, mismatches, skipped)."""
    checked, mismatches, skipped = [], [], []
    for node in nodes:
        path = node["path"]
        restored = os.path.join(scratch, path.lstrip("/"))
        if not os.path.isfile(restored):
            mismatches.append({"path": path, "reason": "not restored"})
            continue
        if os.path.getsize(restored) != node.get("size", 0):
            mismatches.append(
                {"path": path, "reason": f"restored size {os.path.getsize(restored)} != {node['size']}"}
            )
            continue
        try:
            st = os.stat(path)
        except FileNotFoundError:
            skipped.append({"path": path, "reason": "deleted at the source since the snapshot"})
            continue
        if st.st_size != node.get("size") or st.st_mtime_ns // 1000 != parse_time_us(node["mtime"]):
            skipped.append({"path": path, "reason": "changed at the source since the snapshot"})
            continue
        source, copy = sha256(path), sha256(restored)
        if source != copy:
            mismatches.append({"path": path, "reason": f"sha256 {copy[:16]} != source {source[:16]}"})
        else:
            checked.append({"path": path, "sha256": source})
    return checked, mismatches, skipped


def cmd_restore_test(config, restic, name):
    job = job_config(config, name)
    report = {
        "job": name,
        "host": config["host"],
        "time": now(),
        "result": "failed",
        "snapshot_id": None,
        "files_total": 0,
        "files_sampled": 0,
        "files_checked": 0,
        "mismatches": [],
        "skipped": [],
        "message": "",
    }
    scratch = None
    try:
        snap = latest_snapshot(config, restic, name)
        report["snapshot_id"] = snap["id"]
        report["snapshot_time"] = snap["time"]
        listing = restic.run("ls", "--json", snap["id"])
        nodes = [
            n
            for n in restic.json_lines(listing.stdout)
            if n.get("struct_type") == "node" and n.get("type") == "file"
        ]
        report["files_total"] = len(nodes)
        if not nodes:
            raise JobError(f"snapshot {snap['id'][:8]} holds no files")
        sample = random.Random(snap["id"]).sample(nodes, min(int(job["restore_test_sample"]), len(nodes)))
        report["files_sampled"] = len(sample)
        base = config["scratch_dir"]
        os.makedirs(base, mode=0o700, exist_ok=True)
        scratch = tempfile.mkdtemp(prefix=f"restore-test-{name}-", dir=base)
        args = ["restore", snap["id"], "--target", scratch]
        for node in sample:
            args += ["--include", node["path"]]
        restic.run(*args)
        checked, mismatches, skipped = compare_sample(sample, scratch)
        report.update(files_checked=len(checked), mismatches=mismatches, skipped=skipped, checked=checked)
        if mismatches:
            report["message"] = f"{len(mismatches)} of {len(sample)} restored files differ from the source"
        elif not checked:
            report["message"] = (
                "every sampled file changed at the source since the snapshot: nothing to compare"
            )
        else:
            report["result"] = "passed"
            report["message"] = (
                f"{len(checked)} files restored from snapshot {snap['id'][:8]} match the source (sha256)"
                + (f", {len(skipped)} changed since the snapshot were skipped" if skipped else "")
            )
    except JobError as exc:
        report["message"] = f"restore test of job {name!r} failed: {exc}"
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    report["finished"] = now()
    write_json(config, f"{name}-restore-test.json", report)
    return report


def cmd_check(config, restic):
    status = {
        "host": config["host"],
        "repository": config["repository"],
        "started": now(),
        "result": "failed",
    }
    args = ["check"]
    if config["check_read_data_subset"]:
        args += ["--read-data-subset", str(config["check_read_data_subset"])]
    try:
        restic.run(*args)
        status.update(result="ok", message="repository check passed")
    except JobError as exc:
        status["message"] = f"repository check failed: {exc}"
    status["finished"] = now()
    write_json(config, "check-status.json", status)
    return status


def cmd_restore(config, restic, name, target, snapshot, includes):
    job_config(config, name)
    snap_id = snapshot or latest_snapshot(config, restic, name)["id"]
    args = ["restore", snap_id, "--target", target]
    for path in includes:
        args += ["--include", path]
    restic.run(*args)
    return {"job": name, "snapshot_id": snap_id, "target": target, "includes": includes, "result": "ok"}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="rackwright-backup", description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--config", default=CONFIG)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init")
    sub.add_parser("check")
    for cmd in ("run", "restore-test", "snapshots"):
        sub.add_parser(cmd).add_argument("job")
    restore = sub.add_parser("restore")
    restore.add_argument("job")
    restore.add_argument("--target", default="/")
    restore.add_argument("--snapshot")
    restore.add_argument("--include", action="append", default=[])
    args = parser.parse_args(argv)
    config = load_config(args.config)
    restic = Restic(config)
    try:
        if args.command == "init":
            result = cmd_init(config, restic)
        elif args.command == "run":
            result = cmd_run(config, restic, args.job)
        elif args.command == "restore-test":
            result = cmd_restore_test(config, restic, args.job)
        elif args.command == "check":
            result = cmd_check(config, restic)
        elif args.command == "snapshots":
            job_config(config, args.job)
            proc = restic.run("snapshots", "--json", "--host", config["host"], "--tag", f"job:{args.job}")
            result = {"job": args.job, "snapshots": json.loads(proc.stdout or "[]"), "result": "ok"}
        else:
            result = cmd_restore(config, restic, args.job, args.target, args.snapshot, args.include)
    except JobError as exc:
        print(f"rackwright-backup {args.command}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, sort_keys=True))
    if result.get("result") in ("failed",):
        print(result.get("message", "failed"), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
