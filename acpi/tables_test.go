package acpi

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

var le = binary.LittleEndian

// testMachine is a PC-like machine with cpus vCPUs, PCI, COM1, two
// virtio-mmio devices and the power block in MMIO.
func testMachine(cpus int) Machine {
	m := Machine{
		LocalAPICAddr: 0xfee0_0000,
		IOAPIC:        IOAPIC{ID: 0xfe, Addr: 0xfec0_0000},
		DualPIC:       true,
		Overrides: []Override{
			{Source: 0, GSI: 2},
			{Source: 9, GSI: 9, Trigger: TriggerLevel, Polarity: ActiveLow},
		},
		PCI: &PCIHostBridge{
			BusEnd:      0x0f,
			ECAMBase:    0xe000_0000,
			ConfigPorts: true,
			IOWindows:   []IOWindow{{0, 0xcf7}, {0xd00, 0xffff}},
			Mem32:       Window{Base: 0xc000_0000, Size: 0x1000_0000},
			Mem64:       Window{Base: 0x1_4000_0000, Size: 1 << 36},
			Routes: []PCIRoute{
				{Device: 1, Pin: 0, GSI: 16}, {Device: 1, Pin: 1, GSI: 17},
				{Device: 31, Pin: 3, GSI: 23},
			},
		},
		Serial: []SerialPort{{Port: 0x3f8, IRQ: 4}, {Port: 0x2f8, IRQ: 3}},
		VirtioMMIO: []MMIODevice{
			{Base: 0xd000_0000, Size: 0x1000, IRQ: Interrupt{GSI: 5}},
			{Base: 0xd000_1000, Size: 0x200, IRQ: Interrupt{GSI: 18, Level: true, ActiveLow: true}},
		},
		Power:   PowerBlock{Space: SystemMemory, Base: 0xfeb0_0000, GSI: 22},
		I8042:   true,
		CMOSRTC: &CMOSRTC{Port: 0x70},
	}
	for i := 0; i < cpus; i++ {
		m.CPUs = append(m.CPUs, CPU{APICID: uint32(i)})
	}
	return m
}

func layout(t *testing.T, m Machine) (*Tables, *Image) {
	t.Helper()
	tables, err := Build(m)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tables.Layout(ScanAreaStart)
	if err != nil {
		t.Fatal(err)
	}
	return tables, img
}

// table returns the bytes of the placed table sig.
func (img *Image) table(t *testing.T, sig string) []byte {
	t.Helper()
	for _, p := range img.Tables {
		if p.Signature == sig {
			return img.Blob[p.Addr-img.Base:][:p.Size]
		}
	}
	t.Fatalf("no %s in the image", sig)
	return nil
}

// at returns the table at guest address addr, by the length in its header.
func (img *Image) at(t *testing.T, addr uint64) []byte {
	t.Helper()
	if addr < img.Base || addr+HeaderSize > img.Base+uint64(len(img.Blob)) {
		t.Fatalf("address %#x is outside the image", addr)
	}
	b := img.Blob[addr-img.Base:]
	return b[:le.Uint32(b[offLength:])]
}

func TestChecksums(t *testing.T) {
	t.Parallel()
	for _, cpus := range []int{1, 2, 300} {
		_, img := layout(t, testMachine(cpus))
		for _, p := range img.Tables {
			b := img.table(t, p.Signature)
			if p.Signature == "RSDP" {
				if s := sum(b[:rsdpV1Size]); s != 0 {
					t.Errorf("%d CPUs: RSDP's first 20 bytes sum to %#x", cpus, s)
				}
			}
			if s := sum(b); s != 0 {
				t.Errorf("%d CPUs: %s sums to %#x", cpus, p.Signature, s)
			}
		}
	}
}

func TestTableLengths(t *testing.T) {
	t.Parallel()
	m := testMachine(2)
	_, img := layout(t, m)
	want := map[string]int{
		"RSDP": RSDPSize,
		"XSDT": HeaderSize + 3*8,
		"FACP": 276,
		// Two Local APICs, the IOAPIC, two overrides, the LINT1 NMI.
		"APIC": 44 + 2*8 + 12 + 2*10 + 6,
		"MCFG": 44 + 16,
	}
	for _, p := range img.Tables {
		b := img.table(t, p.Signature)
		n := int(le.Uint32(b[offLength:]))
		if p.Signature == "RSDP" {
			n = int(le.Uint32(b[offRSDPLength:]))
		}
		if n != len(b) {
			t.Errorf("%s: header says %d bytes, table has %d", p.Signature, n, len(b))
		}
		if w, ok := want[p.Signature]; ok && n != w {
			t.Errorf("%s: %d bytes, want %d", p.Signature, n, w)
		}
	}
	if got := len(img.Tables); got != 6 {
		t.Errorf("%d tables, want RSDP, XSDT, FACP, DSDT, APIC, MCFG", got)
	}
}

func TestFADTFields(t *testing.T) {
	t.Parallel()
	m := testMachine(2)
	_, img := layout(t, m)
	f := img.table(t, "FACP")
	gas := func(off int) (space, width, access byte, addr uint64) {
		return f[off], f[off+1], f[off+3], le.Uint64(f[off+4:])
	}
	if f[offRevision] != 6 || f[131] != 5 {
		t.Errorf("revision %d.%d, want 6.5", f[offRevision], f[131])
	}
	// Offsets of ACPI 6.5 table 5.9.
	if flags := le.Uint32(f[112:]); flags&(1<<20) == 0 || flags&(1<<10) == 0 || flags&(1<<4) == 0 {
		t.Errorf("flags %#x: want HW_REDUCED_ACPI, RESET_REG_SUP, PWR_BUTTON", flags)
	}
	if boot := le.Uint16(f[109:]); boot != 1<<0|1<<1|1<<2 {
		t.Errorf("IAPC_BOOT_ARCH %#x, want legacy devices, 8042, no VGA (and a CMOS RTC)", boot)
	}
	for _, r := range []struct {
		name string
		off  int
		reg  uint64
	}{{"RESET_REG", 116, RegReset}, {"SLEEP_CONTROL_REG", 244, RegSleepControl}, {"SLEEP_STATUS_REG", 256, RegSleepStatus}} {
		space, width, access, addr := gas(r.off)
		if space != 0 || width != 8 || access != 1 || addr != m.Power.Base+r.reg {
			t.Errorf("%s: space %d, %d bits, access %d at %#x; want memory, 8 bits, byte access at %#x",
				r.name, space, width, access, addr, m.Power.Base+r.reg)
		}
	}
	if f[128] != ResetValue {
		t.Errorf("RESET_VALUE %#x, want %#x", f[128], ResetValue)
	}
	if got := img.at(t, le.Uint64(f[140:])); string(got[:4]) != "DSDT" {
		t.Errorf("X_DSDT points at %q", got[:4])
	}
	// No FACS, no 32-bit DSDT pointer, no legacy PM or GPE blocks, no SCI.
	for off := 36; off < 108; off++ {
		if f[off] != 0 {
			t.Errorf("legacy field byte %d is %#x, want 0", off, f[off])
		}
	}
	for off := 148; off < 244; off++ {
		if f[off] != 0 {
			t.Errorf("X_ legacy block byte %d is %#x, want 0", off, f[off])
		}
	}
}

func TestMADT(t *testing.T) {
	t.Parallel()
	m := testMachine(2)
	m.CPUs = append(m.CPUs, CPU{APICID: 255}, CPU{APICID: 7})
	_, img := layout(t, m)
	b := img.table(t, "APIC")
	if got := le.Uint32(b[36:]); got != m.LocalAPICAddr {
		t.Errorf("local APIC address %#x", got)
	}
	if got := le.Uint32(b[40:]); got != 1 {
		t.Errorf("flags %#x, want PCAT_COMPAT", got)
	}
	type entry struct {
		typ  byte
		body string
	}
	var got []entry
	for e := b[44:]; len(e) > 0; {
		n := int(e[1])
		if n < 2 || n > len(e) {
			t.Fatalf("entry of type %d has length %d with %d bytes left", e[0], n, len(e))
		}
		got = append(got, entry{e[0], string(e[2:n])})
		e = e[n:]
	}
	u32 := func(v uint32) string { return string(le.AppendUint32(nil, v)) }
	u16 := func(v uint16) string { return string(le.AppendUint16(nil, v)) }
	want := []entry{
		{0, "\x00\x00" + u32(1)}, // UID 0, APIC ID 0, enabled
		{0, "\x01\x01" + u32(1)},
		{9, "\x00\x00" + u32(255) + u32(1) + u32(2)}, // x2APIC ID 255, enabled, UID 2
		{0, "\x03\x07" + u32(1)},
		{1, "\xfe\x00" + u32(0xfec0_0000) + u32(0)},
		{2, "\x00\x00" + u32(2) + u16(0)},   // IRQ0 -> GSI 2, conforming
		{2, "\x00\x09" + u32(9) + u16(0xf)}, // IRQ9 level, active low
		{4, "\xff" + u16(0x5) + "\x01"},     // all CPUs: LINT1 NMI, edge, high
		{10, u16(0x5) + u32(0xffff_ffff) + "\x01\x00\x00\x00"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d: %q", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: type %d % x, want type %d % x", i, got[i].typ, got[i].body, want[i].typ, want[i].body)
		}
	}
}

func TestMCFG(t *testing.T) {
	t.Parallel()
	m := testMachine(1)
	m.PCI.Segment, m.PCI.BusStart, m.PCI.BusEnd = 1, 2, 0x20
	_, img := layout(t, m)
	e := img.table(t, "MCFG")[44:]
	if base, seg := le.Uint64(e), le.Uint16(e[8:]); base != 0xe000_0000 || seg != 1 || e[10] != 2 || e[11] != 0x20 {
		t.Errorf("MCFG entry: base %#x segment %d buses %d-%d", base, seg, e[10], e[11])
	}
}

func TestLayout(t *testing.T) {
	t.Parallel()
	tables, img := layout(t, testMachine(2))
	if img.RSDPAddr != ScanAreaStart || img.Tables[0].Signature != "RSDP" || img.Tables[0].Addr != ScanAreaStart {
		t.Errorf("RSDP at %#x (%v), want first at the base", img.RSDPAddr, img.Tables[0])
	}
	if len(img.Blob) != tables.Size() {
		t.Errorf("blob is %d bytes, Size says %d", len(img.Blob), tables.Size())
	}
	end := img.Base
	for _, p := range img.Tables {
		if p.Addr%8 != 0 || p.Addr < end {
			t.Errorf("%s at %#x: misaligned or overlapping the previous table (ends %#x)", p.Signature, p.Addr, end)
		}
		end = p.Addr + uint64(p.Size)
	}
	rsdp := img.table(t, "RSDP")
	xsdt := img.at(t, le.Uint64(rsdp[offRSDPXSDT:]))
	if string(xsdt[:4]) != "XSDT" {
		t.Fatalf("the RSDP's XSDT address leads to %q", xsdt[:4])
	}
	var sigs []string
	for off := HeaderSize; off < len(xsdt); off += 8 {
		sigs = append(sigs, string(img.at(t, le.Uint64(xsdt[off:]))[:4]))
	}
	if got := strings.Join(sigs, " "); got != "FACP APIC MCFG" {
		t.Errorf("XSDT entries lead to %s", got)
	}
	if !bytes.Equal(tables.FADT[offFADTXDSDT:offFADTXDSDT+8], make([]byte, 8)) {
		t.Error("Layout modified the Tables' FADT")
	}
	if _, err := tables.Layout(ScanAreaStart + 8); err == nil {
		t.Error("a base off the 16-byte grid was accepted")
	}
	if _, err := tables.Layout(^uint64(0) - 15); err == nil {
		t.Error("a layout that wraps the address space was accepted")
	}
}

func TestWithoutPCI(t *testing.T) {
	t.Parallel()
	m := testMachine(1)
	m.PCI = nil
	tables, img := layout(t, m)
	if tables.MCFG != nil {
		t.Error("an MCFG without PCI")
	}
	if n := len(img.table(t, "XSDT")); n != HeaderSize+2*8 {
		t.Errorf("XSDT is %d bytes, want FACP and APIC only", n)
	}
	if bytes.Contains(tables.DSDT, []byte("PCI0")) {
		t.Error("the DSDT has a PCI host bridge")
	}
}

func TestFindRSDP(t *testing.T) {
	t.Parallel()
	_, img := layout(t, testMachine(2))
	const at = 0x1230 // 16-byte aligned offset in the scan area
	area := func(mutate func(r []byte)) []byte {
		a := make([]byte, ScanAreaEnd-ScanAreaStart)
		copy(a[at:], img.Blob)
		mutate(a[at:])
		return a
	}
	if off, ok := FindRSDP(area(func([]byte) {})); !ok || off != at {
		t.Errorf("FindRSDP = %#x, %v; want %#x", off, ok, at)
	}
	for name, mutate := range map[string]func(r []byte){
		"bad checksum":          func(r []byte) { r[offRSDPChecksum]++ },
		"bad extended checksum": func(r []byte) { r[offRSDPExtChecksum]++ },
		"misaligned":            func(r []byte) { copy(r[4:], r[:RSDPSize]); r[0] = 0 },
		"no signature":          func(r []byte) { r[0] = 'r' },
	} {
		if off, ok := FindRSDP(area(mutate)); ok {
			t.Errorf("%s: found an RSDP at %#x", name, off)
		}
	}
}

func TestBuildRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(m *Machine)
		want   string
	}{
		{"no CPUs", func(m *Machine) { m.CPUs = nil }, "0 CPUs"},
		{"duplicate APIC ID", func(m *Machine) { m.CPUs[1].APICID = 0 }, "used twice"},
		{"broadcast APIC ID", func(m *Machine) { m.CPUs[1].APICID = 0xffff_ffff }, "broadcast"},
		{"no IOAPIC", func(m *Machine) { m.IOAPIC.Addr = 0 }, "address is zero"},
		{"override of GSI 16", func(m *Machine) { m.Overrides[0].Source = 16 }, "override 0"},
		{"unknown trigger", func(m *Machine) { m.Overrides[1].Trigger = 2 }, "override 1"},
		{"bus range", func(m *Machine) { m.PCI.BusStart = 0x10 }, "bus range"},
		{"ECAM alignment", func(m *Machine) { m.PCI.ECAMBase += 0x1000 }, "ECAM base"},
		{"I/O window", func(m *Machine) { m.PCI.IOWindows[0] = IOWindow{0x100, 0xff} }, "I/O window 0"},
		{"32-bit window above 4 GiB", func(m *Machine) { m.PCI.Mem32 = Window{Base: 0xf000_0000, Size: 0x2000_0000} }, "crosses 4 GiB"},
		{"64-bit window wraps", func(m *Machine) { m.PCI.Mem64 = Window{Base: ^uint64(0), Size: 2} }, "wraps"},
		{"PCI device 32", func(m *Machine) { m.PCI.Routes[0].Device = 32 }, "route 0"},
		{"PCI pin 4", func(m *Machine) { m.PCI.Routes[2].Pin = 4 }, "route 2"},
		{"serial IRQ", func(m *Machine) { m.Serial[0].IRQ = 16 }, "serial port 0"},
		{"too many serial ports", func(m *Machine) { m.Serial = make([]SerialPort, 5) }, "5 serial ports"},
		{"virtio-mmio empty", func(m *Machine) { m.VirtioMMIO[1].Size = 0 }, "virtio-mmio device 1"},
		{"virtio-mmio past 4 GiB", func(m *Machine) { m.VirtioMMIO[0].Base = 0xffff_f800 }, "virtio-mmio device 0"},
		{"power space", func(m *Machine) { m.Power.Space = 2 }, "unknown address space"},
		{"power base", func(m *Machine) { m.Power.Base = 0 }, "base address is zero"},
		{"power port", func(m *Machine) { m.Power = PowerBlock{Space: SystemIO, Base: 0xfffc} }, "beyond the I/O space"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := testMachine(2)
			tc.mutate(&m)
			if _, err := Build(m); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Build = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
