//go:build glue_no_rng || glue_minimal

package vmm

// virtio-rng is left out of this build (see device_rng.go).

const rngLinked = false

func newRNG() (virtioDevice, error) { return virtioDevice{}, missingComponent(rngComponent) }
