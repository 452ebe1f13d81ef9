#!/usr/bin/env bash
# Benchmark: a new device decrypts the full history of 200 messages in 10
# conversations (recovery key, key backup), next to downloading the same
# events raw over plain HTTP in the same run. Uses the test stack
# (KRING_STACK_JSON, default target/stack/stack.json); prints one table.
# Run: keyctl session - tests/bench/new_device_history.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo test --workspace --test integration -- --ignored --exact --nocapture bench::bench_new_device_history
