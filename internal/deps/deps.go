//go:build tools

// Package deps pins module dependencies used by tests and tools.
package deps

import (
	_ "github.com/jackpal/bencode-go"
	_ "github.com/stretchr/testify/require"
	_ "go.uber.org/goleak"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/time/rate"
)
