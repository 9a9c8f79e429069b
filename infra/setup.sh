#!/usr/bin/env bash
# Installs what the platform needs on a fresh machine (no Docker): uv, the Python
# workspace, Java 17 + Maven for the Kafka broker (Debian packages, as root), the
# Kafka jars (fetched once into ~/.cache/platform), helm for the chart tests, and
# builds realtime-go (Go).
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: please install ${need_apt[*]} (Java 17 and Maven run the Kafka broker)" >&2
    exit 1
  fi
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
fi

export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
if ! command -v go >/dev/null 2>&1; then
  echo "setup: Go is needed to build realtime-go (see realtime-go/go.mod for the version)" >&2
  exit 1
fi

if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --user "uv==0.13.8" 2>/dev/null \
    || python3 -m pip install --quiet "uv==0.13.8"
  export PATH="$HOME/.local/bin:$PATH"
fi

uv sync --all-packages --frozen

# Helm, built once from its Go module (no binary downloads here): the deployment tests
# lint and render every chart with it. Keep the version in step with the Makefile.
helm_version=v3.22.0
helm_dir="$HOME/.cache/platform/helm-$helm_version"
if [ ! -x "$helm_dir/helm" ]; then
  echo "setup: building helm $helm_version (once)"
  GOBIN="$helm_dir" go install "helm.sh/helm/v3/cmd/helm@$helm_version"
fi
uv run python infra/stack.py prepare
echo "setup: done. Next: make up"
