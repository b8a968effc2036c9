#!/usr/bin/env bash
# Coverage-guided fuzzing of one loader with SharpFuzz + AFL++ (docs/RELIABILITY.md, "Coverage-guided fuzzing").
#
#   fuzz/run.sh LOADER MINUTES        LOADER: v1 | c1z3 | pebble
#
# Builds fuzz/DotC1z.Fuzz (Release, published to fuzz/out/LOADER/bin), instruments the DotC1z.* assemblies
# with the SharpFuzz tool, runs afl-fuzz under `nice` for MINUTES starting from fuzz/corpus/LOADER/ plus the
# committed queue fuzz/corpus/LOADER-queue/, and copies crashes and hangs to fuzz/findings/LOADER/. AFL's working
# directory is fuzz/work/LOADER/ (ignored by git). Replay inputs with the uninstrumented build:
#   dotnet run --project fuzz/DotC1z.Fuzz -c Release -- LOADER FILE...
# (the instrumented copy in fuzz/out/ only runs under afl-fuzz: outside it, it dies writing the coverage map).
#
# Needs: afl++ (apt-get install -y afl++) and the SharpFuzz tool (dotnet tool install --global SharpFuzz.CommandLine).
# Run one campaign at a time: each one keeps a core busy.
# Environment: FUZZ_TIMEOUT_MS (per-input timeout, default 5000), FUZZ_NICE (default 10), FUZZ_RESUME=1 (continue
# the previous campaign's queue instead of starting from the seeds).
set -euo pipefail

if [[ $# -ne 2 || ! "$1" =~ ^(v1|c1z3|pebble)$ || ! "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 v1|c1z3|pebble MINUTES" >&2
  exit 2
fi
loader=$1
minutes=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
out="$here/out/$loader"
work="$here/work/$loader"
findings="$here/findings/$loader"
timeout_ms=${FUZZ_TIMEOUT_MS:-5000}
nice_level=${FUZZ_NICE:-10}
export PATH="$PATH:$HOME/.dotnet/tools"

command -v afl-fuzz >/dev/null || { echo "afl-fuzz not found: apt-get install -y afl++" >&2; exit 1; }
command -v sharpfuzz >/dev/null || { echo "sharpfuzz not found: dotnet tool install --global SharpFuzz.CommandLine" >&2; exit 1; }

echo "== publish"
rm -rf "$out"
nice -n "$nice_level" dotnet publish "$here/DotC1z.Fuzz/DotC1z.Fuzz.csproj" -c Release -o "$out/bin" --nologo -v quiet

echo "== instrument"
# Only this project's libraries: coverage of zstd, protobuf or SQLite internals would steer AFL away from our parsers.
for dll in "$out"/bin/DotC1z.*.dll; do
  case "$(basename "$dll")" in
    DotC1z.Fuzz.dll) continue ;;
  esac
  echo "   $(basename "$dll")"
  sharpfuzz "$dll" >/dev/null
done

# Per-run scratch on tmpfs (the harness writes each input to a file and the loaders extract into it);
# removed at the end, including what a killed (crashed or hung) target left behind.
scratch=$(mktemp -d "${TMPDIR:-/dev/shm}/dotc1z-fuzz-run-XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export DOTC1Z_FUZZ_SCRATCH="$scratch"
export DOTC1Z_FUZZ_PEBBLE_BASE="$repo/tests/fixtures/medium-unexpanded.pebble2.c1z"

if [[ "${FUZZ_RESUME:-0}" == 1 && -d "$work/default/queue" ]]; then
  input=-
else
  rm -rf "$work" "$here/work/$loader-in"
  # Seeds plus the committed, minimised queue of earlier campaigns (fuzz/corpus/LOADER-queue/).
  input="$here/work/$loader-in"
  mkdir -p "$input"
  cp "$here/corpus/$loader"/* "$input"/
  if [[ -d "$here/corpus/$loader-queue" ]]; then
    cp "$here/corpus/$loader-queue"/* "$input"/
  fi
fi
mkdir -p "$work" "$findings"

echo "== afl-fuzz $loader for $minutes min (timeout ${timeout_ms} ms, nice $nice_level)"
# The target is `dotnet`, not an AFL-compiled binary: skip the binary check. The container's core_pattern
# cannot be changed, and crashes surface through SharpFuzz's fork-server status anyway.
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_gcServer=0
set +e
nice -n "$nice_level" afl-fuzz -i "$input" -o "$work" -t "$timeout_ms" -m none -V $((minutes * 60)) \
  -- dotnet "$out/bin/DotC1z.Fuzz.dll" "$loader" >"$work/afl.log" 2>&1
rc=$?
set -e
if [[ $rc -ne 0 ]]; then
  echo "afl-fuzz exited with $rc; last lines of $work/afl.log:" >&2
  tail -30 "$work/afl.log" >&2
fi

stats="$work/default/fuzzer_stats"
copied=0
for kind in crashes hangs; do
  for f in "$work/default/$kind"/id:*; do
    [[ -e "$f" ]] || continue
    cp "$f" "$findings/$kind-$(basename "$f" | tr ':,' '_.')"
    copied=$((copied + 1))
  done
done

echo "== results ($loader)"
if [[ -f "$stats" ]]; then
  grep -E '^(run_time|execs_done|execs_per_sec|corpus_count|corpus_found|bitmap_cvg|saved_crashes|saved_hangs|stability) ' "$stats"
fi
echo "copied $copied crash/hang input(s) to $findings"
exit $rc
