package virtio

import (
	"fmt"

	"github.com/gluevmm/glue/guestmem"
)

// DeviceType is a virtio device ID (virtio 1.2 section 5).
type DeviceType uint32

// Device IDs of the devices glue has or plans.
const (
	TypeNet     DeviceType = 1
	TypeBlock   DeviceType = 2
	TypeConsole DeviceType = 3
	TypeRNG     DeviceType = 4
	TypeBalloon DeviceType = 5
	TypeVsock   DeviceType = 19
)

func (t DeviceType) String() string {
	switch t {
	case TypeNet:
		return "net"
	case TypeBlock:
		return "block"
	case TypeConsole:
		return "console"
	case TypeRNG:
		return "rng"
	case TypeBalloon:
		return "balloon"
	case TypeVsock:
		return "vsock"
	}
	return fmt.Sprintf("type %d", uint32(t))
}

// Feature bits the core and the transports handle. Device-specific bits are
// defined by each device package.
const (
	FeatureRingIndirectDesc uint64 = 1 << 28 // VIRTIO_RING_F_INDIRECT_DESC
	FeatureRingEventIdx     uint64 = 1 << 29 // VIRTIO_RING_F_EVENT_IDX
	FeatureVersion1         uint64 = 1 << 32 // VIRTIO_F_VERSION_1

	// CoreFeatures are offered for every device on top of Device.Features:
	// glue is a modern-only (virtio 1.x) implementation, and Queue
	// implements event-index notification suppression and indirect
	// descriptors.
	CoreFeatures = FeatureVersion1 | FeatureRingEventIdx | FeatureRingIndirectDesc
)

// Device status bits (virtio 1.2 section 2.1).
const (
	StatusAcknowledge      uint8 = 1
	StatusDriver           uint8 = 2
	StatusDriverOK         uint8 = 4
	StatusFeaturesOK       uint8 = 8
	StatusDeviceNeedsReset uint8 = 64
	StatusFailed           uint8 = 128
)

// MaxQueueSize is the largest split virtqueue the specification allows.
const MaxQueueSize = 32768

// MaxQueues bounds how many queues a device may declare.
const MaxQueues = 1024

// Device is one virtio device model, driven by a transport (MMIO or PCI)
// through Common. See the package documentation for the contract: which
// methods run on which goroutine, and what a device may assume about its
// queues.
type Device interface {
	// Type returns the device ID.
	Type() DeviceType
	// Features returns the device-specific feature bits offered to the
	// driver; CoreFeatures are added by Common.
	Features() uint64
	// QueueMaxSizes returns the largest size of each queue; its length is
	// the number of queues. Each size must be in 1..MaxQueueSize.
	QueueMaxSizes() []uint16

	// ConfigSize returns the size in bytes of the device-specific
	// configuration space.
	ConfigSize() int
	// ReadConfig fills data from the configuration space at offset. The
	// transport guarantees 0 <= offset and offset+len(data) <= ConfigSize().
	ReadConfig(offset int, data []byte)
	// WriteConfig writes data to the configuration space at offset, with
	// the same guarantee. Read-only fields ignore writes.
	WriteConfig(offset int, data []byte)

	// Activate starts the device when the driver sets DRIVER_OK. features
	// are the negotiated feature bits (core bits included); queues[i] is
	// queue i, or nil when the driver did not enable it. The geometry of
	// every queue has already been validated. An error leaves the device
	// inactive and marks it DEVICE_NEEDS_RESET.
	Activate(mem *guestmem.Memory, features uint64, queues []*Queue, irq Interrupt) error
	// Notify processes a bounded batch of queue's available buffers after
	// the driver kicked it, and reports whether more remain (the caller
	// calls again, from an event loop by resubmitting). It may be called
	// from any goroutine, at any time: concurrently with itself, before
	// activation and after Reset, when it must do nothing and return
	// false. queue may be out of range.
	Notify(queue int) (more bool)
	// Reset returns the device to its initial state. When it returns the
	// device no longer uses any Queue, guest memory or Interrupt it was
	// given, so it must wait for a Notify in progress.
	Reset()
}

// NoConfig implements the configuration-space methods of a Device that has
// no configuration space; embed it.
type NoConfig struct{}

// ConfigSize returns 0.
func (NoConfig) ConfigSize() int { return 0 }

// ReadConfig is never called for an empty configuration space.
func (NoConfig) ReadConfig(int, []byte) {}

// WriteConfig is never called for an empty configuration space.
func (NoConfig) WriteConfig(int, []byte) {}
