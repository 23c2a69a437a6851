package blk_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/virtio/blk"
)

// CheckImage gives Open's verdict on every kind of path, with Open's
// message, and leaves no lock behind.
func TestCheckImage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := func(name string, size int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		opts blk.Options
		want string // in the message; "" for a usable image
	}{
		{"image read-write", file("rw.img", 4096), blk.Options{}, ""},
		{"image read-only", file("ro.img", 4096), blk.Options{ReadOnly: true}, ""},
		{"missing", filepath.Join(dir, "nope.img"), blk.Options{}, "no such file"},
		{"directory", dir, blk.Options{}, "is a directory"},
		{"under a sector", file("small.img", 511), blk.Options{}, "less than one 512-byte sector"},
		{"character device", "/dev/null", blk.Options{}, "not a regular file or block device"},
		{"fifo read-write, without blocking", fifo, blk.Options{}, "not a regular file or block device"},
		{"fifo read-only, without blocking", fifo, blk.Options{ReadOnly: true}, "not a regular file or block device"},
		{"id too long", file("id.img", 512), blk.Options{ID: strings.Repeat("x", 21)}, "longer than 20 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := blk.CheckImage(tc.path, tc.opts)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckImage: %v", err)
				}
				// The check's lock is gone: a read-write open succeeds.
				d, err := blk.Open(tc.path, blk.Options{})
				if err != nil {
					t.Fatalf("Open after CheckImage: %v", err)
				}
				d.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckImage = %v, want an error naming the path and %q", err, tc.want)
			}
			if _, openErr := blk.Open(tc.path, tc.opts); openErr == nil || openErr.Error() != err.Error() {
				t.Fatalf("CheckImage says %q, Open says %v", err, openErr)
			}
		})
	}
}

// An image another VM has open read-write is refused as in use.
func TestCheckImageInUse(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(path, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := blk.Open(path, blk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, ro := range []bool{false, true} {
		if err := blk.CheckImage(path, blk.Options{ReadOnly: ro}); !errors.Is(err, blk.ErrInUse) {
			t.Errorf("read-only %v: CheckImage = %v, want ErrInUse", ro, err)
		}
	}
}
