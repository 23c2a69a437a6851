package virtio

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gluevmm/glue/guestmem"
)

// Ring names one of the three areas of a split virtqueue.
type Ring int

const (
	RingDesc   Ring = iota // descriptor table ("QueueDesc")
	RingDriver             // available ring ("QueueDriver")
	RingDevice             // used ring ("QueueDevice")
)

// queueRegs is what the driver has written for one queue so far.
type queueRegs struct {
	size  uint16
	ready bool
	addr  [3]guestmem.Addr // indexed by Ring
}

// Common is the transport-neutral half of a virtio register file, named
// after virtio-pci's common configuration structure: device status and its
// handshake, feature negotiation, per-queue configuration, activation and
// reset. A transport decodes its registers into calls on Common.
//
// Common is not safe for concurrent use: the transport serializes calls
// with its own lock. The Interrupt it hands to the device is safe for
// concurrent use and never takes that lock.
type Common struct {
	dev      Device
	mem      *guestmem.Memory
	signal   SignalFunc
	log      *slog.Logger // rate-limited: guests drive what it logs
	limiter  *logLimiter
	maxSizes []uint16
	offered  uint64

	status     uint8
	driverFeat uint64
	queues     []queueRegs

	epoch      atomic.Uint64 // bumped by every reset; see interrupt
	active     atomic.Bool
	needsReset atomic.Bool
}

// NewCommon returns the register state of dev in its reset state. signal
// delivers interrupts (the transport's interrupt line or MSI-X); it is
// called from any goroutine and must not block. log may be nil.
func NewCommon(dev Device, mem *guestmem.Memory, signal SignalFunc, log *slog.Logger) (*Common, error) {
	if dev == nil || mem == nil || signal == nil {
		return nil, errors.New("virtio: NewCommon needs a device, memory and a signal function")
	}
	sizes := append([]uint16(nil), dev.QueueMaxSizes()...)
	if len(sizes) > MaxQueues {
		return nil, fmt.Errorf("virtio: %s device declares %d queues, more than %d", dev.Type(), len(sizes), MaxQueues)
	}
	for i, s := range sizes {
		if s == 0 || s > MaxQueueSize {
			return nil, fmt.Errorf("virtio: %s device queue %d: maximum size %d not in 1..%d", dev.Type(), i, s, MaxQueueSize)
		}
	}
	if n := dev.ConfigSize(); n < 0 {
		return nil, fmt.Errorf("virtio: %s device: negative configuration size %d", dev.Type(), n)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// One limiter per device, kept across resets: see loglimit.go.
	log, limiter := newLimitedLogger(log, time.Now)
	c := &Common{
		dev:      dev,
		mem:      mem,
		signal:   signal,
		log:      log.With("virtio", dev.Type().String()),
		limiter:  limiter,
		maxSizes: sizes,
		offered:  dev.Features() | CoreFeatures,
		queues:   make([]queueRegs, len(sizes)),
	}
	c.clear()
	return c, nil
}

// Device returns the device model.
func (c *Common) Device() Device { return c.dev }

// DeviceFeatures returns the feature bits offered to the driver.
func (c *Common) DeviceFeatures() uint64 { return c.offered }

// DriverFeatures returns the feature bits the driver has written.
func (c *Common) DriverFeatures() uint64 { return c.driverFeat }

// SetDriverFeatures writes 32-bit page page (0: bits 0-31, 1: bits 32-63)
// of the driver's features. It is ignored outside the negotiation window
// (DRIVER set, FEATURES_OK not yet) and for pages past 1.
func (c *Common) SetDriverFeatures(page uint32, v uint32) {
	if c.status&StatusDriver == 0 || c.status&(StatusFeaturesOK|StatusFailed) != 0 || page > 1 {
		return
	}
	shift := 32 * page
	c.driverFeat = c.driverFeat&^(0xffffffff<<shift) | uint64(v)<<shift
}

// Status returns the device status, DEVICE_NEEDS_RESET included.
func (c *Common) Status() uint8 {
	s := c.status
	if c.needsReset.Load() {
		s |= StatusDeviceNeedsReset
	}
	return s
}

// SetStatus handles the driver's write of the device status:
//
//   - 0 resets the device;
//   - a write that clears a bit the device holds is ignored (only a reset
//     clears bits), as is everything but a reset once FAILED is set;
//   - FAILED is accepted at any time (and prevents activation);
//   - the handshake bits are taken in the order ACKNOWLEDGE, DRIVER,
//     FEATURES_OK, DRIVER_OK, each only if its predecessor is set; the first
//     one refused ends the write. FEATURES_OK is refused (the driver reads
//     the status back to find out) unless the driver's features are a
//     subset of the device's and include VERSION_1;
//   - DRIVER_OK activates the device. If a queue's geometry is invalid or
//     the device fails to start, DRIVER_OK stays set and the device is
//     marked DEVICE_NEEDS_RESET;
//   - DEVICE_NEEDS_RESET belongs to the device and unknown bits have no
//     meaning; both are ignored.
func (c *Common) SetStatus(v uint8) {
	if v == 0 {
		c.Reset()
		return
	}
	cur := c.status
	v &^= StatusDeviceNeedsReset
	if cur&StatusFailed != 0 || cur&^v != 0 {
		c.log.Debug("virtio: status write ignored", "status", cur, "write", v)
		return
	}
	next := cur
	for _, bit := range []uint8{StatusAcknowledge, StatusDriver, StatusFeaturesOK, StatusDriverOK} {
		if v&bit == 0 || next&bit != 0 {
			continue
		}
		if !c.allowed(next, bit) {
			c.log.Debug("virtio: status bit refused", "status", next, "bit", bit, "features", c.driverFeat)
			break
		}
		next |= bit
	}
	if v&StatusFailed != 0 {
		c.status = next | StatusFailed
		c.log.Info("virtio: driver set FAILED", "status", cur)
		return // a driver that gave up gets no activation
	}
	c.status = next
	if next&StatusDriverOK != 0 && cur&StatusDriverOK == 0 {
		c.activate()
	}
}

// allowed reports whether bit may be added to status.
func (c *Common) allowed(status, bit uint8) bool {
	switch bit {
	case StatusAcknowledge:
		return true
	case StatusDriver:
		return status&StatusAcknowledge != 0
	case StatusFeaturesOK:
		return status&StatusDriver != 0 &&
			c.driverFeat&^c.offered == 0 && c.driverFeat&FeatureVersion1 != 0
	case StatusDriverOK:
		return status&StatusFeaturesOK != 0
	}
	return false
}

// activate builds the queues and starts the device.
func (c *Common) activate() {
	if err := c.startDevice(); err != nil {
		c.log.Warn("virtio: activation failed, device needs reset", "err", err)
		c.needsReset.Store(true)
		c.signal(InterruptConfigChange, 0)
		return
	}
	c.active.Store(true)
	c.log.Info("virtio: device activated", "features", fmt.Sprintf("%#x", c.driverFeat))
}

func (c *Common) startDevice() error {
	irq := &interrupt{c: c, epoch: c.epoch.Load()}
	queues := make([]*Queue, len(c.queues))
	for i, qr := range c.queues {
		if !qr.ready {
			continue
		}
		q, err := NewQueue(c.mem, QueueConfig{
			Index:     i,
			Size:      qr.size,
			MaxSize:   c.maxSizes[i],
			Desc:      qr.addr[RingDesc],
			Driver:    qr.addr[RingDriver],
			Device:    qr.addr[RingDevice],
			Features:  c.driverFeat,
			Interrupt: irq,
			Log:       c.log,
		})
		if err != nil {
			return err
		}
		queues[i] = q
	}
	if err := c.dev.Activate(c.mem, c.driverFeat, queues, irq); err != nil {
		return fmt.Errorf("virtio: activate %s device: %w", c.dev.Type(), err)
	}
	return nil
}

// Active reports whether the device has been activated and not reset since.
// It is safe to call from any goroutine.
func (c *Common) Active() bool { return c.active.Load() }

// Reset resets the device (Device.Reset, which waits for a Notify in
// progress) and returns every register to its initial state.
func (c *Common) Reset() {
	c.epoch.Add(1) // first: signals from the old activation are dropped
	c.active.Store(false)
	c.dev.Reset()
	c.clear()
	c.needsReset.Store(false)
}

func (c *Common) clear() {
	c.status = 0
	c.driverFeat = 0
	for i := range c.queues {
		c.queues[i] = queueRegs{size: c.maxSizes[i]}
	}
}

// NumQueues returns how many queues the device has.
func (c *Common) NumQueues() int { return len(c.queues) }

// QueueMaxSize returns the largest size of queue i, or 0 when there is no
// such queue (which tells a driver the queue does not exist).
func (c *Common) QueueMaxSize(i uint32) uint16 {
	if i >= uint32(len(c.queues)) {
		return 0
	}
	return c.maxSizes[i]
}

// QueueSize returns the size written for queue i (its maximum after reset).
func (c *Common) QueueSize(i uint32) uint16 {
	if i >= uint32(len(c.queues)) {
		return 0
	}
	return c.queues[i].size
}

// QueueReady reports whether the driver enabled queue i.
func (c *Common) QueueReady(i uint32) bool {
	return i < uint32(len(c.queues)) && c.queues[i].ready
}

// QueueAddr returns the address written for ring r of queue i.
func (c *Common) QueueAddr(i uint32, r Ring) guestmem.Addr {
	if i >= uint32(len(c.queues)) || r < RingDesc || r > RingDevice {
		return 0
	}
	return c.queues[i].addr[r]
}

// configurable reports whether queue i's geometry may still change: the
// queue exists, is not enabled, and the driver has not set DRIVER_OK. This
// freeze is what keeps a running device's rings where they were validated.
func (c *Common) configurable(i uint32) bool {
	return i < uint32(len(c.queues)) && !c.queues[i].ready &&
		c.status&(StatusDriverOK|StatusFailed) == 0
}

// SetQueueSize writes queue i's size. It is validated at activation.
func (c *Common) SetQueueSize(i uint32, n uint16) {
	if c.configurable(i) {
		c.queues[i].size = n
	}
}

// SetQueueAddr writes the address of ring r of queue i. It is validated at
// activation.
func (c *Common) SetQueueAddr(i uint32, r Ring, a guestmem.Addr) {
	if c.configurable(i) && r >= RingDesc && r <= RingDevice {
		c.queues[i].addr[r] = a
	}
}

// SetQueueReady enables or disables queue i; ignored once DRIVER_OK is set.
// A disabled queue may be reconfigured.
func (c *Common) SetQueueReady(i uint32, ready bool) {
	if i >= uint32(len(c.queues)) || c.status&(StatusDriverOK|StatusFailed) != 0 {
		return
	}
	c.queues[i].ready = ready
}
