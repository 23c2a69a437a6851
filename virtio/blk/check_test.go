package blk_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	// One FIFO per case: a read-write open of a FIFO is also a writer,
	// which would let a blocking read-only open through.
	fifo := func(name string) string {
		p := filepath.Join(dir, name)
		if err := unix.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
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
		{"fifo read-write, without blocking", fifo("rw.fifo"), blk.Options{}, "not a regular file or block device"},
		{"fifo read-only, without blocking", fifo("ro.fifo"), blk.Options{ReadOnly: true}, "not a regular file or block device"},
		{"id too long", file("id.img", 512), blk.Options{ID: strings.Repeat("x", 21)}, "longer than 20 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			done := make(chan error, 1)
			go func() { done <- blk.CheckImage(tc.path, tc.opts) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("CheckImage blocked") // a FIFO opened read-only without O_NONBLOCK waits for a writer
			}
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
