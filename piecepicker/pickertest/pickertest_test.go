package pickertest_test

import (
	"math/rand/v2"
	"testing"

	"github.com/bittern/bittern/piecepicker/pickertest"
)

func TestPolicies(t *testing.T) {
	rounds := 300
	if testing.Short() {
		rounds = 30
	}
	pickertest.Run(t, pickertest.Policies(), rounds)
}

func FuzzDrive(f *testing.F) {
	for seed := range uint64(8) {
		r := rand.New(rand.NewPCG(seed, 1))
		ops := make([]byte, 200+r.IntN(400))
		for i := range ops {
			ops[i] = byte(r.Uint32())
		}
		f.Add(uint8(seed), ops)
	}
	policies := pickertest.Policies()
	f.Fuzz(func(t *testing.T, policy uint8, ops []byte) {
		pol := policies[int(policy)%len(policies)]
		if err := pickertest.Drive(pol, ops); err != nil {
			t.Fatalf("%s: %v", pol.Name, err)
		}
	})
}
