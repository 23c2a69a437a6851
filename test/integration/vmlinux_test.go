package integration

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"testing"

	"github.com/gluevmm/glue/test/hosttest"
)

// vmlinuxEntries reads a bzImage's own statement of its entry points,
// without glue's loader: the compressed vmlinux that the setup header
// locates (payload_offset at 0x248 and payload_length at 0x24c, counted
// from the end of the setup_sects+1 setup sectors), unpacked by xz(1),
// then its ELF entry (startup_64, for the 64-bit boot protocol) and its
// Xen PHYS32_ENTRY note (type 18: the PVH entry).
func vmlinuxEntries(t *testing.T, bzImage string) (linux64, pvh uint64) {
	t.Helper()
	img, err := os.ReadFile(bzImage)
	if err != nil {
		t.Fatal(err)
	}
	if len(img) < 0x250 || string(img[0x202:0x206]) != "HdrS" {
		t.Fatalf("%s is not a bzImage", bzImage)
	}
	setupSects := int(img[0x1f1])
	if setupSects == 0 {
		setupSects = 4
	}
	start := (setupSects+1)*512 + int(binary.LittleEndian.Uint32(img[0x248:]))
	end := start + int(binary.LittleEndian.Uint32(img[0x24c:]))
	if end > len(img) || !bytes.HasPrefix(img[start:end], []byte("\xfd7zXZ\x00")) {
		t.Fatalf("%s: no xz payload at %#x-%#x (Debian's kernels are xz-compressed)", bzImage, start, end)
	}
	xz := exec.Command(hosttest.LookPath(t, "xz"), "--decompress", "--stdout", "--single-stream")
	xz.Stdin = bytes.NewReader(img[start:end])
	vmlinux, err := xz.Output()
	if err != nil {
		t.Fatalf("xz: %v", err)
	}
	f, err := elf.NewFile(bytes.NewReader(vmlinux))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		notes := make([]byte, p.Filesz)
		if _, err := p.ReadAt(notes, 0); err != nil {
			t.Fatal(err)
		}
		if entry, ok := xenPVHEntry(notes); ok {
			return f.Entry, entry
		}
	}
	t.Fatalf("%s: no Xen PHYS32_ENTRY note in the vmlinux", bzImage)
	return 0, 0
}

// xenPVHEntry finds the PHYS32_ENTRY note in a PT_NOTE segment's notes
// (each: namesz, descsz, type, then name and descriptor padded to 4 bytes).
func xenPVHEntry(notes []byte) (uint64, bool) {
	const xenElfnotePhys32Entry = 18
	pad := func(n uint32) uint64 { return (uint64(n) + 3) &^ 3 }
	for len(notes) >= 12 {
		namesz := binary.LittleEndian.Uint32(notes[0:])
		descsz := binary.LittleEndian.Uint32(notes[4:])
		typ := binary.LittleEndian.Uint32(notes[8:])
		rest := notes[12:]
		if pad(namesz)+pad(descsz) > uint64(len(rest)) {
			return 0, false
		}
		name, desc := rest[:namesz], rest[pad(namesz):pad(namesz)+uint64(descsz)]
		if string(name) == "Xen\x00" && typ == xenElfnotePhys32Entry {
			switch len(desc) {
			case 4:
				return uint64(binary.LittleEndian.Uint32(desc)), true
			case 8:
				return binary.LittleEndian.Uint64(desc), true
			}
		}
		notes = rest[pad(namesz)+pad(descsz):]
	}
	return 0, false
}

func TestXenPVHEntry(t *testing.T) {
	t.Parallel()
	note := func(name string, typ uint32, desc []byte) []byte {
		b := binary.LittleEndian.AppendUint32(nil, uint32(len(name)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(desc)))
		b = binary.LittleEndian.AppendUint32(b, typ)
		b = append(b, name...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		b = append(b, desc...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	entry8 := binary.LittleEndian.AppendUint64(nil, 0x1000850)
	entry4 := binary.LittleEndian.AppendUint32(nil, 0x1000850)
	huge := binary.LittleEndian.AppendUint32(nil, 0xffffffff)
	huge = append(huge, make([]byte, 8)...)
	tests := []struct {
		name  string
		notes []byte
		ok    bool
	}{
		{"8-byte descriptor", note("Xen\x00", 18, entry8), true},
		{"4-byte descriptor", note("Xen\x00", 18, entry4), true},
		{"after a GNU note", append(note("GNU\x00", 3, make([]byte, 20)), note("Xen\x00", 18, entry8)...), true},
		{"another Xen note", note("Xen\x00", 17, entry8), false},
		{"truncated", note("Xen\x00", 18, entry8)[:20], false},
		{"name size near 2^32", huge, false},
		{"empty", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := xenPVHEntry(tc.notes)
			if ok != tc.ok || (ok && got != 0x1000850) {
				t.Errorf("got %#x, %v; want ok %v", got, ok, tc.ok)
			}
		})
	}
}
