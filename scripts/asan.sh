#!/usr/bin/env bash
# The addon under AddressSanitizer + LeakSanitizer, on a representative subset of the Node
# suites. Not part of `npm test` (it needs the nightly toolchain and takes minutes).
#
#   scripts/asan.sh [test files…]      default: key, metadata, context, hardening, hardening2
#   (pack.test.mjs fails here by design: NAPI_RS_NATIVE_LIBRARY_PATH loads the addon even when
#   the platform package it checks for is missing.)
#
# 1. self-check: a canary cdylib built like the addon must get a heap-buffer-overflow report;
# 2. builds the addon with RUSTFLAGS=-Zsanitizer=address on nightly (debug profile, its own
#    target directory), into $ASAN_OUT/yc-iam-token.asan.node;
# 3. runs the suites with the ASan runtime preloaded into node (node itself is not built with
#    ASan: the addon is loaded into it through NAPI_RS_NATIVE_LIBRARY_PATH), leak detection on,
#    one report file per process that has something to say;
# 4. scripts/asan/report.mjs sorts the reports: Node's own leaks are ignored, known napi-rs
#    leaks are listed, anything else in the addon fails the run.
#
# Exit: 0 clean; 1 an ASan/LSan finding in the addon (or the self-check failed); 2 a suite
# failed under ASan (a crash shows up as that too; timing-sensitive cases are slower here).
#
# Settings (environment):
#   ASAN_TARGET_DIR   cargo target directory (default: target/asan)
#   ASAN_OUT          where the .node and the reports go (default: a new temp directory)
#   ASAN_BUILD_STD=1  also instrument std (-Zbuild-std; needs `rustup component add rust-src --toolchain nightly`)
#   ASAN_C=1          also instrument the C code built by cc (aws-lc)
#   ASAN_RUNTIME      the ASan runtime to preload (default: gcc's libasan.so, else clang's)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
here="$repo/scripts/asan"
target=x86_64-unknown-linux-gnu
target_dir=${ASAN_TARGET_DIR:-$repo/target/asan}
out=${ASAN_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/yc-iam-token-asan.XXXXXX")}
mkdir -p "$out"
addon_name=yc-iam-token.asan.node
addon="$out/$addon_name"

say() { printf '# %s\n' "$*"; }
die() { printf 'asan.sh: %s\n' "$*" >&2; exit 1; }

[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || die "runs on Linux x86_64 only"
rustup run nightly rustc --version >/dev/null 2>&1 || die "the nightly toolchain is needed: rustup toolchain install nightly"

runtime=${ASAN_RUNTIME:-}
if [ -z "$runtime" ]; then
  for candidate in "$(gcc -print-file-name=libasan.so 2>/dev/null || true)" \
                   "$(clang -print-file-name=libclang_rt.asan-x86_64.so 2>/dev/null || true)"; do
    if [ -n "$candidate" ] && [ -f "$candidate" ]; then runtime=$candidate; break; fi
  done
fi
[ -n "$runtime" ] && [ -f "$runtime" ] || die "no ASan runtime found (gcc's libasan.so or clang's libclang_rt.asan-x86_64.so); set ASAN_RUNTIME"
say "ASan runtime: $runtime"
symbolizer=$(command -v llvm-symbolizer || true)

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:symbolize=1:log_path=$out/asan${symbolizer:+:external_symbolizer_path=$symbolizer}"
# Leaks are judged by report.mjs, not by exit codes: a leak report must not fail a suite.
export LSAN_OPTIONS="suppressions=$here/lsan.supp:exitcode=0:print_suppressions=0"

# ---- 1. self-check ----
say "self-check: an out-of-bounds read in a canary cdylib must be reported"
rustup run nightly rustc -Zsanitizer=address -g --crate-type cdylib -o "$out/libcanary.so" "$here/canary.rs"
gcc -o "$out/canary-harness" "$here/canary-harness.c" -ldl
set +e
canary=$(LD_PRELOAD="$runtime" ASAN_OPTIONS="halt_on_error=1" "$out/canary-harness" "$out/libcanary.so" 2>&1)
set -e
grep -q 'ERROR: AddressSanitizer: heap-buffer-overflow' <<<"$canary" || die "the self-check was not reported; ASan does not work here: $canary"
say "self-check: reported"

# ---- 2. the addon ----
rustflags="-Zsanitizer=address -Cforce-frame-pointers=yes"
build_std=()
if [ "${ASAN_BUILD_STD:-}" = 1 ]; then build_std=(-Zbuild-std); fi
if [ "${ASAN_C:-}" = 1 ]; then
  export CFLAGS_x86_64_unknown_linux_gnu="-fsanitize=address -fno-omit-frame-pointer"
  export CXXFLAGS_x86_64_unknown_linux_gnu="-fsanitize=address -fno-omit-frame-pointer"
fi
say "building the addon with $rustflags ${build_std[*]:-} (target dir $target_dir)"
# --target: RUSTFLAGS then reach only the target's crates, not build scripts and proc macros.
RUSTFLAGS="$rustflags" CARGO_TARGET_DIR="$target_dir" \
  cargo +nightly build "${build_std[@]}" --target "$target" -p yc-iam-token --lib
cp "$target_dir/$target/debug/libyc_iam_token.so" "$addon"
symbols=$(nm -D --undefined-only "$addon")
grep -q __asan_report_load <<<"$symbols" || die "the addon has no ASan instrumentation"

# ---- 3. the suites ----
if [ $# -gt 0 ]; then
  files=("$@")
else
  files=(__test__/key.test.mjs __test__/metadata.test.mjs __test__/context.test.mjs __test__/hardening.test.mjs __test__/hardening2.test.mjs)
fi
say "running ${files[*]} with $addon_name"
node_env=(LD_PRELOAD="$runtime" NAPI_RS_NATIVE_LIBRARY_PATH="$addon")
set +e
if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
  # The loopback-only namespace run.mjs would make, made here: under the preloaded runtime the
  # tools it uses for its own check (unshare, ip) report their leaks, and it would give up.
  unshare -n sh -c 'ip link set lo up && exec env "$@"' sh "${node_env[@]}" node __test__/run.mjs "${files[@]}"
else
  env "${node_env[@]}" node __test__/run.mjs "${files[@]}"
fi
suites=$?
set -e

# ---- 4. the reports ----
node "$here/report.mjs" "$out" "$addon_name" || { say "ASan found something in the addon (reports in $out)"; exit 1; }
if [ "$suites" -ne 0 ]; then
  say "a suite failed under ASan (exit $suites); no ASan finding in the addon (reports in $out)"
  exit 2
fi
say "clean (reports in $out)"
