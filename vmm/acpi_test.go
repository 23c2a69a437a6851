package vmm

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gluevmm/glue/acpi"
	"github.com/gluevmm/glue/bus"
	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/test/hosttest"
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

// The DSDT of glue's own machine (every _PRT route, COM1, virtio-mmio
// devices, the power device) decodes cleanly with ACPICA's disassembler,
// the one Linux's interpreter shares its code with.
func TestMachineDSDTDisassembles(t *testing.T) {
	t.Parallel()
	iasl := hosttest.LookPath(t, "iasl")
	dm := &deviceManager{
		pci: newPCIRig(t).p,
		mmioDevices: []acpi.MMIODevice{
			{Base: uint32(x86.VirtioMMIOAddr(0)), Size: 0x1000, IRQ: acpi.Interrupt{GSI: 5}},
			{Base: uint32(x86.VirtioMMIOAddr(1)), Size: 0x1000, IRQ: acpi.Interrupt{GSI: 6}},
		},
	}
	tables, err := acpi.Build(dm.acpiMachine(4))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	aml := filepath.Join(dir, "dsdt.aml")
	if err := os.WriteFile(aml, tables.DSDT, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(iasl, "-d", aml).CombinedOutput()
	if err != nil {
		t.Fatalf("iasl -d: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		l := strings.ToLower(line)
		if (strings.Contains(l, "error") || strings.Contains(l, "warning")) && !strings.Contains(l, "copyright") {
			t.Errorf("iasl -d: %s", line)
		}
	}
	dsl, err := os.ReadFile(filepath.Join(dir, "dsdt.dsl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PNP0A08", "_PRT", "LNRO0005", "PNP0501", "ACPI0013"} {
		if !strings.Contains(string(dsl), want) {
			t.Errorf("disassembled DSDT lacks %s", want)
		}
	}
	if n := strings.Count(string(dsl), "0x0001FFFF"); n != 4 {
		t.Errorf("_PRT has %d entries for slot 1, want 4 (one per pin)", n)
	}
}

// The power device sits at its port: a guest's S5 write ends the VM as
// powered off, a write of the reset value as reset; anything else neither.
func TestPowerDeviceEndsTheVM(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		reg        uint64
		value      byte
		off, reset bool
	}{
		{"S5", acpi.RegSleepControl, 0x34, true, false},
		{"reset register", acpi.RegReset, acpi.ResetValue, false, true},
		{"S5 without SLP_EN", acpi.RegSleepControl, 0x14, false, false},
		{"another reset value", acpi.RegReset, 0x02, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dm := &deviceManager{pio: &bus.Bus{}, reset: make(chan struct{}), powerOff: make(chan struct{})}
			if err := dm.addPowerDevice(); err != nil {
				t.Fatal(err)
			}
			dm.pio.Write(x86.ACPIPowerPort+tc.reg, []byte{tc.value})
			closed := func(c chan struct{}) bool {
				select {
				case <-c:
					return true
				default:
					return false
				}
			}
			if got := closed(dm.powerOff); got != tc.off {
				t.Errorf("powered off %v, want %v", got, tc.off)
			}
			if got := closed(dm.reset); got != tc.reset {
				t.Errorf("reset %v, want %v", got, tc.reset)
			}
		})
	}
}
