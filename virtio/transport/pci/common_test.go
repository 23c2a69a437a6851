package virtiopci_test

import (
	"testing"

	"github.com/gluevmm/glue/virtio"
	virtiopci "github.com/gluevmm/glue/virtio/transport/pci"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// threeQueues is an echo device with three queues of different sizes.
func threeQueues() *virtiotest.EchoDevice {
	return &virtiotest.EchoDevice{Feat: 1 << 3, MaxSizes: []uint16{256, 128, 64}}
}

// probed returns a rig whose driver has walked the capabilities and set
// ACKNOWLEDGE and DRIVER: the feature negotiation window.
func probed(t *testing.T, dev virtio.Device) *rig {
	t.Helper()
	r := newRig(t, dev)
	if err := r.drv.Probe(); err != nil {
		t.Fatal(err)
	}
	r.drv.Write(virtiotest.PCIDeviceStatus, 1, uint64(virtio.StatusAcknowledge|virtio.StatusDriver))
	return r
}

// step is one access of a scripted register test: a write (w) or a read
// that must return want.
type step struct {
	off  uint64
	n    int
	w    bool
	v    uint64
	want uint64
}

func wr(off uint64, n int, v uint64) step    { return step{off: off, n: n, w: true, v: v} }
func rd(off uint64, n int, want uint64) step { return step{off: off, n: n, want: want} }

func (r *rig) run(t *testing.T, steps []step) {
	t.Helper()
	for i, s := range steps {
		if s.w {
			r.drv.Write(s.off, s.n, s.v)
			continue
		}
		if got := r.drv.Read(s.off, s.n); got != s.want {
			t.Fatalf("step %d: read %d bytes at %#x = %#x, want %#x", i, s.n, s.off, got, s.want)
		}
	}
}

// Every field of the common configuration, read and written as a driver
// does, in the negotiation window (before DRIVER_OK).
func TestCommonConfigFields(t *testing.T) {
	t.Parallel()
	const (
		noVec = virtiopci.NoVector
	)
	offered := uint64(1<<3) | virtio.CoreFeatures
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"device_feature pages", []step{
			rd(virtiotest.PCIDeviceFeatureSel, 4, 0),
			rd(virtiotest.PCIDeviceFeature, 4, uint64(uint32(offered))),
			wr(virtiotest.PCIDeviceFeatureSel, 4, 1),
			rd(virtiotest.PCIDeviceFeatureSel, 4, 1),
			rd(virtiotest.PCIDeviceFeature, 4, offered>>32),
			wr(virtiotest.PCIDeviceFeatureSel, 4, 2),
			rd(virtiotest.PCIDeviceFeature, 4, 0),
			wr(virtiotest.PCIDeviceFeatureSel, 4, 1<<27), // 32*sel wraps to 0 in 32 bits
			rd(virtiotest.PCIDeviceFeature, 4, 0),
			wr(virtiotest.PCIDeviceFeature, 4, 0xffffffff), // read-only
			wr(virtiotest.PCIDeviceFeatureSel, 4, 0),
			rd(virtiotest.PCIDeviceFeature, 4, uint64(uint32(offered))),
		}},
		{"driver_feature pages", []step{
			wr(virtiotest.PCIDriverFeatureSel, 4, 1),
			rd(virtiotest.PCIDriverFeatureSel, 4, 1),
			wr(virtiotest.PCIDriverFeature, 4, 1),
			rd(virtiotest.PCIDriverFeature, 4, 1),
			wr(virtiotest.PCIDriverFeatureSel, 4, 0),
			wr(virtiotest.PCIDriverFeature, 4, 1<<3),
			rd(virtiotest.PCIDriverFeature, 4, 1<<3),
			wr(virtiotest.PCIDriverFeatureSel, 4, 2),
			rd(virtiotest.PCIDriverFeature, 4, 0),
			wr(virtiotest.PCIDriverFeatureSel, 4, 1<<27),
			rd(virtiotest.PCIDriverFeature, 4, 0),
		}},
		{"msix_config", []step{
			rd(virtiotest.PCIConfigMSIXVector, 2, noVec),
			wr(virtiotest.PCIConfigMSIXVector, 2, 3), // the last of 4 vectors
			rd(virtiotest.PCIConfigMSIXVector, 2, 3),
			wr(virtiotest.PCIConfigMSIXVector, 2, 4), // outside the table
			rd(virtiotest.PCIConfigMSIXVector, 2, noVec),
			wr(virtiotest.PCIConfigMSIXVector, 2, 0),
			rd(virtiotest.PCIConfigMSIXVector, 2, 0),
		}},
		{"num_queues read-only", []step{
			rd(virtiotest.PCINumQueues, 2, 3),
			wr(virtiotest.PCINumQueues, 2, 9),
			rd(virtiotest.PCINumQueues, 2, 3),
		}},
		{"device_status and FEATURES_OK", []step{
			rd(virtiotest.PCIDeviceStatus, 1, 3),
			wr(virtiotest.PCIDriverFeatureSel, 4, 1),
			wr(virtiotest.PCIDriverFeature, 4, 1),
			wr(virtiotest.PCIDeviceStatus, 1, 0xb),
			rd(virtiotest.PCIDeviceStatus, 1, 0xb),
		}},
		{"config_generation read-only", []step{
			rd(virtiotest.PCIConfigGeneration, 1, 0),
			wr(virtiotest.PCIConfigGeneration, 1, 7),
			rd(virtiotest.PCIConfigGeneration, 1, 0),
		}},
		{"queue_select and queue_size", []step{
			rd(virtiotest.PCIQueueSelect, 2, 0),
			rd(virtiotest.PCIQueueSize, 2, 256),
			wr(virtiotest.PCIQueueSelect, 2, 2),
			rd(virtiotest.PCIQueueSelect, 2, 2),
			rd(virtiotest.PCIQueueSize, 2, 64),
			wr(virtiotest.PCIQueueSize, 2, 32),
			rd(virtiotest.PCIQueueSize, 2, 32),
			wr(virtiotest.PCIQueueSize, 2, 40000), // over 32768: stored as 0
			rd(virtiotest.PCIQueueSize, 2, 0),
			wr(virtiotest.PCIQueueSelect, 2, 1),
			rd(virtiotest.PCIQueueSize, 2, 128),
		}},
		{"queue_msix_vector", []step{
			wr(virtiotest.PCIQueueSelect, 2, 1),
			rd(virtiotest.PCIQueueMSIXVector, 2, noVec),
			wr(virtiotest.PCIQueueMSIXVector, 2, 2),
			rd(virtiotest.PCIQueueMSIXVector, 2, 2),
			wr(virtiotest.PCIQueueMSIXVector, 2, 0x7ff), // outside the table
			rd(virtiotest.PCIQueueMSIXVector, 2, noVec),
			wr(virtiotest.PCIQueueSelect, 2, 0),
			rd(virtiotest.PCIQueueMSIXVector, 2, noVec),
		}},
		{"queue_enable takes 1 only", []step{
			wr(virtiotest.PCIQueueSelect, 2, 1),
			rd(virtiotest.PCIQueueEnable, 2, 0),
			wr(virtiotest.PCIQueueEnable, 2, 2),
			rd(virtiotest.PCIQueueEnable, 2, 0),
			wr(virtiotest.PCIQueueEnable, 2, 1),
			rd(virtiotest.PCIQueueEnable, 2, 1),
			wr(virtiotest.PCIQueueEnable, 2, 0),
			rd(virtiotest.PCIQueueEnable, 2, 1),
			wr(virtiotest.PCIQueueSize, 2, 16), // an enabled queue is frozen
			rd(virtiotest.PCIQueueSize, 2, 128),
			wr(virtiotest.PCIQueueSelect, 2, 0),
			rd(virtiotest.PCIQueueEnable, 2, 0),
		}},
		{"queue_notify_off read-only", []step{
			rd(virtiotest.PCIQueueNotifyOff, 2, 0),
			wr(virtiotest.PCIQueueSelect, 2, 2),
			rd(virtiotest.PCIQueueNotifyOff, 2, 2),
			wr(virtiotest.PCIQueueNotifyOff, 2, 0),
			rd(virtiotest.PCIQueueNotifyOff, 2, 2),
		}},
		{"ring addresses", []step{
			wr(virtiotest.PCIQueueSelect, 2, 1),
			wr(virtiotest.PCIQueueDesc, 4, 0x1000),
			wr(virtiotest.PCIQueueDesc+4, 4, 0x2),
			rd(virtiotest.PCIQueueDesc, 4, 0x1000),
			rd(virtiotest.PCIQueueDesc+4, 4, 0x2),
			rd(virtiotest.PCIQueueDesc, 8, 0x2_0000_1000),
			wr(virtiotest.PCIQueueDriver+4, 4, 0x7),
			wr(virtiotest.PCIQueueDriver, 8, 0x3_0000_2000), // replaces both halves
			rd(virtiotest.PCIQueueDriver, 4, 0x2000),
			rd(virtiotest.PCIQueueDriver+4, 4, 0x3),
			wr(virtiotest.PCIQueueDevice+4, 4, 0x4),
			wr(virtiotest.PCIQueueDevice, 4, 0x3000),
			rd(virtiotest.PCIQueueDevice, 8, 0x4_0000_3000),
			wr(virtiotest.PCIQueueSelect, 2, 0),
			rd(virtiotest.PCIQueueDesc, 8, 0),
			rd(virtiotest.PCIQueueDriver, 8, 0),
			rd(virtiotest.PCIQueueDevice, 8, 0),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			probed(t, threeQueues()).run(t, tc.steps)
		})
	}
}

// A queue_select past the last queue reads queue_size 0 (how a driver
// counts queues) and makes every queue write a no-op.
func TestQueueSelectOutOfRange(t *testing.T) {
	t.Parallel()
	for _, sel := range []uint64{3, 0x7fff, 0xffff} {
		r := probed(t, threeQueues())
		r.run(t, []step{
			wr(virtiotest.PCIQueueSelect, 2, sel),
			rd(virtiotest.PCIQueueSelect, 2, sel),
			rd(virtiotest.PCIQueueSize, 2, 0),
			rd(virtiotest.PCIQueueMSIXVector, 2, virtiopci.NoVector),
			rd(virtiotest.PCIQueueEnable, 2, 0),
			rd(virtiotest.PCIQueueNotifyOff, 2, 0),
			wr(virtiotest.PCIQueueSize, 2, 16),
			wr(virtiotest.PCIQueueMSIXVector, 2, 1),
			wr(virtiotest.PCIQueueDesc, 8, 0x1000),
			wr(virtiotest.PCIQueueEnable, 2, 1),
			rd(virtiotest.PCIQueueSize, 2, 0),
			rd(virtiotest.PCIQueueMSIXVector, 2, virtiopci.NoVector),
			rd(virtiotest.PCIQueueDesc, 8, 0),
			rd(virtiotest.PCIQueueEnable, 2, 0),
		})
		for q, size := range []uint64{256, 128, 64} { // the real queues are untouched
			r.run(t, []step{
				wr(virtiotest.PCIQueueSelect, 2, uint64(q)),
				rd(virtiotest.PCIQueueSize, 2, size),
				rd(virtiotest.PCIQueueMSIXVector, 2, virtiopci.NoVector),
				rd(virtiotest.PCIQueueDesc, 8, 0),
				rd(virtiotest.PCIQueueEnable, 2, 0),
			})
		}
	}
}

// After DRIVER_OK no queue field changes, enabled or not: a running
// device's rings stay where activation validated them (Firecracker's
// CVE-2026-5747 was such a reconfiguration over PCI).
func TestQueueFieldsFrozenAfterDriverOK(t *testing.T) {
	t.Parallel()
	r := newRig(t, threeQueues())
	r.drv.UseMSIX = true
	q := virtiotest.NewQueue(r.mem, 0x1000, 16)
	if _, err := r.drv.Init(virtio.FeatureVersion1, q); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		queue uint64
		want  [5]uint64 // size, vector, desc, driver, enable
	}{
		{"enabled queue", 0, [5]uint64{16, 1, uint64(q.DescTable), uint64(q.AvailRing), 1}},
		{"queue never enabled", 1, [5]uint64{128, virtiopci.NoVector, 0, 0, 0}},
	} {
		r.run(t, []step{
			wr(virtiotest.PCIQueueSelect, 2, tc.queue),
			wr(virtiotest.PCIQueueSize, 2, 8),
			wr(virtiotest.PCIQueueMSIXVector, 2, 3),
			wr(virtiotest.PCIQueueDesc, 4, 0x8000),
			wr(virtiotest.PCIQueueDesc+4, 4, 1),
			wr(virtiotest.PCIQueueDriver, 8, 0x9000),
			wr(virtiotest.PCIQueueEnable, 2, 1),
			rd(virtiotest.PCIQueueSize, 2, tc.want[0]),
			rd(virtiotest.PCIQueueMSIXVector, 2, tc.want[1]),
			rd(virtiotest.PCIQueueDesc, 8, tc.want[2]),
			rd(virtiotest.PCIQueueDriver, 8, tc.want[3]),
			rd(virtiotest.PCIQueueEnable, 2, tc.want[4]),
		})
	}
	// The device still serves the rings it was activated with.
	q.AddChain(virtiotest.Readable([]byte("ping")), virtiotest.Writable(4))
	r.drv.Kick(0)
	if used := q.Used(); len(used) != 1 || string(q.Written(used[0])) != "ping" {
		t.Fatalf("used %v after the rejected reconfiguration", used)
	}
}

// Writing 0 to device_status resets the device and the transport: status,
// selectors, vectors back to NO_VECTOR, ISR and INTx.
func TestResetThroughStatus(t *testing.T) {
	t.Parallel()
	dev := threeQueues()
	dev.SetConfig(make([]byte, 8))
	r := newRig(t, dev)
	r.drv.UseMSIX = true
	q := virtiotest.NewQueue(r.mem, 0x1000, 16)
	if _, err := r.drv.Init(virtio.FeatureVersion1, q); err != nil {
		t.Fatal(err)
	}
	r.run(t, []step{rd(virtiotest.PCIConfigMSIXVector, 2, 0), rd(virtiotest.PCIQueueMSIXVector, 2, 1)})
	r.drv.ConfigWrite(r.drv.MSIXCap+2, 2, 0) // MSI-X off: interrupts take INTx
	dev.ChangeConfig(0, []byte{1})           // ISR bit 1 and INTx
	if high, _ := r.line.state(); !high {
		t.Fatal("no INTx before the reset")
	}
	r.run(t, []step{
		wr(virtiotest.PCIDeviceFeatureSel, 4, 1),
		wr(virtiotest.PCIDriverFeatureSel, 4, 1),
		wr(virtiotest.PCIQueueSelect, 2, 2),
		wr(virtiotest.PCIDeviceStatus, 1, 0),
		rd(virtiotest.PCIDeviceStatus, 1, 0),
		rd(virtiotest.PCIDeviceFeatureSel, 4, 0),
		rd(virtiotest.PCIDriverFeatureSel, 4, 0),
		rd(virtiotest.PCIQueueSelect, 2, 0),
		rd(virtiotest.PCIConfigMSIXVector, 2, virtiopci.NoVector),
		rd(virtiotest.PCIQueueMSIXVector, 2, virtiopci.NoVector),
		rd(virtiotest.PCIQueueEnable, 2, 0),
		rd(virtiotest.PCIQueueSize, 2, 256),
		rd(virtiotest.PCIQueueDesc, 8, 0),
	})
	if high, _ := r.line.state(); high {
		t.Fatal("INTx still high after reset")
	}
	if isr := r.drv.ReadISR(); isr != 0 {
		t.Fatalf("ISR %#x after reset", isr)
	}
	if act, resets := dev.Counts(); act != 1 || resets < 2 {
		t.Fatalf("activations %d resets %d", act, resets)
	}
}
