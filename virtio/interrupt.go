package virtio

// InterruptKind says why a device interrupts its driver. The values are the
// virtio-mmio InterruptStatus bits.
type InterruptKind uint8

const (
	// InterruptUsedBuffer: a queue's used ring has new entries.
	InterruptUsedBuffer InterruptKind = 1
	// InterruptConfigChange: the configuration space (or the device
	// status, for DEVICE_NEEDS_RESET) changed.
	InterruptConfigChange InterruptKind = 2
)

// Interrupt is how a device tells its driver that something happened. Only
// the transport knows whether that is an interrupt line or an MSI-X vector.
// Its methods may be called from any goroutine, with the device's lock
// held, and never block.
type Interrupt interface {
	// Signal interrupts the driver: for InterruptUsedBuffer on behalf of
	// queue (MSI-X has a vector per queue), for InterruptConfigChange
	// queue is ignored. Queue.SignalUsed calls it for used buffers, so
	// devices rarely need to.
	Signal(kind InterruptKind, queue int)
	// NeedsReset sets DEVICE_NEEDS_RESET in the device status and sends a
	// configuration-change interrupt: the device has stopped and only a
	// reset by the driver revives it. A broken Queue calls it.
	NeedsReset()
}

// SignalFunc delivers an interrupt for a transport; see NewCommon.
type SignalFunc func(kind InterruptKind, queue int)

// interrupt is the Interrupt handed to a device at activation. It drops
// everything once the activation it belongs to has ended (the driver reset
// the device), so a late signal cannot leak into the next session.
type interrupt struct {
	c     *Common
	epoch uint64
}

func (i *interrupt) live() bool { return i.c.epoch.Load() == i.epoch }

func (i *interrupt) Signal(kind InterruptKind, queue int) {
	if i.live() {
		i.c.signal(kind, queue)
	}
}

func (i *interrupt) NeedsReset() {
	if i.live() && !i.c.needsReset.Swap(true) {
		i.c.signal(InterruptConfigChange, 0)
	}
}
