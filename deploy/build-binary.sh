#!/bin/sh
# Builds Junction's static binary. The container image's build stage and
# `make release` both run this script, so what CI builds is what ships.
#
#   deploy/build-binary.sh OUT [VERSION [COMMIT [BUILD_DATE]]]
#
# GOOS and GOARCH from the environment choose the target (linux/amd64 and
# linux/arm64 are released). CGO is off: the binary needs no libc and runs
# on an empty (scratch) image.
set -eu
out=${1:?usage: build-binary.sh OUT [VERSION [COMMIT [BUILD_DATE]]]}
version=${2:-devel}
commit=${3:-unknown}
date=${4:-unknown}
cd "$(dirname "$0")/.."
CGO_ENABLED=0 go build -trimpath \
	-ldflags "-s -w -X main.version=$version -X main.commit=$commit -X main.buildDate=$date" \
	-o "$out" ./cmd/junction
