"""The load tools and the upstream server: found on PATH, or installed from Debian."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

# command -> the Debian package that ships it
TOOLS = {"nginx": "nginx-light", "wrk": "wrk", "h2load": "nghttp2-client"}
# nginx lives in /usr/sbin, which a non-login PATH may lack.
EXTRA_PATH = ("/usr/sbin", "/sbin")


def which(command: str) -> str | None:
    path = os.environ.get("PATH", "")
    return shutil.which(command, path=os.pathsep.join([path, *EXTRA_PATH]))


def _apt_install(packages: list[str]) -> bool:
    command = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(command, env=env, check=False).returncode == 0:
        return True
    # A fresh machine has no package lists yet.
    subprocess.run(["apt-get", "update"], env=env, check=False)
    return subprocess.run(command, env=env, check=False).returncode == 0


def ensure_tools() -> dict[str, str]:
    """Absolute paths of nginx, wrk and h2load, installing the missing ones (needs root)."""
    missing = [package for command, package in TOOLS.items() if which(command) is None]
    if missing:
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            raise SystemExit(
                f"bench: missing {', '.join(missing)}; install them (apt-get install {' '.join(missing)})"
            )
        print(f"bench: installing {' '.join(missing)}", file=sys.stderr)
        if not _apt_install(missing):
            raise SystemExit(f"bench: apt-get could not install {' '.join(missing)}")
    found = {command: which(command) for command in TOOLS}
    absent = [command for command, path in found.items() if path is None]
    if absent:
        raise SystemExit(f"bench: still not on PATH after installing: {', '.join(absent)}")
    return {command: path for command, path in found.items() if path is not None}
