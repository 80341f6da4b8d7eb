"""Run ``ansible-test sanity`` on the collection rackwright.infra (the repository root), offline-ready.

ansible-test wants the content under ``ansible_collections/<namespace>/<name>/``: the committed symlink
``ansible_collections/rackwright/infra`` (pointing back at the root) provides that path, and
ANSIBLE_TEST_CONTENT_ROOT makes ansible-test use it rather than the resolved working directory. It tests the
files git knows (tracked, or untracked and not ignored). Where the tree is no git checkout (a `make pristine`
container gets the files without .git), ansible-test would test every file below the root, the venv included;
there the files, less the ignored run-time folders, are copied to a temporary collection tree first.

Its sanity virtualenvs bootstrap pip with a script it would otherwise download; this script writes a local
stand-in first (``ensurepip``), so a fresh machine needs no download for it. The sanity tests' own Python
requirements still install with pip from the machine's configured package index, once, into
~/.ansible/test/venv.

Usage: ``.venv/bin/python scripts/sanity.py [ansible-test sanity options]``, e.g. ``--test pep8``.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLLECTION = ROOT / "ansible_collections" / "rackwright" / "infra"
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
BOOTSTRAP = "import ensurepip\n\nensurepip.bootstrap(upgrade=True)\n"
# What a run leaves in a checkout without git (the .gitignore entries that are folders or run output).
NOT_CONTENT = (".venv", ".cache", ".lab", "reports", "output", "__pycache__", ".pytest_cache", ".ruff_cache")


def pip_version() -> str:
    """The pip version ansible-test bootstraps into its virtualenvs (its get_pip_<version>.py cache name)."""
    import ansible_test  # the pinned ansible-core's; imported for its location only

    source = Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
    found = re.search(r"pip='([0-9.]+)'", source.read_text(encoding="utf-8"))
    if not found:
        sys.exit(f"sanity: cannot find the pip version ansible-test bootstraps in {source}")
    return found.group(1)


def ensure_pip_bootstrap() -> Path:
    """Write ~/.ansible/test/cache/get_pip_<version>.py (ensurepip) unless a bootstrap script is there."""
    cache = Path.home() / ".ansible" / "test" / "cache" / f"get_pip_{pip_version().replace('.', '_')}.py"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(BOOTSTRAP, encoding="utf-8")
        print(f"sanity: wrote the local pip bootstrap {cache}", flush=True)
    return cache


def is_git_checkout() -> bool:
    try:
        proc = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        return False
    return proc.returncode == 0 and Path(proc.stdout.strip()).resolve() == ROOT


def staged_copy(workdir: str) -> Path:
    """Copy the tree, less run-time folders, to WORKDIR/ansible_collections/rackwright/infra."""
    target = Path(workdir) / "ansible_collections" / "rackwright" / "infra"
    skip = shutil.ignore_patterns(*NOT_CONTENT)

    def ignore(directory, names):
        # The copy already sits at ansible_collections/rackwright/infra: the in-place skeleton (a symlink to
        # the root) is not copied, and neither is its ignore entry, which ansible-test would flag as unused.
        return skip(directory, names) | ({"ansible_collections"} if Path(directory) == ROOT else set())

    shutil.copytree(ROOT, target, symlinks=True, ignore=ignore)
    for ignores in (target / "tests" / "sanity").glob("ignore-*.txt"):
        lines = ignores.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if not line.startswith("ansible_collections/")]
        ignores.write_text("".join(kept), encoding="utf-8")
    return target


def run_sanity(content: Path, argv: list[str]) -> int:
    ansible_test = Path(sys.executable).parent / "ansible-test"
    cmd = [str(ansible_test), "sanity", "--python", PYTHON, "--local", "--color", "no", *argv]
    env = dict(os.environ, ANSIBLE_TEST_CONTENT_ROOT=str(content))
    env.pop("ANSIBLE_CONFIG", None)  # the repository's ansible.cfg is for playbook runs, not for the tests
    print(f"sanity: {' '.join(cmd[1:])} in {content}", flush=True)
    return subprocess.run(cmd, cwd=content, env=env, check=False).returncode


def main(argv: list[str]) -> int:
    if not COLLECTION.is_dir() or COLLECTION.resolve() != ROOT:
        sys.exit(f"sanity: {COLLECTION} must be the committed symlink to {ROOT}")
    ensure_pip_bootstrap()
    if is_git_checkout():
        return run_sanity(COLLECTION, argv)
    print(f"sanity: {ROOT} is not a git checkout; testing a copy of its files", flush=True)
    with tempfile.TemporaryDirectory(prefix="rackwright-sanity-") as workdir:
        return run_sanity(staged_copy(workdir), argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
