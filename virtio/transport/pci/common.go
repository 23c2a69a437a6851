package virtiopci

import (
	"encoding/binary"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
)

// commonWidth returns the width of the common configuration field an access
// of n bytes at off may address: the field's own width, or 4 for either half
// of a 64-bit field (section 4.1.3.1), or 8 for a whole one. ok is false
// for every other access.
func commonWidth(off uint64, n int) (ok bool) {
	switch off {
	case regDeviceFeatureSel, regDeviceFeature, regDriverFeatureSel, regDriverFeature:
		return n == 4
	case regConfigMSIXVector, regNumQueues, regQueueSelect, regQueueSize,
		regQueueMSIXVector, regQueueEnable, regQueueNotifyOff:
		return n == 2
	case regDeviceStatus, regConfigGeneration:
		return n == 1
	case regQueueDesc, regQueueDriver, regQueueDevice:
		return n == 4 || n == 8
	case regQueueDesc + 4, regQueueDriver + 4, regQueueDevice + 4:
		return n == 4
	}
	return false
}

// readCommon serves a read of the common configuration structure; data is
// zeroed and stays so for an access commonWidth refuses.
func (t *Transport) readCommon(off uint64, data []byte) {
	if !commonWidth(off, len(data)) {
		return
	}
	var v uint64
	switch off {
	case regConfigGeneration:
		v = uint64(uint8(t.generation.Load()))
	case regConfigMSIXVector:
		v = uint64(t.configVector.Load())
	case regNumQueues:
		v = uint64(t.numQueues)
	default:
		t.mu.Lock()
		v = t.readCommonLocked(off)
		t.mu.Unlock()
	}
	putLE(data, v)
}

func (t *Transport) readCommonLocked(off uint64) uint64 {
	q := uint32(t.queueSel)
	exists := int(q) < t.numQueues
	switch off {
	case regDeviceFeatureSel:
		return uint64(t.devFeatSel)
	case regDeviceFeature:
		return page(t.c.DeviceFeatures(), t.devFeatSel)
	case regDriverFeatureSel:
		return uint64(t.drvFeatSel)
	case regDriverFeature:
		return page(t.c.DriverFeatures(), t.drvFeatSel)
	case regDeviceStatus:
		return uint64(t.c.Status())
	case regQueueSelect:
		return uint64(t.queueSel)
	case regQueueSize:
		return uint64(t.c.QueueSize(q)) // 0 for a queue that does not exist
	case regQueueMSIXVector:
		if !exists {
			return NoVector
		}
		return uint64(t.queueVectors[q].Load())
	case regQueueEnable:
		if t.c.QueueReady(q) {
			return 1
		}
		return 0
	case regQueueNotifyOff:
		if !exists {
			return 0
		}
		return uint64(q) // queue i notifies at NotifyOffset + i*multiplier
	}
	if r, high, ok := ringField(off); ok {
		a := uint64(t.c.QueueAddr(q, r))
		if high {
			return a >> 32
		}
		return a
	}
	return 0
}

// page returns 32-bit page sel (0 or 1) of features; other pages read 0.
func page(features uint64, sel uint32) uint64 {
	if sel > 1 {
		return 0
	}
	return uint64(uint32(features >> (32 * sel)))
}

// ringField decodes the offset of a ring address field or its high half.
func ringField(off uint64) (r virtio.Ring, high, ok bool) {
	switch off &^ 4 {
	case regQueueDesc:
		r = virtio.RingDesc
	case regQueueDriver:
		r = virtio.RingDriver
	case regQueueDevice:
		r = virtio.RingDevice
	default:
		return 0, false, false
	}
	return r, off&4 != 0, true
}

// writeCommon serves a write of the common configuration structure.
// Read-only fields and accesses commonWidth refuses are ignored.
func (t *Transport) writeCommon(off uint64, data []byte) {
	if !commonWidth(off, len(data)) {
		return
	}
	v := getLE(data)
	if off == regConfigMSIXVector {
		t.configVector.Store(t.checkVector(v))
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	q := uint32(t.queueSel)
	switch off {
	case regDeviceFeatureSel:
		t.devFeatSel = uint32(v)
	case regDriverFeatureSel:
		t.drvFeatSel = uint32(v)
	case regDriverFeature:
		t.c.SetDriverFeatures(t.drvFeatSel, uint32(v))
	case regDeviceStatus:
		t.c.SetStatus(uint8(v))
		if v == 0 {
			t.reset()
		}
	case regQueueSelect:
		t.queueSel = uint16(v)
	case regQueueSize:
		if v > virtio.MaxQueueSize {
			v = 0 // refused at activation, where truncation could not hide it
		}
		t.c.SetQueueSize(q, uint16(v))
	case regQueueMSIXVector:
		if t.queueConfigurable(q) {
			t.queueVectors[q].Store(t.checkVector(v))
		}
	case regQueueEnable:
		if v == 1 { // the driver must not write 0 (section 4.1.4.3.2)
			t.c.SetQueueReady(q, true)
		}
	default:
		if r, high, ok := ringField(off); ok {
			t.setAddr(q, r, high, len(data) == 8, v)
		}
	}
}

// queueConfigurable mirrors the freeze virtio.Common applies to a queue's
// geometry for the transport's own per-queue field, the MSI-X vector: the
// queue exists, is not enabled and the driver has not set DRIVER_OK.
func (t *Transport) queueConfigurable(q uint32) bool {
	return int(q) < t.numQueues && !t.c.QueueReady(q) &&
		t.c.Status()&(virtio.StatusDriverOK|virtio.StatusFailed) == 0
}

// checkVector returns v if the MSI-X table has such an entry, else
// NoVector: the driver reads the vector back to learn it was refused
// (section 4.1.5.1.2).
func (t *Transport) checkVector(v uint64) uint32 {
	if v >= uint64(t.numQueues+1) {
		return NoVector
	}
	return uint32(v)
}

// setAddr writes a ring address: whole, or one 32-bit half.
func (t *Transport) setAddr(q uint32, r virtio.Ring, high, whole bool, v uint64) {
	a := uint64(t.c.QueueAddr(q, r))
	switch {
	case whole:
		a = v
	case high:
		a = a&0xffffffff | v<<32
	default:
		a = a&^0xffffffff | v
	}
	t.c.SetQueueAddr(q, r, guestmem.Addr(a))
}

func putLE(data []byte, v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	copy(data, b[:])
}

func getLE(data []byte) uint64 {
	var b [8]byte
	copy(b[:], data)
	return binary.LittleEndian.Uint64(b[:])
}
