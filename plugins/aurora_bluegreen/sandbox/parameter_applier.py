"""The detached process that applies one parameter-group change when it is due (``parameters.py``).

``python -m aurora_bluegreen.sandbox.parameter_applier STATE_DIR CLUSTER_ID NAME TOKEN``: waits until
the change is due, then applies it, unless a newer change of the same parameter, a restart or a
delete came first.
"""

from __future__ import annotations

import sys
import time

from aurora_bluegreen.sandbox.sandbox import Sandbox


def main(argv: list[str] | None = None) -> int:
    """The applier: ``STATE_DIR CLUSTER_ID NAME TOKEN``; waits until the change is due, applies it."""
    state_dir, cluster_id, name, token = argv if argv is not None else sys.argv[1:]
    sandbox = Sandbox(state_dir)
    record = sandbox.store.read(cluster_id)
    change = (record.pending_parameters.get(name) if record else None) or {}
    if change.get("token") != token:
        return 0
    time.sleep(max(0.0, float(change["applies_at"]) - time.time()))
    sandbox.apply_pending_parameter(cluster_id, name, token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
