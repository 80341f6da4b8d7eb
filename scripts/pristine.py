"""Run a command on a pristine Debian 12, the way a new machine or a hosted CI runner starts.

    python3 scripts/pristine.py --job JOB      (a job of .github/workflows/ci.yml: its make steps, in order)
    python3 scripts/pristine.py -- COMMAND...

The machine is a container of rackwright/pristine-debian12 (tests/pristine/image.yml: debootstrap's
minbase plus python3 and make, built by scripts/build_images.py and cached by recipe hash). It gets a copy
of the work tree (the files git tracks or would track, as a fresh clone has them) in /src, ../shared
read-only beside it (as CI has it), this machine's apt and pip configuration and the CA bundle pip's
configuration names (so it reaches the same package mirrors, which are named nowhere in the repo), and
nothing else that was installed here: a step that only works because this machine has something
installed by hand fails here first. The command runs as root in /src with `bash -e`.

Download caches (pip wheels, apt archives) are kept under .cache/pristine/ between runs to save time;
they hold packages, not installed state, so the container still starts bare.
"""

import configparser
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "tests" / "pristine" / "image.yml"
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
IMAGE = "rackwright/pristine-debian12"
CACHE = ROOT / ".cache" / "pristine"
# This machine's package-client configuration, handed over read-only (only the files that exist here).
CONFIG = ["/etc/apt/sources.list.d", "/etc/apt/apt.conf.d", "/etc/pip.conf", "/etc/xdg/pip"]
HOST_CA = "/opt/rackwright-host-ca.crt"
PASS_ENV = ("PIP_", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "CI")


def say(message: str) -> None:
    print(f"pristine: {message}", flush=True)


def tree_files() -> list[str]:
    """Files of the work tree as a clone would have them: tracked plus untracked-but-not-ignored."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    )  # fmt: skip
    names = [n for n in out.stdout.decode().split("\0") if n]
    return [n for n in names if (ROOT / n).is_file() or (ROOT / n).is_symlink()]


def pip_cert() -> str | None:
    """The CA bundle this machine's pip configuration or environment names, if any."""
    if os.environ.get("PIP_CERT"):
        return os.environ["PIP_CERT"]
    found = None
    for conf in ["/etc/pip.conf", *sorted(str(p) for p in Path("/etc/xdg/pip").glob("*.conf"))]:
        parser = configparser.ConfigParser()
        try:
            parser.read(conf)
        except configparser.Error:
            continue
        found = parser.get("global", "cert", fallback=found)
    return found if found and Path(found).is_file() else None


def docker_args(name: str, command: list[str]) -> list[str]:
    args = ["docker", "run", "--rm", "-i", "--name", name, "--network", "host", "--hostname", "pristine"]
    for path in CONFIG:
        if Path(path).exists():
            args += ["-v", f"{path}:{path}:ro"]
    for sub in ("pip", "apt"):
        (CACHE / sub).mkdir(parents=True, exist_ok=True)
    args += ["-v", f"{CACHE / 'pip'}:/root/.cache/pip", "-v", f"{CACHE / 'apt'}:/var/cache/apt/archives"]
    for key, value in os.environ.items():
        if key.startswith(PASS_ENV) and key != "PIP_CERT":
            args += ["-e", f"{key}={value}"]
    shared = ROOT.parent / "shared"
    if shared.is_dir():  # CI clones beside ../shared (the peers' test data the unit tests read); so does /src
        args += ["-v", f"{shared}:/shared:ro"]
    cert = pip_cert()
    if cert:  # the CA bundle pip's configuration names here (it may hold a site CA for the package mirror)
        args += ["-v", f"{cert}:{HOST_CA}:ro", "-e", f"PIP_CERT={HOST_CA}"]
    script = (
        # debootstrap's own sources.list names only the main suite; the mounted sources are this machine's.
        "rm -f /etc/apt/sources.list; mkdir -p /var/cache/apt/archives/partial /src; "
        'tar -x -C /src; cd /src; echo "pristine: $(. /etc/os-release; echo $PRETTY_NAME), '
        '$(python3 --version), no venv, $(dpkg-query -f . -W | wc -c) packages"; exec ' + shlex.join(command)
    )
    return [*args, IMAGE, "bash", "-e", "-c", script]


def job_command(job: str) -> list[str]:
    """The make targets of JOB's run: steps in .github/workflows/ci.yml, in order, as run_layers.py arguments.

    The container runs as root, so `$ROOT_MAKE target` (sudo make on a hosted runner) is plain make here.
    """
    import yaml  # the virtualenv's; only --job needs it

    flow = yaml.safe_load(WORKFLOW.read_text())
    if job not in flow.get("jobs", {}):
        raise SystemExit(
            f"pristine: no job {job!r} in {WORKFLOW.relative_to(ROOT)} (jobs: {', '.join(flow['jobs'])})"
        )
    targets = []
    for step in flow["jobs"][job]["steps"]:
        if "run" in step:
            words = step["run"].replace("$ROOT_MAKE", "make").split()
            if len(words) != 2 or words[0] != "make":
                raise SystemExit(f"pristine: job {job}: step {step['run']!r} is not `make TARGET`")
            targets.append(words[1])
    return ["python3", "scripts/run_layers.py", *targets]


def main(argv: list[str]) -> int:
    if argv[:1] == ["--job"] and len(argv) == 2:
        command = job_command(argv[1])
    elif "--" in argv and argv.index("--") < len(argv) - 1:
        command = argv[argv.index("--") + 1 :]
    else:
        print(
            "usage: pristine.py --job JOB | -- COMMAND...  (e.g. --job lint-unit, or -- make unit)",
            file=sys.stderr,
        )
        return 2
    start = time.monotonic()
    build = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_images.py"), str(RECIPE)], check=False
    )
    if build.returncode != 0:
        say("building the pristine image failed (see above)")
        return build.returncode
    files = tree_files()
    name = f"rackwright-pristine-{os.getpid()}"
    say(f"{len(files)} files of the work tree into a bare {IMAGE}; running: {shlex.join(command)}")
    docker = subprocess.Popen(docker_args(name, command), stdin=subprocess.PIPE)
    tar = subprocess.run(
        ["tar", "-c", "-C", str(ROOT), "--null", "-T", "-"], input="\0".join(files).encode(),
        stdout=docker.stdin, check=False,
    )  # fmt: skip
    docker.stdin.close()
    try:
        rc = docker.wait()
    except KeyboardInterrupt:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
        raise
    took = time.monotonic() - start
    if tar.returncode != 0:
        say(f"copying the work tree failed (tar exit {tar.returncode})")
        return tar.returncode
    say(f"{shlex.join(command)}: {'passed' if rc == 0 else f'FAILED (exit {rc})'} in {took:.0f} s")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
