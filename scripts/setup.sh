#!/usr/bin/env bash
# Installs everything Hearth needs. Idempotent; safe to re-run.
#   bash scripts/setup.sh        a developer or user machine
#   bash scripts/setup.sh --ci   also installs Debian's Chromium for the UI tests and Mesa's Vulkan
#                                driver (a software WebGPU adapter for the device tests; needs root + apt)
#
# onnxruntime-node's own installer downloads CUDA binaries; we skip it (CPU always works).
# NVIDIA users add the CUDA provider with `npm run gpu:cuda` (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
export ONNXRUNTIME_NODE_INSTALL=skip
# The Electron binary is fetched from GitHub by electron's postinstall. Where it cannot be
# fetched, the app still runs as a web UI (`npm start` falls back) and every test but the
# Electron end-to-end one runs.
if [[ "${1:-}" == "--ci" || -n "${HEARTH_NO_ELECTRON:-}" ]]; then
  export ELECTRON_SKIP_BINARY_DOWNLOAD=1
fi

need_chromium=0
if [[ "${1:-}" == "--ci" ]]; then need_chromium=1; fi
if [[ $need_chromium == 1 && ! -x /usr/bin/chromium ]]; then
  if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    echo "== installing Debian's chromium for the UI tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "warning: /usr/bin/chromium missing and apt-get unavailable: UI tests will be skipped" >&2
  fi
fi

# The device tests (test/integration/webgpu.test.ts) run on Mesa's software Vulkan driver
# (llvmpipe). Dawn rejects bookworm's own 22.3 build ("No supported adapters"); the 25.x build
# from bookworm-backports works. Debian only: elsewhere the device tests print SKIP.
if [[ "${1:-}" == "--ci" && $(id -u) == 0 ]] && command -v apt-get >/dev/null && grep -q 'VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null; then
  if ! dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | grep -q '^2[5-9]\.'; then
    echo "== installing Mesa's Vulkan driver (bookworm-backports) for the WebGPU device tests"
    if [[ ! -f /etc/apt/sources.list.d/bookworm-backports.sources ]]; then
      printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > /etc/apt/sources.list.d/bookworm-backports.sources
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null \
      || echo "warning: mesa-vulkan-drivers from bookworm-backports did not install: the WebGPU device tests will print SKIP" >&2
  fi
fi

echo "== npm ci"
if ! npm ci --no-audit --no-fund; then
  if [[ -z "${ELECTRON_SKIP_BINARY_DOWNLOAD:-}" ]]; then
    echo "npm ci failed; retrying without the Electron binary (the app will open as a web UI)" >&2
    ELECTRON_SKIP_BINARY_DOWNLOAD=1 npm ci --no-audit --no-fund
  else
    exit 1
  fi
fi
# The desktop app's engine host needs better-sqlite3 built for Electron's ABI, in a side folder so
# Node keeps its own (docs/desktop.md). Only where the Electron binary was installed.
if [[ "${1:-}" != "--ci" ]] && node -e "require('fs').accessSync(require('electron'))" 2>/dev/null; then
  echo "== building better-sqlite3 for Electron"
  node scripts/rebuild-electron-native.mjs || echo "warning: better-sqlite3 for Electron not built; \`npm start\` opens the web UI until \`npm run rebuild:electron\` succeeds" >&2
fi
# Compile the engine once (dist/), so `hearth`, the engine host and the runner workers start
# without compiling TypeScript; bin/hearth.mjs falls back to the source while dist/ is older.
echo "== npm run build"
npm run build --silent
echo "== setup done"
