#!/usr/bin/env bash
# make demo: runs the main job on its embedded defaults.
# Until `faasml bench` lands, it runs the end-to-end path that exists and says so.
set -euo pipefail
FAASML=${1:-build/faasml}
echo "faasml demo: 'faasml bench examples/quick.yaml' is not built yet."
echo "What exists today:"
"$FAASML" --version
"$FAASML" --help
