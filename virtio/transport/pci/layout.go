package virtiopci

import "github.com/gluevmm/glue/virtio"

// PCI identity of a modern (non-transitional) virtio device (virtio 1.2
// section 4.1.2).
const (
	VendorID = 0x1af4
	// DeviceIDBase plus the virtio device ID is the PCI device ID.
	DeviceIDBase = 0x1040
	// Revision 1 marks a non-transitional device.
	Revision = 1
	// SubsystemIDBase plus the virtio device ID is the subsystem ID; the
	// specification asks for 0x40 or higher.
	SubsystemIDBase = 0x40
)

// Layout of the one memory BAR (64-bit, non-prefetchable: ISR reads have
// side effects). Each structure starts on its own 4 KiB page.
const (
	// BAR is the BAR index; the BAR takes registers BAR and BAR+1.
	BAR = 0
	// BARSize is the BAR's size; the VMM aligns its address to it.
	BARSize = 0x10000

	CommonOffset = 0x0000
	ISROffset    = 0x1000
	DeviceOffset = 0x2000
	// NotifyOffset is where queue 0's notification address lies; queue
	// i's is NotifyOffset + i*NotifyMultiplier.
	NotifyOffset = 0x3000
	// NotifyMultiplier is notify_off_multiplier: every queue has its own
	// 4-byte notification address, so one ioeventfd per queue needs no
	// data match.
	NotifyMultiplier = 4
	MSIXTableOffset  = 0x4000
	MSIXPBAOffset    = 0xa000

	// MaxConfigSize is the most device configuration space the BAR holds.
	MaxConfigSize = NotifyOffset - DeviceOffset

	commonLen = 0x38 // struct virtio_pci_common_cfg, without the 1.2 additions
	isrLen    = 1
)

// NoVector is VIRTIO_MSI_NO_VECTOR: no MSI-X vector is assigned.
const NoVector = 0xffff

// Capability types (cfg_type of struct virtio_pci_cap).
const (
	capCommon = 1
	capNotify = 2
	capISR    = 3
	capDevice = 4
	capPCICfg = 5
)

// Common configuration structure offsets (virtio 1.2 section 4.1.4.3).
const (
	regDeviceFeatureSel = 0x00
	regDeviceFeature    = 0x04
	regDriverFeatureSel = 0x08
	regDriverFeature    = 0x0c
	regConfigMSIXVector = 0x10
	regNumQueues        = 0x12
	regDeviceStatus     = 0x14
	regConfigGeneration = 0x15
	regQueueSelect      = 0x16
	regQueueSize        = 0x18
	regQueueMSIXVector  = 0x1a
	regQueueEnable      = 0x1c
	regQueueNotifyOff   = 0x1e
	regQueueDesc        = 0x20
	regQueueDriver      = 0x28
	regQueueDevice      = 0x30
)

// ISR status bits (section 4.1.4.5).
const (
	isrQueue  = uint8(virtio.InterruptUsedBuffer)
	isrConfig = uint8(virtio.InterruptConfigChange)
)

// pciClass returns the PCI class code Linux and QEMU use for a device type.
func pciClass(t virtio.DeviceType) uint32 {
	switch t {
	case virtio.TypeNet:
		return 0x020000 // network controller, Ethernet
	case virtio.TypeBlock:
		return 0x010000 // mass storage, SCSI
	case virtio.TypeConsole:
		return 0x078000 // communication controller, other
	}
	return 0xff0000 // unassigned class
}
