#!/usr/bin/env bash
# A local Prefect server with SabiScore's deployments and a worker, stopped together on exit.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/prefect_local.sh [--no-worker] [--schedules]

Start a Prefect server on 127.0.0.1, deploy every deployment of prefect.yaml (the daily
retrain, the odds refresh and the manual runs) to the process work pool `sabiscore-local`, and
run a worker in the foreground. Ctrl-C stops the worker and the server.

  --no-worker   deploy, then keep only the server running (start workers elsewhere)
  --schedules   deploy with the schedules on (the daily retrain, the odds refresh every
                15 minutes, which reaches football-data.co.uk at once); without it they
                are deployed paused: resume them in the UI (Deployments -> the deployment ->
                the schedule's toggle) when wanted
  -h, --help    this text

Environment:
  PREFECT_PORT          port of the API and UI (default 4200)
  PREFECT_HOME          Prefect's state: database, profiles (default ~/.prefect)
  SABISCORE_DATA_DIR    data directory of the flows (default <project>/data)
  SABISCORE_ODDS_URL    where the odds refresh pushes prices (default serving.odds_url)
  SABISCORE_RELOAD_URL  what the pipeline calls after a promotion (default serving.reload_url)
  HEALTH_TIMEOUT_S      how long to wait for the server to answer (default 120)
  STOP_GRACE_S          how long the worker and server get to stop before a kill (default 15)

Then open http://127.0.0.1:$PREFECT_PORT, Deployments → pipeline-manual → Run.
USAGE
}

worker=1
schedules=0
for arg in "$@"; do
    case "$arg" in
        -h|--help) usage; exit 0 ;;
        --no-worker) worker=0 ;;
        --schedules) schedules=1 ;;
        *) echo "unknown argument: $arg" >&2; usage >&2; exit 2 ;;
    esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFECT="${PREFECT:-$ROOT/.venv/bin/prefect}"
[[ -x "$PREFECT" ]] || PREFECT="$(command -v prefect)"
PORT="${PREFECT_PORT:-4200}"
POOL=sabiscore-local

export PREFECT_SERVER_ANALYTICS_ENABLED=false
export PREFECT_API_URL="http://127.0.0.1:$PORT/api"
export SABISCORE_HOME="$ROOT"   # prefect.yaml's pull step runs each flow from here

pids=()
stop() {
    # The worker first, then the server, each a process group of its own (set -m below): a
    # group is asked to stop, given STOP_GRACE_S seconds, then killed with whatever it left.
    local i pid guard
    for (( i=${#pids[@]}-1; i>=0; i-- )); do
        pid=${pids[i]}
        kill -TERM -- "-$pid" 2>/dev/null || continue
        ( sleep "${STOP_GRACE_S:-15}"; kill -KILL -- "-$pid" 2>/dev/null ) &
        guard=$!
        wait "$pid" 2>/dev/null || true
        kill -KILL -- "-$pid" 2>/dev/null || true
        kill -- "-$guard" 2>/dev/null || true
    done
}
trap stop EXIT
trap 'exit 130' INT TERM

if curl -fsS "$PREFECT_API_URL/health" >/dev/null 2>&1; then
    echo "error: something already answers on port $PORT (set PREFECT_PORT)" >&2
    exit 1
fi

echo "starting the Prefect server on 127.0.0.1:$PORT"
set -m   # background jobs get their own process group: `kill -- -PID` stops all of a job
"$PREFECT" server start --host 127.0.0.1 --port "$PORT" &
pids+=("$!")

deadline=$(( SECONDS + ${HEALTH_TIMEOUT_S:-120} ))
until curl -fsS "$PREFECT_API_URL/health" >/dev/null 2>&1; do
    if ! kill -0 "${pids[0]}" 2>/dev/null; then
        echo "error: the server exited" >&2
        exit 1
    fi
    if (( SECONDS > deadline )); then
        echo "error: the server did not answer $PREFECT_API_URL/health in time" >&2
        exit 1
    fi
    sleep 1
done
echo "server up: http://127.0.0.1:$PORT"

if ! "$PREFECT" work-pool inspect "$POOL" >/dev/null 2>&1; then
    "$PREFECT" work-pool create "$POOL" --type process
fi
if (( schedules )); then
    (cd "$ROOT" && "$PREFECT" --no-prompt deploy --all)
else
    # prefect.yaml with every schedule `active: false`, deployed as the project's own file.
    paused="$(mktemp -d)/prefect.yaml"
    "$(dirname "$PREFECT")/python" - "$ROOT/prefect.yaml" "$paused" <<'PY'
import sys

import yaml

with open(sys.argv[1]) as handle:
    spec = yaml.safe_load(handle)
for deployment in spec["deployments"]:
    for schedule in deployment.get("schedules") or []:
        schedule["active"] = False
with open(sys.argv[2], "w") as handle:
    yaml.safe_dump(spec, handle, sort_keys=False)
PY
    (cd "$ROOT" && "$PREFECT" --no-prompt deploy --all --prefect-file "$paused")
    echo "schedules deployed paused: resume them in the UI, or start with --schedules"
fi

if (( worker )); then
    "$PREFECT" worker start --pool "$POOL" &
    pids+=("$!")
fi
echo "running; Ctrl-C stops everything"
wait "${pids[0]}"
