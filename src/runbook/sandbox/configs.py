"""The configuration texts of the sandbox's servers: sshd_config and nginx.conf (pure)."""

from __future__ import annotations

from pathlib import Path

from .layout import Endpoints

UPGRADE_LINES = (
    "proxy_http_version 1.1;",
    "proxy_read_timeout 86400s;",
    "proxy_set_header Upgrade $http_upgrade;",
    'proxy_set_header Connection "upgrade";',
)
"""What `feature/websocket-upgrade` adds to `location /cable`: the fix the demo release deploys.

Without them nginx talks HTTP/1.0 upstream and drops the Upgrade and Connection headers, so the
ActionCable backend logs "Failed to upgrade to WebSocket" and answers 404.
"""


def sshd_config_text(
    *,
    address: str,
    port: int,
    host_key: Path,
    pid_file: Path,
    keys_dir: Path,
    user: str,
    extra: tuple[str, ...] = (),
) -> str:
    """An sshd_config for a private sshd on loopback: key login for `user` only, no PAM.

    Shared by the sandbox and the benchmark's hosts (scripts/bench_hosts.py).
    """
    lines = [
        "# a private sshd of release-runbook (written by runbook.sandbox)",
        f"Port {port}",
        f"ListenAddress {address}",
        f"HostKey {host_key}",
        f"PidFile {pid_file}",
        f"AuthorizedKeysFile {keys_dir}/%u",
        f"AllowUsers {user}",
        "PermitRootLogin no",
        "UsePAM no",  # a password-less login user would be refused as locked otherwise
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "StrictModes no",  # keys live in a shared 0755 tree, not the user's home
        "UseDNS no",
        "PrintMotd no",
        "PrintLastLog no",
        "X11Forwarding no",
        "MaxStartups 100:30:200",
        "Subsystem sftp /usr/lib/openssh/sftp-server",
        *extra,
    ]
    return "\n".join(lines) + "\n"


def nginx_conf_text(prefix: Path, endpoints: Endpoints, *, upgrade: bool) -> str:
    """The sandbox nginx.conf: `main` without, `feature/websocket-upgrade` with the fix.

    Every path is under `prefix`, so the private nginx writes nothing outside the sandbox.
    """
    fix = "".join(f"            {line}\n" for line in UPGRADE_LINES) if upgrade else ""
    return (
        "# nginx in front of the ActionCable app (release-runbook sandbox).\n"
        "# Every path is inside the sandbox; nginx runs with -p/-c/-e pointing here.\n"
        "worker_processes 1;\n"
        f"pid {prefix}/logs/nginx.pid;\n"
        f"error_log {prefix}/logs/error.log;\n"
        "\n"
        "events {\n"
        "    worker_connections 256;\n"
        "}\n"
        "\n"
        "http {\n"
        f"    access_log {prefix}/logs/access.log;\n"
        f"    client_body_temp_path {prefix}/tmp/client_body;\n"
        f"    proxy_temp_path {prefix}/tmp/proxy;\n"
        f"    fastcgi_temp_path {prefix}/tmp/fastcgi;\n"
        f"    uwsgi_temp_path {prefix}/tmp/uwsgi;\n"
        f"    scgi_temp_path {prefix}/tmp/scgi;\n"
        "\n"
        "    upstream actioncable {\n"
        f"        server {endpoints.address}:{endpoints.backend_port};\n"
        "    }\n"
        "\n"
        "    server {\n"
        f"        listen {endpoints.address}:{endpoints.http_port};\n"
        "\n"
        "        location / {\n"
        "            default_type text/plain;\n"
        '            return 200 "release-runbook sandbox\\n";\n'
        "        }\n"
        "\n"
        "        location /cable {\n"
        "            proxy_pass http://actioncable;\n"
        f"{fix}"
        "        }\n"
        "    }\n"
        "}\n"
    )
