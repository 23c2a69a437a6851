//go:build !glue_no_pci && !glue_minimal

package vmm

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gluevmm/glue/kvm"
	"github.com/gluevmm/glue/pci"
	"github.com/gluevmm/glue/virtio"
	virtiopci "github.com/gluevmm/glue/virtio/transport/pci"
)

// virtio-pci: each device is a PCI function in the next slot, with one
// 64-bit memory BAR (placed in the 32-bit window, so a guest with only its
// first 4 GiB mapped reaches it), NumQueues+1 MSI-X vectors on GSIs of
// their own (msix.go) and INTx pin A on a shared line. Each queue's
// notify address has an ioeventfd, bound again at the new address when the
// guest moves the BAR. Build tag glue_no_pci leaves this file, and
// virtio/transport/pci, out of glue.

const pciLinked = true

// notifyWidths are the write widths a queue's ioeventfd matches: Linux
// writes the queue index as 16 bits, other drivers 32.
var notifyWidths = []uint32{2, 4}

// pciVirtio is one device's transport and its notification eventfds.
type pciVirtio struct {
	t      *virtiopci.Transport
	mu     sync.Mutex // guards evs (rebound on BAR moves)
	fds    []int      // per queue
	evs    []kvm.IOEvent
	drains *queueDrains
}

// queueDrains runs the queues' work left by notifications that reached
// the BAR (not an ioeventfd) on the event loop. queued marks the queues
// whose drain waits there, so a guest that keeps kicking that way queues
// one drain per queue, not one per kick.
type queueDrains struct {
	queued []atomic.Bool
	submit func(func()) error // the event loop's Submit
	notify func(q int) bool   // the transport's NotifyQueue: true if work is left
}

// addPCIVirtio puts dev in the next PCI slot.
func (dm *deviceManager) addPCIVirtio(dev virtio.Device) (notify func(queue int) bool, err error) {
	slot, err := dm.pci.nextSlot()
	if err != nil {
		return nil, err
	}
	log := dm.log.With("virtio-pci", slot.String(), "type", dev.Type())
	addr, err := dm.pci.allocBAR(virtiopci.BARSize)
	if err != nil {
		return nil, err
	}
	sink, err := dm.newMSIXSink(len(dev.QueueMaxSizes())+1, log)
	if err != nil {
		return nil, err
	}
	pv := &pciVirtio{}
	pv.drains = &queueDrains{
		queued: make([]atomic.Bool, len(dev.QueueMaxSizes())),
		submit: dm.loop.Submit,
		notify: func(q int) bool { return pv.t.NotifyQueue(q) },
	}
	t, err := virtiopci.New(dev, dm.mem, virtiopci.Config{
		BARAddr:  uint64(addr),
		MSIX:     sink,
		Resubmit: pv.drains.queue,
	}, log)
	if err != nil {
		return nil, err
	}
	pv.t = t
	for q := range t.NumQueues() {
		fd, err := dm.newNotifyFD(q, t.NotifyQueue)
		if err != nil {
			return nil, err
		}
		pv.fds = append(pv.fds, fd)
	}
	if err := pv.bindNotify(dm.vm); err != nil {
		return nil, err
	}
	onMove := func(mv pci.BARMove) {
		if mv.BAR != virtiopci.BAR {
			return
		}
		if err := pv.rebindNotify(dm.vm); err != nil {
			log.Error("rebind queue notifications after a BAR move", "err", err)
			return
		}
		log.Debug("queue notifications rebound", "bar", fmt.Sprintf("%#x", mv.New), "queues", len(pv.fds))
	}
	if _, err = dm.pci.attach(t.Function(), pci.PinA, map[int]uint64{virtiopci.BAR: virtiopci.BARSize}, onMove); err != nil {
		return nil, err
	}
	return t.NotifyQueue, nil
}

// queue has the event loop run queue q's work left by a notification
// that reached the BAR, unless that is queued already.
func (d *queueDrains) queue(q int) {
	if q < 0 || q >= len(d.queued) || !d.queued[q].CompareAndSwap(false, true) {
		return
	}
	d.submit(func() {
		d.queued[q].Store(false)
		if d.notify(q) {
			d.queue(q)
		}
	})
}

// bindNotify binds each queue's eventfd at its current notify address.
func (pv *pciVirtio) bindNotify(v *kvm.VM) error {
	pv.mu.Lock()
	defer pv.mu.Unlock()
	for q, fd := range pv.fds {
		addr, ok := pv.t.NotifyAddress(q)
		if !ok {
			return fmt.Errorf("vmm: virtio-pci: queue %d has no notify address", q)
		}
		for _, n := range notifyWidths {
			ev := kvm.IOEvent{FD: fd, Addr: addr, Len: n}
			if err := v.IOEventFD(ev); err != nil {
				return err
			}
			pv.evs = append(pv.evs, ev)
		}
	}
	return nil
}

// rebindNotify moves the ioeventfds to the notify addresses after a BAR
// move: the old bindings go first, so a write to the old address now
// reaches nothing (the BAR is no longer there).
func (pv *pciVirtio) rebindNotify(v *kvm.VM) error {
	pv.mu.Lock()
	old := pv.evs
	pv.evs = nil
	pv.mu.Unlock()
	for _, ev := range old {
		if err := v.DeassignIOEventFD(ev); err != nil {
			return err
		}
	}
	return pv.bindNotify(v)
}
