package loader

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// CheckFile accepts what LoadFile reads and refuses the rest, without
// blocking on a FIFO that has no writer.
func TestCheckFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	kernel := filepath.Join(dir, "vmlinux")
	if err := os.WriteFile(kernel, testELF(false).Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge")
	if err := os.WriteFile(huge, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, MaxImageSize+1); err != nil { // sparse
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want error // nil: usable
	}{
		{"kernel", kernel, nil},
		{"directory", dir, ErrNotRegularFile},
		{"character device", "/dev/null", ErrNotRegularFile},
		{"fifo", fifo, ErrNotRegularFile},
		{"missing", filepath.Join(dir, "nope"), fs.ErrNotExist},
		{"over MaxImageSize", huge, ErrFileTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			done := make(chan error, 1)
			go func() { done <- CheckFile(tc.path) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("CheckFile blocked") // a FIFO opened without O_NONBLOCK waits for a writer
			}
			if tc.want == nil {
				if err != nil {
					t.Fatalf("CheckFile: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("CheckFile = %v, want %v", err, tc.want)
			}
			// LoadFile reads through the same check and says the same.
			if _, loadErr := LoadFile(newMem(t), tc.path, Options{}); !errors.Is(loadErr, tc.want) {
				t.Fatalf("LoadFile = %v, want %v", loadErr, tc.want)
			}
		})
	}
}
