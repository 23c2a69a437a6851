//go:build glue_no_mmio || glue_minimal

package vmm

import "github.com/gluevmm/glue/virtio"

// virtio-mmio is left out of this build (see transport_mmio.go).

const mmioLinked = false

func (dm *deviceManager) addMMIOVirtio(virtio.Device) (func(int) bool, error) {
	return nil, missingComponent(mmioComponent)
}
