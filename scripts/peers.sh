# Sourced by scripts/demo and scripts/measure: starts moto and the Console double, seeded from
# thresholds.toml or the file given (examples/local_env.rs), exports their addresses, and stops them on exit.
start_peers() {
  local tmp config=${1:-thresholds.toml}
  tmp=$(mktemp -d)
  mkfifo "$tmp/in"
  "${CARGO_TARGET_DIR:-target}"/debug/examples/local_env "$config" < "$tmp/in" > "$tmp/env" &
  PEERS_PID=$!
  exec 3>"$tmp/in"   # holding the fifo open keeps the peers serving
  trap 'exec 3>&-; wait $PEERS_PID 2>/dev/null; rm -rf "'"$tmp"'"' EXIT
  for _ in $(seq 1 300); do
    grep -q '^ready$' "$tmp/env" 2>/dev/null && break
    kill -0 "$PEERS_PID" 2>/dev/null || { echo "the local peers did not start" >&2; exit 1; }
    sleep 0.1
  done
  # shellcheck disable=SC1091
  source <(grep '^export ' "$tmp/env")
  echo "local peers: moto at $AWS_ENDPOINT_URL, Console double at $COSTWARDEN_CONSOLE_URL" >&2
}
