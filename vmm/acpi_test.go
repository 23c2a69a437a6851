package vmm

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/gluevmm/glue/acpi"
	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/x86"
)

// With ACPI the tables are in guest memory where an OS scans for them and
// where the boot information points, they describe the virtio-mmio device,
// and the command line gets nothing; without ACPI nothing is written and
// the device goes on the command line. ECAM is reserved either way.
func TestWriteACPITables(t *testing.T) {
	t.Parallel()
	const param = "virtio_mmio.device=4K@0xd0000000:5"
	for _, noACPI := range []bool{false, true} {
		name := map[bool]string{false: "acpi", true: "no acpi"}[noACPI]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mem, err := guestmem.New(x86.RAMSpans(64 << 20))
			if err != nil {
				t.Fatal(err)
			}
			defer mem.Close()
			dm := &deviceManager{
				pci:         newPCIRig(t).p,
				mmioDevices: []acpi.MMIODevice{{Base: uint32(x86.VirtioMMIOBase), Size: 0x1000, IRQ: acpi.Interrupt{GSI: 5}}},
				mmioParams:  []string{param},
			}
			desc, err := writeACPITables(mem, dm, &Config{CPUs: 2, NoACPI: noACPI})
			if err != nil {
				t.Fatal(err)
			}
			if want := (guestmem.Span{Base: x86.ECAMBase, Size: x86.ECAMSize}); !slices.Contains(desc.reserved, want) {
				t.Errorf("reserved %v lacks ECAM %v", desc.reserved, want)
			}
			area := make([]byte, acpi.ScanAreaEnd-acpi.ScanAreaStart)
			if err := mem.ReadAt(area, acpi.ScanAreaStart); err != nil {
				t.Fatal(err)
			}
			off, found := acpi.FindRSDP(area)
			if noACPI {
				if found || desc.rsdp != 0 || !slices.Equal(desc.params, []string{param}) {
					t.Errorf("without ACPI: RSDP found %v, rsdp %#x, params %q; want none, 0, [%s]", found, desc.rsdp, desc.params, param)
				}
				return
			}
			if !found || desc.rsdp != guestmem.Addr(acpi.ScanAreaStart+off) || len(desc.params) != 0 {
				t.Fatalf("RSDP found %v at %#x, boot info says %#x, params %q", found, acpi.ScanAreaStart+off, desc.rsdp, desc.params)
			}
			if !bytes.Contains(area, []byte("LNRO0005")) {
				t.Error("the DSDT does not describe the virtio-mmio device")
			}
			madt := tableAt(t, area, "APIC")
			if lapics := bytes.Count(madt[44:], []byte{0, 8}); lapics != 2 {
				t.Errorf("MADT has %d local APIC entries, want 2", lapics)
			}
		})
	}
}

// tableAt finds the table with signature sig in the ACPI area through the
// RSDP's XSDT.
func tableAt(t *testing.T, area []byte, sig string) []byte {
	t.Helper()
	off, _ := acpi.FindRSDP(area)
	le := binary.LittleEndian
	at := func(addr uint64) []byte {
		b := area[addr-acpi.ScanAreaStart:]
		return b[:le.Uint32(b[4:])]
	}
	xsdt := at(le.Uint64(area[off+24:]))
	for i := 36; i+8 <= len(xsdt); i += 8 {
		if tb := at(le.Uint64(xsdt[i:])); string(tb[:4]) == sig {
			return tb
		}
	}
	t.Fatalf("no %s table in the XSDT", sig)
	return nil
}
