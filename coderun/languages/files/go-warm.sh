#!/bin/sh
# Build Go's test dependencies once, into a cache every job starts from (a copy: jobs never share a
# writable cache). Without it each `go test -c` recompiles them: 3.6 CPU-s a program instead of 0.5.
set -e
dir=$(mktemp -d)
cat > "$dir/warm_test.go" <<'GO'
package warm_test

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
)

var _ = []interface{}{bytes.Compare, md5.Sum, math.Abs, reflect.DeepEqual, regexp.MustCompile, sort.Ints,
	strconv.Itoa, strings.Split, unicode.IsUpper, assert.Equal}

func TestWarm(t *testing.T) { fmt.Println("warm") }
GO
cd "$dir"
GOCACHE=/opt/coderun/gocache GO111MODULE=off GOPATH=/usr/share/gocode CGO_ENABLED=0 go test -c -o /dev/null warm_test.go
chmod -R a+rX /opt/coderun/gocache
rm -rf "$dir"
