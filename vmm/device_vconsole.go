//go:build !glue_no_vconsole && !glue_minimal

package vmm

import "github.com/gluevmm/glue/virtio/vconsole"

// virtio-console: Config.ConsoleDevice == ConsoleVirtio. Its output goes to
// Config.Console like the UART's, and it takes the host's console input
// instead of the UART. Build tag glue_no_vconsole leaves this file, and
// virtio/vconsole, out of glue.
func init() { provide("virtio-console", (*VM).addVirtioConsole) }

func (vm *VM) addVirtioConsole() error {
	hvc := vconsole.New(vm.cfg.Console)
	vm.consoleIn = hvc
	return vm.addVirtio(hvc)
}
