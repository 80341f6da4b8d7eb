"""roles/backup on the lab: old-server's /srv/data to backup-host over SFTP on the lab LAN, restore, restore
test, timers, and clear failures (wrong password, unreachable repository); then what a compromised client can
do on the backup host: each client has its own jailed account (old-server and new-server), none can reach the
other's repository, get a shell, run a command, forward a port or replace its key, and after a client deletes
all its own snapshots they come back from the backup host's protected copy (checksums)."""

import json
import re

import pytest
from conftest import ROOT, ensure_lab, guest, lab, playbook

pytestmark = pytest.mark.lab
CLIENT = "old-server"
OTHER = "new-server"
LIMIT = ["--limit", f"{CLIENT},backup-host,localhost"]
ACCOUNT, OTHER_ACCOUNT = "bk-old-server", "bk-new-server"
BACKUP_HOST = "10.77.0.13"
STATE = "/var/lib/rackwright/backup"
UNIT = "rackwright-backup-data.service"


def play(*args: str):
    """ansible-playbook on the lab, with room for a busy machine (2 cores shared with Molecule runs)."""
    return playbook(*args, timeout=1200)


def status(name: str) -> dict:
    return json.loads(guest(CLIENT, f"cat {STATE}/{name}"))


@pytest.fixture(scope="module")
def backups(site_run):
    """The backup role converged on both clients and backup-host: site.yml's run (it includes
    playbooks/backup.yml), or backup.yml alone where the lab was restarted since."""
    if ensure_lab()["lab_id"] == site_run.lab_id:
        return site_run
    run = play("playbooks/backup.yml", "--limit", f"{CLIENT},{OTHER},backup-host,localhost")
    assert run.returncode == 0, run.output[-4000:]
    return run


def test_timers_are_enabled_with_a_next_run(backups):
    timers = guest(CLIENT, "systemctl list-timers --all --no-pager 'rackwright-*'")
    for unit in (
        "rackwright-backup-data.timer",
        "rackwright-restore-test-data.timer",
        "rackwright-backup-check.timer",
    ):
        line = next(line for line in timers.splitlines() if unit in line)
        assert re.match(r"^\w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", line), timers  # NEXT is set
    assert guest(CLIENT, "systemctl is-enabled rackwright-backup-data.timer").strip() == "enabled"
    timer = guest(CLIENT, "systemctl cat rackwright-backup-data.timer")
    assert "Persistent=true" in timer and "RandomizedDelaySec=900" in timer
    assert re.search(r"^OnCalendar=\*-\*-\* 0[1-4]:\d\d:00$", timer, re.MULTILINE), timer
    assert "rackwright-backup-data.timer" in backups.stdout  # the play shows list-timers


def test_archive_now_backs_up_over_sftp_then_a_deleted_file_is_restored(backups):
    run = play("playbooks/archive_now.yml", *LIMIT)
    assert run.returncode == 0, run.output[-4000:]
    saved = status("data-status.json")
    assert saved["result"] == "ok" and saved["repository"] == f"sftp:{ACCOUNT}@{BACKUP_HOST}:/repo"
    assert f"data: snapshot {saved['snapshot_id']} saved" in run.stdout
    record = json.loads((ROOT / "reports" / "backup" / f"{CLIENT}.json").read_text())  # on the controller
    assert (record["kind"], record["host"], record["status"]) == ("backup", CLIENT, "ok"), record
    assert [job["snapshot_id"] for job in record["details"]["jobs"]] == [saved["snapshot_id"]], record
    fleet = json.loads((ROOT / "reports" / "backup" / "fleet.json").read_text())
    assert CLIENT in fleet["ok"], fleet
    assert "config" in guest(
        "backup-host", f"ls /srv/restic/{ACCOUNT}/repo"
    )  # the repository is on backup-host
    guest(CLIENT, "rm /srv/data/db/customers.csv")
    assert "FAILED" in guest(CLIENT, "cd /srv/data && sha256sum -c SHA256SUMS 2>&1", check=False)
    guest(CLIENT, "rackwright-backup restore data --include /srv/data/db/customers.csv")
    assert "customers.csv: OK" in guest(CLIENT, "cd /srv/data && sha256sum -c SHA256SUMS")


def test_restore_test_job_passes_and_writes_json(backups):
    run = play("playbooks/backup.yml", "--tags", "restore_test", *LIMIT)
    assert run.returncode == 0, run.output[-4000:]
    report = status("data-restore-test.json")
    assert report["result"] == "passed", report
    assert report["files_checked"] >= 5 and report["mismatches"] == [] and report["snapshot_id"]
    assert {"time", "files_total", "files_sampled", "message"} <= set(report)
    unit = guest(CLIENT, "systemctl show -p Result rackwright-restore-test-data.service").strip()
    assert unit == "Result=success"


def test_wrong_password_fails_clearly_and_the_status_says_so(backups):
    guest(
        CLIENT,
        "cp -p /etc/rackwright/backup/password /root/password.good && "
        "echo not-the-password > /etc/rackwright/backup/password",
    )
    try:
        assert guest(CLIENT, f"systemctl start {UNIT}", check=False) == ""
        assert guest(CLIENT, f"systemctl show -p Result {UNIT}").strip() == "Result=exit-code"
        failed = status("data-status.json")
        assert failed["result"] == "failed"
        assert failed["message"].startswith("backup job 'data' failed: wrong password")
        assert "wrong password" in guest(CLIENT, f"journalctl -u {UNIT} -n 20 --no-pager")
        run = play("playbooks/archive_now.yml", *LIMIT)
        assert run.returncode != 0
        assert (
            "backup job 'data' failed: wrong password: the repository key does not match backup_password"
            in (run.stdout)
        )
        assert "result exit-code" in run.stdout
    finally:
        guest(CLIENT, "mv /root/password.good /etc/rackwright/backup/password")


def test_unreachable_repository_fails_clearly(backups):
    lab("fault", "link-down", CLIENT, "lan0")
    try:
        guest(CLIENT, f"systemctl start {UNIT}", check=False)
        failed = status("data-status.json")
        assert failed["result"] == "failed"
        assert "repository unreachable" in failed["message"], failed
        assert guest(CLIENT, f"systemctl show -p Result {UNIT}").strip() == "Result=exit-code"
    finally:
        lab("fault", "link-up", CLIENT, "lan0")
    guest(CLIENT, "sleep 2; ping -c 1 -W 5 backup-host >/dev/null")
    guest(CLIENT, f"systemctl start {UNIT}")
    assert status("data-status.json")["result"] == "ok"


# --- isolation on the backup host: everything below runs as old-server's own key, as an attacker on it would.
KEY_OPTS = (
    "-i /etc/rackwright/backup/id_ed25519 -o BatchMode=yes -o StrictHostKeyChecking=yes "
    "-o UserKnownHostsFile=/etc/rackwright/backup/known_hosts -o ConnectTimeout=10"
)


def as_client(command: str, user: str = ACCOUNT) -> str:
    """COMMAND (with {ssh}/{sftp} placeholders) on old-server; stdout+stderr, then 'rc=N'."""
    ssh = f"timeout 30 ssh {KEY_OPTS}"
    sftp = f"timeout 30 sftp {KEY_OPTS} -b -"
    line = command.format(ssh=ssh, sftp=sftp, user=user, host=BACKUP_HOST)
    return guest(CLIENT, f"{{ {line} ; }} 2>&1; echo rc=$?", check=False)


def sftp_batch(*commands: str, user: str = ACCOUNT) -> str:
    batch = "\\n".join(commands)
    return as_client(f"printf -- '{batch}\\n' | {{sftp}} {{user}}@{{host}}", user=user)


def test_each_client_has_its_own_jailed_account(backups):
    accounts = guest(
        "backup-host", f"getent passwd {ACCOUNT} {OTHER_ACCOUNT}; getent group rackwright-backup"
    )
    for account in (ACCOUNT, OTHER_ACCOUNT):
        entry = next(line for line in accounts.splitlines() if line.startswith(account + ":")).split(":")
        assert entry[5:] == ["/", "/usr/sbin/nologin"], entry
        assert f"rackwright-backup:x:{entry[3]}:" in accounts  # primary group rackwright-backup
    modes = guest(
        "backup-host",
        f"stat -c '%n %U %a' /srv/restic /srv/restic/{ACCOUNT} /srv/restic/{ACCOUNT}/repo "
        f"/etc/ssh/rackwright-backup-keys /etc/ssh/rackwright-backup-keys/{ACCOUNT} /srv/restic-protected",
    ).split("\n")
    assert modes[:6] == [
        "/srv/restic root 755",
        f"/srv/restic/{ACCOUNT} root 755",
        f"/srv/restic/{ACCOUNT}/repo {ACCOUNT} 700",
        "/etc/ssh/rackwright-backup-keys root 755",
        f"/etc/ssh/rackwright-backup-keys/{ACCOUNT} root 644",
        "/srv/restic-protected root 700",
    ], modes
    keys = guest("backup-host", f"cat /etc/ssh/rackwright-backup-keys/{ACCOUNT}").splitlines()
    assert len(keys) == 1 and keys[0].startswith("restrict ssh-ed25519 "), keys
    effective = guest("backup-host", f"sshd -T -C user={ACCOUNT},host=old-server,addr=10.77.0.11")
    for line in (
        "forcecommand internal-sftp -u 0077 -P symlink,hardlink",
        "chrootdirectory /srv/restic/%u",
        "authorizedkeysfile /etc/ssh/rackwright-backup-keys/%u",
        "allowtcpforwarding no",
        "allowstreamlocalforwarding no",
        "allowagentforwarding no",
        "x11forwarding no",
        "permittunnel no",
        "permittty no",
    ):
        assert line in effective.splitlines(), (line, effective)
    assert "enabled" in guest("backup-host", "systemctl is-enabled rackwright-backup-protect.timer")
    # The shared account of earlier releases has no keys and no shell left.
    assert guest("backup-host", "test ! -e /srv/restic/.ssh && echo gone").strip() == "gone"
    legacy = guest("backup-host", "getent passwd restic || true").strip()
    assert legacy == "" or legacy.endswith(":/usr/sbin/nologin"), legacy


def test_a_client_sees_only_its_own_repository(backups):
    out = sftp_batch(
        "ls -a /", "cd ..", "ls -a", f"-ls /srv/restic/{OTHER_ACCOUNT}", "-ls /srv/restic-protected"
    )
    assert "rc=0" in out, out
    # / is the chroot, also after cd ..: only the client's own repository is there ("/." for ls -a /).
    listings = [
        [n.lstrip("/") for n in line.split()] for line in out.splitlines() if line.startswith((".", "/."))
    ]
    assert len(listings) == 2 and all(names == [".", "..", "repo"] for names in listings), out
    assert f'Can\'t ls: "/srv/restic/{OTHER_ACCOUNT}" not found' in out, out
    other_config = f"/srv/restic/{OTHER_ACCOUNT}/repo/config"
    before = guest("backup-host", f"sha256sum {other_config}")
    out = sftp_batch(
        f"-get /../{OTHER_ACCOUNT}/repo/config /tmp/stolen",
        f"-rm /../{OTHER_ACCOUNT}/repo/config",
        f"-rename /../{OTHER_ACCOUNT}/repo /repo/taken",
        f"-rm {other_config}",
    )
    assert "not found" in out and "rc=0" in out, out
    assert guest(CLIENT, "test ! -e /tmp/stolen && echo none").strip() == "none"
    assert guest("backup-host", f"sha256sum {other_config}") == before
    # Its key opens no other account.
    out = sftp_batch("ls /", user=OTHER_ACCOUNT)
    assert "Permission denied (publickey)" in out and "rc=255" in out, out


def test_a_client_gets_no_shell_and_runs_no_command(backups):
    out = as_client("{ssh} -T {user}@{host} 'id; echo SHELL-RAN' </dev/null")
    assert "uid=" not in out and "SHELL-RAN" not in out, out
    out = as_client("{ssh} -tt {user}@{host} 'id' </dev/null")
    assert "PTY allocation request failed" in out and "uid=" not in out, out
    out = as_client("{ssh} -T -s {user}@{host} shell </dev/null")
    assert "uid=" not in out, out


def test_a_client_cannot_forward_ports(backups):
    out = as_client("{ssh} -W 127.0.0.1:22 {user}@{host} </dev/null")
    assert "administratively prohibited" in out and "SSH-2.0" not in out, out
    out = as_client("{ssh} -N -o ExitOnForwardFailure=yes -R 127.0.0.1:2222:127.0.0.1:22 {user}@{host}")
    assert "remote port forwarding failed" in out and "rc=255" in out, out
    listening = guest("backup-host", "ss -Htln 'sport = :2222'")
    assert listening.strip() == "", listening


def test_a_client_cannot_replace_its_keys_or_plant_links(backups):
    keys = f"/etc/ssh/rackwright-backup-keys/{ACCOUNT}"
    before = guest("backup-host", f"sha256sum {keys}")
    guest(
        CLIENT,
        "ssh-keygen -q -t ed25519 -N '' -f /root/attacker <<<y >/dev/null; cp /root/attacker.pub /root/ak",
    )
    out = sftp_batch(
        "-mkdir /.ssh",
        "-put /root/ak /.ssh/authorized_keys",
        f"-put /root/ak {keys}",
        "-put /root/ak /authorized_keys",
        "-chmod 777 /",
        "-symlink /etc /repo/etc-link",
        "-ln /repo/config /repo/config-link",
    )
    assert out.count("Permission denied") >= 3, out  # the chroot is root's: nothing can be written there
    assert 'remote symlink file "/etc" to "/repo/etc-link": Permission denied' in out, out  # -P symlink
    assert "Server does not support hardlink@openssh.com extension" in out, out  # -P hardlink
    assert guest("backup-host", f"sha256sum {keys}") == before
    assert guest("backup-host", f"ls -A /srv/restic/{ACCOUNT}").split() == ["repo"]
    assert guest("backup-host", f"ls /srv/restic/{ACCOUNT}/repo").split() == [
        "config", "data", "index", "keys", "locks", "snapshots",
    ]  # fmt: skip
    out = as_client(
        "timeout 30 ssh -i /root/attacker -o IdentitiesOnly=yes -o BatchMode=yes "
        "-o UserKnownHostsFile=/etc/rackwright/backup/known_hosts {user}@{host} true </dev/null"
    )
    assert "Permission denied (publickey)" in out, out


RESTIC = (
    'python3 -c \'import json, os, sys; c = json.load(open("/etc/rackwright/backup/config.json")); '
    'os.environ["RESTIC_PASSWORD_FILE"] = c["password_file"]; '
    'os.execvp("restic", ["restic", "--repo", c["repository"], "--option", '
    '"sftp.command=" + c["sftp_command"], "--cache-dir", c["cache_dir"]] + sys.argv[1:])\''
)
TREE_SUMS = "cd {0} && find . -type f -print0 | sort -z | xargs -0 sha256sum"


def test_snapshots_deleted_by_the_client_come_back_from_the_protected_copy(backups):
    guest(CLIENT, f"systemctl start {UNIT}")
    snap = status("data-status.json")["snapshot_id"]
    sums = guest(CLIENT, TREE_SUMS.format("/srv/data"))
    assert "customers.csv" in sums and len(sums.splitlines()) >= 5, sums
    guest("backup-host", "systemctl start rackwright-backup-protect.service")
    protected = json.loads(guest("backup-host", "cat /var/lib/rackwright/backup-server/protect-status.json"))
    mine = next(a for a in protected["accounts"] if a["account"] == ACCOUNT)
    assert protected["result"] == "ok" and {a["account"] for a in protected["accounts"]} >= {
        ACCOUNT,
        OTHER_ACCOUNT,
    }
    copies = json.loads(guest("backup-host", f"rackwright-backup-protect list {ACCOUNT}"))[ACCOUNT]
    # The runner's status holds restic's short id, the copy's list the full ones.
    assert copies[-1]["stamp"] == mine["copy"] and any(s.startswith(snap) for s in copies[-1]["snapshots"]), (
        copies
    )

    # The compromised client deletes every snapshot it has, with its own credentials, and prunes.
    ids = [s["id"] for s in json.loads(guest(CLIENT, "rackwright-backup snapshots data"))["snapshots"]]
    assert any(i.startswith(snap) for i in ids), ids
    guest(CLIENT, f"{RESTIC} forget --prune {' '.join(ids)}")
    assert json.loads(guest(CLIENT, "rackwright-backup snapshots data"))["snapshots"] == []
    assert guest("backup-host", f"ls /srv/restic/{ACCOUNT}/repo/snapshots").strip() == ""
    packs = guest("backup-host", f"find /srv/restic/{ACCOUNT}/repo/data -type f | wc -l").strip()

    # The backup host puts the protected copy back; the client restores from it as usual.
    restored = json.loads(guest("backup-host", f"rackwright-backup-protect restore {ACCOUNT}"))
    assert restored["result"] == "ok" and any(s.startswith(snap) for s in restored["snapshots"]), restored
    assert int(guest("backup-host", f"find /srv/restic/{ACCOUNT}/repo/data -type f | wc -l")) > int(packs)
    guest(CLIENT, "rm -rf /root/from-protected")
    guest(CLIENT, f"rackwright-backup restore data --snapshot {snap} --target /root/from-protected")
    try:
        assert guest(CLIENT, TREE_SUMS.format("/root/from-protected/srv/data")) == sums
        assert "customers.csv: OK" in guest(
            CLIENT, "cd /root/from-protected/srv/data && sha256sum -c SHA256SUMS"
        )
    finally:
        guest(CLIENT, "rm -rf /root/from-protected")
    guest(CLIENT, f"systemctl start {UNIT}")  # and backups go on into the restored repository
    assert status("data-status.json")["result"] == "ok"


def test_backup_host_refuses_an_sshd_that_would_lock_the_clients_out(backups):
    guest("backup-host", "echo 'AllowGroups rackwright-admins' > /etc/ssh/sshd_config.d/10-lockout-test.conf")
    try:
        run = play("playbooks/backup.yml", "--limit", "backup-host,localhost")
        assert run.returncode != 0
        assert "lets in only the groups 'rackwright-admins' (AllowGroups)" in run.stdout, run.output[-3000:]
        assert "Add 'rackwright-backup' to base_os_sshd_allow_groups" in run.stdout
    finally:
        guest("backup-host", "rm -f /etc/ssh/sshd_config.d/10-lockout-test.conf")


def test_second_run_changes_nothing(backups):
    # One client is enough to show the second run changes nothing (the other runs the same role); each client
    # costs its own serial pass on backup-host (the key authorisation is throttled to one client at a time).
    run = play("playbooks/backup.yml", "--limit", f"{CLIENT},backup-host,localhost")
    assert run.returncode == 0, run.output[-4000:]
    for host in (CLIENT, "backup-host"):
        assert re.search(rf"^{host}\s+: ok=\d+\s+changed=0\s", run.stdout, re.M), run.stdout[-3000:]
    # No check-mode run here: Molecule's `check` step runs the backup role in check mode on a bare container
    # (the hard case: nothing exists yet), and this real second run is the stronger proof on a converged host.
    # The check-mode run cost the lab job 7 minutes under TCG.
