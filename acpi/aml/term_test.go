package aml

import (
	"bytes"
	"strings"
	"testing"
)

func TestEncode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		term Term
		want []byte
	}{
		{"Zero", Int(0), []byte{0x00}},
		{"One", Int(1), []byte{0x01}},
		{"byte 2", Int(2), []byte{0x0a, 0x02}},
		{"byte max", Int(0xff), []byte{0x0a, 0xff}},
		{"word min", Int(0x100), []byte{0x0b, 0x00, 0x01}},
		{"word max", Int(0xffff), []byte{0x0b, 0xff, 0xff}},
		{"dword min", Int(0x1_0000), []byte{0x0c, 0x00, 0x00, 0x01, 0x00}},
		{"dword max", Int(0xffff_ffff), []byte{0x0c, 0xff, 0xff, 0xff, 0xff}},
		{"qword min", Int(1 << 32), []byte{0x0e, 0, 0, 0, 0, 1, 0, 0, 0}},
		{"qword max", Int(^uint64(0)), []byte{0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"string", String("ACPI0013"), append(append([]byte{0x0d}, "ACPI0013"...), 0)},
		{"empty string", String(""), []byte{0x0d, 0x00}},
		{"name seg", Path("_HID"), []byte("_HID")},
		{"short seg padded", Path("C0"), []byte("C0__")},
		{"root", Path(`\`), []byte{'\\', 0x00}},
		{"root seg", Path(`\_SB`), []byte(`\_SB_`)},
		{"dual name", Path(`\_SB.PWRB`), append([]byte{'\\', 0x2e}, "_SB_PWRB"...)},
		{"multi name", Path(`\_SB.PCI0.S08`), append([]byte{'\\', 0x2f, 3}, "_SB_PCI0S08_"...)},
		{"parent prefixes", Path(`^^PWRB`), []byte("^^PWRB")},
		{"parent only", Path(`^`), []byte{'^', 0x00}},
		{"Name", Name("_UID", Int(0)), []byte{0x08, '_', 'U', 'I', 'D', 0x00}},
		{"EISAID", Name("_HID", EISAIDTerm("PNP0A08")), []byte{0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x08}},
		{"buffer", Buffer([]byte{1, 2}), []byte{0x11, 0x05, 0x0a, 0x02, 1, 2}},
		{"empty buffer", Buffer(nil), []byte{0x11, 0x02, 0x00}},
		{"package", Package(Int(5), Int(0)), []byte{0x12, 0x05, 0x02, 0x0a, 0x05, 0x00}},
		{"scope", Scope(`\_SB`), []byte{0x10, 0x06, '\\', '_', 'S', 'B', '_'}},
		{"device", Device("PWRB", Name("_UID", Int(0))), []byte{0x5b, 0x82, 0x0b, 'P', 'W', 'R', 'B', 0x08, '_', 'U', 'I', 'D', 0x00}},
		{"method", Method("_EVT", 1, false, Return(Arg(0))), []byte{0x14, 0x08, '_', 'E', 'V', 'T', 0x01, 0xa4, 0x68}},
		{"serialized method", Method("_STA", 0, true, Return(Int(0xf))), []byte{0x14, 0x09, '_', 'S', 'T', 'A', 0x08, 0xa4, 0x0a, 0x0f}},
		{"store", Store(Path("ESEL"), Local(0)), []byte{0x70, 'E', 'S', 'E', 'L', 0x60}},
		{"and without target", And(Local(0), Int(1), nil), []byte{0x7b, 0x60, 0x01, 0x00}},
		{"and into local", And(Local(1), Int(2), Local(7)), []byte{0x7b, 0x61, 0x0a, 0x02, 0x67}},
		{"lequal", LEqual(Arg(6), Int(0)), []byte{0x93, 0x6e, 0x00}},
		{"notify", Notify(Path("PWRB"), Int(0x80)), []byte{0x86, 'P', 'W', 'R', 'B', 0x0a, 0x80}},
		{"if", If(LEqual(Local(0), Int(1)), Return(Int(1))), []byte{0xa0, 0x06, 0x93, 0x60, 0x01, 0xa4, 0x01}},
		{"else", Else(Return(Int(0))), []byte{0xa1, 0x03, 0xa4, 0x00}},
		{"operation region", OperationRegion("EREG", SystemIO, 0x600, 4), []byte{0x5b, 0x80, 'E', 'R', 'E', 'G', 0x01, 0x0b, 0x00, 0x06, 0x0a, 0x04}},
		{"field", Field("EREG", DWordAcc, WriteAsZeros, FieldUnit{Bits: 8}, FieldUnit{Name: "ESEL", Bits: 32}),
			[]byte{0x5b, 0x81, 0x0d, 'E', 'R', 'E', 'G', 0x43, 0x00, 0x08, 'E', 'S', 'E', 'L', 0x20}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Encode(tc.term)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("got  % x\nwant % x", got, tc.want)
			}
		})
	}
}

func TestVarPackage(t *testing.T) {
	t.Parallel()
	elems := make([]Term, 256)
	for i := range elems {
		elems[i] = Int(0)
	}
	got, err := Encode(Package(elems...))
	if err != nil {
		t.Fatal(err)
	}
	// VarPackageOp, a two-byte PkgLength (3+256+2 = 261), NumElements as a
	// WordConst, the elements.
	want := append([]byte{0x13, 0x45, 0x10, 0x0b, 0x00, 0x01}, make([]byte, 256)...)
	if !bytes.Equal(got, want) {
		t.Errorf("got % x...\nwant % x...", got[:8], want[:8])
	}
}

func TestEncodeRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		term Term
		want string
	}{
		{"empty name", Path(""), "empty name"},
		{"lower case", Path("_hid"), "invalid character"},
		{"leading digit", Path("0ABC"), "invalid character"},
		{"long segment", Path("ABCDE"), "1 to 4"},
		{"empty segment", Path(`\_SB..PCI0`), "1 to 4"},
		{"root then parent", Path(`\^FOO`), "invalid character"},
		{"too many segments", Path(strings.Repeat("A.", 255) + "A"), "at most 255"},
		{"non-ASCII string", String("é"), "not ASCII"},
		{"NUL in string", String("a\x00b"), "not ASCII"},
		{"bad EISAID letters", EISAIDTerm("pnp0a08"), "upper-case letter"},
		{"bad EISAID digit", EISAIDTerm("PNP0A0G"), "hex digit"},
		{"short EISAID", EISAIDTerm("PNP0A0"), "3 letters"},
		{"method args", Method("_EVT", 8, false), "at most 7"},
		{"local 8", Local(8), "want 0 to 7"},
		{"arg 7", Arg(7), "want 0 to 6"},
		{"nil in package", Package(Int(0), nil), "term 1 is nil"},
		{"nil value", Name("_UID", nil), "nil value"},
		{"error inside device", Device("PCI0", Name("_hid", Int(0))), "invalid character"},
		{"field without bits", Field("EREG", ByteAcc, Preserve, FieldUnit{Name: "ESEL"}), "0 bits"},
		{"field access", Field("EREG", QWordAcc+1, Preserve), "out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := Encode(tc.term)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Encode = % x, %v; want an error containing %q", b, err, tc.want)
			}
		})
	}
}

func TestEISAID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   string
		want uint32
	}{
		// The values ASL's EISAID() gives (and iasl prints back as EisaId).
		{"PNP0A08", 0x080ad041},
		{"PNP0A03", 0x030ad041},
		{"PNP0501", 0x0105d041},
		{"PNP0C0C", 0x0c0cd041},
		{"PNP0C02", 0x020cd041},
		{"ZZZFFFF", 0xffff5a6b},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			got, err := EISAID(tc.id)
			if err != nil || got != tc.want {
				t.Errorf("EISAID(%q) = %#08x, %v; want %#08x", tc.id, got, err, tc.want)
			}
		})
	}
}
