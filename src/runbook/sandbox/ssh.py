"""The sandbox's ssh side: host and client keys, known_hosts, the authorized key, sshd_config.

Keys survive a restart (a new host key would make every known_hosts copy stale); the other files
are written again on each `up()` from the current address, port and login user.
"""

from __future__ import annotations

from .configs import sshd_config_text
from .files import write_text
from .layout import Endpoints, Layout
from .programs import run


def write_ssh_files(layout: Layout, endpoints: Endpoints, user: str) -> None:
    """Make missing keys; write known_hosts, `user`'s authorized key and sshd_config."""
    for key, comment in ((layout.host_key, "host"), (layout.client_key, "client")):
        if not key.exists() or not key.with_suffix(".pub").exists():
            key.unlink(missing_ok=True)
            run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "",
                 "-C", f"release-runbook sandbox {comment}", "-f", str(key)]
            )  # fmt: skip
        key.chmod(0o600)
    host_pub = layout.host_key.with_suffix(".pub").read_text().split()
    port = endpoints.ssh_port
    target = endpoints.address if port == 22 else f"[{endpoints.address}]:{port}"
    write_text(layout.known_hosts, f"{target} {host_pub[0]} {host_pub[1]}\n", mode=0o644)
    client_pub = layout.client_key.with_suffix(".pub").read_text()
    write_text(layout.authorized_keys_dir / user, client_pub, mode=0o644)
    text = sshd_config_text(
        address=endpoints.address,
        port=port,
        host_key=layout.host_key,
        pid_file=layout.sshd_pid_file,
        keys_dir=layout.authorized_keys_dir,
        user=user,
    )
    write_text(layout.sshd_config, text, mode=0o644)


def ssh_command(layout: Layout, endpoints: Endpoints, user: str, *remote: str) -> list[str]:
    """An `ssh` command line that logs in as `user` with strict host key checking."""
    return [
        "ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={layout.known_hosts}", "-o", "IdentitiesOnly=yes",
        "-i", str(layout.client_key), "-p", str(endpoints.ssh_port),
        f"{user}@{endpoints.address}", *remote,
    ]  # fmt: skip
