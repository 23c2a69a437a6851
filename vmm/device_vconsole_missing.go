//go:build glue_no_vconsole || glue_minimal

package vmm

import "io"

// virtio-console is left out of this build (see device_vconsole.go).

const vconsoleLinked = false

func newVirtioConsole(io.Writer) (virtioDevice, consoleDevice, error) {
	return virtioDevice{}, nil, missingComponent(vconsoleComponent)
}
