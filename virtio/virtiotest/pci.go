package virtiotest

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gluevmm/glue/bus"
	"github.com/gluevmm/glue/virtio"
)

// virtio-pci constants, spelled out again from the specification (as
// Linux's virtio_pci.h does) rather than imported from the transport, so a
// wrong constant there shows up as a failing handshake here.
const (
	PCICapCommon = 1
	PCICapNotify = 2
	PCICapISR    = 3
	PCICapDevice = 4
	PCICapPCICfg = 5

	PCIDeviceFeatureSel = 0x00
	PCIDeviceFeature    = 0x04
	PCIDriverFeatureSel = 0x08
	PCIDriverFeature    = 0x0c
	PCIConfigMSIXVector = 0x10
	PCINumQueues        = 0x12
	PCIDeviceStatus     = 0x14
	PCIConfigGeneration = 0x15
	PCIQueueSelect      = 0x16
	PCIQueueSize        = 0x18
	PCIQueueMSIXVector  = 0x1a
	PCIQueueEnable      = 0x1c
	PCIQueueNotifyOff   = 0x1e
	PCIQueueDesc        = 0x20
	PCIQueueDriver      = 0x28
	PCIQueueDevice      = 0x30

	PCINoVector = 0xffff

	// MSIXAddress is the message address the driver programs (the x86
	// local APIC window); vector v gets data MSIXDataBase+v.
	MSIXAddress  = 0xfee0_0000
	MSIXDataBase = 0x30
)

// PCIStruct is where one virtio structure lies, as its capability says.
type PCIStruct struct {
	CapOffset int    // of the capability in configuration space
	Addr      uint64 // guest-physical, from the BAR's current register value
	Len       uint32
}

// PCIDriver drives a virtio-pci function the way Linux's virtio_pci_modern
// and virtio core do.
type PCIDriver struct {
	Config bus.Device // the function's configuration space, offset = register
	Mem    bus.Device // guest-physical memory accesses, offset = address
	// UseMSIX makes Init enable MSI-X and assign vector 0 to the
	// configuration and vector i+1 to queue i, as vp_find_vqs_msix does.
	UseMSIX bool

	Common, ISR, Device, Notify PCIStruct
	NotifyMultiplier            uint32
	MSIXCap                     int // 0 when the function has none
}

// ConfigRead reads n (1, 2 or 4) bytes of configuration space.
func (d *PCIDriver) ConfigRead(reg, n int) uint32 {
	b := make([]byte, n)
	d.Config.Read(uint64(reg), b)
	return uint32(getLE(b))
}

// ConfigWrite writes n bytes of configuration space.
func (d *PCIDriver) ConfigWrite(reg, n int, v uint32) {
	b := make([]byte, n)
	putLE(b, uint64(v))
	d.Config.Write(uint64(reg), b)
}

// MemRead reads n bytes of guest-physical address space.
func (d *PCIDriver) MemRead(addr uint64, n int) uint64 {
	b := make([]byte, n)
	d.Mem.Read(addr, b)
	return getLE(b)
}

// MemWrite writes n bytes of guest-physical address space.
func (d *PCIDriver) MemWrite(addr uint64, n int, v uint64) {
	b := make([]byte, n)
	putLE(b, v)
	d.Mem.Write(addr, b)
}

// Read reads n bytes at off in the common configuration.
func (d *PCIDriver) Read(off uint64, n int) uint64 { return d.MemRead(d.Common.Addr+off, n) }

// Write writes n bytes at off in the common configuration.
func (d *PCIDriver) Write(off uint64, n int, v uint64) { d.MemWrite(d.Common.Addr+off, n, v) }

// Write64 writes a 64-bit field as two 32-bit halves, low first, as
// vp_iowrite64_twopart does.
func (d *PCIDriver) Write64(off uint64, v uint64) {
	d.Write(off, 4, uint64(uint32(v)))
	d.Write(off+4, 4, v>>32)
}

// bar returns BAR i's address from its registers (64-bit when flagged).
func (d *PCIDriver) bar(i int) uint64 {
	lo := d.ConfigRead(0x10+4*i, 4)
	a := uint64(lo &^ 0xf)
	if lo&0x6 == 0x4 && i < 5 {
		a |= uint64(d.ConfigRead(0x14+4*i, 4)) << 32
	}
	return a
}

// Probe checks the IDs, enables memory decoding and bus mastering and walks
// the capability list, as vp_modern_probe and pci_enable_device do. Call
// it again after moving a BAR.
func (d *PCIDriver) Probe() error {
	vendor, dev := d.ConfigRead(0x00, 2), d.ConfigRead(0x02, 2)
	if vendor != 0x1af4 || dev < 0x1040 || dev > 0x107f {
		return fmt.Errorf("virtiotest: %04x:%04x is no modern virtio device", vendor, dev)
	}
	d.ConfigWrite(0x04, 2, d.ConfigRead(0x04, 2)|0x6) // memory space, bus master
	if d.ConfigRead(0x06, 2)&0x10 == 0 {
		return errors.New("virtiotest: no capability list")
	}
	d.Common, d.ISR, d.Device, d.Notify, d.MSIXCap = PCIStruct{}, PCIStruct{}, PCIStruct{}, PCIStruct{}, 0
	found := map[uint32]*PCIStruct{PCICapCommon: &d.Common, PCICapISR: &d.ISR, PCICapDevice: &d.Device, PCICapNotify: &d.Notify}
	for off, n := d.ConfigRead(0x34, 1)&^3, 0; off != 0 && n < 48; off, n = d.ConfigRead(int(off)+1, 1)&^3, n+1 {
		switch d.ConfigRead(int(off), 1) {
		case 0x11:
			d.MSIXCap = int(off)
		case 0x09:
			s, ok := found[d.ConfigRead(int(off)+3, 1)]
			if !ok || s.CapOffset != 0 {
				continue
			}
			*s = PCIStruct{
				CapOffset: int(off),
				Addr:      d.bar(int(d.ConfigRead(int(off)+4, 1))) + uint64(d.ConfigRead(int(off)+8, 4)),
				Len:       d.ConfigRead(int(off)+12, 4),
			}
			if s == &d.Notify {
				d.NotifyMultiplier = d.ConfigRead(int(off)+16, 4)
			}
		}
	}
	if d.Common.CapOffset == 0 || d.Notify.CapOffset == 0 || d.ISR.CapOffset == 0 {
		return errors.New("virtiotest: common, notify or ISR capability missing")
	}
	if d.Common.Len < 0x38 {
		return fmt.Errorf("virtiotest: common configuration of %d bytes", d.Common.Len)
	}
	return nil
}

// EnableMSIX programs every vector of the MSI-X table (MSIXAddress,
// MSIXDataBase+v, unmasked) and sets the enable bit.
func (d *PCIDriver) EnableMSIX() error {
	if d.MSIXCap == 0 {
		return errors.New("virtiotest: no MSI-X capability")
	}
	ctrl := d.ConfigRead(d.MSIXCap+2, 2)
	table := d.ConfigRead(d.MSIXCap+4, 4)
	base := d.bar(int(table&7)) + uint64(table&^7)
	for v := range uint64(ctrl&0x7ff) + 1 {
		e := base + 16*v
		d.MemWrite(e, 4, MSIXAddress)
		d.MemWrite(e+4, 4, 0)
		d.MemWrite(e+8, 4, MSIXDataBase+v)
		d.MemWrite(e+12, 4, 0)
	}
	d.ConfigWrite(d.MSIXCap+2, 2, ctrl&0x7ff|1<<15)
	return nil
}

// Status reads device_status.
func (d *PCIDriver) Status() uint8 { return uint8(d.Read(PCIDeviceStatus, 1)) }

func (d *PCIDriver) addStatus(bit uint8) { d.Write(PCIDeviceStatus, 1, uint64(d.Status()|bit)) }

// Reset writes 0 to device_status.
func (d *PCIDriver) Reset() { d.Write(PCIDeviceStatus, 1, 0) }

// Init probes the function and runs the whole handshake: reset,
// ACKNOWLEDGE, DRIVER, features (the device's intersected with want, which
// must leave VERSION_1), FEATURES_OK read back, MSI-X if UseMSIX, queue i
// set up from queues[i], DRIVER_OK. It returns the negotiated features.
func (d *PCIDriver) Init(want uint64, queues ...*Queue) (uint64, error) {
	if err := d.Probe(); err != nil {
		return 0, err
	}
	d.Reset()
	if s := d.Status(); s != 0 {
		return 0, fmt.Errorf("virtiotest: status %#x after reset", s)
	}
	d.addStatus(virtio.StatusAcknowledge)
	d.addStatus(virtio.StatusDriver)
	d.Write(PCIDeviceFeatureSel, 4, 1)
	offered := d.Read(PCIDeviceFeature, 4) << 32
	d.Write(PCIDeviceFeatureSel, 4, 0)
	offered |= d.Read(PCIDeviceFeature, 4)
	features := offered & want
	if features&virtio.FeatureVersion1 == 0 {
		d.addStatus(virtio.StatusFailed)
		return 0, fmt.Errorf("virtiotest: no VERSION_1 in %#x", features)
	}
	d.Write(PCIDriverFeatureSel, 4, 0)
	d.Write(PCIDriverFeature, 4, uint64(uint32(features)))
	d.Write(PCIDriverFeatureSel, 4, 1)
	d.Write(PCIDriverFeature, 4, features>>32)
	d.addStatus(virtio.StatusFeaturesOK)
	if d.Status()&virtio.StatusFeaturesOK == 0 {
		d.addStatus(virtio.StatusFailed)
		return 0, errors.New("virtiotest: device refused FEATURES_OK")
	}
	if d.UseMSIX {
		if err := d.EnableMSIX(); err != nil {
			return 0, err
		}
		d.Write(PCIConfigMSIXVector, 2, 0)
		if d.Read(PCIConfigMSIXVector, 2) == PCINoVector {
			return 0, errors.New("virtiotest: configuration vector refused")
		}
	}
	if n := d.Read(PCINumQueues, 2); int(n) < len(queues) {
		return 0, fmt.Errorf("virtiotest: %d queues, want %d", n, len(queues))
	}
	for i, q := range queues {
		if err := d.SetupQueue(uint16(i), q); err != nil {
			d.addStatus(virtio.StatusFailed)
			return 0, err
		}
	}
	for i := range queues {
		d.Write(PCIQueueSelect, 2, uint64(i))
		d.Write(PCIQueueEnable, 2, 1)
	}
	d.addStatus(virtio.StatusDriverOK)
	return features, nil
}

// SetupQueue configures queue i, as setup_vq does; Init enables it.
func (d *PCIDriver) SetupQueue(i uint16, q *Queue) error {
	d.Write(PCIQueueSelect, 2, uint64(i))
	if d.Read(PCIQueueEnable, 2) != 0 {
		return fmt.Errorf("virtiotest: queue %d already enabled", i)
	}
	max := d.Read(PCIQueueSize, 2)
	if max == 0 {
		return fmt.Errorf("virtiotest: queue %d does not exist", i)
	}
	if uint64(q.Size) > max {
		return fmt.Errorf("virtiotest: queue %d: size %d over maximum %d", i, q.Size, max)
	}
	if off := uint64(d.Read(PCIQueueNotifyOff, 2)) * uint64(d.NotifyMultiplier); off+2 > uint64(d.Notify.Len) {
		return fmt.Errorf("virtiotest: queue %d notifies at %#x, outside the notify structure", i, off)
	}
	d.Write(PCIQueueSize, 2, uint64(q.Size))
	d.Write64(PCIQueueDesc, uint64(q.DescTable))
	d.Write64(PCIQueueDriver, uint64(q.AvailRing))
	d.Write64(PCIQueueDevice, uint64(q.UsedRing))
	if d.UseMSIX {
		d.Write(PCIQueueMSIXVector, 2, uint64(i)+1)
		if d.Read(PCIQueueMSIXVector, 2) == PCINoVector {
			return fmt.Errorf("virtiotest: queue %d: vector refused", i)
		}
	}
	return nil
}

// NotifyAddr returns queue i's notification address.
func (d *PCIDriver) NotifyAddr(i uint16) uint64 {
	d.Write(PCIQueueSelect, 2, uint64(i))
	return d.Notify.Addr + d.Read(PCIQueueNotifyOff, 2)*uint64(d.NotifyMultiplier)
}

// Kick notifies queue i with a 16-bit write of its index, as vp_notify does.
func (d *PCIDriver) Kick(i uint16) { d.MemWrite(d.NotifyAddr(i), 2, uint64(i)) }

// ReadISR reads (and so acknowledges) the ISR status, as vp_interrupt does.
func (d *PCIDriver) ReadISR() uint8 { return uint8(d.MemRead(d.ISR.Addr, 1)) }

func getLE(b []byte) uint64 {
	var w [8]byte
	copy(w[:], b)
	return binary.LittleEndian.Uint64(w[:])
}
