#!/usr/bin/env bash
# `npm start` / `pnpm start`: bootstrap if needed, then run the fleet (scripts/fleet.mjs).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$repo_root"
exec node scripts/fleet.mjs "$@"
