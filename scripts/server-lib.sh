# Sourced by the scripts that run a local HTTP server in the background (llm-server.sh,
# services/embed.sh; test.sh asks whether one is running): the server's PID kept in a file, a wait until
# it answers, a stop by that PID. NAME is the server as the messages say it ("LLM server").
# Not in services/: test.sh runs every services/*.sh as a service.

# pid_alive PIDFILE: the process PIDFILE names is running.
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# start_server PIDFILE LOGFILE COMMAND...: COMMAND in the background, immune to hangups, its output in
# LOGFILE and its PID in PIDFILE.
start_server() {
  local pidfile=$1 logfile=$2
  shift 2
  nohup "$@" >"$logfile" 2>&1 &
  echo $! >"$pidfile"
}

# wait_until_answers NAME URL PIDFILE LOGFILE SECONDS: returns once URL answers (asked every 0.5 s);
# exits the script with 69 when the server dies (the end of its log shown) or is silent for SECONDS.
wait_until_answers() {
  local name=$1 url=$2 pidfile=$3 logfile=$4 seconds=$5
  for _ in $(seq 1 $((seconds * 2))); do
    if curl -sf "$url" >/dev/null 2>&1; then return 0; fi
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { echo "dlgforge: $name died; see $logfile" >&2; tail -5 "$logfile" >&2; exit 69; }
    sleep 0.5
  done
  echo "dlgforge: $name did not answer within $seconds s; see $logfile" >&2
  exit 69
}

# stop_server NAME PORT PIDFILE: the process PIDFILE names stopped (TERM, then KILL after 5 s) and the
# file removed, saying so; nothing when there is no PIDFILE.
stop_server() {
  local name=$1 port=$2 pidfile=$3 pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$pidfile"
  echo "dlgforge: $name on port $port stopped" >&2
}
