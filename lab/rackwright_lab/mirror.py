"""The Debian mirror every image rackwright builds is debootstrapped from (lab VMs, Molecule and pristine
containers): one variable, DEBIAN_MIRROR, or else this machine's own apt sources when they are Debian's.

No mirror host name is written anywhere in the repository: on a Debian machine the answer is whatever apt
already uses; anywhere else (an Ubuntu CI runner, say) the caller names one.
"""

import os
from pathlib import Path

VARIABLE = "DEBIAN_MIRROR"
# Debian's codenames (and the suites named after them): a source for one of these is a Debian archive.
DEBIAN_SUITES = {"bullseye", "bookworm", "trixie", "forky", "duke", "sid", "stable", "testing", "unstable"}


class MirrorError(Exception):
    """No Debian mirror could be found; the message says which variable to set."""


def _deb822(text: str):
    for stanza in text.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if ":" in line and not line.startswith(("#", " ")):
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.split()
        if "deb" in fields.get("types", ["deb"]):
            yield fields.get("uris", []), fields.get("suites", [])


def _one_line(text: str):
    for line in text.splitlines():
        words = [w for w in line.split() if not w.startswith("[")]
        if len(words) >= 3 and words[0] == "deb":
            yield [words[1]], [words[2]]


def debian_mirror(apt_dir: Path = Path("/etc/apt"), environ=None) -> str:
    """$DEBIAN_MIRROR, else the first Debian archive (not the security archive) in APT_DIR's sources."""
    environ = os.environ if environ is None else environ
    if environ.get(VARIABLE, "").strip():
        return environ[VARIABLE].strip()
    seen = []
    sources = sorted((apt_dir / "sources.list.d").glob("*.sources"))
    lists = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    entries = [e for p in sources for e in _deb822(p.read_text(errors="replace"))]
    entries += [e for p in lists if p.is_file() for e in _one_line(p.read_text(errors="replace"))]
    for uris, suites in entries:
        base = {s.split("-")[0].split("/")[0] for s in suites}
        seen.extend(suites)
        if base & DEBIAN_SUITES and not any("security" in s for s in suites) and uris:
            return uris[0]
    found = f"its sources name the suites {sorted(set(seen))}" if seen else "it has no apt sources"
    raise MirrorError(
        f"no Debian archive in this machine's apt sources ({found}, none of them Debian's). "
        f"Set {VARIABLE} to the URL of a Debian mirror, e.g. `make images {VARIABLE}=http://<mirror>/debian`"
    )


DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


def debootstrap_keyring_args() -> list[str]:
    """debootstrap's --keyring for Debian's archive key, where it is installed (ensure_system.py installs
    debian-archive-keyring on hosts that are not Debian); Debian's debootstrap finds it by itself."""
    return [f"--keyring={DEBIAN_KEYRING}"] if DEBIAN_KEYRING.is_file() else []
