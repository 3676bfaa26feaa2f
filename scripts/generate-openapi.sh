#!/usr/bin/env bash
# Regenerates Sources/HTTPAPI/Generated from the spec. Run after editing Sources/App/Resources/openapi.yaml.
# The generated files are committed so that normal builds and CI never build the generator (≈2.3 min saved).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
swift run --package-path "$root/scripts/openapi-generator" swift-openapi-generator generate \
    --config "$root/Sources/HTTPAPI/openapi-generator-config.yaml" \
    --output-directory "$root/Sources/HTTPAPI/Generated" \
    "$root/Sources/App/Resources/openapi.yaml"
