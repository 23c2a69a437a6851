//go:build !glue_no_mmio && !glue_minimal

package vmm

import (
	"github.com/gluevmm/glue/acpi"
	"github.com/gluevmm/glue/kvm"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/x86"
)

// virtio-mmio: one 4 KiB window each (x86.VirtioMMIOAddr) on the MMIO bus,
// with the next free IOAPIC pin (x86.VirtioIRQ). The guest learns of them
// from the DSDT (LNRO0005 devices) or, without ACPI, from its command line
// (virtio_mmio.device=4K@0xd0000000:5). Build tag glue_no_mmio leaves this
// file, and virtio/transport/mmio, out of glue.
//
// The transport reports its line's level; a rising edge is one irqfd
// write, which is all an edge-triggered pin needs (the driver acks
// InterruptStatus before the line can rise again).

const mmioLinked = true

// addMMIOVirtio puts dev in the next MMIO slot: its window, its interrupt,
// its queue notifications and its description for the guest.
func (dm *deviceManager) addMMIOVirtio(dev virtio.Device) (notify func(queue int) bool, err error) {
	n := len(dm.mmioDevices)
	irq, ok := x86.VirtioIRQ(n)
	if !ok {
		return nil, configErr(FieldTransport, "more than %d virtio-mmio devices", n)
	}
	base := x86.VirtioMMIOAddr(n)
	irqFD, err := dm.newEventFD()
	if err != nil {
		return nil, err
	}
	if err := dm.vm.IRQFD(irqFD, irq); err != nil {
		return nil, err
	}
	log := dm.log.With("virtio-mmio", n, "type", dev.Type())
	t, err := mmio.New(dev, dm.mem, irqfdTrigger(irqFD), log)
	if err != nil {
		return nil, err
	}
	if err := dm.mmio.Insert(uint64(base), mmio.WindowSize, t); err != nil {
		return nil, err
	}
	for q := range dev.QueueMaxSizes() {
		fd, err := dm.newNotifyFD(q, t.NotifyQueue)
		if err != nil {
			return nil, err
		}
		ev := kvm.IOEvent{FD: fd, Addr: uint64(base) + mmio.NotifyOffset, Len: 4, DataMatch: true, Data: uint64(q)}
		if err := dm.vm.IOEventFD(ev); err != nil {
			return nil, err
		}
	}
	dm.mmioDevices = append(dm.mmioDevices, acpi.MMIODevice{Base: uint32(base), Size: mmio.WindowSize, IRQ: acpi.Interrupt{GSI: irq}})
	dm.mmioParams = append(dm.mmioParams, mmio.KernelParam(base, mmio.WindowSize, irq))
	return t.NotifyQueue, nil
}

// irqfdTrigger raises an edge on the device's pin when its line goes high.
type irqfdTrigger int

func (fd irqfdTrigger) SetLevel(high bool) {
	if high {
		signalEventFD(int(fd))
	}
}
