#!/usr/bin/env bash
# Makes a fresh clone runnable, idempotently and quickly when there is nothing to do:
#   the pinned pnpm (package.json "packageManager") into .tools/bin — no root, no global change;
#   the workspace dependencies (frozen lockfile);
#   helm, nats, nats-server and versitygw built from the Go module proxy into .tools/bin.
# Sourced by scripts/test.sh and scripts/start.sh (and so by `npm test` / `npm start`), which
# then find everything on PATH. Set SWITCHYARD_SKIP_BOOTSTRAP=1 to skip it in a tight loop.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$repo_root/.tools/bin:$repo_root/node_modules/.bin:$PATH"

if [[ "${SWITCHYARD_SKIP_BOOTSTRAP:-}" != "1" ]]; then
  pnpm_version="$(node -p 'require(process.argv[1]).packageManager.replace(/^pnpm@/, "").split("+")[0]' "$repo_root/package.json")"
  if [[ "$(pnpm --version 2>/dev/null || true)" != "$pnpm_version" ]]; then
    echo "[bootstrap] installing pnpm@$pnpm_version into .tools/bin"
    npm install -g --prefix "$repo_root/.tools" --no-fund --no-audit --loglevel=error "pnpm@$pnpm_version"
    hash -r
  fi
  # Skip the install when the lockfile has not changed since the last one (pnpm writes this file).
  if [[ ! -f "$repo_root/node_modules/.modules.yaml" || "$repo_root/pnpm-lock.yaml" -nt "$repo_root/node_modules/.modules.yaml" ]]; then
    echo "[bootstrap] pnpm install --frozen-lockfile"
    (cd "$repo_root" && pnpm install --frozen-lockfile --reporter=append-only)
  fi
  # Quiet when every tool is already at its pinned version; the full log when it builds one.
  tools_log="$(bash "$repo_root/scripts/install-tools.sh" 2>&1)" || { printf '%s\n' "$tools_log" >&2; exit 1; }
  if grep -q 'installed in' <<<"$tools_log"; then printf '%s\n' "$tools_log"; fi
fi
