package virtiopci_test

import (
	"testing"

	"github.com/gluevmm/glue/virtio"
	virtiopci "github.com/gluevmm/glue/virtio/transport/pci"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// pciCfg finds the VIRTIO_PCI_CAP_PCI_CFG capability.
func pciCfg(t *testing.T, d *virtiotest.PCIDriver) int {
	t.Helper()
	for off := d.ConfigRead(0x34, 1); off != 0; off = d.ConfigRead(int(off)+1, 1) {
		if d.ConfigRead(int(off), 1) == 0x09 && d.ConfigRead(int(off)+3, 1) == virtiotest.PCICapPCICfg {
			return int(off)
		}
	}
	t.Fatal("no PCI_CFG capability")
	return 0
}

// cfgAccess selects bar, offset and length in the capability.
func cfgAccess(d *virtiotest.PCIDriver, c int, bar, offset, length uint32) {
	d.ConfigWrite(c+4, 1, bar)
	d.ConfigWrite(c+8, 4, offset)
	d.ConfigWrite(c+12, 4, length)
}

// The PCI_CFG capability's window reaches the BAR's registers through
// configuration space alone, with memory decoding off, as firmware uses
// it; selections the specification forbids read zero and write nothing.
func TestPCICfgCapability(t *testing.T) {
	t.Parallel()
	dev := threeQueues()
	dev.SetConfig([]byte{0x11, 0x22, 0x33, 0x44})
	r := newRig(t, dev)
	d := r.drv
	c := pciCfg(t, d)
	if d.ConfigRead(0x04, 2)&0x2 != 0 {
		t.Fatal("memory decoding on before the driver enabled it")
	}
	for _, tc := range []struct {
		name                string
		bar, offset, length uint32
		want                uint32
	}{
		{"num_queues", 0, virtiopci.CommonOffset + virtiotest.PCINumQueues, 2, 3},
		{"device config dword", 0, virtiopci.DeviceOffset, 4, 0x44332211},
		{"device config byte", 0, virtiopci.DeviceOffset + 2, 1, 0x33},
		{"length 3", 0, virtiopci.DeviceOffset, 3, 0},
		{"length 8", 0, virtiopci.DeviceOffset, 8, 0},
		{"misaligned", 0, virtiopci.DeviceOffset + 1, 2, 0},
		{"another BAR", 2, virtiopci.DeviceOffset, 4, 0},
		{"past the BAR", 0, virtiopci.BARSize, 4, 0},
	} {
		cfgAccess(d, c, tc.bar, tc.offset, tc.length)
		if got := d.ConfigRead(c+16, 4); got != tc.want {
			t.Errorf("%s: pci_cfg_data %#x, want %#x", tc.name, got, tc.want)
		}
		if bar, off, n := d.ConfigRead(c+4, 1), d.ConfigRead(c+8, 4), d.ConfigRead(c+12, 4); bar != tc.bar || off != tc.offset || n != tc.length {
			t.Errorf("%s: fields read back %d %#x %d", tc.name, bar, off, n)
		}
	}
	// Writes: device_status (1 byte) through the window, then a refused one.
	cfgAccess(d, c, 0, virtiopci.CommonOffset+virtiotest.PCIDeviceStatus, 1)
	d.ConfigWrite(c+16, 1, uint32(virtio.StatusAcknowledge))
	cfgAccess(d, c, 0, virtiopci.CommonOffset+virtiotest.PCIDeviceStatus, 2)
	d.ConfigWrite(c+16, 2, 0x0300)
	d.ConfigWrite(0x04, 2, 0x6)
	if err := d.Probe(); err != nil {
		t.Fatal(err)
	}
	if s := d.Status(); s != virtio.StatusAcknowledge {
		t.Fatalf("status %#x after writes through PCI_CFG, want ACKNOWLEDGE only", s)
	}
	// cap_len, cfg_type and id are read-only.
	d.ConfigWrite(c+2, 2, 0xffff)
	d.ConfigWrite(c+5, 1, 0xff)
	if l, typ, id := d.ConfigRead(c+2, 1), d.ConfigRead(c+3, 1), d.ConfigRead(c+5, 1); l != 20 || typ != 5 || id != 0 {
		t.Fatalf("cap_len %d cfg_type %d id %d after writes", l, typ, id)
	}
}
