package aml_test

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/gluevmm/glue/acpi/aml"
	"github.com/gluevmm/glue/acpi/internal/iasltest"
)

// definitionBlock wraps AML in a DSDT header, as package acpi does.
func definitionBlock(body []byte) []byte {
	t := make([]byte, 36+len(body))
	copy(t, "DSDT")
	binary.LittleEndian.PutUint32(t[4:], uint32(len(t)))
	t[8] = 2
	copy(t[10:], "GLUE  GLUETEST")
	copy(t[36:], body)
	var s byte
	for _, c := range t {
		s += c
	}
	t[9] = -s
	return t
}

// TestIASLPackageLengths has iasl decode buffers whose package lengths sit
// on each side of every PkgLength size boundary (1/2, 2/3 and 3/4 bytes),
// inside a Scope whose own PkgLength needs four bytes, and recompile the
// smaller ones to the same bytes (iasl takes minutes to compile megabyte
// buffers, so the largest are only decoded; a wrong length there would
// misplace every term after them).
func TestIASLPackageLengths(t *testing.T) {
	t.Parallel()
	iasltest.Path(t)
	// A buffer of n bytes has a body of BufferSize (2, 3 or 5 bytes for
	// these n) plus n bytes; these n put the whole PkgLength at 63/65,
	// 4095/4097 and 1048575/1048577.
	small := []int{60, 61, 4090, 4091}
	large := []int{1<<20 - 9, 1<<20 - 8}
	seen := map[byte]bool{}
	for _, tc := range []struct {
		name      string
		sizes     []int
		recompile bool
	}{{"small", small, true}, {"large", large, false}} {
		var terms []aml.Term
		for i, n := range tc.sizes {
			data := make([]byte, n)
			for j := range data {
				data[j] = byte(j * 7)
			}
			enc, err := aml.Encode(aml.Buffer(data))
			if err != nil {
				t.Fatal(err)
			}
			seen[enc[1]>>6] = true // how many PkgLength bytes follow the first
			terms = append(terms, aml.Name(fmt.Sprintf("B%03d", i), aml.Buffer(data)))
		}
		terms = append(terms, aml.Name("LAST", aml.Int(0xabcd)))
		body, err := aml.Encode(aml.Scope(`\`, terms...))
		if err != nil {
			t.Fatal(err)
		}
		table := definitionBlock(body)
		dir := t.TempDir()
		dsl := iasltest.Disassemble(t, dir, tc.name, table)
		for i, n := range tc.sizes {
			want := fmt.Sprintf("Name (B%03d, Buffer (0x%04X)", i, n)
			if n > 0xffff {
				want = fmt.Sprintf("Name (B%03d, Buffer (0x%08X)", i, n)
			} else if n <= 0xff {
				want = fmt.Sprintf("Name (B%03d, Buffer (0x%02X)", i, n)
			}
			if !strings.Contains(dsl, want) {
				t.Errorf("%s: disassembly lacks %q", tc.name, want)
			}
		}
		if !strings.Contains(dsl, "Name (LAST, 0xABCD)") {
			t.Errorf("%s: the term after the buffers is not decoded", tc.name)
		}
		if tc.recompile {
			iasltest.SameBody(t, tc.name, table, iasltest.Recompile(t, dir, tc.name), true)
		}
	}
	if len(seen) != 4 {
		t.Fatalf("the sizes use %d of the 4 PkgLength sizes", len(seen))
	}
}

// TestIASLTerms has iasl decode every kind of term the builder makes.
func TestIASLTerms(t *testing.T) {
	t.Parallel()
	iasltest.Path(t)
	body, err := aml.Encode(
		aml.Scope(`\_SB`,
			aml.Device("DEV0",
				aml.Name("_HID", aml.EISAIDTerm("PNP0C02")),
				aml.Name("_CID", aml.String("LNRO0005")),
				aml.Name("_UID", aml.Int(0x1_0000_0000)),
				aml.Name("_CRS", aml.ResourceTemplate(
					aml.IO(0x60, 0x60, 1, 1),
					aml.IRQNoFlags(1, 12),
					aml.Memory32Fixed(false, 0xfed0_0000, 0x400),
					aml.Interrupt(aml.Level, aml.ActiveLow, 20, 21),
					aml.WordAddress(aml.AddressSpace{Type: aml.BusNumberRange, Max: 0x7f}),
					aml.DWordAddress(aml.AddressSpace{Type: aml.IORange, Consumer: true, Min: 0x1000, Max: 0x1fff}),
					aml.QWordAddress(aml.AddressSpace{Type: aml.MemoryRange, Min: 1 << 40, Max: 1<<41 - 1, Cacheable: true}),
				)),
				aml.Name("PKG0", aml.Package(aml.Int(0xffff), aml.String("x"), aml.Package(aml.Int(2)))),
				aml.OperationRegion("REG0", aml.SystemIO, 0x600, 8),
				aml.Field("REG0", aml.ByteAcc, aml.Preserve,
					aml.FieldUnit{Name: "FLD0", Bits: 8}, aml.FieldUnit{Bits: 8}, aml.FieldUnit{Name: "FLD1", Bits: 16}),
				aml.Method("M000", 2, false,
					aml.And(aml.Arg(0), aml.Arg(1), aml.Local(1)),
					aml.If(aml.LEqual(aml.Local(1), aml.Int(0)),
						aml.Store(aml.Int(1), aml.Path("FLD0"))),
					aml.Else(
						aml.Notify(aml.Path(`^^DEV0`), aml.Int(0x80))),
					aml.Return(aml.Local(1))),
			)))
	if err != nil {
		t.Fatal(err)
	}
	table := definitionBlock(body)
	dir := t.TempDir()
	dsl := iasltest.Disassemble(t, dir, "terms", table)
	for _, want := range []string{
		`EisaId ("PNP0C02")`, `Name (_CID, "LNRO0005")`, `Name (_UID, 0x0000000100000000)`,
		"IO (Decode16,", "IRQNoFlags ()\n                    {1,12}",
		"Memory32Fixed (ReadOnly,", "0xFED00000,", "Interrupt (ResourceConsumer, Level, ActiveLow, Exclusive, ,, )",
		"0x00000014,", "0x00000015,", "WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,",
		"DWordIO (ResourceConsumer, MinFixed, MaxFixed, PosDecode, EntireRange,",
		"QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,",
		"OperationRegion (REG0, SystemIO, 0x0600, 0x08)", "Field (REG0, ByteAcc, NoLock, Preserve)",
		"FLD0,   8,", "Offset (0x02),", "FLD1,   16", "Method (M000, 2, NotSerialized)",
		"Local1 = (Arg0 & Arg1)", "If ((Local1 == Zero))", "FLD0 = One", "Else", "Notify (^^DEV0, 0x80)", "Return (Local1)",
	} {
		if !strings.Contains(dsl, want) {
			t.Errorf("disassembly lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("disassembly:\n%s", dsl)
	}
	iasltest.SameBody(t, "terms", table, iasltest.Recompile(t, dir, "terms"), true)
}
