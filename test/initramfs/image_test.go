package initramfs

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gluevmm/glue/test/hosttest"
)

func TestWriteSpec(t *testing.T) {
	t.Parallel()
	mods := []Module{
		{Name: "virtio_ring", Data: []byte("ring")},
		{Name: "virtio", Data: []byte("core"), Depends: []string{"virtio_ring"}},
	}
	spec := Spec{Init: []byte("\x7fELF init"), Modules: mods}
	var plain bytes.Buffer
	if err := Write(&plain, spec); err != nil {
		t.Fatal(err)
	}
	got := map[string]entry{}
	var order []string
	for _, e := range parseArchive(t, plain.Bytes()) {
		got[e.name] = e
		order = append(order, e.name)
	}
	want := []struct {
		name string
		mode uint64
		data string
	}{
		{"dev", 0o040755, ""},
		{"proc", 0o040755, ""},
		{"sys", 0o040755, ""},
		{"mnt", 0o040755, ""},
		{"dev/console", 0o020600, ""},
		{"init", 0o100755, "\x7fELF init"},
		{"lib/modules/virtio_ring.ko", 0o100644, "ring"},
		{"lib/modules/virtio.ko", 0o100644, "core"},
		{LoadOrderFile, 0o100644, "virtio_ring\nvirtio\n"},
	}
	for _, w := range want {
		e, ok := got[w.name]
		if !ok {
			t.Errorf("%s missing from %v", w.name, order)
			continue
		}
		if e.mode != w.mode || e.data != w.data {
			t.Errorf("%s: mode %o data %q, want mode %o data %q", w.name, e.mode, e.data, w.mode, w.data)
		}
	}
	if c := got["dev/console"]; c.rdevMajor != 5 || c.rdevMinor != 1 {
		t.Errorf("dev/console is %d:%d", c.rdevMajor, c.rdevMinor)
	}

	// Compressed: the same archive inside, and the same bytes every time.
	spec.Gzip = true
	var gz1, gz2 bytes.Buffer
	if err := Write(&gz1, spec); err != nil {
		t.Fatal(err)
	}
	Write(&gz2, spec)
	if !bytes.Equal(gz1.Bytes(), gz2.Bytes()) {
		t.Error("two gzip archives of the same spec differ")
	}
	zr, err := gzip.NewReader(&gz1)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(inner, plain.Bytes()) {
		t.Error("gzip archive does not hold the plain archive")
	}
}

func TestWriteSpecRejects(t *testing.T) {
	t.Parallel()
	for name, spec := range map[string]Spec{
		"no init":        {},
		"unnamed module": {Init: []byte("x"), Modules: []Module{{Data: []byte("m")}}},
		"slash in name":  {Init: []byte("x"), Modules: []Module{{Name: "a/b", Data: []byte("m")}}},
		"empty module":   {Init: []byte("x"), Modules: []Module{{Name: "a"}}},
	} {
		if err := Write(io.Discard, spec); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The init program reads the load order from the path this package
// writes it to.
func TestLoadOrderPathShared(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("init/modules.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), `"/`+LoadOrderFile+`"`) {
		t.Fatalf("init/modules.go does not read /%s", LoadOrderFile)
	}
}

func TestBuild(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the init program")
	}
	dir := t.TempDir()
	path, err := Build(context.Background(), dir, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(filepath.Join(dir, "init"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC || f.Machine != elf.EM_X86_64 {
		t.Errorf("init is %v for %v, want a static x86-64 executable", f.Type, f.Machine)
	}
	archive, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer archive.Close()
	zr, err := gzip.NewReader(archive)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(zr)
	initBin, _ := os.ReadFile(filepath.Join(dir, "init"))
	var found bool
	for _, e := range parseArchive(t, data) {
		found = found || (e.name == "init" && e.data == string(initBin))
	}
	if !found {
		t.Error("the archive does not hold the built init as /init")
	}
}

func TestKernelRelease(t *testing.T) {
	t.Parallel()
	header := func(version uint16, ptr uint16, s string) []byte {
		b := make([]byte, 0x1000)
		copy(b[hdrMagicOff:], "HdrS")
		binary.LittleEndian.PutUint16(b[hdrVersionOff:], version)
		binary.LittleEndian.PutUint16(b[hdrKernelVer:], ptr)
		if s != "" {
			copy(b[0x200+int(ptr):], s)
		}
		return b
	}
	tests := []struct {
		name, want string
		head       []byte
	}{
		{"debian", "6.1.0-56-amd64", header(0x20f, 0x3a0, "6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP\x00")},
		{"no magic", "", make([]byte, 0x1000)},
		{"old protocol", "", header(0x1ff, 0x3a0, "6.1\x00")},
		{"pointer past the end", "", header(0x20f, 0xf00, "")},
		{"no NUL", "", bytes.Repeat([]byte{'x'}, 0x1000)},
		{"short", "", []byte("MZ")},
	}
	for _, tt := range tests {
		got, err := releaseFromSetup(tt.head)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

// The release of a real kernel matches the version in its file name, as in
// Debian's packages.
func TestKernelReleaseDebian(t *testing.T) {
	t.Parallel()
	kernel := hosttest.Kernel(t)
	release, err := KernelRelease(kernel)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(filepath.Base(kernel), release) {
		t.Errorf("%s reports release %q", kernel, release)
	}
}

func TestModulesDir(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	kernel := filepath.Join(root, "boot", "vmlinuz")
	os.MkdirAll(filepath.Dir(kernel), 0o755)
	head := make([]byte, 0x1000)
	copy(head[hdrMagicOff:], "HdrS")
	binary.LittleEndian.PutUint16(head[hdrVersionOff:], 0x20f)
	binary.LittleEndian.PutUint16(head[hdrKernelVer:], 0x100)
	copy(head[0x300:], "6.12.9-amd64 #1\x00")
	os.WriteFile(kernel, head, 0o644)
	if _, err := ModulesDir(kernel); err == nil {
		t.Fatal("found a module directory that does not exist")
	}
	want := filepath.Join(root, "usr", "lib", "modules", "6.12.9-amd64")
	os.MkdirAll(want, 0o755)
	if got, err := ModulesDir(kernel); got != want || err != nil {
		t.Fatalf("ModulesDir = %q, %v; want %q", got, err, want)
	}
}
