package loader

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/loader/loadertest"
)

func TestLoadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	kernel := filepath.Join(dir, "vmlinux")
	if err := os.WriteFile(kernel, testELF(false).Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	mem := newMem(t)
	k, err := LoadFile(mem, kernel, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if k.Entry != testText {
		t.Errorf("entry %#x", k.Entry)
	}
	initrd := filepath.Join(dir, "initrd")
	if err := os.WriteFile(initrd, []byte("070701 cpio"), 0o644); err != nil {
		t.Fatal(err)
	}
	rd, err := LoadInitrdFile(mem, initrd, k)
	if err != nil {
		t.Fatal(err)
	}
	if rd.Size != 11 || rd.Addr <= k.End {
		t.Errorf("initrd %+v", rd)
	}
}

func TestLoadFileRejects(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		want error
	}{
		{"directory", dir, ErrNotRegularFile},
		{"character device", "/dev/null", ErrNotRegularFile},
		{"missing", filepath.Join(dir, "nope"), fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mem := newMem(t)
			_, err := LoadFile(mem, tt.path, Options{})
			assertErrorIs(t, err, tt.want)
			_, err = LoadInitrdFile(mem, tt.path, &Kernel{End: 2 << 20})
			assertErrorIs(t, err, tt.want)
			assertUntouched(t, mem)
			t.Log(err)
		})
	}
}

// A kernel or initrd file larger than guest RAM is refused from its
// stated size: the file here is sparse, 16 MiB long, and has a valid ELF
// kernel at its start, which reading it would load.
func TestLoadFileLargerThanRAM(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "image")
	if err := os.WriteFile(path, testELF(false).Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 16<<20); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		load func(mem *guestmem.Memory) error
	}{
		{"kernel", func(mem *guestmem.Memory) error { _, err := LoadFile(mem, path, Options{}); return err }},
		{"initrd", func(mem *guestmem.Memory) error {
			_, err := LoadInitrdFile(mem, path, &Kernel{End: 2 << 20})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mem := newMem(t)
			if mem.Size() >= 16<<20 {
				t.Fatalf("test memory is %d bytes; the image must be larger", mem.Size())
			}
			err := tt.load(mem)
			assertErrorIs(t, err, ErrFileLargerThanRAM)
			assertErrorIs(t, err, ErrFileTooLarge)
			assertUntouched(t, mem)
		})
	}
}

// LoadInitrdFile reads the file into guest RAM directly: loading a 64 MiB
// initrd allocates a few KiB on the heap, not a 64 MiB copy. Not parallel,
// so that no other test allocates during the measurement.
func TestLoadInitrdFileStreams(t *testing.T) {
	const size = 64 << 20
	path := filepath.Join(t.TempDir(), "initrd")
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	data = nil
	mem := newMem(t, guestmem.Span{Base: 0, Size: 128 << 20})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rd, err := LoadInitrdFile(mem, path, &Kernel{End: 2 << 20})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 1<<20 {
		t.Errorf("loading a %d MiB initrd allocated %d KiB on the heap", size>>20, allocated>>10)
	}
	got, err := mem.Slice(rd.Addr, rd.Size)
	if err != nil || rd.Size != size {
		t.Fatalf("initrd %+v: %v", rd, err)
	}
	for _, i := range []int{0, 1, size / 2, size - 1} {
		if got[i] != byte(i*7) {
			t.Fatalf("byte %d of the loaded initrd is %#x, want %#x", i, got[i], byte(i*7))
		}
	}
}

// LoadFile reads a kernel file's segments straight into guest RAM: loading
// a 48 MiB ELF segment, or a bzImage whose 48 MiB protected-mode kernel the
// 64-bit entry runs, allocates a few hundred KiB on the heap (headers and
// the setup sectors), not a copy of the file. Not parallel, so that no
// other test allocates during the measurement.
func TestLoadFileStreams(t *testing.T) {
	const size = 48 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	elf := loadertest.ELF{
		Entry:    testText,
		Segments: []loadertest.Segment{{Paddr: testText, Data: data}},
		Notes:    []loadertest.Note{loadertest.PVHNote(testPVHEntry)},
	}
	bz := loadertest.NewBzImage(data)
	bz.Code = nil
	tests := []struct {
		name  string
		image []byte
		opts  Options
	}{
		{"elf", elf.Bytes(), Options{Protocol: PVH}},
		{"bzimage entry64", bz.Bytes(), Options{BzImageMode: BzImageEntry64}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kernel")
			if err := os.WriteFile(path, tt.image, 0o644); err != nil {
				t.Fatal(err)
			}
			mem := newMem(t, guestmem.Span{Base: 0, Size: 128 << 20})
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			k, err := LoadFile(mem, path, tt.opts)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 1<<20 {
				t.Errorf("loading a %d MiB kernel allocated %d KiB on the heap", size>>20, allocated>>10)
			}
			got, err := mem.Slice(k.Start, size)
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range []int{0, 1, size / 2, size - 1} {
				if got[i] != byte(i*7) {
					t.Fatalf("byte %d of the loaded kernel is %#x, want %#x", i, got[i], byte(i*7))
				}
			}
		})
	}
}
