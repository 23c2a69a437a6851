package loader

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
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

func TestReadFileLimited(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := readFileLimited(path, 5000); err != nil || len(b) != 5000 {
		t.Errorf("at the limit: %d bytes, %v", len(b), err)
	}
	if _, err := readFileLimited(path, 4999); !errors.Is(err, ErrFileTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
}

func TestLoadInitrdFileLargerThanRAM(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "initrd")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: 16 MiB stated size, nothing written.
	if err := f.Truncate(16 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	mem := newMem(t)
	_, err = LoadInitrdFile(mem, path, &Kernel{End: 2 << 20})
	assertErrorIs(t, err, ErrFileTooLarge)
	assertUntouched(t, mem)
}
