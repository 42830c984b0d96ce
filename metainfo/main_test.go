package metainfo

import (
	"testing"

	"go.uber.org/goleak"
)

// The Builder hashes on goroutines; none may outlive a Build call.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
