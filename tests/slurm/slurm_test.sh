#!/usr/bin/env bash
# A real Slurm on localhost (CTest label `slurm`): starts munged (when none runs), slurmctld and slurmd from
# Debian's packages with a private slurm.conf in a temporary folder, submits a 4-task array of tiny trials
# (`xrec sweep SPEC --slurm`) of which one fails, checks the merged store, resubmits the failed task
# (--retry-failed) after fixing its cause, checks again, and stops the daemons it started.
# Exit 77 (CTest: skipped) with the reason when the packages or the daemons are not there.
#   usage: slurm_test.sh XREC_BINARY PLUGIN_DIR FAULT_PLUGIN_DIR
set -uo pipefail

xrec=$1 plugins=$2 fault=$3
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

for c in slurmctld slurmd sbatch squeue sinfo munge unmunge munged; do
  command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] ||
    skip "$c is not installed (bash cmake/setup-debian.sh installs slurmctld slurmd slurm-client munge)"
done
[ "$(id -u)" -eq 0 ] || skip "the daemons need root here (SlurmUser=root, munged as user munge)"
PATH=$PATH:/usr/sbin

tmp=$(mktemp -d /tmp/xrec-slurm-XXXXXX)
started_munge=0
cleanup() {
  for d in slurmd slurmctld; do
    [ -f "$tmp/$d.pid" ] && kill "$(cat "$tmp/$d.pid")" 2>/dev/null
  done
  if [ "$started_munge" = 1 ] && [ -f /run/munge/munged.pid ]; then kill "$(cat /run/munge/munged.pid)" 2>/dev/null; fi
  sleep 1
  rm -rf "$tmp"
}
trap cleanup EXIT

# munge: one daemon per machine; reuse a running one.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  [ -f /etc/munge/munge.key ] || skip "/etc/munge/munge.key is missing (reinstall the munge package)"
  mkdir -p /run/munge && chown munge:munge /run/munge 2>/dev/null
  runuser -u munge -- /usr/sbin/munged 2>"$tmp/munged.err" || skip "munged does not start: $(cat "$tmp/munged.err")"
  started_munge=1
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n | unmunge >/dev/null 2>&1 || skip "munge does not answer after starting munged"
fi

host=$(hostname -s)
# Ports of our own: other Slurm tests on the machine may run at the same time.
port=$((20000 + (RANDOM % 2000) * 2))
mkdir -p "$tmp/state" "$tmp/spool"
export SLURM_CONF=$tmp/slurm.conf
cat >"$SLURM_CONF" <<EOF
ClusterName=xrectest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerParameters=sched_interval=1
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -c -f "$SLURM_CONF" 2>"$tmp/ctld.err" || skip "slurmctld does not start: $(cat "$tmp/ctld.err")"
slurmd -f "$SLURM_CONF" 2>"$tmp/d.err" || skip "slurmd does not start: $(cat "$tmp/d.err")"
state=""
for _ in $(seq 60); do
  state=$(sinfo -h -o %T 2>/dev/null | head -1)
  [ "$state" = idle ] && break
  sleep 1
done
[ "$state" = idle ] || skip "the node is not idle after 60 s (state '$state'); slurmctld log: $(tail -5 "$tmp/slurmctld.log" 2>/dev/null)"
echo "slurm up on $host, ports $port/$((port + 1))"

# Four tiny trials; `broken` fails until the file $tmp/fixed exists.
data=$tmp/successor.txt
for u in $(seq 0 39); do
  line="u$u"
  for k in $(seq 0 9); do line="$line $(((u * 7 + k) % 30 + 1))"; done
  echo "$line"
done >"$data"
cat >"$tmp/base.yaml" <<EOF
name: slurm-test
seed: 7
threads: 1
device: cpu
data:
  target: {type: user_sequences, path: $data}
backbone: {type: sasrec, hidden: 8, layers: 1, heads: 1, max_len: 6}
transfer: {type: fault, mode: ok}
train: {epochs: 1, batch_size: 16}
eval: {protocol: full, ks: [5, 10]}
EOF
cat >"$tmp/spec.yaml" <<EOF
base: base.yaml
variants:
  - {name: a, seed: 1}
  - {name: b, seed: 2}
  - {name: broken, transfer.mode: fail_unless, transfer.path: $tmp/fixed}
  - {name: c, seed: 3}
EOF
db=$tmp/main/xrec.db
run_sweep() {
  timeout 300 "$xrec" sweep "$tmp/spec.yaml" --slurm --slurm-dir "$tmp/array" --poll 1 --array-parallelism 2 \
    --db "$db" --plugin-path "$plugins" --plugin-path "$fault" "$@"
}
q() { "$xrec" query "$1" --db "$db" --csv | tail -n +2 | tr -d '\r'; }

out=$(run_sweep 2>&1)
rc=$?
echo "$out"
[ "$rc" -eq 1 ] || fail "the first submission should exit 1 (one task failed), got $rc"
grep -q "4 task(s), 1 failed, 0 missing" <<<"$out" || fail "expected '4 task(s), 1 failed, 0 missing'"
[ "$(ls "$tmp/array/shards/"*.db | wc -l)" -eq 4 ] || fail "expected 4 shards"
[ "$(q "SELECT count(*) FROM runs WHERE status = 'finished'")" = 3 ] || fail "expected 3 finished runs"
[ "$(q "SELECT count(*) FROM runs WHERE status = 'failed'")" = 1 ] || fail "expected 1 failed run"
[ "$(q "SELECT status FROM trials WHERE point_label = 'broken'")" = failed ] || fail "the broken trial is not failed"
q "SELECT error FROM runs WHERE status = 'failed'" | grep -q "failing on purpose" || fail "the failed run lacks its error"
[ "$(q "SELECT count(*) FROM final_metrics f JOIN runs r ON r.id = f.run_id WHERE r.status = 'finished' AND f.split = 'test' AND f.key = 'ndcg@10'")" = 3 ] ||
  fail "expected a test ndcg@10 for each finished run"
[ "$(q "SELECT count(DISTINCT sweep_id) FROM runs")" = 1 ] || fail "the runs are not tied to one sweep"
"$xrec" merge "$tmp/array/shards" --db "$db" | grep -q "0 run(s) added" || fail "merging the shards again added runs"

# Resubmit: only the failed task runs (--retry-failed), and now it finishes.
touch "$tmp/fixed"
out=$(run_sweep --retry-failed 2>&1)
rc=$?
echo "$out"
[ "$rc" -eq 0 ] || fail "the resubmission should exit 0, got $rc"
grep -q "4 trial(s), 1 in the array" <<<"$out" || fail "expected only the failed task in the array"
[ "$(q "SELECT status || '/' || attempts FROM trials WHERE point_label = 'broken'")" = finished/2 ] ||
  fail "the broken trial is not finished after 2 attempts"
[ "$(q "SELECT count(*) FROM sweep_trials WHERE status = 'finished'")" = 4 ] || fail "expected 4 finished trials"
[ "$(q "SELECT count(*) FROM runs")" = 5 ] || fail "expected 5 runs (4 trials + 1 failed attempt)"
"$xrec" sweep show "$(basename "$tmp/spec.yaml" .yaml)" --db "$db"
echo "PASS: slurm array of 4 tasks, 1 failed, resubmitted, merged"

# Data parallel under srun: 2 tasks, ranks from SLURM_PROCID / SLURM_NTASKS; rank 0 alone writes the run.
sed -e 's/type: fault, mode: ok/type: scratch/' -e 's/epochs: 1,/epochs: 2,/' "$tmp/base.yaml" >"$tmp/dp.yaml"
dp=$tmp/dp/xrec.db
out=$(timeout 180 srun -n 2 --cpus-per-task 1 env MASTER_ADDR=127.0.0.1 MASTER_PORT=$((port + 2)) \
  "$xrec" run "$tmp/dp.yaml" --db "$dp" --plugin-path "$plugins" 2>&1)
rc=$?
[ "$rc" -eq 0 ] || { echo "$out" | tail -20; fail "srun -n 2 xrec run exited $rc"; }
[ "$("$xrec" query "SELECT count(*) || '/' || min(status) FROM runs" --db "$dp" --csv | tail -1 | tr -d '\r')" = 1/finished ] ||
  fail "expected one finished run written by rank 0"
[ "$("$xrec" query "SELECT count(*) FROM metrics WHERE key = 'allreduce_seconds'" --db "$dp" --csv | tail -1 | tr -d '\r')" = 2 ] ||
  fail "expected train/allreduce_seconds for 2 epochs (the run was not data parallel)"
echo "PASS: srun -n 2 data-parallel run recorded once"
