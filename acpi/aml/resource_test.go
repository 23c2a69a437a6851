package aml

import (
	"bytes"
	"strings"
	"testing"
)

func TestDescriptors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    Descriptor
		want []byte
	}{
		{"IO", IO(0x3f8, 0x3f8, 1, 8), []byte{0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08}},
		{"IRQNoFlags", IRQNoFlags(4), []byte{0x22, 0x10, 0x00}},
		{"IRQNoFlags 15", IRQNoFlags(3, 15), []byte{0x22, 0x08, 0x80}},
		{"Memory32Fixed", Memory32Fixed(true, 0xd000_0000, 0x1000),
			[]byte{0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00}},
		{"Memory32Fixed read-only", Memory32Fixed(false, 0, 0x10), []byte{0x86, 0x09, 0x00, 0x00, 0, 0, 0, 0, 0x10, 0, 0, 0}},
		{"Interrupt edge high", Interrupt(Edge, ActiveHigh, 5),
			[]byte{0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00}},
		{"Interrupt level low", Interrupt(Level, ActiveLow, 16, 0x1_0000),
			[]byte{0x89, 0x0a, 0x00, 0x05, 0x02, 0x10, 0, 0, 0, 0x00, 0x00, 0x01, 0x00}},
		{"WordBusNumber", WordAddress(AddressSpace{Type: BusNumberRange, Min: 0, Max: 0xff}),
			[]byte{0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0x00, 0x00, 0xff, 0x00, 0, 0, 0x00, 0x01}},
		{"WordIO", WordAddress(AddressSpace{Type: IORange, Min: 0xd00, Max: 0xffff}),
			[]byte{0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0x0d, 0xff, 0xff, 0, 0, 0x00, 0xf3}},
		{"DWordMemory", DWordAddress(AddressSpace{Type: MemoryRange, Min: 0xc000_0000, Max: 0xcfff_ffff}),
			[]byte{0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff, 0xff, 0xcf, 0, 0, 0, 0, 0, 0, 0, 0x10}},
		{"QWordMemory consumer cacheable", QWordAddress(AddressSpace{Type: MemoryRange, Consumer: true, Cacheable: true, Min: 1 << 32, Max: 1<<33 - 1}),
			append([]byte{0x8a, 0x2b, 0x00, 0x00, 0x0d, 0x03},
				0, 0, 0, 0, 0, 0, 0, 0, // granularity
				0, 0, 0, 0, 1, 0, 0, 0, // min
				0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, // max
				0, 0, 0, 0, 0, 0, 0, 0, // translation
				0, 0, 0, 0, 1, 0, 0, 0)}, // length
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.d.appendResource(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("got  % x\nwant % x", got, tc.want)
			}
		})
	}
}

func TestResourceTemplateChecksum(t *testing.T) {
	t.Parallel()
	got, err := Encode(ResourceTemplate(IO(0x3f8, 0x3f8, 1, 8), IRQNoFlags(4)))
	if err != nil {
		t.Fatal(err)
	}
	// BufferOp, PkgLength, BufferSize (ByteConst 13), then the template.
	if len(got) != 4+13 || got[0] != bufferOp || got[2] != bytePrefix || got[3] != 13 {
		t.Fatalf("not a 13-byte buffer: % x", got)
	}
	tmpl := got[4:]
	if tmpl[len(tmpl)-2] != 0x79 {
		t.Errorf("template does not end with the end tag: % x", tmpl)
	}
	var s byte
	for _, c := range tmpl {
		s += c
	}
	if s != 0 || tmpl[len(tmpl)-1] == 0 {
		t.Errorf("template bytes sum to %#x with checksum %#x, want 0 with a computed checksum", s, tmpl[len(tmpl)-1])
	}
}

func TestDescriptorsReject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    Descriptor
		want string
	}{
		{"IO min above max", IO(0x3f8, 0x2f8, 1, 8), "minimum above maximum"},
		{"IRQ 16", IRQNoFlags(16), "above 15"},
		{"Memory32Fixed past 4 GiB", Memory32Fixed(true, 0xffff_f000, 0x2000), "crosses 4 GiB"},
		{"no interrupts", Interrupt(Edge, ActiveHigh), "want 1 to 255"},
		{"word too wide", WordAddress(AddressSpace{Type: IORange, Min: 0, Max: 0x1_0000}), "beyond 16-bit"},
		{"word length overflows", WordAddress(AddressSpace{Type: IORange, Min: 0, Max: 0xffff}), "length does not fit"},
		{"dword min above max", DWordAddress(AddressSpace{Min: 2, Max: 1}), "minimum above maximum"},
		{"unknown type", QWordAddress(AddressSpace{Type: 3, Max: 1}), "type 3 unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := Encode(ResourceTemplate(tc.d))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Encode = % x, %v; want an error containing %q", b, err, tc.want)
			}
		})
	}
}
