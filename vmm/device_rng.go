//go:build !glue_no_rng && !glue_minimal

package vmm

import (
	"github.com/gluevmm/glue/internal/hostrandom"
	"github.com/gluevmm/glue/virtio/rng"
)

// virtio-rng: Config.RNG, fed from the host kernel's random pool (getrandom(2)).
// Build tag glue_no_rng leaves this file, and virtio/rng, out of glue;
// device_rng_missing.go takes its place.

const rngLinked = true

func newRNG() (virtioDevice, error) {
	return virtioDevice{dev: rng.New(hostrandom.Reader)}, nil
}
