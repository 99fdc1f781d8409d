#!/usr/bin/env bash
# make ha: three scepd nodes on a PostgreSQL 15 primary with a synchronous hot standby, behind
# HAProxy, each in its own network namespace on one bridge, under load while a node is killed
# and restarted, another is cut off the network for 10 s, the standby falls behind for 3 s and
# the primary stops and the standby is promoted. It passes only if every certificate a client
# received is in the promoted database, no serial repeats, no transaction has two
# certificates, every failure was a 502/503/504 or no answer, every resend succeeded (with the
# certificate already issued when there was one), the nodes enroll again within 10 s of the
# promotion, and a one-time challenge raced at the three nodes succeeds once.
#
# HA_BREAK=async shows that it can fail: the standby is asynchronous, so what the primary
# committed while the standby was behind is lost at the promotion, and the test says so.
# HA_FAILBACK=1 (tests/ha/failback.sh) then fails back under the same load: the old primary is
# rewound (pg_rewind) into a standby of the new one, made synchronous, and the new primary is
# stopped and the old one promoted; the same checks hold against that final database.
# Needs root (ip netns); PostgreSQL runs as nobody. KEEP_WORK=1 keeps the logs.
source "$(dirname "$0")/../interop/lib.sh"
BENCH=${SCEP_BENCH:-$ROOT/build/bench/scep-bench}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
FIRST=${HA_FIRST:-10000}  # enrollments in the first load-generator run, which the faults hit
BATCH=${HA_BATCH:-500}   # in each later run, until the faults are over
BREAK=${HA_BREAK:-}
FAILBACK=${HA_FAILBACK:-0}
export LC_ALL=C # sort, comm and join agree
[ "$(id -u)" = 0 ] || fail "needs root for ip netns (CI runs as root)"
for t in haproxy "$PG_BIN/initdb" psql "$BENCH"; do
  command -v "$t" > /dev/null || fail "$t is missing (apt-get install haproxy postgresql-15; make bench)"
done

# Names and addresses unique to this run.
S=$$
# A /24 no interface has (a run killed before its teardown leaves its bridge behind, and
# another PID can give the same subnet).
for i in $(seq 0 249); do
  NET=10.213.$(((S + i) % 250))
  ip -4 -o addr show | grep -q " inet $NET\." || break
done
BR=hab$S
declare -A ADDR=([db1]=$NET.11 [db2]=$NET.12 [n1]=$NET.21 [n2]=$NET.22 [n3]=$NET.23 [px]=$NET.30)
NSES=(db1 db2 n1 n2 n3 px)
ns() { echo "ha$S-$1"; }
veth() { echo "h$S$1"; } # the root end, on the bridge
in_ns() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }
as_pg() { local n=$1; shift; in_ns "$n" runuser -u nobody -- "$@"; }
declare -A PID=()
LOAD_PID="" CUT=""
AGAIN_PIDS=() RACE_PIDS=()

teardown() {
  set +e
  for p in "${PID[@]}"; do kill -9 "$p" 2> /dev/null; done
  for p in "$LOAD_PID" "$CUT" "${AGAIN_PIDS[@]}" "${RACE_PIDS[@]}"; do
    [ -n "$p" ] && kill "$p" 2> /dev/null
  done
  [ -n "$LOAD_PID" ] && kill "$(cat "$WORK/load/bench.pid" 2> /dev/null)" 2> /dev/null
  for d in db1 db2; do
    [ -f "$WORK/$d/postmaster.pid" ] && as_pg "$d" "$PG_BIN/pg_ctl" -D "$WORK/$d" -m immediate stop > /dev/null 2>&1
  done
  for n in "${NSES[@]}"; do # whatever still runs in this run's namespaces
    ip netns pids "$(ns "$n")" 2> /dev/null | xargs -r kill -9 2> /dev/null
  done
  sleep 0.2
  for n in "${NSES[@]}"; do
    ip link del "$(veth "$n")" 2> /dev/null
    ip netns del "$(ns "$n")" 2> /dev/null
  done
  ip link del "$BR" 2> /dev/null
  cleanup
}
trap teardown EXIT
trap 'exit 130' INT TERM

say() { echo "     $(date +%T.%N | cut -c1-12) $*"; }
now_ms() { date +%s%3N; }

# --- The network: a bridge in the root namespace (the load generator's), one veth per host.
# Names with this PID that exist are a dead run's (a live one has another PID): removed first.
ip link del "$BR" 2> /dev/null || true
for n in "${NSES[@]}"; do
  ip link del "$(veth "$n")" 2> /dev/null || true
  ip netns del "$(ns "$n")" 2> /dev/null || true
done
ip link add "$BR" type bridge && ip addr add "$NET.1/24" dev "$BR" && ip link set "$BR" up \
  || fail "cannot make bridge $BR"
for n in "${NSES[@]}"; do
  ip netns add "$(ns "$n")" || fail "ip netns add $(ns "$n")"
  ip link add "$(veth "$n")" type veth peer name "e$S$n" || fail "veth for $n"
  ip link set "e$S$n" netns "$(ns "$n")"
  ip link set "$(veth "$n")" master "$BR" up
  in_ns "$n" ip link set lo up
  in_ns "$n" ip link set "e$S$n" name eth0
  in_ns "$n" ip addr add "${ADDR[$n]}/24" dev eth0
  in_ns "$n" ip link set eth0 up
  in_ns "$n" ip route add default via "$NET.1"
done
ok "network: bridge $BR, namespaces ha$S-{db1,db2,n1,n2,n3,px} on $NET.0/24"

# --- PostgreSQL: a primary and a streaming hot standby, synchronous unless HA_BREAK=async.
chmod 755 "$WORK"
mkdir -p "$WORK/db1" "$WORK/db2" "$WORK/sock1" "$WORK/sock2" "$WORK/pglog"
chown nobody: "$WORK/db1" "$WORK/db2" "$WORK/sock1" "$WORK/sock2" "$WORK/pglog"
chmod 700 "$WORK/db1" "$WORK/db2"
as_pg db1 "$PG_BIN/initdb" -D "$WORK/db1" -U postgres -E UTF8 --locale=C --auth-local=trust \
  --auth-host=reject > "$WORK/initdb.log" 2>&1 || fail "initdb: $(tail -n 5 "$WORK/initdb.log")"
# A closed test network: trust on its subnet (a real deployment: scram or certificates).
printf 'host all all %s.0/24 trust\nhost replication all %s.0/24 trust\n' "$NET" "$NET" \
  >> "$WORK/db1/pg_hba.conf"
# For pg_rewind (a fail-back), in the file so that the single-user crash recovery it runs has
# them too: hint bits in the WAL, and the WAL back to the checkpoint before the divergence.
printf 'wal_log_hints = on\nwal_keep_size = 512MB\n' >> "$WORK/db1/postgresql.conf"
SYNC=(-c "synchronous_standby_names=*" -c synchronous_commit=on)
[ "$BREAK" = async ] && SYNC=(-c synchronous_commit=off)
pg_start() { # NAME [options]
  local d=$1; shift
  as_pg "$d" "$PG_BIN/pg_ctl" -D "$WORK/$d" -l "$WORK/pglog/$d.log" -w -t 60 -o "-p 5432 \
    -c listen_addresses=${ADDR[$d]} -k $WORK/sock${d#db} -c fsync=on $*" start > /dev/null \
    || fail "pg_ctl start $d: $(tail -n 5 "$WORK/pglog/$d.log")"
}
pg_start db1 "${SYNC[@]}"
psql_at() { psql -X -q -v ON_ERROR_STOP=1 -At -h "${ADDR[$1]}" -p 5432 -U postgres -d "${2:-postgres}" -c "$3"; }
as_pg db2 "$PG_BIN/pg_basebackup" -h "${ADDR[db1]}" -p 5432 -U postgres -D "$WORK/db2" -R \
  -X stream --checkpoint=fast > "$WORK/basebackup.log" 2>&1 \
  || fail "pg_basebackup: $(tail -n 5 "$WORK/basebackup.log")"
pg_start db2
want_state=sync
[ "$BREAK" = async ] && want_state=async
wait_standby() { # PRIMARY STATE STANDBY: the standby streams from the primary in that state
  for _ in $(seq 1 100); do
    [ "$(psql_at "$1" postgres "SELECT sync_state FROM pg_stat_replication")" = "$2" ] && return 0
    sleep 0.2
  done
  fail "the standby is not streaming ($2): $(tail -n 3 "$WORK/pglog/$3.log")"
}
wait_standby db1 "$want_state" db2
psql_at db1 postgres "CREATE ROLE scep_node LOGIN" && psql_at db1 postgres "CREATE DATABASE scepd OWNER scep_node"
ok "PostgreSQL 15: primary ${ADDR[db1]}, hot standby ${ADDR[db2]} streaming ($want_state)"

# --- The CA, once, and three nodes that find the primary among both hosts.
STORE="postgresql://scep_node@${ADDR[db1]}:5432,${ADDR[db2]}:5432/scepd?target_session_attrs=read-write&sslmode=disable"
CHALLENGE=ha-static-$S
echo "$CHALLENGE" > "$WORK/challenge" && chmod 600 "$WORK/challenge"
openssl rand -hex 16 > "$WORK/admin.token" && chmod 600 "$WORK/admin.token"
new_ca "$WORK/ca" --store "$STORE"
for n in n1 n2 n3; do cp -a "$WORK/ca" "$WORK/ca-$n"; done
start_node() { # NAME (ip netns exec runs scepd itself: $! is scepd's PID)
  ip netns exec "$(ns "$1")" "$SCEPD" serve --dir "$WORK/ca-$1" --listen "${ADDR[$1]}:8080" \
    --set "admin_listen=${ADDR[$1]}:8081" --set "admin_token_file=$WORK/admin.token" --challenge-file "$WORK/challenge" "${SERVE_ROOT[@]}" \
    >> "$WORK/$1.log" 2>&1 &
  PID[$1]=$!
}
node_ready() { curl -fs -m 2 "http://${ADDR[$1]}:8081/readyz" > /dev/null 2>&1; }
wait_ready() { # NAME SECONDS
  for _ in $(seq 1 $(($2 * 10))); do
    node_ready "$1" && return 0
    kill -0 "${PID[$1]}" 2> /dev/null || return 1
    sleep 0.1
  done
  return 1
}
for n in n1 n2 n3; do start_node "$n"; done
for n in n1 n2 n3; do wait_ready "$n" 20 || fail "node $n is not ready: $(tail -n 5 "$WORK/$n.log")"; done
ok "three nodes ready on ${ADDR[n1]}, ${ADDR[n2]}, ${ADDR[n3]} (store $STORE)"

cat > "$WORK/haproxy.cfg" << EOF
global
  maxconn 512
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 5s
  timeout check 1s
  retries 2
  option redispatch
frontend scep
  bind ${ADDR[px]}:8080
  default_backend nodes
backend nodes
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 500ms fall 2 rise 2
  server n1 ${ADDR[n1]}:8080 check port 8081
  server n2 ${ADDR[n2]}:8080 check port 8081
  server n3 ${ADDR[n3]}:8080 check port 8081
EOF
ip netns exec "$(ns px)" haproxy -db -f "$WORK/haproxy.cfg" > "$WORK/haproxy.log" 2>&1 &
PID[px]=$!
URL=http://${ADDR[px]}:8080/scep
wait_until answers "$URL?operation=GetCACaps" || true
curl -fs -m 2 "$URL?operation=GetCACaps" > /dev/null || fail "HAProxy: $(tail -n 5 "$WORK/haproxy.log")"
ok "HAProxy on ${ADDR[px]} checks /readyz on every node's admin port"

# --- Load: c=16 through HAProxy, one long run and then shorter ones until the faults are
# over. Each resends what failed (no answer or 502/503/504), up to 40 rounds a second apart.
mkdir -p "$WORK/load"
load() {
  local k=0 n=$FIRST
  while [ "$k" = 0 ] || [ ! -f "$WORK/faults.done" ]; do
    k=$((k + 1))
    mkdir -p "$WORK/load/$k"
    "$BENCH" -u "$URL" -c "$CHALLENGE" -n "$n" -C 16 --pool 4 --timeout 30 --retry 40 \
      --retry-wait 1000 --save "$WORK/load/$k" --kv > "$WORK/load/$k.kv" 2> "$WORK/load/$k.err" &
    echo $! > "$WORK/load/bench.pid"
    wait $! || true
    n=$BATCH
  done
}
load &
LOAD_PID=$!
# Each fault starts while enrollments flow (a load-generator run builds its requests first).
enrollments() { cat "$WORK"/n?.log | grep -c PKCSReq || true; }
wait_for_load() {
  local before
  for _ in $(seq 1 200); do
    before=$(enrollments)
    sleep 0.3
    [ "$(enrollments)" -gt "$before" ] && return 0
  done
  fail "no enrollment reached a node for 60 s: $(tail -n 3 "$WORK"/load/*.err)"
}
wait_for_load

# --- Faults.
rand() { echo $(($1 + RANDOM % ($2 - $1 + 1))); } # an integer in [MIN, MAX]
sleep 1
# n2 is cut off for 10 s (its veth down: packets vanish, connections stay open) ...
(
  sleep 2
  ip link set "$(veth n2)" down && say "n2 cut off the network"
  sleep 10
  ip link set "$(veth n2)" up && say "n2 back on the network"
) &
CUT=$!
# ... while n1 is killed at random moments and started again.
KILLS=0
END=$(($(now_ms) + 13000))
while [ "$(now_ms)" -lt "$END" ]; do
  sleep "$(rand 1 3).$(rand 0 9)"
  kill -9 "${PID[n1]}"
  wait "${PID[n1]}" 2> /dev/null || true
  say "kill -9 n1 (pid ${PID[n1]})"
  KILLS=$((KILLS + 1))
  sleep "0.$(rand 2 9)"
  start_node n1
  wait_ready n1 20 || fail "n1 did not come back: $(tail -n 5 "$WORK/n1.log")"
done
wait "$CUT"
ok "n1 killed with kill -9 $KILLS times at random moments and restarted; n2 cut off for 10 s and back"

PROMOTED_DB=db2
wait_for_load
ip link set "$(veth db2)" down && say "the standby cut off (it falls behind)"
sleep 3
as_pg db1 "$PG_BIN/pg_ctl" -D "$WORK/db1" -m immediate stop > /dev/null && say "primary stopped (-m immediate)"
ip link set "$(veth db2)" up
as_pg db2 "$PG_BIN/pg_ctl" -D "$WORK/db2" -w promote > /dev/null || fail "pg_ctl promote: $(tail -n 5 "$WORK/pglog/db2.log")"
PROMOTED=$(now_ms)
say "standby promoted"

# Every node enrolls again, directly (not through HAProxy), within 10 s of the promotion.
serve_again() { # NAME: milliseconds from the promotion to its first SUCCESS, or fails
  local n=$1
  while [ $(($(now_ms) - PROMOTED)) -lt 15000 ]; do
    if "$BENCH" -u "http://${ADDR[$n]}:8080/scep" -c "$CHALLENGE" -n 1 -C 1 --pool 1 --timeout 5 \
      --kv > "$WORK/again-$n.kv" 2>&1; then
      echo $(($(now_ms) - PROMOTED))
      return 0
    fi
    sleep 0.2
  done
  echo "never"
}
all_serve_again() { # sets AGAIN, or fails
  AGAIN="" AGAIN_PIDS=()
  for n in n1 n2 n3; do
    serve_again "$n" > "$WORK/again-$n" &
    AGAIN_PIDS+=($!)
  done
  wait "${AGAIN_PIDS[@]}"
  for n in n1 n2 n3; do
    t=$(cat "$WORK/again-$n")
    [ "$t" != never ] && [ "$t" -le 10000 ] || fail "node $n did not enroll within 10 s of the promotion ($t ms): $(tail -n 5 "$WORK/$n.log")"
    AGAIN="${AGAIN:-}$n ${t} ms, "
  done
}
all_serve_again

# Fail-back, under the load: db1, stopped by the crash above, is rewound to the promoted db2's
# timeline and started as its standby; db2 makes it synchronous; then db2 stops (a planned
# switch: -m fast sends the standby every WAL record first) and db1 is promoted.
fail_back() {
  local t0=$SECONDS
  # A promotion writes the new timeline into pg_control only at its next checkpoint: before
  # one, pg_rewind reads "same timeline, no rewind required" and db1 cannot follow.
  psql_at db2 postgres "CHECKPOINT"
  as_pg db1 "$PG_BIN/pg_rewind" -D "$WORK/db1" -R \
    --source-server="host=${ADDR[db2]} port=5432 user=postgres dbname=postgres" \
    > "$WORK/rewind.log" 2>&1 || fail "pg_rewind: $(tail -n 5 "$WORK/rewind.log")"
  grep -q "no rewind required" "$WORK/rewind.log" && fail "pg_rewind found nothing to rewind: $(cat "$WORK/rewind.log")"
  say "db1 rewound: $(grep -o 'servers diverged at.*' "$WORK/rewind.log")"
  pg_start db1
  wait_standby db2 async db1
  psql_at db2 postgres "ALTER SYSTEM SET synchronous_standby_names = '*'"
  psql_at db2 postgres "SELECT pg_reload_conf()" > /dev/null
  wait_standby db2 sync db1
  ok "fail-back: db1 rewound with pg_rewind, a synchronous standby of db2 in $((SECONDS - t0)) s"
  wait_for_load
  as_pg db2 "$PG_BIN/pg_ctl" -D "$WORK/db2" -m fast -w stop > /dev/null && say "db2 stopped (-m fast)"
  as_pg db1 "$PG_BIN/pg_ctl" -D "$WORK/db1" -w promote > /dev/null || fail "pg_ctl promote db1: $(tail -n 5 "$WORK/pglog/db1.log")"
  PROMOTED=$(now_ms)
  say "db1 promoted"
  all_serve_again
  ok "after the switch back to db1 every node enrolls again: ${AGAIN%, }"
  PROMOTED_DB=db1
}
ok "after the promotion every node enrolls again: ${AGAIN%, }"
[ "$FAILBACK" = 1 ] && fail_back
sleep 5
touch "$WORK/faults.done"
wait "$LOAD_PID"
LOAD_PID=""

# --- The verdict, against the promoted database (db1 again after a fail-back).
cat "$WORK"/load/*/results > "$WORK/results"
psql_at "$PROMOTED_DB" scepd "SELECT transaction_id, serial FROM certs" | tr '|' ' ' | sort > "$WORK/db-certs"
psql_at "$PROMOTED_DB" scepd "SELECT transaction_id, created_at FROM requests" | tr '|' ' ' | sort > "$WORK/db-requests"
SENT=$(wc -l < "$WORK/results")
[ "$SENT" -ge "$FIRST" ] || fail "only $SENT enrollments sent: $(cat "$WORK"/load/*.err | tail -n 3)"
read -r SUCCEEDED FAILED_FIRST RETRIED UNRESOLVED WRONG < <(awk '
  { ok += $2 == "ok"; first += $5 != "ok"; retried += $4 > 1; unresolved += $2 != "ok" }
  $5 !~ /^(ok|transport|http-50[234])$/ || $6 !~ /^(ok|transport|http-50[234])$/ { wrong++ }
  END { print ok + 0, first + 0, retried + 0, unresolved + 0, wrong + 0 }' "$WORK/results")
LOST=$(awk '$2 == "ok" { print $1, $3 }' "$WORK/results" | sort | comm -23 - "$WORK/db-certs" | wc -l)
DUPS=$(awk '$2 == "ok" { print $3 }' "$WORK/results" | sort | uniq -d | wc -l)
TWICE=$(psql_at "$PROMOTED_DB" scepd "SELECT count(*) FROM (SELECT transaction_id FROM certs GROUP BY 1 HAVING count(*) > 1) t")
# Resent requests whose certificate the store had before the last send (it was issued, the
# answer was lost): their resend got that certificate, or LOST above counts it.
ISSUED_BEFORE=$(awk '$4 > 1 && $2 == "ok" { print $1, int($7 / 1000) }' "$WORK/results" | sort \
  | join - "$WORK/db-requests" | awk '$3 < $2' | wc -l)
echo "     sent $SENT, succeeded $SUCCEEDED, failed during faults $FAILED_FIRST, retried $RETRIED" \
  "(of them already issued $ISSUED_BEFORE), unresolved $UNRESOLVED, wrong answers $WRONG," \
  "lost $LOST, duplicates $DUPS, transactions with two certificates $TWICE"
[ "$WRONG" = 0 ] || fail "$WRONG requests got a wrong answer: $(awk '$5 !~ /^(ok|transport|http-50[234])$/ || $6 !~ /^(ok|transport|http-50[234])$/' "$WORK/results" | head -n 3)"
[ "$LOST" = 0 ] || fail "$LOST certificates that clients received are not in the promoted database: $(awk '$2 == "ok" { print $1, $3 }' "$WORK/results" | sort | comm -23 - "$WORK/db-certs" | head -n 3)"
[ "$DUPS" = 0 ] || fail "$DUPS serials were received twice"
[ "$TWICE" = 0 ] || fail "$TWICE transactions have two certificates"
[ "$UNRESOLVED" = 0 ] || fail "$UNRESOLVED requests still failed after 40 resends"
[ "$FAILED_FIRST" -gt 0 ] || fail "no request failed: the faults did not reach the load"
ok "every certificate received is in the promoted database, once, one per transaction; every failure was a 502/503/504 or no answer, and its resend succeeded"

# --- A one-time challenge raced at the three nodes at once: one SUCCESS.
OTC=$("$SCEPD" challenge --dir "$WORK/ca" --ttl 10m | tail -n 1)
AT=$(($(now_ms) + 3000))
for n in n1 n2 n3; do
  mkdir -p "$WORK/race-$n"
  "$BENCH" -u "http://${ADDR[$n]}:8080/scep" -c "$OTC" -n 1 -C 1 --pool 1 --start-at "$AT" \
    --save "$WORK/race-$n" --kv > "$WORK/race-$n.kv" 2>&1 &
  RACE_PIDS+=($!)
done
for p in "${RACE_PIDS[@]}"; do wait "$p" || true; done
RACE_OK=$(cat "$WORK"/race-n*/results | awk '$2 == "ok"' | wc -l)
RACE_REFUSED=$(cat "$WORK"/race-n*/results | awk '$6 == "not-success"' | wc -l)
[ "$RACE_OK" = 1 ] && [ "$RACE_REFUSED" = 2 ] \
  || fail "a one-time challenge at three nodes at once: $RACE_OK SUCCESS, $RACE_REFUSED FAILURE: $(cat "$WORK"/race-n*/results)"
ok "a one-time challenge sent to the three nodes at the same moment succeeds once"

for n in n1 n2 n3; do grep -h "AddressSanitizer\|runtime error" "$WORK/$n.log" && fail "sanitizer report in $n"; done
finish
