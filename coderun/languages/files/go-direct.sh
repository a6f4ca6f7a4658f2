#!/bin/sh
# What a suite needs to build a `package main` program of the standard library alone with the compiler and
# linker themselves (mxeval's Go: `go build` / `go run` of one file), without the go command around them:
# the go command spends ~0.15 s of a 0.25 s build resolving packages and their staleness, then runs the same
# `compile -p main -complete` and `link` on the same standard library archives (Debian ships them built in
# GOROOT/pkg). Writes /opt/coderun/go/importcfg (every standard package's archive) and links to the tools.
set -e
root=$(go env GOROOT)
tools=$(go env GOTOOLDIR)
archives="$root/pkg/$(go env GOOS)_$(go env GOARCH)"
mkdir -p /opt/coderun/go
ln -sf "$tools/compile" /opt/coderun/go/compile
ln -sf "$tools/link" /opt/coderun/go/link
cd "$archives"
find . -name '*.a' | sed 's|^\./||; s|\.a$||' | sort | while read -r p; do
  echo "packagefile $p=$archives/$p.a"
done > /opt/coderun/go/importcfg
grep -q '^packagefile fmt=' /opt/coderun/go/importcfg
chmod -R a+rX /opt/coderun/go
