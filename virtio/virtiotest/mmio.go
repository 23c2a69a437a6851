package virtiotest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gluevmm/glue/bus"
	"github.com/gluevmm/glue/virtio"
)

// virtio-mmio register offsets, spelled out again from the specification
// (as Linux's virtio_mmio.h does) rather than imported from the transport,
// so a wrong constant there shows up as a failing handshake here.
const (
	MMIOMagic             = 0x000
	MMIOVersion           = 0x004
	MMIODeviceID          = 0x008
	MMIOVendorID          = 0x00c
	MMIODeviceFeatures    = 0x010
	MMIODeviceFeaturesSel = 0x014
	MMIODriverFeatures    = 0x020
	MMIODriverFeaturesSel = 0x024
	MMIOQueueSel          = 0x030
	MMIOQueueNumMax       = 0x034
	MMIOQueueNum          = 0x038
	MMIOQueueReady        = 0x044
	MMIOQueueNotify       = 0x050
	MMIOInterruptStatus   = 0x060
	MMIOInterruptACK      = 0x064
	MMIOStatus            = 0x070
	MMIOQueueDescLow      = 0x080
	MMIOQueueDescHigh     = 0x084
	MMIOQueueDriverLow    = 0x090
	MMIOQueueDriverHigh   = 0x094
	MMIOQueueDeviceLow    = 0x0a0
	MMIOQueueDeviceHigh   = 0x0a4
	MMIOConfigGeneration  = 0x0fc
	MMIOConfig            = 0x100
)

// MMIODriver drives a virtio-mmio register window the way Linux's
// virtio_mmio and virtio core do.
type MMIODriver struct {
	Regs bus.Device
}

// Read32 reads a 32-bit register.
func (d *MMIODriver) Read32(off uint64) uint32 {
	var b [4]byte
	d.Regs.Read(off, b[:])
	return binary.LittleEndian.Uint32(b[:])
}

// Write32 writes a 32-bit register.
func (d *MMIODriver) Write32(off uint64, v uint32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	d.Regs.Write(off, b[:])
}

// Status reads the device status.
func (d *MMIODriver) Status() uint8 { return uint8(d.Read32(MMIOStatus)) }

func (d *MMIODriver) addStatus(bit uint8) { d.Write32(MMIOStatus, uint32(d.Status()|bit)) }

// Reset writes 0 to Status.
func (d *MMIODriver) Reset() { d.Write32(MMIOStatus, 0) }

// Init runs the whole handshake: probe, reset, ACKNOWLEDGE, DRIVER,
// feature negotiation (the device's features intersected with want, which
// must leave VERSION_1), FEATURES_OK read back, queue i set up from
// queues[i], DRIVER_OK. It returns the negotiated features.
func (d *MMIODriver) Init(want uint64, queues ...*Queue) (uint64, error) {
	if m := d.Read32(MMIOMagic); m != 0x74726976 {
		return 0, fmt.Errorf("virtiotest: bad magic %#x", m)
	}
	if v := d.Read32(MMIOVersion); v != 2 {
		return 0, fmt.Errorf("virtiotest: version %d, want 2", v)
	}
	if d.Read32(MMIODeviceID) == 0 {
		return 0, errors.New("virtiotest: no device (ID 0)")
	}
	d.Reset()
	if s := d.Status(); s != 0 {
		return 0, fmt.Errorf("virtiotest: status %#x after reset", s)
	}
	d.addStatus(virtio.StatusAcknowledge)
	d.addStatus(virtio.StatusDriver)

	d.Write32(MMIODeviceFeaturesSel, 1)
	offered := uint64(d.Read32(MMIODeviceFeatures)) << 32
	d.Write32(MMIODeviceFeaturesSel, 0)
	offered |= uint64(d.Read32(MMIODeviceFeatures))
	features := offered & want
	if features&virtio.FeatureVersion1 == 0 {
		d.addStatus(virtio.StatusFailed)
		return 0, fmt.Errorf("virtiotest: no VERSION_1 in %#x", features)
	}
	d.Write32(MMIODriverFeaturesSel, 1)
	d.Write32(MMIODriverFeatures, uint32(features>>32))
	d.Write32(MMIODriverFeaturesSel, 0)
	d.Write32(MMIODriverFeatures, uint32(features))
	d.addStatus(virtio.StatusFeaturesOK)
	if d.Status()&virtio.StatusFeaturesOK == 0 {
		d.addStatus(virtio.StatusFailed)
		return 0, errors.New("virtiotest: device refused FEATURES_OK")
	}

	for i, q := range queues {
		if err := d.SetupQueue(uint32(i), q); err != nil {
			d.addStatus(virtio.StatusFailed)
			return 0, err
		}
	}
	d.addStatus(virtio.StatusDriverOK)
	return features, nil
}

// SetupQueue configures and enables queue i, as vm_setup_vq does.
func (d *MMIODriver) SetupQueue(i uint32, q *Queue) error {
	d.Write32(MMIOQueueSel, i)
	if d.Read32(MMIOQueueReady) != 0 {
		return fmt.Errorf("virtiotest: queue %d already in use", i)
	}
	max := d.Read32(MMIOQueueNumMax)
	if max == 0 {
		return fmt.Errorf("virtiotest: queue %d does not exist", i)
	}
	if uint32(q.Size) > max {
		return fmt.Errorf("virtiotest: queue %d: size %d over maximum %d", i, q.Size, max)
	}
	d.Write32(MMIOQueueNum, uint32(q.Size))
	d.Write32(MMIOQueueDescLow, uint32(q.DescTable))
	d.Write32(MMIOQueueDescHigh, uint32(q.DescTable>>32))
	d.Write32(MMIOQueueDriverLow, uint32(q.AvailRing))
	d.Write32(MMIOQueueDriverHigh, uint32(q.AvailRing>>32))
	d.Write32(MMIOQueueDeviceLow, uint32(q.UsedRing))
	d.Write32(MMIOQueueDeviceHigh, uint32(q.UsedRing>>32))
	d.Write32(MMIOQueueReady, 1)
	return nil
}

// Kick notifies queue i.
func (d *MMIODriver) Kick(i uint32) { d.Write32(MMIOQueueNotify, i) }

// Ack reads InterruptStatus and acknowledges it, as vm_interrupt does, and
// returns what it read.
func (d *MMIODriver) Ack() uint32 {
	s := d.Read32(MMIOInterruptStatus)
	if s != 0 {
		d.Write32(MMIOInterruptACK, s)
	}
	return s
}

// Interfere starts, on wg, what other vCPUs may do behind a driver's back
// while it works: reset the device through regs, and ack its interrupts,
// both until stop is set. It returns the count of resets made, for the
// test's log.
func Interfere(wg *sync.WaitGroup, stop *atomic.Bool, regs bus.Device) *atomic.Int64 {
	var resets atomic.Int64
	wg.Go(func() {
		for !stop.Load() {
			(&MMIODriver{Regs: regs}).Reset()
			resets.Add(1)
			time.Sleep(50 * time.Microsecond)
		}
	})
	wg.Go(func() {
		for !stop.Load() {
			(&MMIODriver{Regs: regs}).Ack()
			runtime.Gosched()
		}
	})
	return &resets
}
