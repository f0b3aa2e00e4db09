#!/usr/bin/env bash
# The launcher path end to end on this machine: `ray up` / `ray submit` / `ray down` with cluster/onprem.yaml.
#
#   sudo cluster/e2e-local.sh            # root: it adds a throwaway user and runs an sshd; ~3-6 min on 2 cores
#
# What it does: creates a throwaway user (the lab's ssh_user) with a key it generates, starts an sshd for
# that user only on a loopback address (127.0.0.X:22, X free), fills in the four fields of cluster/onprem.yaml
# every lab fills in (head_ip, worker_ips, ssh_user, ssh_private_key) into a copy, and runs
#   ray up -y  /  ray submit ... sweeps/vae.py -- --smoke --storage <shared folder>  /  ray down -y
# then checks the summary (completed trials that ran on the cluster's node) and builds the report from the
# shared folder. Exit 0 only if all of it worked and no process of the throwaway user is left after
# `ray down`.
#
# Safe beside other Ray sessions on this machine: the cluster runs as its own user, so the `ray stop` that
# onprem.yaml and `ray down` run can end only that user's processes (not root's or another user's Ray), and
# its Ray files live under its own RAY_TMPDIR. The user's Python is the system interpreter of the project
# venv's version with the venv's packages on PYTHONPATH (a lab installs them with pip instead; see
# FACEBENCH_PYTHON in onprem.yaml). Everything it created is removed on exit, whatever the outcome.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$REPO/.venv/bin/python}
RAY_CLI=$(dirname "$PY")/ray
fail() { echo "e2e-local: $*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || fail "run as root (it adds a throwaway user and starts an sshd for it)"
[ -x /usr/sbin/sshd ] || fail "/usr/sbin/sshd missing (apt-get install openssh-server)"
command -v rsync >/dev/null || fail "rsync missing (apt-get install rsync)"
[ -x "$PY" ] && [ -x "$RAY_CLI" ] || fail "$PY / $RAY_CLI missing (the project's venv; set PYTHON=...)"
VER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
SYSPY=/usr/bin/python$VER
[ -x "$SYSPY" ] || fail "$SYSPY missing: the cluster user needs a Python $VER it can run"

T0=$(date +%s)
E2E=$(mktemp -d /tmp/fbe2e_XXXXXX)
chmod 755 "$E2E"
U=fbe2e$$
HOME_U=$E2E/home
SSHD_PID=""
UP=0
cleanup() {
  set +e
  if [ "$UP" = 1 ]; then (cd "$REPO" && RAY_TMPDIR=$E2E/client timeout 120 "$RAY_CLI" down -y "$E2E/onprem.yaml" >/dev/null 2>&1); fi
  for pid in $(ps -u "$U" -o pid= 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done   # only this run's user
  [ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null && wait "$SSHD_PID" 2>/dev/null
  id "$U" >/dev/null 2>&1 && userdel "$U" 2>/dev/null
  rm -rf "$E2E"
}
trap cleanup EXIT

# A loopback address whose port 22 is free: Ray's local provider connects to head_ip on port 22.
HEAD_IP=""
for x in $(seq $((2 + $$ % 200)) 250) $(seq 2 250); do
  if ! (exec 3<>"/dev/tcp/127.0.0.$x/22") 2>/dev/null; then HEAD_IP=127.0.0.$x; break; fi
done
[ -n "$HEAD_IP" ] || fail "no loopback address with a free port 22"
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Ray's fixed default ports (client server 10001, agent 52365) could be another Ray's on this machine.
RAY_PORT=$(free_port); CLIENT_PORT=$(free_port); AGENT_PORT=$(free_port)

useradd -M -d "$HOME_U" -s /bin/bash -p "*" "$U"   # "*": no password, yet not locked (sshd refuses locked)
mkdir -p "$HOME_U/.ssh" "$HOME_U/bin" "$E2E/shared" "$E2E/client"
ssh-keygen -q -t ed25519 -N "" -f "$E2E/id_e2e" -C "$U"
ssh-keygen -q -t ed25519 -N "" -f "$E2E/host_key"
cp "$E2E/id_e2e.pub" "$HOME_U/.ssh/authorized_keys"
ln -s "$SYSPY" "$HOME_U/bin/python"                  # `ray submit` runs `python FILE` on the head
printf '#!%s\nimport sys\nfrom ray.scripts.scripts import main\nsys.exit(main())\n' "$SYSPY" > "$HOME_U/bin/ray"
chmod 755 "$HOME_U/bin/ray"
cat > "$HOME_U/.bashrc" <<EOF
export PATH=$HOME_U/bin:\$PATH
export PYTHONPATH=$HOME_U/facebench:$SITE
export FACEBENCH_PYTHON=$SYSPY FACEBENCH_CACHE=$E2E/cache
export RAY_TMPDIR=$E2E/ray RAY_PORT=$RAY_PORT RAY_ADDRESS=$HEAD_IP:$RAY_PORT
export RAY_START_ARGS="--node-ip-address=$HEAD_IP --num-cpus=2 --num-gpus=0 --include-dashboard=false --ray-client-server-port=$CLIENT_PORT --dashboard-agent-listen-port=$AGENT_PORT"
export RAY_AUTH_MODE=disabled RAY_USAGE_STATS_ENABLED=0 TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1
EOF
mkdir -p "$E2E/ray" "$E2E/cache"
chown -R "$U" "$HOME_U" "$E2E/shared" "$E2E/ray" "$E2E/cache"
chmod 700 "$HOME_U/.ssh"

cat > "$E2E/sshd_config" <<EOF
ListenAddress $HEAD_IP:22
HostKey $E2E/host_key
PidFile $E2E/sshd.pid
AllowUsers $U
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
EOF
mkdir -p /run/sshd
/usr/sbin/sshd -D -f "$E2E/sshd_config" -E "$E2E/sshd.log" &
SSHD_PID=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/$HEAD_IP/22") 2>/dev/null && break; sleep 0.1; done

# The lab's four fields, filled in for this machine; every other line is cluster/onprem.yaml's own.
"$PY" - "$REPO/cluster/onprem.yaml" "$E2E/onprem.yaml" <<EOF
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
c["cluster_name"] = "facebench-e2e-$$"
c["provider"].update(head_ip="$HEAD_IP", worker_ips=[])
c["auth"] = {"ssh_user": "$U", "ssh_private_key": "$E2E/id_e2e"}
c["max_workers"] = 0
yaml.safe_dump(c, open(sys.argv[2], "w"), sort_keys=False)
EOF

cd "$REPO"
export RAY_TMPDIR=$E2E/client RAY_USAGE_STATS_ENABLED=0
echo "e2e-local: ray up (head $U@$HEAD_IP, Ray port $RAY_PORT)"
UP=1
timeout 600 "$RAY_CLI" up -y "$E2E/onprem.yaml" > "$E2E/up.log" 2>&1 || { tail -40 "$E2E/up.log" >&2; fail "ray up failed"; }
echo "e2e-local: ray submit sweeps/vae.py -- --smoke"
timeout 900 "$RAY_CLI" submit "$E2E/onprem.yaml" sweeps/vae.py -- --smoke --num-samples 2 --quiet --storage "$E2E/shared" \
  > "$E2E/submit.log" 2>&1 || { tail -40 "$E2E/submit.log" >&2; fail "ray submit failed"; }

"$PY" - "$E2E/shared/vae-smoke" <<'EOF' || { tail -20 "$E2E/submit.log" >&2; fail "results check failed"; }
import json, sys
from pathlib import Path
sweep = Path(sys.argv[1])
summary = json.loads((sweep / "summary.json").read_text())
done = [t for t in summary["trials"] if t["status"] == "completed"]
assert summary["counts"]["completed"] >= 1 and len(summary["trials"]) == 2, summary["counts"]
assert all(t["node_id"] for t in done), "a trial without the Ray node it ran on"
assert (sweep / "report" / "index.html").stat().st_size > 1000
print(f"e2e-local: {len(done)} completed trials on node {done[0]['node_id'][:12]}")
EOF
"$PY" -m facebench.cli report "$E2E/shared/vae-smoke" --out "$E2E/report" > /dev/null || fail "facebench report failed"

echo "e2e-local: ray down"
timeout 300 "$RAY_CLI" down -y "$E2E/onprem.yaml" > "$E2E/down.log" 2>&1 || { tail -20 "$E2E/down.log" >&2; fail "ray down failed"; }
UP=0
# Left running: any process of the cluster user, or any process naming this run's folder (the ssh control
# master Ray's command runner keeps for a few seconds exits by itself; wait for it, do not kill it).
left() { { ps -u "$U" -o pid=,args= 2>/dev/null; ps -eo pid=,args= | grep -F "$E2E" | grep -v -e grep -e "^ *$$ " -e "^ *$SSHD_PID "; } || true; }
for _ in $(seq 150); do [ -z "$(left)" ] && break; sleep 0.2; done
[ -z "$(left)" ] || fail "still running after ray down: $(left)"
echo "e2e-local: ok in $(( $(date +%s) - T0 )) s"
