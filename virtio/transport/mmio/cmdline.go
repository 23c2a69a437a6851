package mmio

import (
	"fmt"

	"github.com/gluevmm/glue/guestmem"
)

// KernelParam returns the Linux command-line parameter that declares a
// virtio-mmio device at base with the given window size and interrupt
// line, e.g. "virtio_mmio.device=4K@0xd0000000:5". The guest kernel needs
// CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES.
func KernelParam(base guestmem.Addr, size uint64, irq uint32) string {
	return fmt.Sprintf("virtio_mmio.device=%s@%#x:%d", memSize(size), uint64(base), irq)
}

// memSize formats n the way the kernel's memparse reads it back.
func memSize(n uint64) string {
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"G", 30}, {"M", 20}, {"K", 10}} {
		if n != 0 && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d%s", n>>u.shift, u.suffix)
		}
	}
	return fmt.Sprint(n)
}
