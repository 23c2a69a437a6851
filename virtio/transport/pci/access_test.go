package virtiopci_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	virtiopci "github.com/gluevmm/glue/virtio/transport/pci"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// Accesses of the wrong width or alignment read as zero and change nothing
// (the driver MUST use each field's width, section 4.1.3.1).
func TestAccessWidths(t *testing.T) {
	t.Parallel()
	dev := threeQueues()
	dev.SetConfig([]byte{1, 2, 3, 4, 5, 6, 7, 8})
	r := probed(t, dev)
	bar := uint64(barAddr)
	r.drv.Write(virtiotest.PCIQueueSelect, 2, 1)
	for _, tc := range []struct {
		name string
		addr uint64
		n    int
	}{
		{"device_feature as 2 bytes", bar + virtiotest.PCIDeviceFeature, 2},
		{"device_feature as 8 bytes", bar + virtiotest.PCIDeviceFeature, 8},
		{"device_feature misaligned", bar + virtiotest.PCIDeviceFeature + 1, 4},
		{"num_queues as 4 bytes", bar + virtiotest.PCINumQueues, 4},
		{"num_queues as 1 byte", bar + virtiotest.PCINumQueues, 1},
		{"device_status as 2 bytes", bar + virtiotest.PCIDeviceStatus, 2},
		{"queue_size misaligned", bar + virtiotest.PCIQueueSize + 1, 2},
		{"queue_size as 4 bytes", bar + virtiotest.PCIQueueSize, 4},
		{"queue_desc high half as 8 bytes", bar + virtiotest.PCIQueueDesc + 4, 8},
		{"queue_desc as 2 bytes", bar + virtiotest.PCIQueueDesc, 2},
		{"past the structure", bar + 0x38, 4},
		{"device config misaligned", bar + virtiopci.DeviceOffset + 1, 2},
		{"device config as 8 bytes", bar + virtiopci.DeviceOffset, 8},
		{"device config past its size", bar + virtiopci.DeviceOffset + 8, 1},
		{"device config across its end", bar + virtiopci.DeviceOffset + 6, 4},
		{"ISR as 4 bytes", bar + virtiopci.ISROffset, 4},
		{"between the structures", bar + 0x1800, 4},
	} {
		if got := r.drv.MemRead(tc.addr, tc.n); got != 0 {
			t.Errorf("%s: read %#x, want 0", tc.name, got)
		}
		r.drv.MemWrite(tc.addr, tc.n, 0x0101_0101_0101_0101)
	}
	// Nothing the refused writes aimed at changed.
	r.run(t, []step{
		rd(virtiotest.PCIDeviceStatus, 1, 3),
		rd(virtiotest.PCIQueueSelect, 2, 1),
		rd(virtiotest.PCIQueueSize, 2, 128),
		rd(virtiotest.PCIQueueDesc, 8, 0),
		rd(virtiotest.PCINumQueues, 2, 3),
	})
	cfg := make([]byte, 8)
	dev.ReadConfig(0, cfg)
	if !bytes.Equal(cfg, []byte{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Fatalf("configuration space %v after refused writes", cfg)
	}
	// The accesses a driver makes are served.
	for _, tc := range []struct {
		addr uint64
		n    int
		want uint64
	}{
		{bar + virtiopci.DeviceOffset, 1, 1},
		{bar + virtiopci.DeviceOffset + 6, 2, 0x0807},
		{bar + virtiopci.DeviceOffset + 4, 4, 0x08070605},
	} {
		if got := r.drv.MemRead(tc.addr, tc.n); got != tc.want {
			t.Errorf("device config %d bytes at %#x: %#x, want %#x", tc.n, tc.addr, got, tc.want)
		}
	}
	r.drv.MemWrite(bar+virtiopci.DeviceOffset+2, 2, 0xaabb)
	if dev.ReadConfig(2, cfg[:2]); cfg[0] != 0xbb || cfg[1] != 0xaa {
		t.Fatalf("device config write: %x", cfg[:2])
	}
}

// A notification is a 2- or 4-byte write at the start of the queue's slot;
// other writes there, and reads, notify nothing.
func TestNotifyAccessWidths(t *testing.T) {
	t.Parallel()
	dev := &recordDevice{EchoDevice: virtiotest.EchoDevice{MaxSizes: []uint16{16, 16}}}
	r := newRig(t, dev)
	if _, err := r.drv.Init(virtio.FeatureVersion1, virtiotest.NewQueue(r.mem, 0x1000, 16), virtiotest.NewQueue(r.mem, 0x4000, 16)); err != nil {
		t.Fatal(err)
	}
	q1 := uint64(barAddr + virtiopci.NotifyOffset + virtiopci.NotifyMultiplier)
	for _, tc := range []struct {
		name   string
		addr   uint64
		n      int
		read   bool
		notify []int
	}{
		{"2 bytes", q1, 2, false, []int{1}},
		{"4 bytes", q1, 4, false, []int{1}},
		{"1 byte", q1, 1, false, nil},
		{"8 bytes", q1, 8, false, nil},
		{"inside the slot", q1 + 2, 2, false, nil},
		{"past the last queue", q1 + virtiopci.NotifyMultiplier, 2, false, nil},
		{"read", q1, 2, true, nil},
	} {
		if tc.read {
			if v := r.drv.MemRead(tc.addr, tc.n); v != 0 {
				t.Errorf("%s: %#x", tc.name, v)
			}
		} else {
			r.drv.MemWrite(tc.addr, tc.n, 0)
		}
		if got := dev.take(); len(got) != len(tc.notify) || (len(got) == 1 && got[0] != tc.notify[0]) {
			t.Errorf("%s: notified %v, want %v", tc.name, got, tc.notify)
		}
	}
}

// NotifyQueue drops kicks for queues that do not exist, before DRIVER_OK
// and while the guest has bus mastering off.
func TestNotifyQueueDrops(t *testing.T) {
	t.Parallel()
	dev := &busyDevice{}
	r := newRig(t, dev)
	if r.tr.NotifyQueue(0) || dev.count() != 0 {
		t.Fatal("kick before DRIVER_OK reached the device")
	}
	if _, err := r.drv.Init(virtio.FeatureVersion1, virtiotest.NewQueue(r.mem, 0x1000, 16)); err != nil {
		t.Fatal(err)
	}
	for _, q := range []int{-1, 1, 1 << 20} {
		if r.tr.NotifyQueue(q) {
			t.Fatalf("NotifyQueue(%d) reported work", q)
		}
	}
	r.drv.ConfigWrite(0x04, 2, 0x2) // memory on, bus master off
	if r.tr.NotifyQueue(0) || dev.count() != 0 {
		t.Fatal("kick with bus mastering off reached the device")
	}
	r.drv.ConfigWrite(0x04, 2, 0x6)
	if !r.tr.NotifyQueue(0) || dev.count() != 1 {
		t.Fatal("kick of the active queue did not reach the device")
	}
}

// busyDevice always has more work, like a queue a guest keeps feeding.
type busyDevice struct {
	virtiotest.EchoDevice
	mu      sync.Mutex
	notifys int
}

func (d *busyDevice) Notify(int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.notifys++
	return true
}

func (d *busyDevice) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.notifys
}

// A notification written to the BAR does bounded work on the vCPU. The
// rest goes to Resubmit when the VMM set one; otherwise an interrupt is
// forced and the driver's ISR read runs the next share.
func TestKickIsBounded(t *testing.T) {
	t.Parallel()
	t.Run("deferred to the ISR read", func(t *testing.T) {
		t.Parallel()
		dev := &busyDevice{}
		r := newRig(t, dev)
		if _, err := r.drv.Init(virtio.FeatureVersion1, virtiotest.NewQueue(r.mem, 0x1000, 64)); err != nil {
			t.Fatal(err)
		}
		r.drv.Kick(0) // returns: that is the point
		first := dev.count()
		if first != virtio.KickRounds {
			t.Fatalf("one kick made %d calls, want %d", first, virtio.KickRounds)
		}
		if high, _ := r.line.state(); !high {
			t.Fatal("unfinished work did not interrupt the driver")
		}
		if isr := r.drv.ReadISR(); isr != 1 {
			t.Fatalf("ISR %#x", isr)
		}
		if n := dev.count(); n != 2*first {
			t.Fatalf("after the ISR read %d calls, want %d", n, 2*first)
		}
		r.drv.Reset() // a reset ends it
		r.drv.ReadISR()
		if n := dev.count(); n != 2*first {
			t.Fatalf("work continued after reset: %d calls", n)
		}
	})
	t.Run("resubmitted", func(t *testing.T) {
		t.Parallel()
		mem := virtiotest.NewMemory(t, guestmem.Span{Base: 0, Size: ramSize})
		dev := &busyDevice{}
		var resubmitted []int
		tr, err := virtiopci.New(dev, mem, virtiopci.Config{
			BARAddr: barAddr, MSIX: &sink{},
			Resubmit: func(q int) { resubmitted = append(resubmitted, q) },
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := &rig{mem: mem, sink: &sink{}, line: &line{}}
		r.attach(t, tr)
		if _, err := r.drv.Init(virtio.FeatureVersion1, virtiotest.NewQueue(mem, 0x1000, 64)); err != nil {
			t.Fatal(err)
		}
		r.drv.Kick(0)
		if n := dev.count(); n != virtio.KickRounds || len(resubmitted) != 1 || resubmitted[0] != 0 {
			t.Fatalf("%d calls, resubmitted %v", n, resubmitted)
		}
		if high, _ := r.line.state(); high {
			t.Fatal("resubmitted work forced an interrupt")
		}
	})
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	mem := virtiotest.NewMemory(t, guestmem.Span{Base: 0, Size: ramSize})
	huge := &virtiotest.EchoDevice{}
	huge.SetConfig(make([]byte, virtiopci.MaxConfigSize+1))
	for _, tc := range []struct {
		name string
		dev  virtio.Device
		cfg  virtiopci.Config
		want string
	}{
		{"no sink", &virtiotest.EchoDevice{}, virtiopci.Config{BARAddr: barAddr}, "no MSI-X sink"},
		{"configuration too large", huge, virtiopci.Config{BARAddr: barAddr, MSIX: &sink{}}, "exceeds"},
		{"BAR misaligned", &virtiotest.EchoDevice{}, virtiopci.Config{BARAddr: barAddr + 0x1000, MSIX: &sink{}}, "not aligned"},
		{"device refused by the core", &virtiotest.EchoDevice{MaxSizes: []uint16{0}}, virtiopci.Config{BARAddr: barAddr, MSIX: &sink{}}, "maximum size"},
	} {
		_, err := virtiopci.New(tc.dev, mem, tc.cfg, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "virtio-pci") {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
