#!/usr/bin/env bash
# libFuzzer targets (Tests/Fuzz): the rule language, the CSV reader, the date/amount/email/cursor
# parsers and campaign templates, built with `swiftc -sanitize=fuzzer,address`.
#   scripts/fuzz.sh [SECONDS per target, default 20] [TARGET...]
# Each target first replays its whole corpus (Tests/Fuzz/corpus/TARGET: seeds and every input
# that ever crashed it, kept as regression tests), then fuzzes for SECONDS. A crash fails the run
# and its input is saved into the corpus, to be fixed and kept. PATRON_ATTACK_LONG=1: 600 s each.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-$([ "${PATRON_ATTACK_LONG:-}" = 1 ] && echo 600 || echo 20)}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(rules csv dates templates)
build=${FUZZ_BUILD:-$root/.build-fuzz}
mkdir -p "$build"
flags=(-sanitize=fuzzer,address -parse-as-library -g -O -swift-version 6)

module() { # NAME SOURCES...: an instrumented static library and its module
    local name=$1; shift
    swiftc "${flags[@]}" -I "$build" -emit-module -emit-module-path "$build/$name.swiftmodule" -module-name "$name" \
        -emit-library -static -o "$build/lib$name.a" "$@" 2> >(grep -v "warning: " >&2)
}

mustache=$(ls -d .build/checkouts/swift-mustache/Sources/Mustache 2>/dev/null || true)
for target in "${targets[@]}"; do
    echo "== fuzz $target"
    case $target in
        rules)
            module SharedModels Sources/SharedModels/*.swift
            module Expressions Sources/Expressions/*.swift
            swiftc "${flags[@]}" -I "$build" -L "$build" -lExpressions -lSharedModels -o "$build/$target" Tests/Fuzz/rules.swift ;;
        dates)
            module SharedModels Sources/SharedModels/*.swift
            swiftc "${flags[@]}" -I "$build" -L "$build" -lSharedModels -o "$build/$target" Tests/Fuzz/dates.swift ;;
        csv)
            swiftc "${flags[@]}" -module-name CSVFuzz -o "$build/$target" Tests/Fuzz/csv.swift Sources/Interchange/CSVParser.swift ;;
        templates)
            [ -n "$mustache" ] || { echo "swift-mustache is not checked out: run swift build first" >&2; exit 1; }
            module Mustache "$mustache"/*.swift
            swiftc "${flags[@]}" -I "$build" -L "$build" -lMustache -o "$build/$target" Tests/Fuzz/templates.swift ;;
        *) echo "unknown target $target" >&2; exit 2 ;;
    esac 2> >(grep -v "warning: \|^$" >&2 || true)
    corpus=Tests/Fuzz/corpus/$target
    work=$(mktemp -d)
    # The corpus in the repository is only read; new interesting inputs go to a scratch copy.
    cp -r "$corpus"/. "$work"/ 2>/dev/null || true
    if ! timeout $((seconds + 120)) "$build/$target" "$work" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$corpus/" -print_final_stats=1 > "$build/$target.log" 2>&1; then
        tail -40 "$build/$target.log"
        echo "fuzz $target: CRASH — input saved under $corpus/crash-*" >&2
        rm -rf "$work"
        exit 1
    fi
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$build/$target.log" | tr '\n' ' '
    echo
    rm -rf "$work"
done
