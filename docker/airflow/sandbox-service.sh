#!/usr/bin/env bash
# The Compose file's "sandbox" service: the local sandbox's blue, for the worker and triggerer.
#
# Those two containers share this container's network and process namespaces, so the clones
# they make (mariadbd processes on 127.0.0.1) and this blue see each other as on one machine,
# and the sandbox's state directory is one volume mounted in all three.
#  1. Seeds the sandbox's credentials from the environment on first start, so the Airflow
#     connections in docker-compose.yaml know the master user's password.
#  2. Starts blue (reuses it after a restart) and points the endpoint "app" at it.
#  3. Waits; on SIGTERM (docker compose stop/down) shuts every sandbox server down cleanly.
set -euo pipefail

export AURORA_BLUEGREEN_SANDBOX_DIR="${AURORA_BLUEGREEN_SANDBOX_DIR:-/opt/airflow/sandbox}"

python - <<'PY'
import os
from pathlib import Path

from aurora_bluegreen.sandbox.credentials import Credentials, load_credentials, save_credentials

path = Path(os.environ["AURORA_BLUEGREEN_SANDBOX_DIR"]) / "credentials.json"
if load_credentials(path) is None:
    save_credentials(
        path,
        Credentials(
            admin_password=os.environ["SANDBOX_ADMIN_PASSWORD"],
            app_password=os.environ["SANDBOX_APP_PASSWORD"],
        ),
    )
PY

aurora-bluegreen sandbox up --state-dir "$AURORA_BLUEGREEN_SANDBOX_DIR" --port "${SANDBOX_BLUE_PORT:-3310}"

stop_servers() {
    python - <<'PY'
import os

from aurora_bluegreen.sandbox import Sandbox

sandbox = Sandbox(os.environ["AURORA_BLUEGREEN_SANDBOX_DIR"])
for record in sandbox.clusters():
    sandbox.stop_server(record.cluster_id)
    print(f"stopped {record.cluster_id}", flush=True)
PY
}
trap 'stop_servers; exit 0' TERM INT

sleep infinity &
wait $!
