#!/usr/bin/env bash
# Reproduction v2 (docs/reproduction-v2/plan.md): the cells, in two lanes (one process per core),
# headline rows first. Resumable: every finished cell is in the shared cache; a re-run skips it.
#   bash scripts/reproduce-v2.sh a    # ResNet-50 rows: dense, Hao Li, Molchanov, then the others
#   bash scripts/reproduce-v2.sh b    # ResNet-18/34, pruned at the source, ResNet-34 pruned, soft pruning
#   bash scripts/reproduce-v2.sh sweep-300 | sweep-1000 [ROWS]   # the recovery budget sweep; ROWS
#                                  # (default resnet50,haoli,molchanov) splits it across two lanes
#   bash scripts/reproduce-v2.sh report   # docs/REPRODUCTION.md (v2, with v1 beside it), the JSON and the charts, from the caches
set -u
cd "$(dirname "$0")/.."
CACHE=docs/reproduction-v2/cache.json
mkdir -p runs/reproduce-v2
run() { # seeds steps rows
  local seeds=$1 steps=$2 rows=$3
  echo "== $(date -u +%FT%TZ) rows $rows, $steps steps, $seeds seeds"
  npm run --silent lab -- reproduce --regime v2 --seeds "$seeds" --steps "$steps" --rows "$rows" --cache "$CACHE" \
    --out "runs/reproduce-v2/${rows//,/-}-$steps.md" || echo "!! rows $rows failed ($?)"
}
case "${1:-}" in
  a) run 3 100 resnet50,haoli,molchanov; run 3 100 autobalanced,entropy,cop ;;
  b) run 3 100 resnet18,resnet34; run 3 100 molchanov-source,haoli-source; run 3 100 haoli-r34,molchanov-r34; run 3 100 psfp,fpgm ;;
  sweep-300) run 3 300 "${2:-resnet50,haoli,molchanov}" ;;
  sweep-1000) run 1 1000 "${2:-resnet50,haoli,molchanov}" ;;
  report)
    # v1: its committed cache, report and JSON record (the regime set beside v2).
    npm run --silent lab -- reproduce --regime v1 --seeds 3 --from-cache --cache docs/reproduction/cache.json \
      --out docs/reproduction/v1.md --json-out docs/reproduction/v1.json --charts . --reading docs/reproduction/reading.md
    npm run --silent repro-charts -- --in docs/reproduction/v1.json --out docs/reproduction
    # v2 with its sweep, v1 beside it: the report, the page's file and the charts.
    npm run --silent lab -- reproduce --regime v2 --seeds 3 --from-cache --sweep 300,1000:1 --cache "$CACHE" \
      --compare docs/reproduction/v1.json --out docs/REPRODUCTION.md --json-out public/reproduction.json \
      --charts reproduction-v2 --reading docs/reproduction-v2/reading.md --plan docs/reproduction-v2/plan.md
    npm run --silent repro-charts -- --in public/reproduction.json --out docs/reproduction-v2 ;;
  *) echo "usage: $0 a|b|sweep-300 [ROWS]|sweep-1000 [ROWS]|report" >&2; exit 2 ;;
esac
