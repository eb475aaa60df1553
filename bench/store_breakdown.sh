#!/usr/bin/env bash
# What a filled local store holds, per period and kind of object: objects and MB.
# Used by bench/packed.sh and bench/two_years.sh.
#
# Usage: bench/store_breakdown.sh DATA_DIR
set -euo pipefail
data=$1
for period in $(ls "$data/logs"); do
    for kind in all.log.gz log.gz all.range.gz range.gz functions.gz meta.json rollup; do
        find "$data/logs/$period" -name "*.$kind*" -printf '%s\n' \
            | awk -v p="$period" -v k=$kind '{s+=$1; n++} END {printf "%-7s %-14s %6d objects %10.3f MB\n", p, k, n, s/1e6}'
    done
    find "$data/svgs/$period" -name '*.svgz' -printf '%s\n' 2>/dev/null \
        | awk -v p="$period" '{s+=$1; n++} END {printf "%-7s %-14s %6d objects %10.3f MB\n", p, "svgz", n, s/1e6}'
    find "$data/logs/$period" "$data/svgs/$period" -type f -printf '%s\n' 2>/dev/null \
        | awk -v p="$period" '{s+=$1; n++} END {printf "%-7s %-14s %6d objects %10.3f MB\n", p, "everything", n, s/1e6}'
done
find "$data" -type f -printf '%s\n' \
    | awk '{s+=$1; n++} END {printf "%-22s %6d objects %10.3f MB\n", "store in total", n, s/1e6}'
