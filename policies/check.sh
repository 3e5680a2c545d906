#!/usr/bin/env bash
# Checks and builds the Wheelhouse policy: fmt, strict check, tests with
# coverage, then the wasm bundle and its revision.
#
#   policies/check.sh [out_dir]      (default: policies/build)
#
# Env: OPA (opa binary), MIN_COVERAGE (percent, default 90).
# Exits non-zero when any step fails; prints the coverage figure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
out="${1:-$here/build}"
min_coverage="${MIN_COVERAGE:-90}"
entrypoint="wheelhouse/authz/decision"

if [[ -z "${OPA:-}" ]]; then
  if [[ -x "$repo/.tools/bin/opa" ]]; then
    OPA="$repo/.tools/bin/opa"
  else
    OPA="$HOME/.cache/wheelhouse/tools/opa-v1.22.2/opa"
  fi
fi
# A relative OPA (OPA=.tools/bin/opa) is relative to where check.sh was started, not to policies/.
if [[ "$OPA" != /* && "$OPA" == */* ]]; then
  OPA="$PWD/$OPA"
fi
if [[ ! -x "$OPA" ]]; then
  echo "check.sh: opa binary not found at $OPA; run scripts/setup or set OPA=/path/to/opa" >&2
  exit 2
fi

cd "$here"
# Sources: every .rego file (tests included) plus data.json, in a stable order.
mapfile -t sources < <(find . -path ./build -prune -o -type f \( -name '*.rego' -o -name 'data.json' \) -printf '%P\n' | LC_ALL=C sort)
# Bundle: the policy and its data, without tests.
mapfile -t bundle_files < <(printf '%s\n' "${sources[@]}" | grep -v '_test\.rego$')

echo "== opa fmt --list"
unformatted="$("$OPA" fmt --list "${sources[@]}")"
if [[ -n "$unformatted" ]]; then
  echo "not formatted (run: $OPA fmt -w policies/):" >&2
  echo "$unformatted" >&2
  exit 1
fi

echo "== opa check --strict"
"$OPA" check --strict "${sources[@]}"

echo "== opa test --coverage"
"$OPA" test "${sources[@]}"
coverage="$("$OPA" test --coverage --format json "${sources[@]}" | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const report = JSON.parse(s);
    process.stdout.write(String(report.coverage ?? 0));
  });')"
echo "coverage: ${coverage}%"
if ! awk -v c="$coverage" -v m="$min_coverage" 'BEGIN { exit !(c + 0 >= m + 0) }'; then
  echo "coverage ${coverage}% is below ${min_coverage}%" >&2
  exit 1
fi

echo "== opa build -t wasm"
mkdir -p "$out"
revision="$(cat "${sources[@]}" | sha256sum | cut -d' ' -f1)"
"$OPA" build -t wasm -e "$entrypoint" --revision "$revision" -o "$out/bundle.tar.gz" "${bundle_files[@]}"
printf '%s\n' "$revision" >"$out/revision"
echo "bundle: $out/bundle.tar.gz (revision $revision)"
