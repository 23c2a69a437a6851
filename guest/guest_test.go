package guest_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"testing"

	"github.com/gluevmm/glue/guest"
)

const (
	highMemStart         = 1 << 20 // nothing may load below 1 MiB
	xenElfnotePhys32Entr = 18      // XEN_ELFNOTE_PHYS32_ENTRY
)

func openELF(t *testing.T) *elf.File {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(guest.ELF))
	if err != nil {
		t.Fatalf("parse embedded guest ELF: %v", err)
	}
	return f
}

// loaded returns the PT_LOAD segment whose file-backed bytes hold addr.
func loaded(f *elf.File, addr uint64) *elf.Prog {
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && addr >= p.Paddr && addr < p.Paddr+p.Filesz {
			return p
		}
	}
	return nil
}

func TestHeader(t *testing.T) {
	t.Parallel()
	f := openELF(t)
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"class", f.Class, elf.ELFCLASS64},
		{"data", f.Data, elf.ELFDATA2LSB},
		{"machine", f.Machine, elf.EM_X86_64},
		{"type", f.Type, elf.ET_EXEC},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestLoadSegments(t *testing.T) {
	t.Parallel()
	f := openELF(t)
	n := 0
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		n++
		if p.Paddr < highMemStart {
			t.Errorf("PT_LOAD at %#x, below 1 MiB", p.Paddr)
		}
		if p.Vaddr != p.Paddr {
			t.Errorf("PT_LOAD vaddr %#x != paddr %#x: the guest runs identity-mapped", p.Vaddr, p.Paddr)
		}
		if p.Memsz < p.Filesz || p.Off+p.Filesz > uint64(len(guest.ELF)) {
			t.Errorf("PT_LOAD at %#x: filesz %#x, memsz %#x, offset %#x out of shape", p.Paddr, p.Filesz, p.Memsz, p.Off)
		}
	}
	if n == 0 {
		t.Fatal("no PT_LOAD segment")
	}
}

func TestLinuxEntry(t *testing.T) {
	t.Parallel()
	f := openELF(t)
	p := loaded(f, f.Entry)
	if p == nil {
		t.Fatalf("ELF entry %#x is not inside a PT_LOAD segment", f.Entry)
	}
	if p.Flags&elf.PF_X == 0 {
		t.Errorf("ELF entry %#x is in a segment that is not executable", f.Entry)
	}
}

// pvhEntry returns the address in the Xen PHYS32_ENTRY note, found through
// the PT_NOTE segments as a loader finds it.
func pvhEntry(t *testing.T, f *elf.File) (uint64, bool) {
	t.Helper()
	le := binary.LittleEndian
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		notes := make([]byte, p.Filesz)
		if _, err := p.ReadAt(notes, 0); err != nil {
			t.Fatalf("read PT_NOTE: %v", err)
		}
		for len(notes) >= 12 {
			namesz, descsz, typ := le.Uint32(notes), le.Uint32(notes[4:]), le.Uint32(notes[8:])
			nameEnd := 12 + (uint64(namesz)+3)&^3
			descEnd := nameEnd + (uint64(descsz)+3)&^3
			if descEnd > uint64(len(notes)) {
				t.Fatalf("truncated note: namesz %d, descsz %d", namesz, descsz)
			}
			name := notes[12 : 12+namesz]
			desc := notes[nameEnd : nameEnd+uint64(descsz)]
			if string(name) == "Xen\x00" && typ == xenElfnotePhys32Entr {
				switch len(desc) {
				case 4:
					return uint64(le.Uint32(desc)), true
				case 8:
					return le.Uint64(desc), true
				}
				t.Fatalf("PVH note descriptor is %d bytes, want 4 or 8", len(desc))
			}
			notes = notes[descEnd:]
		}
	}
	return 0, false
}

func TestPVHEntry(t *testing.T) {
	t.Parallel()
	f := openELF(t)
	entry, ok := pvhEntry(t, f)
	if !ok {
		t.Fatal("no Xen PHYS32_ENTRY note in a PT_NOTE segment")
	}
	if entry >= 1<<32 {
		t.Fatalf("PVH entry %#x is not a 32-bit address", entry)
	}
	p := loaded(f, entry)
	if p == nil {
		t.Fatalf("PVH entry %#x is not inside a PT_LOAD segment", entry)
	}
	if p.Flags&elf.PF_X == 0 {
		t.Errorf("PVH entry %#x is in a segment that is not executable", entry)
	}
	if entry == f.Entry {
		t.Errorf("PVH entry and ELF entry are both %#x: they need different code (32- and 64-bit)", entry)
	}
}

// The guest must fit the 4 MiB of RAM README.md promises to be enough,
// .bss, stacks and virtio buffers included.
func TestImageFitsFourMiB(t *testing.T) {
	t.Parallel()
	f := openELF(t)
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Paddr+p.Memsz > 4<<20 {
			t.Errorf("PT_LOAD %#x+%#x ends above 4 MiB", p.Paddr, p.Memsz)
		}
	}
}

// The test table (tests.c: static const struct test tests[], {name, run}
// pairs of 8-byte pointers) names exactly the tests README.md lists: a
// cheap check that the committed ELF was built from the current sources.
func TestTestTable(t *testing.T) {
	t.Parallel()
	f := openELF(t)
	syms, err := f.Symbols()
	if err != nil {
		t.Fatalf("symbols: %v", err)
	}
	var table *elf.Symbol
	for i := range syms {
		if syms[i].Name == "tests" && elf.ST_TYPE(syms[i].Info) == elf.STT_OBJECT {
			table = &syms[i]
		}
	}
	if table == nil {
		t.Fatal("no symbol tests")
	}
	// mem reads bytes at a virtual address from the file-backed segments.
	mem := func(addr, n uint64) []byte {
		p := loaded(f, addr)
		if p == nil || addr+n > p.Paddr+p.Filesz {
			t.Fatalf("%#x+%d is not in the file", addr, n)
		}
		b := make([]byte, n)
		if _, err := p.ReadAt(b, int64(addr-p.Paddr)); err != nil {
			t.Fatal(err)
		}
		return b
	}
	var got []string
	raw := mem(table.Value, table.Size)
	for off := 0; off+16 <= len(raw); off += 16 {
		name := mem(binary.LittleEndian.Uint64(raw[off:]), 32)
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		got = append(got, string(name))
	}
	want := []string{"cmdline", "mem", "cpus", "serial-in", "rtc", "exits", "mmio-exits", "counter", "demo",
		"virtio", "blk", "blk-bench", "net", "rng", "console", "console-flood", "pci", "pci-msix", "acpi", "power", "balloon", "vsock"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tests in the image: %v\nwant: %v", got, want)
	}
}

// Every glue.* command-line word the guest looks up (a string in its
// image) has a row in README.md's command-line table, so the contract the
// tests read does not drift from the code.
func TestCommandLineWordsDocumented(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	words := regexp.MustCompile(`\x00(glue\.[a-z.]+)\x00`).FindAllSubmatch(guest.ELF, -1)
	if len(words) < 10 {
		t.Fatalf("found only %d glue.* strings in the image", len(words))
	}
	for _, w := range words {
		if !bytes.Contains(readme, []byte("| `"+string(w[1])+"=")) {
			t.Errorf("README.md's command-line table has no row for %s", w[1])
		}
	}
}

// The guest is an ordinary ELF file: debug/elf reads it.
func ExampleELF() {
	f, err := elf.NewFile(bytes.NewReader(guest.ELF))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Class, f.Machine, fmt.Sprintf("entry=%#x", f.Entry))
	// Output: ELFCLASS64 EM_X86_64 entry=0x200000
}
