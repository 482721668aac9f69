"""The use cases: what each command does, as stages: inputs → plan → (print | approve → run).

Called by the invoke tasks with the option values (`runbook.options`); raises RunbookError for
the one error boundary (`runbook.cli`) to turn into a message and an exit code.

- `inputs`: which runbook, inventory, hosts and vars; the review plans;
- `review`: `check`, `show` and the dry run (read and render only);
- `approval`: `--approved` and `require_approval`;
- `signatures`: `approve` (a reviewer signs the digest) and the signatures `approval:` needs;
- `sshkeygen`: OpenSSH's `ssh-keygen -Y` and `ssh-add -L`, run safely;
- `credentials`: secrets, the sudo password, the operator, who answers the gates (prompts);
- `fleet`: `release` and `rollback`, in batches of hosts, handed to the executor;
- `history`: `history`, `report`, and what rollback and `--from` read back from journals;
- `preflight`: `preflight`, read-only checks on every host that the release can run.
"""

from ..options import Options, RunOptions
from .fleet import release, rollback
from .history import history, report
from .inputs import parse_vars
from .preflight import preflight
from .review import check, show
from .signatures import approve

__all__ = [
    "Options",
    "RunOptions",
    "approve",
    "check",
    "history",
    "parse_vars",
    "preflight",
    "release",
    "report",
    "rollback",
    "show",
]
