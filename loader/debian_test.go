package loader

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/test/hosttest"
)

// realKernels returns the paths of real Linux bzImages: $GLUE_TEST_KERNEL,
// or the Debian kernels unpacked under /tmp/debian-kernel.
func realKernels(t *testing.T) []string {
	t.Helper()
	if p := os.Getenv("GLUE_TEST_KERNEL"); p != "" {
		return []string{p}
	}
	matches, _ := filepath.Glob("/tmp/debian-kernel/boot/vmlinuz-*")
	if len(matches) == 0 {
		hosttest.Skip(t, hosttest.ReasonKernel, "no real kernel: set GLUE_TEST_KERNEL or unpack linux-image-*-amd64 into /tmp/debian-kernel")
	}
	return matches
}

func TestRealKernel(t *testing.T) {
	t.Parallel()
	for _, path := range realKernels(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			testRealKernel(t, path)
		})
	}
}

func testRealKernel(t *testing.T, path string) {
	image, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		opts Options
	}{
		{"extract", Options{}},
		{"extract-pvh", Options{Protocol: PVH}},
		{"entry64", Options{BzImageMode: BzImageEntry64}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mem, err := guestmem.New([]guestmem.Span{{Base: 0, Size: 512 << 20}})
			if err != nil {
				t.Fatal(err)
			}
			defer mem.Close()
			start := time.Now()
			k, err := LoadFile(mem, path, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s, compression %q, %v entry %#x, entries %v, kernel [%#x, %#x), cmdline max %d, initrd max %#x, loaded in %v",
				filepath.Base(path), k.Path, k.Compression, k.Protocol, k.Entry, k.Entries, k.Start, k.End,
				k.CmdlineMax, k.InitrdAddrMax, time.Since(start).Round(time.Millisecond))
			t.Logf("version %q", k.Version)

			if k.Format != FormatBzImage || !strings.HasPrefix(k.Path, "bzimage-") {
				t.Errorf("format %v path %q", k.Format, k.Path)
			}
			headerEnd := 0x202 + int(image[0x201])
			if !bytes.Equal(k.SetupHeader, image[0x1f1:headerEnd]) {
				t.Error("setup header differs from the image's")
			}
			if k.Version == "" || k.CmdlineMax < 255 {
				t.Errorf("version %q, cmdline max %d", k.Version, k.CmdlineMax)
			}
			switch tt.opts.BzImageMode {
			case BzImageExtract:
				// The vmlinux inside is linked at 16 MiB (CONFIG_PHYSICAL_START)
				// with a physical e_entry there: startup_64.
				if k.Compression == "" || k.Start != 0x1000000 {
					t.Errorf("compression %q, start %#x", k.Compression, k.Start)
				}
				if tt.opts.Protocol == PVH {
					if k.Protocol != PVH || k.Entry == k.Start {
						t.Errorf("PVH entry %v %#x", k.Protocol, k.Entry)
					}
				} else if k.Entry != 0x1000000 {
					t.Errorf("entry %#x, want 0x1000000", k.Entry)
				}
			case BzImageEntry64:
				if k.Entry != k.Start+0x200 {
					t.Errorf("entry %#x for a kernel at %#x", k.Entry, k.Start)
				}
			}
			if _, err := LoadInitrd(mem, make([]byte, 3<<20), k); err != nil {
				t.Errorf("initrd: %v", err)
			}
		})
	}
}
