package virtiopci

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/pci"
	"github.com/gluevmm/glue/virtio"
)

// Config is what the VMM decides for one transport.
type Config struct {
	// BARAddr is the BAR's initial guest-physical address, aligned to
	// BARSize, inside the VMM's 64-bit BAR window.
	BARAddr uint64
	// MSIX delivers the function's MSI-X messages (KVM: GSI routes and
	// irqfds). Required.
	MSIX pci.MSIXSink
	// Resubmit, if set, is called when a notification written to the BAR
	// (no ioeventfd bound) left work after its bounded share: the VMM
	// calls NotifyQueue(queue) from its event loop until it returns false.
	// Without it the transport defers the work as described in the
	// package documentation. It must not block or call into the transport.
	Resubmit func(queue int)
}

// Transport is one virtio device on PCI: a pci.Function whose BAR holds the
// virtio structures and the MSI-X table. Create it with New.
type Transport struct {
	dev        virtio.Device
	fn         *pci.Function
	numQueues  int
	configSize int
	resubmit   func(queue int)
	log        *slog.Logger

	mu         sync.Mutex // register state: c and the selectors
	c          *virtio.Common
	devFeatSel uint32
	drvFeatSel uint32
	queueSel   uint16

	// Vectors are read by signal, which must not take mu (a device
	// signals with its own lock held, and mu is held around Device.Reset).
	configVector atomic.Uint32
	queueVectors []atomic.Uint32
	generation   atomic.Uint32

	kicks *virtio.Kicks // queues with work a notification left for later

	irqMu sync.Mutex // innermost of the transport's locks: the ISR
	isr   uint8
}

// New returns the transport for dev with its function built: header, BAR,
// the virtio capabilities and MSI-X with NumQueues+1 vectors. The VMM
// attaches Function() to its root and registers its BAR region. log may be
// nil.
func New(dev virtio.Device, mem *guestmem.Memory, cfg Config, log *slog.Logger) (*Transport, error) {
	if cfg.MSIX == nil {
		return nil, errors.New("virtio-pci: new transport: no MSI-X sink")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Transport{dev: dev, resubmit: cfg.Resubmit, log: log}
	c, err := virtio.NewCommon(dev, mem, t.signal, log)
	if err != nil {
		return nil, fmt.Errorf("virtio-pci: %w", err)
	}
	if n := dev.ConfigSize(); n > MaxConfigSize {
		return nil, fmt.Errorf("virtio-pci: %s device configuration space of %d bytes exceeds %d", dev.Type(), n, MaxConfigSize)
	}
	t.c = c
	t.numQueues = c.NumQueues()
	t.configSize = dev.ConfigSize()
	t.queueVectors = make([]atomic.Uint32, t.numQueues)
	t.kicks = virtio.NewKicks(t.numQueues, t.NotifyQueue)
	t.resetVectors()
	fn, err := t.buildFunction(cfg)
	if err != nil {
		return nil, fmt.Errorf("virtio-pci: %s device: %w", dev.Type(), err)
	}
	t.fn = fn
	return t, nil
}

func (t *Transport) buildFunction(cfg Config) (*pci.Function, error) {
	typ := t.dev.Type()
	fn := pci.NewFunction(pci.Header{
		VendorID:          VendorID,
		DeviceID:          uint16(DeviceIDBase + typ),
		Revision:          Revision,
		Class:             pci.Class(pciClass(typ)),
		SubsystemVendorID: VendorID,
		SubsystemID:       uint16(SubsystemIDBase + typ),
		InterruptPin:      pci.PinA,
	})
	if err := fn.AddBAR(BAR, pci.BAR{Size: BARSize, Is64: true, Addr: cfg.BARAddr, Region: region{t}}); err != nil {
		return nil, err
	}
	caps := []pci.Capability{
		virtioCap(capCommon, CommonOffset, commonLen, nil),
		virtioCap(capNotify, NotifyOffset, uint32(t.numQueues*NotifyMultiplier), le32(NotifyMultiplier)),
		virtioCap(capISR, ISROffset, isrLen, nil),
	}
	if t.configSize > 0 {
		caps = append(caps, virtioCap(capDevice, DeviceOffset, uint32(t.configSize), nil))
	}
	caps = append(caps, &pciCfgCap{t: t})
	for _, c := range caps {
		if _, err := fn.AddCapability(c); err != nil {
			return nil, err
		}
	}
	err := fn.AddMSIX(pci.MSIXConfig{
		Vectors:  t.numQueues + 1,
		TableBAR: BAR, TableOffset: MSIXTableOffset,
		PBABAR: BAR, PBAOffset: MSIXPBAOffset,
	}, cfg.MSIX)
	if err != nil {
		return nil, err
	}
	return fn, nil
}

// virtioCap returns a struct virtio_pci_cap pointing at length bytes at
// offset into BAR, followed by extra (the notify capability's multiplier).
func virtioCap(typ uint8, offset, length uint32, extra []byte) *pci.VendorCapability {
	p := []byte{typ, BAR, 0, 0, 0} // cfg_type, bar, id, padding[2]
	p = append(p, le32(offset)...)
	p = append(p, le32(length)...)
	return pci.NewVendorCapability(append(p, extra...))
}

func le32(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }

// Function returns the PCI function the VMM attaches to its root (with a
// slot and the INTx line) and whose BARRegion(BAR) it puts on its MMIO bus.
func (t *Transport) Function() *pci.Function { return t.fn }

// Device returns the device model.
func (t *Transport) Device() virtio.Device { return t.dev }

// NumQueues returns the device's queue count: queues 0 to NumQueues()-1
// have a notification address.
func (t *Transport) NumQueues() int { return t.numQueues }

// NotifyAddress returns the guest-physical address of queue's notification
// register, at the BAR's current mapping: the VMM binds an ioeventfd (2
// bytes, Linux writes the 16-bit queue index; no data match needed) there
// and binds it again when its BARMoved hook reports this function's BAR
// moved. ok is false for a queue that does not exist.
func (t *Transport) NotifyAddress(queue int) (addr uint64, ok bool) {
	if queue < 0 || queue >= t.numQueues {
		return 0, false
	}
	base, _ := t.fn.BARAddress(BAR)
	return base + NotifyOffset + uint64(queue)*NotifyMultiplier, true
}

// NotifyQueue hands a kick of queue i to the device, which processes one
// bounded batch, and reports whether work remains: the caller calls again
// (an event loop by resubmitting the work, after other events). It is the
// event loop's entry point for the queue's ioeventfd; callable from any
// goroutine. Kicks before activation, while bus mastering is off, or for
// queues that do not exist are dropped.
func (t *Transport) NotifyQueue(i int) (more bool) {
	if i < 0 || i >= t.numQueues || !t.c.Active() || !t.fn.BusMaster() {
		return false
	}
	return t.dev.Notify(i)
}

// kick runs queue i's work for at most virtio.KickRounds batches, as in
// the MMIO transport (a vCPU stuck in an exit could never be paused), and
// hands what is left to Resubmit, or defers it: a used-buffer interrupt
// (allowed unrequested) makes the driver look, and its next ISR read or
// notification write runs the next share.
func (t *Transport) kick(i int) {
	if !t.kicks.Run(i) {
		return
	}
	if t.resubmit != nil {
		t.resubmit(i)
		return
	}
	t.kicks.Defer(i)
	t.signal(virtio.InterruptUsedBuffer, i)
}

// resumeDeferred continues the queues kick left unfinished.
func (t *Transport) resumeDeferred() { t.kicks.Resume(t.kick) }

// signal is the transport's half of virtio.Interrupt. It latches the
// reason in the ISR, then sends the vector of the queue (or of the
// configuration) when MSI-X is enabled, or raises INTx otherwise.
func (t *Transport) signal(kind virtio.InterruptKind, queue int) {
	var vector uint32
	switch kind {
	case virtio.InterruptUsedBuffer:
		if queue < 0 || queue >= t.numQueues {
			return
		}
		vector = t.queueVectors[queue].Load()
	case virtio.InterruptConfigChange:
		t.generation.Add(1)
		vector = t.configVector.Load()
	default:
		return
	}
	t.irqMu.Lock()
	defer t.irqMu.Unlock()
	t.isr |= uint8(kind)
	if !t.fn.MSIXEnabled() {
		t.fn.SetINTx(true)
		return
	}
	if vector != NoVector {
		t.fn.Notify(int(vector))
	}
}

// readISR returns the ISR and clears it, lowering INTx: the driver's read
// is its acknowledgement.
func (t *Transport) readISR() uint8 {
	t.irqMu.Lock()
	v := t.isr
	t.isr = 0
	t.fn.SetINTx(false)
	t.irqMu.Unlock()
	t.resumeDeferred()
	return v
}

// resetVectors unassigns every vector, as a device reset does.
func (t *Transport) resetVectors() {
	t.configVector.Store(NoVector)
	for i := range t.queueVectors {
		t.queueVectors[i].Store(NoVector)
	}
}

// reset returns the transport's own state to its initial values after
// Common reset the device. t.mu is held.
func (t *Transport) reset() {
	t.devFeatSel, t.drvFeatSel, t.queueSel = 0, 0, 0
	t.resetVectors()
	t.kicks.Clear()
	t.irqMu.Lock()
	t.isr = 0
	t.fn.SetINTx(false)
	t.irqMu.Unlock()
}
