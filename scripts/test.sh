#!/usr/bin/env bash
# `npm test` / `pnpm test`: bootstrap if needed, then typecheck and lint every package (turbo),
# then run every test against the real NATS and Postgres (vitest). Arguments go to vitest,
# e.g. `npm test -- services/router`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$repo_root"
turbo run typecheck lint --output-logs=errors-only
vitest run "$@"
