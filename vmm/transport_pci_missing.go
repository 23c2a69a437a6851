//go:build glue_no_pci || glue_minimal

package vmm

import "github.com/gluevmm/glue/virtio"

// virtio-pci is left out of this build (see transport_pci.go); the PCI
// root complex stays, with its host bridge only.

const pciLinked = false

func (dm *deviceManager) addPCIVirtio(virtio.Device) (func(int) bool, error) {
	return nil, missingComponent(pciComponent)
}
