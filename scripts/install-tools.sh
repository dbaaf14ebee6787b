#!/usr/bin/env bash
# Installs the CLI tools the repo needs but npm cannot provide into <repo>/.tools/bin
# (gitignored), by building them from the Go module proxy — the only place this machine and
# CI can fetch them from (no GitHub release downloads, no get.helm.sh).
#
#   helm         renders and lints helm/switchyard (helm/switchyard/chart.test.ts needs it)
#   nats         the NATS CLI, for poking at streams and consumers by hand
#   nats-server  a current server for tests that start their own (the Debian one is v2.9)
#   versitygw    an S3 gateway over a local directory: the real S3 API for the media service's
#                tests and for `npm start` (no S3-compatible server is packaged by Debian or npm)
#
# Idempotent: a tool is skipped when its binary exists and its stamp file records the pinned
# version, so bumping a pin below is all it takes to upgrade. Each build is timed because a cold
# build on 2 cores takes minutes (see the timings in the output).
#
# Environment: TOOLS_DIR overrides <repo>/.tools; the usual GOCACHE/GOMODCACHE/GOPROXY apply.
set -euo pipefail

# Pinned versions — the newest the Go module proxy had when pinned
# (`go list -m -versions <module>`). nats-server stays on the 2.12 line on purpose.
HELM_VERSION=v3.22.0
NATSCLI_VERSION=v0.5.1
NATS_SERVER_VERSION=v2.12.15
VERSITYGW_VERSION=v1.8.0

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="${TOOLS_DIR:-$repo_root/.tools}"
bin_dir="$tools_dir/bin"
stamp_dir="$tools_dir/stamps"

log() { printf '[install-tools] %s\n' "$*"; }
die() { printf '[install-tools] ERROR: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "go is not on PATH (expected Go at /usr/local/go/bin); cannot build the tools"
mkdir -p "$bin_dir" "$stamp_dir"

# install <binary> <version> <package@version> [extra go-install flags…]
install_tool() {
  local name="$1" version="$2" pkg="$3"
  shift 3
  local binary="$bin_dir/$name" stamp="$stamp_dir/$name.version"

  if [[ -x "$binary" && -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
    log "$name $version already installed at $binary — skipping"
    return 0
  fi

  log "$name $version: go install $pkg (this can take a few minutes on 2 cores)…"
  local started=$SECONDS
  # -trimpath and -s -w: smaller binaries and no local paths baked in; CGO off gives static
  # binaries that do not care which libc the CI machine has.
  if ! CGO_ENABLED=0 GOBIN="$bin_dir" go install -trimpath "$@" "$pkg"; then
    die "go install $pkg failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
  fi
  printf '%s\n' "$version" >"$stamp"
  log "$name $version installed in $((SECONDS - started))s -> $binary"
}

total_started=$SECONDS

# helm takes its own version and the Kubernetes version it assumes for `helm template` and
# `helm lint` (.Capabilities.KubeVersion, deprecation checks) from ldflags, as its Makefile sets
# them; without them it would claim "v3.22" and Kubernetes 1.20. v3.22.0 builds against
# k8s.io/client-go v0.37.0, hence 1.37 — keep HELM_K8S_MINOR in step when bumping helm.
HELM_K8S_MINOR=37
helm_x() { printf -- '-X helm.sh/helm/v3/%s ' "$@"; }
install_tool helm "$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" \
  -ldflags="-s -w $(helm_x internal/version.version="$HELM_VERSION" internal/version.gitTreeState=clean \
    pkg/chartutil.k8sVersionMajor=1 pkg/chartutil.k8sVersionMinor=$HELM_K8S_MINOR \
    pkg/lint/rules.k8sVersionMajor=1 pkg/lint/rules.k8sVersionMinor=$HELM_K8S_MINOR)"

install_tool nats "$NATSCLI_VERSION" "github.com/nats-io/natscli/nats@$NATSCLI_VERSION" \
  -ldflags="-s -w -X main.version=$NATSCLI_VERSION"

install_tool nats-server "$NATS_SERVER_VERSION" "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION" \
  -ldflags="-s -w"

install_tool versitygw "$VERSITYGW_VERSION" "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" \
  -ldflags="-s -w"

log "done in $((SECONDS - total_started))s; add $bin_dir to PATH:"
log "  export PATH=\"$bin_dir:\$PATH\""
"$bin_dir/helm" version --short | sed 's/^/[install-tools]   helm /'
"$bin_dir/nats" --version 2>&1 | sed 's/^/[install-tools]   nats /'
"$bin_dir/nats-server" --version | sed 's/^/[install-tools]   /'
"$bin_dir/versitygw" --version 2>&1 | head -1 | sed 's/^/[install-tools]   versitygw /'
