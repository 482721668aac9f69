"""The executor: runs a Plan on hosts, through the seams only.

- `batch`: one release or rollback on a batch of hosts: journals, connections, locks;
- `steps`: the step state machine: gate → attempts → failure → rollback;
- `handlers`: what each `Action` does, in a table keyed by the action;
- `hostlock`: taking and giving back the host lock;
- `state`: one host's run while it goes on (`Run`), an attempt's end, a run's stop;
- `show`: how a step looks on the console;
- `window`: the booked window, checked before every release step;
- `notify`: the team's webhooks, told by one background worker per run;
- `concurrency`: the one fan-out helper (hosts at once) and the one signal guard.

The seams (`transport.base.Transport`, `SudoCredential`, `gate.Gate`,
`journal.store.JournalWriter`) are passed in; `runbook.testing` has fakes of each.
"""

from .batch import Batch, HostRun, journals_in, run_batch
from .state import Attempt, Run, Stop
from .steps import release, rollback

__all__ = [
    "Attempt",
    "Batch",
    "HostRun",
    "Run",
    "Stop",
    "journals_in",
    "release",
    "rollback",
    "run_batch",
]
