#!/usr/bin/env bash
# Makes sure the two real components Switchyard's tests talk to are up on loopback:
#   PostgreSQL on 127.0.0.1:5432 and NATS with JetStream on 127.0.0.1:4222.
# Anything already running is left alone; what is down is started with the machine's own
# commands (see /work/shared/DESIGN.md and the machine notes), then waited for. Exits non-zero
# with a message naming the component, its address and the command that failed otherwise.
#
# Environment: PG_HOST/PG_PORT, NATS_HOST/NATS_PORT, WAIT_SECONDS (default 30).
set -euo pipefail

PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
NATS_HOST="${NATS_HOST:-127.0.0.1}"
NATS_PORT="${NATS_PORT:-4222}"
WAIT_SECONDS="${WAIT_SECONDS:-30}"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[ensure-services] %s\n' "$*"; }
die() { printf '[ensure-services] ERROR: %s\n' "$*" >&2; exit 1; }

# --- PostgreSQL -------------------------------------------------------------------------------

pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1; }

ensure_postgres() {
  command -v pg_isready >/dev/null 2>&1 || die "pg_isready not found: is PostgreSQL (postgresql-client) installed?"
  if pg_up; then
    log "PostgreSQL is accepting connections on $PG_HOST:$PG_PORT"
    return 0
  fi

  local version
  version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1 || true)"
  [[ -n "$version" ]] || die "PostgreSQL is down on $PG_HOST:$PG_PORT and no cluster exists under /etc/postgresql to start"
  local cmd=(pg_ctlcluster --skip-systemctl-redirect "$version" main start)
  log "PostgreSQL is down on $PG_HOST:$PG_PORT; starting it: ${cmd[*]}"
  # "already running" is fine (it may be up on the socket only while still recovering).
  "${cmd[@]}" || log "(${cmd[*]} exited $? — waiting anyway in case it was already starting)"

  local deadline=$((SECONDS + WAIT_SECONDS))
  until pg_up; do
    ((SECONDS < deadline)) || die "PostgreSQL did not accept connections on $PG_HOST:$PG_PORT within ${WAIT_SECONDS}s after '${cmd[*]}' (see /var/log/postgresql/)"
    sleep 0.5
  done
  log "PostgreSQL is up on $PG_HOST:$PG_PORT"
}

# --- NATS ---------------------------------------------------------------------------------------

# Prints the server's INFO line (the first thing a NATS server sends), or fails if nothing listens.
# A subshell, so a refused connection cannot take this script down with it.
nats_info() (
  exec 3<>"/dev/tcp/$NATS_HOST/$NATS_PORT" || exit 1
  IFS= read -r -t 2 line <&3 || exit 1
  printf '%s\n' "$line"
)

nats_up() { nats_info >/dev/null 2>&1; }

ensure_nats() {
  if ! nats_up; then
    local server=/usr/sbin/nats-server
    if [[ ! -x "$server" ]]; then
      server="$repo_root/.tools/bin/nats-server"
      [[ -x "$server" ]] || die "NATS is down on $NATS_HOST:$NATS_PORT and neither /usr/sbin/nats-server nor .tools/bin/nats-server exists (run: bash scripts/install-tools.sh)"
    fi
    local store=/var/lib/nats-server logfile=/var/log/nats-server.log match=()
    if [[ "$NATS_PORT" != 4222 ]]; then
      # A second server must not share the default one's store, and start-stop-daemon must not
      # mistake the default one (same executable) for it: match on a pidfile of its own.
      store="/var/lib/nats-server-$NATS_PORT"
      logfile="/var/log/nats-server-$NATS_PORT.log"
      match=(--pidfile "/run/nats-server-$NATS_PORT.pid" --make-pidfile)
    fi
    if [[ ! -w "$(dirname "$store")" || ! -w "$(dirname "$logfile")" ]]; then
      # Not root: keep the store and log inside the repo instead.
      store="$repo_root/.tmp/nats-store-$NATS_PORT"
      logfile="$repo_root/.tmp/nats-server-$NATS_PORT.log"
      [[ ${#match[@]} -eq 0 ]] || match=(--pidfile "$repo_root/.tmp/nats-server-$NATS_PORT.pid" --make-pidfile)
    fi
    mkdir -p "$store" "$(dirname "$logfile")"
    local cmd=(start-stop-daemon --start --oknodo --background "${match[@]}" --exec "$server" --
      -a "$NATS_HOST" -p "$NATS_PORT" -js -sd "$store" -l "$logfile")
    log "NATS is down on $NATS_HOST:$NATS_PORT; starting it: ${cmd[*]}"
    "${cmd[@]}" || die "could not start NATS: '${cmd[*]}' exited $?"

    local deadline=$((SECONDS + WAIT_SECONDS))
    until nats_up; do
      ((SECONDS < deadline)) || die "NATS did not accept connections on $NATS_HOST:$NATS_PORT within ${WAIT_SECONDS}s after '${cmd[*]}' (see $logfile)"
      sleep 0.5
    done
  fi

  local info
  info="$(nats_info)" || die "NATS on $NATS_HOST:$NATS_PORT stopped answering"
  # A server started without -js answers fine but every JetStream call then fails with a far less
  # obvious error, so check here.
  [[ "$info" == *'"jetstream":true'* ]] ||
    die "NATS on $NATS_HOST:$NATS_PORT is running without JetStream; restart it with -js"
  local version
  version="$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' <<<"$info")"
  log "NATS ${version:-?} with JetStream is accepting connections on $NATS_HOST:$NATS_PORT"
}

ensure_postgres
ensure_nats
