# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Incidents: what a failed disk calls for, how fresh the last backup is, the incident's timeline and report.

Pure: the incident role (roles/incident) gathers the facts (storage_layout's ``locate``, the backup jobs'
status files) and publishes the ``incident`` result record; these functions judge and render.
"""

import datetime


def _when(text):
    try:
        value = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


def backup_freshness(statuses, now, max_age_hours):
    """How fresh the host's last good backup is. STATUSES: the backup jobs' status documents
    (``<job>-status.json``: job, result, finished, snapshot_id); NOW: an ISO time. Returns {fresh, newest,
    age_hours, jobs, reason}: fresh when every job's last run succeeded within MAX_AGE_HOURS."""
    now = _when(now)
    jobs, problems = [], []
    for status in statuses or []:
        if not isinstance(status, dict) or "job" not in status:
            continue
        finished = _when(status.get("finished"))
        exact = (now - finished).total_seconds() / 3600 if finished and now else None
        age = round(exact, 1) if exact is not None else None
        good = status.get("result") in ("ok", "partial") and bool(status.get("snapshot_id"))
        jobs.append(
            {
                "job": status["job"],
                "result": status.get("result"),
                "finished": status.get("finished"),
                "age_hours": age,
                "snapshot_id": status.get("snapshot_id"),
            }
        )
        if not good:
            problems.append(f"job {status['job']}'s last run {status.get('result') or 'did not finish'}")
        elif exact is None or exact > max_age_hours:
            problems.append(f"job {status['job']}'s last backup is {age} h old (more than {max_age_hours} h)")
    if not jobs:
        return {
            "fresh": False,
            "newest": None,
            "age_hours": None,
            "jobs": [],
            "reason": "no backup job has run on this host (backup_jobs, playbooks/backup.yml)",
        }
    newest = max((j for j in jobs if j["age_hours"] is not None), key=lambda j: -j["age_hours"], default=None)
    return {
        "fresh": not problems,
        "newest": newest["finished"] if newest else None,
        "age_hours": newest["age_hours"] if newest else None,
        "jobs": jobs,
        "reason": "; ".join(problems) or f"every job backed up within {max_age_hours} h",
    }


def disk_plan(located, new_device=""):
    """What to do about the array storage_layout located: {failed, new_device, wait, problems,
    choice_problems}.

    FAILED is the one failed member (its serial, slot, how); NEW_DEVICE the disk to add (the one given, else
    the only blank candidate), WAIT true while it is not there yet; PROBLEMS why nothing may be done
    (no failed member, several, members that are partitions, a rebuild running); CHOICE_PROBLEMS why the new
    disk cannot be chosen (several candidates and none named), which matters only to the replacement.
    """
    array = located.get("array") or {}
    failed = located.get("failed") or []
    problems = []
    if not failed:
        problems.append(
            f"{array.get('device')} has no failed member ({array.get('members_state')}): nothing to replace"
        )
    elif len(failed) > 1:
        problems.append(
            f"{array.get('device')} has {len(failed)} failed members ("
            + "; ".join(_who(f) for f in failed)
            + "): replace them one at a time, naming each with storage_replace_failed_device "
            "(playbooks/replace_disk.yml)"
        )
    if any(m.get("type") == "part" for m in located.get("members") or []):
        problems.append(
            f"{array.get('device')}'s members are partitions: rackwright replaces whole-disk members "
            "only; copy the partition table to the new disk (sgdisk -R NEW SURVIVOR; sgdisk -G NEW) and "
            "add its partition with playbooks/replace_disk.yml"
        )
    if array.get("sync_action") in ("recover", "resync", "reshape"):
        problems.append(
            f"{array.get('device')} is busy ({array['sync_action']}): wait for it to finish first"
        )
    candidates = located.get("candidates") or []
    chosen = new_device or (
        f"serial:{candidates[0]['serial']}"
        if len(candidates) == 1 and candidates[0].get("serial")
        else (candidates[0]["path"] if len(candidates) == 1 else "")
    )
    choice = []
    if not new_device and len(candidates) > 1:
        choice.append(
            "several blank disks could replace it ("
            + ", ".join(f"{c['path']} serial {c.get('serial')}" for c in candidates)
            + "): name the one to use with incident_disk_new_device=serial:XYZ"
        )
    given_here = not new_device or any(
        new_device in (f"serial:{c.get('serial')}", c["path"], *c.get("by_id", []), *c.get("by_path", []))
        for c in candidates
    )
    return {
        "failed": failed[0] if len(failed) == 1 else None,
        "new_device": chosen if given_here else new_device,
        "wait": not problems and not choice and (not chosen or not given_here),
        "problems": problems,
        "choice_problems": choice,
    }


def _who(failed):
    serial = (
        f"serial {failed['serial']}" if failed.get("serial") else failed.get("layout") or "unknown serial"
    )
    where = f"{failed['path']}, " if failed.get("path") else ""
    slot = f"slot {failed['slot']}, " if failed.get("slot") is not None else ""
    return f"{serial} ({where}{slot}{failed.get('how')})"


def who(failed):
    """The failed disk in words: serial, device, slot, how it failed, its stable names."""
    text = _who(failed)
    names = (failed.get("by_id") or []) + (failed.get("by_path") or [])
    return text + (f"; known as {', '.join(names)}" if names else "")


def step(timeline, name, text, now=None):
    """TIMELINE with one more {step, at, what}."""
    now = now or datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
    return [*(timeline or []), {"step": name, "at": now, "what": text}]


def report_markdown(record):
    """The incident report people read: what happened, when, what was done, how it ended."""
    details = record.get("details") or {}
    lines = [
        f"# Incident on {record.get('host')}: {details.get('title', 'incident')}",
        "",
        f"**Status:** {record.get('status')}",
    ]
    for reason in record.get("reasons") or []:
        lines.append(f"- {reason}")
    lines += ["", "| time | step | what |", "| --- | --- | --- |"]
    for entry in details.get("timeline") or []:
        lines.append(f"| {entry['at']} | {entry['step']} | {str(entry['what']).replace('|', '/')} |")
    return "\n".join(lines) + "\n"
