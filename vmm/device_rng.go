//go:build !glue_no_rng && !glue_minimal

package vmm

import (
	"crypto/rand"

	"github.com/gluevmm/glue/virtio/rng"
)

// virtio-rng: Config.RNG, fed from the host's crypto/rand.
// Build tag glue_no_rng leaves this file, and virtio/rng, out of glue;
// device_rng_missing.go takes its place.

const rngLinked = true

func newRNG() (virtioDevice, error) {
	return virtioDevice{dev: rng.New(rand.Reader)}, nil
}
