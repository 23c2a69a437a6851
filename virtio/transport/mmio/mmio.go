package mmio

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
)

// Trigger sets the level of the transport's interrupt line. See the package
// documentation for when it is called.
type Trigger interface {
	SetLevel(high bool)
}

// TriggerFunc adapts a function to Trigger.
type TriggerFunc func(high bool)

// SetLevel calls f(high).
func (f TriggerFunc) SetLevel(high bool) { f(high) }

type noTrigger struct{}

func (noTrigger) SetLevel(bool) {}

// Transport is one virtio-mmio register window around a virtio.Device. It
// implements bus.Device. Create it with New.
type Transport struct {
	dev        virtio.Device
	numQueues  int
	configSize int
	log        *slog.Logger

	mu         sync.Mutex // register state: c and the selectors
	c          *virtio.Common
	devFeatSel uint32
	drvFeatSel uint32
	queueSel   uint32
	generation atomic.Uint32

	kicks *virtio.Kicks // queues with work kick left for later

	irqMu sync.Mutex // innermost lock: InterruptStatus and the line
	isr   uint32
	irq   Trigger
}

// New returns the transport for dev. irq receives the interrupt line's
// level changes (nil: unconnected); log may be nil.
func New(dev virtio.Device, mem *guestmem.Memory, irq Trigger, log *slog.Logger) (*Transport, error) {
	if irq == nil {
		irq = noTrigger{}
	}
	t := &Transport{dev: dev, irq: irq, log: log}
	c, err := virtio.NewCommon(dev, mem, t.signal, log)
	if err != nil {
		return nil, fmt.Errorf("virtio-mmio: %w", err)
	}
	if n := dev.ConfigSize(); n > MaxConfigSize {
		return nil, fmt.Errorf("virtio-mmio: %s device configuration space of %d bytes exceeds %d", dev.Type(), n, MaxConfigSize)
	}
	t.c = c
	t.numQueues = c.NumQueues()
	t.kicks = virtio.NewKicks(t.numQueues, t.NotifyQueue)
	t.configSize = dev.ConfigSize()
	return t, nil
}

// Device returns the device model.
func (t *Transport) Device() virtio.Device { return t.dev }

// Read implements the guest's register reads. Registers take aligned
// 32-bit accesses only; the configuration space takes 8-, 16- and 32-bit
// accesses inside its size. Anything else reads as zero.
func (t *Transport) Read(offset uint64, data []byte) {
	clear(data)
	if offset >= ConfigOffset {
		if off, ok := t.configAccess(offset, len(data)); ok {
			t.mu.Lock()
			t.dev.ReadConfig(off, data)
			t.mu.Unlock()
		}
		return
	}
	if len(data) != 4 || offset%4 != 0 {
		return
	}
	binary.LittleEndian.PutUint32(data, t.readReg(offset))
}

// Write implements the guest's register writes, with the same access rules
// as Read; anything else is ignored.
func (t *Transport) Write(offset uint64, data []byte) {
	if offset >= ConfigOffset {
		if off, ok := t.configAccess(offset, len(data)); ok {
			t.mu.Lock()
			t.dev.WriteConfig(off, data)
			t.mu.Unlock()
		}
		return
	}
	if len(data) != 4 || offset%4 != 0 {
		return
	}
	v := binary.LittleEndian.Uint32(data)
	switch offset {
	case regQueueNotify:
		t.kick(int(v))
	case regInterruptACK:
		t.ack(v)
		t.resumeDeferred()
	default:
		t.writeReg(offset, v)
	}
}

// kick runs queue i's device work for at most virtio.KickRounds batches,
// without the register lock. If work remains it is deferred: the transport
// sends a used-buffer interrupt even though the driver may not have asked
// for one (the specification allows it), and the guest's interrupt
// handler, whose InterruptACK write resumes deferred queues, drives the
// next batches. So a driver that stopped kicking because of the event
// index is never left waiting, and each exit does bounded work.
func (t *Transport) kick(i int) {
	if t.kicks.Run(i) {
		t.kicks.Defer(i)
		t.signal(virtio.InterruptUsedBuffer, i)
	}
}

// resumeDeferred continues the queues kick left unfinished.
func (t *Transport) resumeDeferred() { t.kicks.Resume(t.kick) }

// configAccess checks a configuration-space access and returns its offset.
func (t *Transport) configAccess(offset uint64, n int) (int, bool) {
	off := offset - ConfigOffset
	if n != 1 && n != 2 && n != 4 {
		return 0, false
	}
	if off > uint64(t.configSize) || uint64(n) > uint64(t.configSize)-off {
		return 0, false
	}
	return int(off), true
}

func (t *Transport) readReg(offset uint64) uint32 {
	switch offset {
	case regMagic:
		return MagicValue
	case regVersion:
		return Version
	case regDeviceID:
		return uint32(t.dev.Type())
	case regVendorID:
		return VendorID
	case regInterruptStatus:
		t.irqMu.Lock()
		defer t.irqMu.Unlock()
		return t.isr
	case regConfigGeneration:
		return t.generation.Load()
	case regSHMLenLow, regSHMLenHigh, regSHMBaseLow, regSHMBaseHigh:
		return 0xffffffff // no shared memory regions: length -1
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch offset {
	case regDeviceFeatures:
		if t.devFeatSel > 1 {
			return 0
		}
		return uint32(t.c.DeviceFeatures() >> (32 * t.devFeatSel))
	case regQueueNumMax:
		return uint32(t.c.QueueMaxSize(t.queueSel))
	case regQueueReady:
		if t.c.QueueReady(t.queueSel) {
			return 1
		}
		return 0
	case regStatus:
		return uint32(t.c.Status())
	}
	return 0 // write-only or reserved
}

func (t *Transport) writeReg(offset uint64, v uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch offset {
	case regDeviceFeaturesSel:
		t.devFeatSel = v
	case regDriverFeatures:
		t.c.SetDriverFeatures(t.drvFeatSel, v)
	case regDriverFeaturesSel:
		t.drvFeatSel = v
	case regQueueSel:
		t.queueSel = v
	case regQueueNum:
		if v > virtio.MaxQueueSize {
			v = 0 // refused at activation, where truncation could not hide it
		}
		t.c.SetQueueSize(t.queueSel, uint16(v))
	case regQueueReady:
		t.c.SetQueueReady(t.queueSel, v == 1)
	case regStatus:
		t.c.SetStatus(uint8(v))
		if v&0xff == 0 {
			t.devFeatSel, t.drvFeatSel, t.queueSel = 0, 0, 0
			t.kicks.Clear()
			t.ack(^uint32(0))
		}
	case regQueueDescLow, regQueueDescHigh:
		t.setAddr(virtio.RingDesc, offset == regQueueDescHigh, v)
	case regQueueDriverLow, regQueueDriverHigh:
		t.setAddr(virtio.RingDriver, offset == regQueueDriverHigh, v)
	case regQueueDeviceLow, regQueueDeviceHigh:
		t.setAddr(virtio.RingDevice, offset == regQueueDeviceHigh, v)
	default:
		// Read-only, SHMSel (no regions), QueueReset (not offered): ignored.
	}
}

// setAddr writes one 32-bit half of a ring address.
func (t *Transport) setAddr(r virtio.Ring, high bool, v uint32) {
	a := uint64(t.c.QueueAddr(t.queueSel, r))
	if high {
		a = a&0xffffffff | uint64(v)<<32
	} else {
		a = a&^0xffffffff | uint64(v)
	}
	t.c.SetQueueAddr(t.queueSel, r, guestmem.Addr(a))
}

// NotifyQueue hands a kick of queue i to the device, which processes one
// bounded batch, and reports whether work remains: the caller calls again
// (an event loop by resubmitting the work, after other events). It is the
// event loop's entry point when an ioeventfd is bound to NotifyOffset;
// callable from any goroutine. Kicks before activation or for queues that
// do not exist are dropped.
func (t *Transport) NotifyQueue(i int) (more bool) {
	if i < 0 || i >= t.numQueues || !t.c.Active() {
		return false
	}
	return t.dev.Notify(i)
}

// signal is the transport's half of virtio.Interrupt: it latches the reason
// in InterruptStatus and raises the line on 0 -> non-zero.
func (t *Transport) signal(kind virtio.InterruptKind, _ int) {
	bits := uint32(kind) & (uint32(virtio.InterruptUsedBuffer) | uint32(virtio.InterruptConfigChange))
	if bits == 0 {
		return
	}
	if kind == virtio.InterruptConfigChange {
		t.generation.Add(1)
	}
	t.irqMu.Lock()
	defer t.irqMu.Unlock()
	was := t.isr
	t.isr |= bits
	if was == 0 {
		t.irq.SetLevel(true)
	}
}

// ack clears InterruptStatus bits and lowers the line when none is left.
func (t *Transport) ack(v uint32) {
	t.irqMu.Lock()
	defer t.irqMu.Unlock()
	was := t.isr
	t.isr &^= v
	if was != 0 && t.isr == 0 {
		t.irq.SetLevel(false)
	}
}
