//go:build !glue_no_rng && !glue_minimal

package vmm

import (
	"crypto/rand"

	"github.com/gluevmm/glue/virtio/rng"
)

// virtio-rng: Config.RNG, fed from the host's crypto/rand.
// Build tag glue_no_rng leaves this file, and virtio/rng, out of glue.
func init() { provide("virtio-rng", (*VM).addRNG) }

func (vm *VM) addRNG() error {
	return vm.addVirtio(rng.New(rand.Reader))
}
