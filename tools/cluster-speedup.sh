#!/usr/bin/env bash
# speed-up of a small cluster sweep on 1 vs 2 worker processes (per-trial threads 1), this machine.
set -u
CLI="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/src/DigitLab.Cli/bin/Release/net10.0/DigitLab.Cli.dll"
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
redis-server --port $port --bind 127.0.0.1 --save "" --appendonly no >/dev/null & rpid=$!
sleep 1
for n in 1 2; do
  pids=()
  for i in $(seq $n); do dotnet $CLI worker --cluster redis://127.0.0.1:$port --slots 1 > /tmp/w$n-$i.log 2>&1 & pids+=($!); done
  until [ $(grep -l joined /tmp/w$n-*.log 2>/dev/null | wc -l) -eq $n ]; do sleep 0.5; done
  rm -rf /tmp/speed$n
  start=$(date +%s.%N)
  dotnet $CLI sweep --cluster redis://127.0.0.1:$port --out /tmp/speed$n --models mlp --lr 0.02,0.01,0.005,0.002,0.001,0.0005 --train-sizes 55000 --epochs 4 --validation 100 --threads 1 > /tmp/speed$n.log 2>&1
  end=$(date +%s.%N)
  echo "workers=$n rc=$? wall=$(echo "$end - $start" | bc) s"
  for p in "${pids[@]}"; do kill $p; done; wait "${pids[@]}" 2>/dev/null
done
kill $rpid
