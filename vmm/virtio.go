package vmm

import (
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/kvm"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/x86"
)

// The device manager's virtio slots. Virtio devices sit on the MMIO bus, one
// 4 KiB window each (x86.VirtioMMIOAddr), and are described to the guest on
// its command line as Linux expects (virtio_mmio.device=4K@0xd0000000:5).
//
// Neither direction goes through a vCPU exit on the fast path:
//   - a queue notification (the guest writing the queue index to
//     QueueNotify) signals an ioeventfd inside KVM, one per queue, which the
//     event loop turns into Transport.NotifyQueue;
//   - an interrupt is a write to an irqfd bound to the device's IOAPIC pin.
//     The transport reports its line's level; a rising edge is one irqfd
//     write, which is all an edge-triggered pin needs (the driver acks
//     InterruptStatus before the line can rise again).

// virtioSlot is one device's window and file descriptors.
type virtioSlot struct {
	transport *mmio.Transport
	irqFD     int
	notifyFDs []int
}

// virtioDevice is a device made by a device file, for a virtio slot, with
// the backend it uses (nil if none). A device file that fails half-way
// closes the backends it opened; once handed to addVirtio, they are the
// device manager's.
type virtioDevice struct {
	dev     virtio.Device
	backend io.Closer
}

// addVirtio takes ownership of the devices' backends, then puts each device
// in the next slot.
func (dm *deviceManager) addVirtio(devs ...virtioDevice) error {
	for _, d := range devs {
		if d.backend != nil {
			dm.backends = append(dm.backends, d.backend)
		}
	}
	for _, d := range devs {
		if err := dm.addVirtioSlot(d.dev); err != nil {
			return err
		}
	}
	return nil
}

// addVirtioSlot puts dev in the next slot: its MMIO window, its interrupt,
// its queue notifications and its command-line entry.
func (dm *deviceManager) addVirtioSlot(dev virtio.Device) error {
	n := len(dm.virtio)
	irq, ok := x86.VirtioIRQ(n)
	if !ok {
		return fmt.Errorf("vmm: more than %d virtio devices", n)
	}
	base := x86.VirtioMMIOAddr(n)
	slot := &virtioSlot{irqFD: -1}
	dm.virtio = append(dm.virtio, slot)

	fd, err := newEventFD()
	if err != nil {
		return err
	}
	slot.irqFD = fd
	if err := dm.vm.IRQFD(fd, irq); err != nil {
		return err
	}
	log := dm.log.With("virtio", n, "type", dev.Type())
	t, err := mmio.New(dev, dm.mem, irqfdTrigger(fd), log)
	if err != nil {
		return err
	}
	slot.transport = t
	if err := dm.mmio.Insert(uint64(base), mmio.WindowSize, t); err != nil {
		return err
	}
	for q := range dev.QueueMaxSizes() {
		if err := dm.bindNotify(slot, base, q); err != nil {
			return err
		}
	}
	dm.params = append(dm.params, mmio.KernelParam(base, mmio.WindowSize, irq))
	return nil
}

// bindNotify routes the guest's "queue q has work" write through an
// ioeventfd to the event loop.
func (dm *deviceManager) bindNotify(slot *virtioSlot, base guestmem.Addr, q int) error {
	fd, err := newEventFD()
	if err != nil {
		return err
	}
	slot.notifyFDs = append(slot.notifyFDs, fd)
	ev := kvm.IOEvent{FD: fd, Addr: uint64(base) + mmio.NotifyOffset, Len: 4, DataMatch: true, Data: uint64(q)}
	if err := dm.vm.IOEventFD(ev); err != nil {
		return err
	}
	var notify func()
	notify = func() {
		// Bounded work per call; the rest is queued behind other fds.
		if slot.transport.NotifyQueue(q) {
			dm.loop.Submit(notify)
		}
	}
	return dm.loop.Add(fd, unix.EPOLLIN, func(uint32) {
		drainEventFD(fd)
		notify()
	})
}

// closeVirtio releases the slots' file descriptors, after the event loop
// is closed (KVM drops its irqfd and ioeventfd bindings with the VM).
func (dm *deviceManager) closeVirtio() {
	for _, s := range dm.virtio {
		for _, fd := range s.notifyFDs {
			unix.Close(fd)
		}
		if s.irqFD >= 0 {
			unix.Close(s.irqFD)
		}
	}
}

func newEventFD() (int, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return -1, fmt.Errorf("vmm: eventfd: %w", err)
	}
	return fd, nil
}

func drainEventFD(fd int) {
	var buf [8]byte
	unix.Read(fd, buf[:])
}

// irqfdTrigger raises an edge on the device's pin when its line goes high.
type irqfdTrigger int

func (fd irqfdTrigger) SetLevel(high bool) {
	if !high {
		return
	}
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	unix.Write(int(fd), one[:])
}
