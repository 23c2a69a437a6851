//go:build !glue_no_vconsole && !glue_minimal

package vmm

import (
	"io"

	"github.com/gluevmm/glue/virtio/vconsole"
)

// virtio-console: Config.ConsoleDevice == ConsoleVirtio. Its output goes to
// the guest output like the UART's, and it takes the host's console input
// instead of the UART. Build tag glue_no_vconsole leaves this file, and
// virtio/vconsole, out of glue; device_vconsole_missing.go takes its place.

const vconsoleLinked = true

// newVirtioConsole makes the device writing to out, and returns it as a
// virtio device and as the console input.
func newVirtioConsole(out io.Writer) (virtioDevice, consoleDevice, error) {
	hvc := vconsole.New(out)
	return virtioDevice{dev: hvc}, hvc, nil
}
