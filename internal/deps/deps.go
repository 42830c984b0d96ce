//go:build tools

// Package deps pins module dependencies used by tests, tools and the
// example programs (mpb draws their progress bars).
package deps

import (
	_ "github.com/jackpal/bencode-go"
	_ "github.com/stretchr/testify/require"
	_ "github.com/vbauerster/mpb/v8"
	_ "github.com/vbauerster/mpb/v8/decor"
	_ "go.uber.org/goleak"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/time/rate"
)
