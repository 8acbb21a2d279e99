#!/usr/bin/env bash
# Builds the real Pulumi CLI (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) at the version of
# @pulumi/pulumi in package-lock.json, and our Node.js language host (langhost/, see docs/engine.md),
# from the Go module proxy, through this wrapper module: pkg/v3's own go.mod has replace
# directives, so `go install pkg@version` refuses it. The binaries are cached outside the
# repository, keyed by version (the host also by its source), so a second run takes seconds.
# Prints the directory holding `pulumi` and `pulumi-language-nodejs` (the CLI looks for a language
# host next to itself).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
version="v$(node -p "require('$root/package-lock.json').packages['node_modules/@pulumi/pulumi'].version")"
cache="${RELEASE_INFRA_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/release-infra/engine}/$version"
mkdir -p "$cache"
ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version"

# The wrapper requires pkg/v3 and sdk/v3 at one version; when the lock file moves on, build from a
# copy that requires the lock file's version (go mod tidy fetches the new go.sum lines).
module="$here"
pinned="$(sed -n 's/^\s*github.com\/pulumi\/pulumi\/pkg\/v3 \(v[^ ]*\).*/\1/p' "$here/go.mod" | head -1)"
if [ "$pinned" != "$version" ]; then
  module="$(mktemp -d)"
  trap 'rm -rf "$module"' EXIT
  cp -r "$here/go.mod" "$here/go.sum" "$here/tools.go" "$here/langhost" "$module/"
  (cd "$module" && go mod edit -require "github.com/pulumi/pulumi/pkg/v3@$version" -require "github.com/pulumi/pulumi/sdk/v3@$version" && go mod tidy) >&2
  echo "note: scripts/engine/go.mod pins pulumi $pinned, package-lock.json has $version: built from an updated copy; update go.mod/go.sum" >&2
fi

if [ ! -x "$cache/pulumi" ]; then
  echo "building pulumi $version (a few minutes on a cold module cache)" >&2
  (cd "$module" && go build -trimpath -ldflags "$ldflags" -o "$cache/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  mv "$cache/pulumi.tmp" "$cache/pulumi"
fi

hostKey="$(cat "$module/go.mod" "$module/go.sum" "$module"/langhost/*.go | sha256sum | cut -c1-16)"
if [ ! -x "$cache/pulumi-language-nodejs" ] || [ "$(cat "$cache/pulumi-language-nodejs.key" 2>/dev/null)" != "$hostKey" ]; then
  echo "building the Node.js language host" >&2
  (cd "$module" && go build -trimpath -ldflags "$ldflags" -o "$cache/pulumi-language-nodejs.tmp" ./langhost)
  mv "$cache/pulumi-language-nodejs.tmp" "$cache/pulumi-language-nodejs"
  echo "$hostKey" > "$cache/pulumi-language-nodejs.key"
fi
echo "$cache"
