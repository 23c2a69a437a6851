package virtiopci_test

import (
	"bytes"
	"testing"

	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/rng"
	virtiopci "github.com/gluevmm/glue/virtio/transport/pci"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// capInfo is one virtio_pci_cap as a driver reads it.
type capInfo struct {
	typ, bar, capLen uint32
	offset, length   uint32
}

func walk(d *virtiotest.PCIDriver) (virtioCaps []capInfo, msix int) {
	for off := d.ConfigRead(0x34, 1); off != 0; off = d.ConfigRead(int(off)+1, 1) {
		switch d.ConfigRead(int(off), 1) {
		case 0x09:
			o := int(off)
			virtioCaps = append(virtioCaps, capInfo{
				capLen: d.ConfigRead(o+2, 1), typ: d.ConfigRead(o+3, 1), bar: d.ConfigRead(o+4, 1),
				offset: d.ConfigRead(o+8, 4), length: d.ConfigRead(o+12, 4),
			})
		case 0x11:
			msix = int(off)
		}
	}
	return virtioCaps, msix
}

// The function identifies itself as a modern virtio device and lists the
// structures of section 4.1.4 in its capabilities, with one MSI-X vector
// per queue plus one for the configuration.
func TestIdentityAndCapabilities(t *testing.T) {
	t.Parallel()
	withConfig := threeQueues()
	withConfig.SetConfig(make([]byte, 24))
	for _, tc := range []struct {
		name    string
		dev     virtio.Device
		id      uint32
		class   uint32
		queues  uint32
		devCfg  uint32 // 0: no DEVICE_CFG capability
		vectors uint32
	}{
		{"rng", rng.New(bytes.NewReader(nil)), 0x1044, 0xff0000, 1, 0, 2},
		{"console with configuration", withConfig, 0x1043, 0x078000, 3, 24, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newRig(t, tc.dev).drv
			for _, f := range []struct {
				name   string
				reg, n int
				want   uint32
			}{
				{"vendor", 0x00, 2, 0x1af4},
				{"device", 0x02, 2, tc.id},
				{"revision", 0x08, 1, 1},
				{"class", 0x08, 4, tc.class},
				{"subsystem vendor", 0x2c, 2, 0x1af4},
				{"subsystem", 0x2e, 2, tc.id - 0x1000},
				{"interrupt pin", 0x3d, 1, 1},
				{"BAR 0: 64-bit memory", 0x10, 4, 0x4},
				{"BAR 1: high dword", 0x14, 4, uint32(barAddr >> 32)},
			} {
				got := d.ConfigRead(f.reg, f.n)
				if f.name == "class" {
					got >>= 8 // class code above the revision
				}
				if got != f.want {
					t.Errorf("%s: %#x, want %#x", f.name, got, f.want)
				}
			}
			caps, msix := walk(d)
			want := []capInfo{
				{typ: 1, capLen: 16, offset: virtiopci.CommonOffset, length: 0x38},
				{typ: 2, capLen: 20, offset: virtiopci.NotifyOffset, length: tc.queues * virtiopci.NotifyMultiplier},
				{typ: 3, capLen: 16, offset: virtiopci.ISROffset, length: 1},
			}
			if tc.devCfg != 0 {
				want = append(want, capInfo{typ: 4, capLen: 16, offset: virtiopci.DeviceOffset, length: tc.devCfg})
			}
			want = append(want, capInfo{typ: 5, capLen: 20})
			if len(caps) != len(want) {
				t.Fatalf("capabilities %+v, want %+v", caps, want)
			}
			for i := range want {
				if caps[i] != want[i] {
					t.Errorf("capability %d: %+v, want %+v", i, caps[i], want[i])
				}
			}
			if msix == 0 {
				t.Fatal("no MSI-X capability")
			}
			if n := d.ConfigRead(msix+2, 2)&0x7ff + 1; n != tc.vectors {
				t.Errorf("MSI-X table of %d vectors, want %d", n, tc.vectors)
			}
			if tbl, pba := d.ConfigRead(msix+4, 4), d.ConfigRead(msix+8, 4); tbl != virtiopci.MSIXTableOffset || pba != virtiopci.MSIXPBAOffset {
				t.Errorf("MSI-X table %#x PBA %#x (BIR 0)", tbl, pba)
			}
			if err := d.Probe(); err != nil {
				t.Fatal(err)
			}
			if d.NotifyMultiplier != virtiopci.NotifyMultiplier {
				t.Errorf("notify_off_multiplier %d", d.NotifyMultiplier)
			}
		})
	}
}

// NotifyAddress is BAR + NotifyOffset + queue*multiplier at the BAR's
// current mapping, equal to what the driver computes from the capability
// and queue_notify_off, and a write there notifies exactly that queue.
func TestNotifyAddresses(t *testing.T) {
	t.Parallel()
	dev := &recordDevice{EchoDevice: virtiotest.EchoDevice{MaxSizes: []uint16{16, 16, 16}}}
	r := newRig(t, dev)
	qs := []*virtiotest.Queue{
		virtiotest.NewQueue(r.mem, 0x1000, 16), virtiotest.NewQueue(r.mem, 0x4000, 16), virtiotest.NewQueue(r.mem, 0x8000, 16),
	}
	if _, err := r.drv.Init(virtio.FeatureVersion1, qs...); err != nil {
		t.Fatal(err)
	}
	check := func(base uint64) {
		t.Helper()
		for i := range 3 {
			addr, ok := r.tr.NotifyAddress(i)
			if want := base + 0x3000 + 4*uint64(i); !ok || addr != want || r.drv.NotifyAddr(uint16(i)) != want {
				t.Fatalf("queue %d: NotifyAddress %#x %v, driver %#x, want %#x", i, addr, ok, r.drv.NotifyAddr(uint16(i)), want)
			}
			r.drv.MemWrite(addr, 2, 0) // the value does not matter: the address names the queue
			if got := dev.take(); len(got) != 1 || got[0] != i {
				t.Fatalf("write at queue %d's address notified %v", i, got)
			}
		}
		for _, q := range []int{-1, 3} {
			if _, ok := r.tr.NotifyAddress(q); ok {
				t.Fatalf("NotifyAddress(%d) ok", q)
			}
		}
	}
	check(barAddr)
	// The guest moves the BAR; the VMM hears of it and the addresses follow.
	const moved = barAddr + 0x1_0000_0000
	r.drv.ConfigWrite(0x04, 2, 0x4)
	r.drv.ConfigWrite(0x14, 4, moved>>32)
	r.drv.ConfigWrite(0x04, 2, 0x6)
	if len(r.moves) != 1 || r.moves[0].Function != r.tr.Function() || r.moves[0].New != moved {
		t.Fatalf("BAR moves %+v", r.moves)
	}
	if err := r.drv.Probe(); err != nil {
		t.Fatal(err)
	}
	check(moved)
}

// recordDevice records the queues it is notified for.
type recordDevice struct {
	virtiotest.EchoDevice
	notified []int
}

func (d *recordDevice) Notify(i int) bool {
	d.notified = append(d.notified, i) // tests notify from one goroutine
	return d.EchoDevice.Notify(i)
}

func (d *recordDevice) take() []int {
	out := d.notified
	d.notified = nil
	return out
}
