package vmm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gluevmm/glue/kvm/kvmtest"
	"github.com/gluevmm/glue/test/hosttest"
	"github.com/gluevmm/glue/virtio/blk"
)

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// A Build that fails at a late step ("load kernel", after the devices)
// releases everything the earlier steps made: no file descriptor stays open
// and the disk image's lock is gone. Not parallel, so that no other test
// opens files meanwhile.
func TestBuildFailureReleasesEverything(t *testing.T) {
	kvmtest.Open(t)
	if !blkLinked {
		hosttest.Skip(t, hosttest.ReasonLeftOut, "virtio-blk is left out of this build")
	}
	dir := t.TempDir()
	image, kernel := filepath.Join(dir, "disk.img"), filepath.Join(dir, "vmlinux")
	if err := os.WriteFile(image, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kernel, []byte("not a kernel"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{CPUs: 1, MemMiB: 32, Kernel: kernel, Disks: []Disk{{Path: image}}, RNG: rngLinked}
	build := func() {
		t.Helper()
		_, err := Build(context.Background(), cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != FieldKernel {
			t.Fatalf("Build = %v, want a ConfigError on Kernel", err)
		}
	}
	build() // the first also opens what the runtime keeps (its poller)
	before := openFDs(t)
	build()
	if after := openFDs(t); after != before {
		t.Errorf("%d file descriptors open after a failed Build, %d before", after, before)
	}
	d, err := blk.Open(image, blk.Options{})
	if err != nil {
		t.Fatalf("the disk is still held: %v", err)
	}
	d.Close()
}
