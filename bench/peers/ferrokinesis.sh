#!/usr/bin/env bash
# ferrokinesis.sh install|start MODE PORT|path
#   install            build ferrokinesis (Rust, crates.io) into $PEERS/ferrokinesis (idempotent);
#                      the crate's code stays out of this repository
#   start MODE PORT    start it on 127.0.0.1:PORT in the background (MODE: memory | durable),
#                      wait until it answers, print its PID (the only stdout line)
#   path               print the binary's path
# Knobs (env): PEERS (default ~/.cache/shardflow-peers, as ../shared/peers/install.sh),
#   FERROKINESIS_VERSION (default 0.7.0, the version measured in docs/benchmarks.md),
#   STREAM_MS (create/delete/update ms, default 0), SHARD_LIMIT (default 50).
# Durable mode is ferrokinesis's own: a write-ahead log it syncs (fsync) on every append, plus
# snapshots; the data lives under $PEERS/data/ferrokinesis-PORT, wiped at each start.
set -euo pipefail
PEERS=${PEERS:-$HOME/.cache/shardflow-peers}
VERSION=${FERROKINESIS_VERSION:-0.7.0}
ROOT=$PEERS/ferrokinesis
BIN=$ROOT/bin/ferrokinesis
cmd=${1:?usage: ferrokinesis.sh install|start MODE PORT|path}

case "$cmd" in
  path) echo "$BIN" ;;
  install)
    if [ -x "$BIN" ] && [ "$(cat "$ROOT/VERSION" 2>/dev/null)" = "$VERSION" ]; then
      echo "ferrokinesis $VERSION already built at $BIN" >&2; exit 0
    fi
    mkdir -p "$ROOT"
    # The crate as published (crates.io's .crate is a gzipped tar), unpacked outside this repo.
    SRC=$ROOT/ferrokinesis-$VERSION
    if [ ! -f "$SRC/Cargo.toml" ]; then
      # cargo fetches it through whatever registry (or mirror) it is configured for.
      FETCH=$ROOT/fetch; mkdir -p "$FETCH/src"; : > "$FETCH/src/lib.rs"
      printf '[package]\nname = "fetch-ferrokinesis"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\nferrokinesis = { version = "=%s", default-features = false }\n' \
        "$VERSION" > "$FETCH/Cargo.toml"
      cargo fetch --manifest-path "$FETCH/Cargo.toml" >&2
      CRATE=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"ferrokinesis-$VERSION.crate" | head -1)
      tar -xzf "$CRATE" -C "$ROOT"
    fi
    # It listens on 0.0.0.0 with no option to change that; servers here bind loopback only.
    sed -i 's/format!("0\.0\.0\.0:{port}")/format!("127.0.0.1:{port}")/' "$SRC/src/main.rs"
    grep -q 'format!("127.0.0.1:{port}")' "$SRC/src/main.rs" \
      || { echo "ferrokinesis.sh: could not set the loopback bind address" >&2; exit 1; }
    # --locked: the crate's own Cargo.lock, so the build is the one its authors tested.
    CARGO_TARGET_DIR=$ROOT/target cargo install --path "$SRC" --locked --root "$ROOT" >&2
    rm -rf "$ROOT/target" "$ROOT/fetch"  # 450 MB of build products; the binary is in $ROOT/bin
    echo "$VERSION" > "$ROOT/VERSION" ;;
  start)
    MODE=${2:?usage: ferrokinesis.sh start memory|durable PORT}
    PORT=${3:?usage: ferrokinesis.sh start memory|durable PORT}
    [ -x "$BIN" ] || { echo "ferrokinesis.sh: $BIN missing, run: $0 install" >&2; exit 1; }
    LOGDIR=$PEERS/logs; mkdir -p "$LOGDIR"
    LOG=$LOGDIR/ferrokinesis-$MODE-$PORT.log
    # As ../shared/peers/start.sh sets the other peers: state changes at once, a shard quota of
    # SHARD_LIMIT (50), warnings only in the log.
    MS=${STREAM_MS:-0}
    ARGS=(--port "$PORT" --create-stream-ms "$MS" --delete-stream-ms "$MS" --update-stream-ms "$MS"
          --shard-limit "${SHARD_LIMIT:-50}" --log-level warn)
    case "$MODE" in
      memory) ;;
      durable)
        D=$PEERS/data/ferrokinesis-$PORT; rm -rf "$D"; mkdir -p "$D"
        ARGS+=(--state-dir "$D") ;;
      *) echo "ferrokinesis.sh: unknown mode $MODE" >&2; exit 2 ;;
    esac
    setsid "$BIN" "${ARGS[@]}" >"$LOG" 2>&1 < /dev/null &
    PID=$!
    for _ in $(seq 1 100); do
      if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/" 2>/dev/null; then
        echo "$PID"; exit 0
      fi
      kill -0 "$PID" 2>/dev/null || { echo "ferrokinesis exited; log: $LOG" >&2; tail -5 "$LOG" >&2; exit 1; }
      sleep 0.1
    done
    kill "$PID"; echo "ferrokinesis did not answer within 10 s; log: $LOG" >&2; exit 1 ;;
  *) echo "usage: ferrokinesis.sh install|start MODE PORT|path" >&2; exit 2 ;;
esac
