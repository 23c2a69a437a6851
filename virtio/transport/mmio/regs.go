package mmio

// Register offsets (virtio 1.2 section 4.2.2, "MMIO Device Register Layout").
const (
	regMagic             = 0x000
	regVersion           = 0x004
	regDeviceID          = 0x008
	regVendorID          = 0x00c
	regDeviceFeatures    = 0x010
	regDeviceFeaturesSel = 0x014
	regDriverFeatures    = 0x020
	regDriverFeaturesSel = 0x024
	regQueueSel          = 0x030
	regQueueNumMax       = 0x034
	regQueueNum          = 0x038
	regQueueReady        = 0x044
	regQueueNotify       = 0x050
	regInterruptStatus   = 0x060
	regInterruptACK      = 0x064
	regStatus            = 0x070
	regQueueDescLow      = 0x080
	regQueueDescHigh     = 0x084
	regQueueDriverLow    = 0x090
	regQueueDriverHigh   = 0x094
	regQueueDeviceLow    = 0x0a0
	regQueueDeviceHigh   = 0x0a4
	regSHMSel            = 0x0ac
	regSHMLenLow         = 0x0b0
	regSHMLenHigh        = 0x0b4
	regSHMBaseLow        = 0x0b8
	regSHMBaseHigh       = 0x0bc
	regConfigGeneration  = 0x0fc
)

const (
	// MagicValue is "virt" in little-endian, the first register.
	MagicValue = 0x74726976
	// Version is the register-layout version: 2, virtio 1.x ("modern").
	Version = 2
	// VendorID is "glue" in little-endian.
	VendorID = 0x65756c67

	// NotifyOffset is the QueueNotify register. The VMM may bind an
	// ioeventfd to base+NotifyOffset (4 bytes; with a datamatch per queue
	// index, or none for all queues) and call NotifyQueue from its event
	// loop, so kicks no longer exit to the VMM's vCPU thread.
	NotifyOffset = regQueueNotify
	// ConfigOffset is where the device-specific configuration space starts.
	ConfigOffset = 0x100
	// WindowSize is the size of one device's register window.
	WindowSize = 0x1000
	// MaxConfigSize is the most configuration space the window holds.
	MaxConfigSize = WindowSize - ConfigOffset
)
