package x86

import (
	"testing"

	"github.com/gluevmm/glue/guestmem"
)

// The PCI BAR windows hold nothing else: no RAM for any RAM size, not the
// virtio-mmio windows, ECAM, the interrupt controllers or KVM's pages; and
// the GSI plan gives every line one user.
func TestLayoutPCIWindowsAreFree(t *testing.T) {
	t.Parallel()
	fixed := []guestmem.Span{
		{Base: VirtioMMIOBase, Size: uint64(MaxVirtioDevices) * VirtioMMIOSize},
		{Base: ECAMBase, Size: ECAMSize},
		{Base: IOAPICAddr, Size: 0x1000},
		{Base: LAPICAddr, Size: 0x1000},
		{Base: KVMIdentityMapAddr, Size: 4 * 0x1000},
	}
	overlaps := func(a, b guestmem.Span) bool { return a.Base < b.End() && b.Base < a.End() }
	for _, mem := range []uint64{64 << 20, 3 << 30, 3<<30 + 4096, 6 << 30, 100 << 30, MaxRAM} {
		windows := []guestmem.Span{
			{Base: PCIMem32Base, Size: PCIMem32Size},
			{Base: PCIMem64Base(mem), Size: PCIMem64Size},
		}
		if windows[1].Base%PCIMem64Align != 0 {
			t.Errorf("mem %#x: 64-bit window at %#x is not aligned", mem, windows[1].Base)
		}
		for _, w := range windows {
			for _, r := range append(RAMSpans(mem), fixed...) {
				if overlaps(w, r) {
					t.Errorf("mem %#x: PCI window %#x+%#x overlaps %#x+%#x", mem, w.Base, w.Size, r.Base, r.Size)
				}
			}
		}
	}
	used := map[uint32]string{IRQKeyboard: "keyboard", IRQCOM1: "COM1", IRQRTC: "RTC", IRQMouse: "mouse", 0: "PIT", 2: "PIC cascade", PowerButtonGSI: "power button"}
	for n := range PCIINTxLines {
		used[PCIINTxGSI(n)] = "INTx"
	}
	for n := range MaxVirtioDevices {
		irq, _ := VirtioIRQ(n)
		if who, ok := used[irq]; ok || irq >= IOAPICPins {
			t.Errorf("virtio-mmio device %d on GSI %d, which %s uses (or is no pin)", n, irq, who)
		}
		used[irq] = "virtio-mmio"
	}
	if MSIGSIBase < IOAPICPins {
		t.Errorf("MSI GSIs from %d overlap the IOAPIC pins", MSIGSIBase)
	}
}
