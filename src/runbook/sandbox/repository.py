"""The sandbox's git config repository and the live nginx.conf installed from it.

A bare origin holds two branches: `main`, whose nginx.conf proxies `/cable` without the WebSocket
upgrade headers (the broken state the demo starts from), and `feature/websocket-upgrade`, which
adds them. The clone the runbook deploys from (the host's) is checked out on `main`; a second
clone (the operator's, `config_clone`) is where the runbook pins the commit it deploys.
"""

from __future__ import annotations

import shutil

from .configs import nginx_conf_text
from .files import write_text
from .layout import Endpoints, Layout
from .programs import git

MAIN = "main"
BRANCH = "feature/websocket-upgrade"


def build_repository(layout: Layout, endpoints: Endpoints) -> None:
    """(Re)create the origin with both branches and a clone on `main`."""
    seed = layout.git_dir / "seed"
    for d in (layout.origin, layout.config_repo, seed):
        if d.exists():
            shutil.rmtree(d)
    conf = seed / "confs" / "nginx.conf"
    conf.parent.mkdir(parents=True)
    git("init", "-q", "-b", MAIN, str(seed))
    conf.write_text(nginx_conf_text(layout.nginx_prefix, endpoints, upgrade=False))
    git("-C", str(seed), "add", "confs/nginx.conf")
    git("-C", str(seed), "commit", "-q", "-m", "nginx in front of ActionCable")
    git("-C", str(seed), "checkout", "-q", "-b", BRANCH)
    conf.write_text(nginx_conf_text(layout.nginx_prefix, endpoints, upgrade=True))
    git(
        "-C", str(seed), "commit", "-q", "-a", "-m",
        "Let WebSocket upgrades through to ActionCable\n\n"
        "Without these nginx speaks HTTP/1.0 upstream and drops Upgrade/Connection.",
    )  # fmt: skip
    git("-C", str(seed), "checkout", "-q", MAIN)
    git("clone", "-q", "--bare", str(seed), str(layout.origin))
    shutil.rmtree(seed)
    git("clone", "-q", "--branch", MAIN, str(layout.origin), str(layout.config_repo))
    if layout.config_clone.exists():
        shutil.rmtree(layout.config_clone)
    update_clone(layout)


def update_clone(layout: Layout) -> None:
    """The operator's clone: made if missing, else fetched (branches that moved or went)."""
    if not (layout.config_clone / ".git").is_dir():
        if layout.config_clone.exists():
            shutil.rmtree(layout.config_clone)
        git("clone", "-q", str(layout.origin), str(layout.config_clone))
        return
    git("-C", str(layout.config_clone), "fetch", "-q", "--prune", "origin")


def install_live_conf(layout: Layout) -> None:
    """Make the clone's nginx.conf the one nginx serves."""
    write_text(layout.nginx_conf, layout.repo_conf.read_text(), mode=0o644)


def restore_main(layout: Layout) -> bool:
    """Check the clone out on `main` again and install its nginx.conf if the live one differs.

    Returns True when the live nginx.conf was replaced (nginx needs a reload).
    """
    git("-C", str(layout.config_repo), "checkout", "-q", "--force", MAIN)
    main_text = layout.repo_conf.read_text()
    try:
        live = layout.nginx_conf.read_text()
    except FileNotFoundError:
        live = None
    if live == main_text:
        return False
    write_text(layout.nginx_conf, main_text, mode=0o644)
    return True
