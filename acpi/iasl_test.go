package acpi

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/gluevmm/glue/acpi/internal/iasltest"
)

var spaces = regexp.MustCompile(`\s+`)

// flat collapses runs of white space, so that expectations can span lines
// of iasl's output without depending on its indentation.
func flat(s string) string { return spaces.ReplaceAllString(s, " ") }

// TestIASL is the oracle: ACPICA's disassembler must decode every table
// (the RSDP aside: iasl 20200925 cannot read one from a file, not even one
// it compiled itself) without a complaint, show the values the machine
// describes at the offsets its own table definitions give, and its
// compiler must rebuild each table from the disassembly byte for byte.
func TestIASL(t *testing.T) {
	t.Parallel()
	iasltest.Path(t)
	portIO := testMachine(300) // x2APIC entries, a DSDT over 4 KiB
	portIO.Power = PowerBlock{Space: SystemIO, Base: 0x600, GSI: 9}
	portIO.Serial = nil
	noPCI := testMachine(1)
	noPCI.PCI = nil
	for _, tc := range []struct {
		name string
		m    Machine
		want map[string][]string // per table, strings its disassembly must contain
	}{
		{"pc", testMachine(2), map[string][]string{
			"DSDT": {
				`Name (\_S5, Package (0x04) // _S5_: S5 System State { 0x05, Zero, Zero, Zero })`,
				`Device (C001) { Name (_HID, "ACPI0007" /* Processor Device */) // _HID: Hardware ID Name (_UID, One)`,
				`Device (PCI0) { Name (_HID, EisaId ("PNP0A08") /* PCI Express Bus */) // _HID: Hardware ID ` +
					`Name (_CID, EisaId ("PNP0A03") /* PCI Bus */) // _CID: Compatible ID ` +
					`Name (_SEG, Zero) // _SEG: PCI Segment Name (_BBN, Zero) // _BBN: BIOS Bus Number`,
				`WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0x0000, // Granularity 0x0000, // Range Minimum 0x000F, // Range Maximum 0x0000, // Translation Offset 0x0010, // Length`,
				`IO (Decode16, 0x0CF8, // Range Minimum 0x0CF8, // Range Maximum 0x01, // Alignment 0x08, // Length )`,
				`WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0x0000, // Granularity 0x0D00, // Range Minimum 0xFFFF, // Range Maximum`,
				`DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0x00000000, // Granularity 0xC0000000, // Range Minimum 0xCFFFFFFF, // Range Maximum 0x00000000, // Translation Offset 0x10000000, // Length`,
				`QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite, 0x0000000000000000, // Granularity 0x0000000140000000, // Range Minimum 0x000000113FFFFFFF, // Range Maximum`,
				`Package (0x04) { 0x0001FFFF, One, Zero, 0x11 }`,
				`Package (0x04) { 0x001FFFFF, 0x03, Zero, 0x17 }`,
				`Device (MRES) { Name (_HID, EisaId ("PNP0C02") /* PNP Motherboard Resources */) // _HID: Hardware ID Name (_UID, Zero) // _UID: Unique ID Name (_CRS, ResourceTemplate () // _CRS: Current Resource Settings { Memory32Fixed (ReadOnly, 0xE0000000, // Address Base 0x01000000, // Address Length`,
				`Device (COM1) { Name (_HID, EisaId ("PNP0501") /* 16550A-compatible COM Serial Port */) // _HID: Hardware ID Name (_UID, One) // _UID: Unique ID Name (_CRS, ResourceTemplate () // _CRS: Current Resource Settings { IO (Decode16, 0x03F8, // Range Minimum 0x03F8, // Range Maximum 0x01, // Alignment 0x08, // Length ) IRQNoFlags () {4} })`,
				`Device (COM2) {`, `0x02F8, // Range Minimum`, `IRQNoFlags () {3}`,
				`Device (RTC) { Name (_HID, EisaId ("PNP0B00") /* AT Real-Time Clock */) // _HID: Hardware ID Name (_CRS, ResourceTemplate () // _CRS: Current Resource Settings { IO (Decode16, 0x0070, // Range Minimum 0x0070, // Range Maximum 0x01, // Alignment 0x02, // Length ) IRQNoFlags () {8} })`,
				`Device (V000) { Name (_HID, "LNRO0005") // _HID: Hardware ID Name (_UID, Zero) // _UID: Unique ID Name (_CRS, ResourceTemplate () // _CRS: Current Resource Settings { Memory32Fixed (ReadWrite, 0xD0000000, // Address Base 0x00001000, // Address Length ) Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, ) { 0x00000005, } })`,
				`Memory32Fixed (ReadWrite, 0xD0001000, // Address Base 0x00000200, // Address Length ) Interrupt (ResourceConsumer, Level, ActiveLow, Exclusive, ,, ) { 0x00000012, }`,
				`Device (PWRB) { Name (_HID, EisaId ("PNP0C0C") /* Power Button Device */)`,
				`Device (GED0) { Name (_HID, "ACPI0013" /* Generic Event Device */) // _HID: Hardware ID Name (_UID, Zero) // _UID: Unique ID Name (_CRS, ResourceTemplate () // _CRS: Current Resource Settings { Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, ) { 0x00000016, } }) ` +
					`OperationRegion (EREG, SystemMemory, 0xFEB00000, 0x04) Field (EREG, DWordAcc, NoLock, WriteAsZeros) { ESEL, 32 } ` +
					`Method (_EVT, 1, Serialized) // _EVT: Event { Local0 = ESEL /* \_SB_.GED0.ESEL */ If (((Local0 & One) == One)) { Notify (\_SB.PWRB, 0x80) // Status Change } }`,
			},
			"FACP": {
				`[06Dh 0109 2] Boot Flags (decoded below) : 0007 Legacy Devices Supported (V2) : 1 8042 Present on ports 60/64 (V2) : 1 VGA Not Present (V4) : 1 MSI Not Supported (V4) : 0 PCIe ASPM Not Supported (V4) : 0 CMOS RTC Not Present (V5) : 0`,
				`[070h 0112 4] Flags (decoded below) : 00100430`,
				`Control Method Power Button (V1) : 1`, `Reset Register Supported (V2) : 1`, `Hardware Reduced (V5) : 1`,
				`[074h 0116 12] Reset Register : [Generic Address Structure] [074h 0116 1] Space ID : 00 [SystemMemory] [075h 0117 1] Bit Width : 08 [076h 0118 1] Bit Offset : 00 [077h 0119 1] Encoded Access Width : 01 [Byte Access:8] [078h 0120 8] Address : 00000000FEB00006 [080h 0128 1] Value to cause reset : 01`,
				`[083h 0131 1] FADT Minor Revision : 05`,
				`[0F4h 0244 12] Sleep Control Register : [Generic Address Structure] [0F4h 0244 1] Space ID : 00 [SystemMemory] [0F5h 0245 1] Bit Width : 08 [0F6h 0246 1] Bit Offset : 00 [0F7h 0247 1] Encoded Access Width : 01 [Byte Access:8] [0F8h 0248 8] Address : 00000000FEB00004`,
				`[100h 0256 12] Sleep Status Register : [Generic Address Structure] [100h 0256 1] Space ID : 00 [SystemMemory] [101h 0257 1] Bit Width : 08 [102h 0258 1] Bit Offset : 00 [103h 0259 1] Encoded Access Width : 01 [Byte Access:8] [104h 0260 8] Address : 00000000FEB00005`,
			},
			"APIC": {
				`[024h 0036 4] Local Apic Address : FEE00000 [028h 0040 4] Flags (decoded below) : 00000001 PC-AT Compatibility : 1`,
				`Subtable Type : 00 [Processor Local APIC] [035h 0053 1] Length : 08 [036h 0054 1] Processor ID : 01 [037h 0055 1] Local Apic ID : 01 [038h 0056 4] Flags (decoded below) : 00000001 Processor Enabled : 1`,
				`Subtable Type : 01 [I/O APIC] [03Dh 0061 1] Length : 0C [03Eh 0062 1] I/O Apic ID : FE [03Fh 0063 1] Reserved : 00 [040h 0064 4] Address : FEC00000 [044h 0068 4] Interrupt : 00000000`,
				`Subtable Type : 02 [Interrupt Source Override] [049h 0073 1] Length : 0A [04Ah 0074 1] Bus : 00 [04Bh 0075 1] Source : 00 [04Ch 0076 4] Interrupt : 00000002 [050h 0080 2] Flags (decoded below) : 0000`,
				`Source : 09 [056h 0086 4] Interrupt : 00000009 [05Ah 0090 2] Flags (decoded below) : 000F Polarity : 3 Trigger Mode : 3`,
				`Subtable Type : 04 [Local APIC NMI] [05Dh 0093 1] Length : 06 [05Eh 0094 1] Processor ID : FF [05Fh 0095 2] Flags (decoded below) : 0005 Polarity : 1 Trigger Mode : 1 [061h 0097 1] Interrupt Input LINT : 01`,
			},
			"MCFG": {
				`[02Ch 0044 8] Base Address : 00000000E0000000 [034h 0052 2] Segment Group Number : 0000 [036h 0054 1] Start Bus Number : 00 [037h 0055 1] End Bus Number : 0F`,
			},
		}},
		{"300 CPUs, port I/O", portIO, map[string][]string{
			"DSDT": {
				`Device (C12B) { Name (_HID, "ACPI0007" /* Processor Device */) // _HID: Hardware ID Name (_UID, 0x012B)`,
				`OperationRegion (EREG, SystemIO, 0x0600, 0x04)`,
				`Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, ) { 0x00000009, }`,
			},
			"FACP": {
				`[074h 0116 12] Reset Register : [Generic Address Structure] [074h 0116 1] Space ID : 01 [SystemIO] [075h 0117 1] Bit Width : 08 [076h 0118 1] Bit Offset : 00 [077h 0119 1] Encoded Access Width : 01 [Byte Access:8] [078h 0120 8] Address : 0000000000000606`,
				`Sleep Control Register : [Generic Address Structure] [0F4h 0244 1] Space ID : 01 [SystemIO] [0F5h 0245 1] Bit Width : 08 [0F6h 0246 1] Bit Offset : 00 [0F7h 0247 1] Encoded Access Width : 01 [Byte Access:8] [0F8h 0248 8] Address : 0000000000000604`,
			},
			"APIC": {
				`[81Ch 2076 1] Subtable Type : 00 [Processor Local APIC] [81Dh 2077 1] Length : 08 [81Eh 2078 1] Processor ID : FE [81Fh 2079 1] Local Apic ID : FE`,
				`[824h 2084 1] Subtable Type : 09 [Processor Local x2APIC] [825h 2085 1] Length : 10 [826h 2086 2] Reserved : 0000 [828h 2088 4] Processor x2Apic ID : 000000FF [82Ch 2092 4] Flags (decoded below) : 00000001 Processor Enabled : 1`, `Processor UID : 000000FF`,
				`Subtable Type : 0A [Local x2APIC NMI]`,
			},
		}},
		{"no PCI", noPCI, map[string][]string{
			"XSDT": {`ACPI Table Address 1`},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tables, img := layout(t, tc.m)
			dir := t.TempDir()
			dsls := map[string]string{}
			for _, p := range img.Tables[1:] {
				b := img.table(t, p.Signature)
				dsls[p.Signature] = flat(iasltest.Disassemble(t, dir, p.Signature, b))
				iasltest.SameBody(t, p.Signature, b, iasltest.Recompile(t, dir, p.Signature), p.Signature == "DSDT")
			}
			for sig, wants := range tc.want {
				for _, w := range wants {
					if !strings.Contains(dsls[sig], flat(w)) {
						t.Errorf("%s disassembly lacks\n\t%s", sig, flat(w))
					}
				}
			}
			if tc.m.PCI == nil {
				if _, ok := dsls["MCFG"]; ok || strings.Contains(dsls["DSDT"], "PCI0") {
					t.Error("PCI tables or devices in a machine without PCI")
				}
				if strings.Contains(dsls["XSDT"], "ACPI Table Address 2") {
					t.Error("XSDT has a third entry")
				}
			}
			// The addresses Layout filled in, as iasl reads them.
			addr := map[string]uint64{}
			for _, p := range img.Tables {
				addr[p.Signature] = p.Addr
			}
			if x := fmt.Sprintf("[08Ch 0140 8] DSDT Address : %016X", addr["DSDT"]); !strings.Contains(dsls["FACP"], x) {
				t.Errorf("FACP disassembly lacks %q", x)
			}
			for i, sig := range []string{"FACP", "APIC", "MCFG"}[:len(tables.layoutOrder(nil))-3] {
				x := fmt.Sprintf("[%03Xh %04d 8] ACPI Table Address %d : %016X", 36+8*i, 36+8*i, i, addr[sig])
				if !strings.Contains(dsls["XSDT"], x) {
					t.Errorf("XSDT disassembly lacks %q", x)
				}
			}
			if t.Failed() {
				for sig, d := range dsls {
					t.Logf("%s:\n%s", sig, d)
				}
			}
		})
	}
}
