package vmm

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/ratelimit"
	"github.com/gluevmm/glue/test/hosttest"
	"github.com/gluevmm/glue/x86"
)

// Every Field names a distinct Config field.
func TestFields(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, f := range Fields() {
		name := f.String()
		if _, ok := reflect.TypeFor[Config]().FieldByName(name); !ok {
			t.Errorf("Field %d: Config has no field %q", int(f), name)
		}
		if seen[name] {
			t.Errorf("Field %d: %q named twice", int(f), name)
		}
		seen[name] = true
	}
	if len(seen) == 0 {
		t.Fatal("no fields")
	}
}

// loopDevice attaches a 1 MiB image to a free loop device until the test
// ends and returns the device's path.
func loopDevice(t *testing.T) string {
	t.Helper()
	hosttest.Root(t, "attaching a loop device")
	losetup := hosttest.LookPath(t, "losetup")
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(losetup, "--find", "--show", img).CombinedOutput()
	if err != nil {
		hosttest.Skip(t, hosttest.ReasonTool("losetup"), fmt.Sprintf("losetup --find --show: %v: %s", err, out))
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command(losetup, "--detach", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup --detach %s: %v: %s", dev, err, out)
		}
	})
	return dev
}

// Validate accepts what the backends accept, block devices included, and
// refuses the rest on the right field with the backend's reason. FIFOs are
// refused without blocking.
func TestValidateAsksBackends(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	image := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(image, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	// One FIFO per case: a read-write open of a FIFO is also a writer,
	// which would let a blocking read-only open through.
	fifo := func(t *testing.T, name string) string {
		p := filepath.Join(dir, name)
		if err := unix.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name  string
		needs bool // the component the case uses is in this build
		edit  func(t *testing.T, c *Config)
		field Field  // 0: valid
		want  string // in the message
	}{
		{"disk image", blkLinked, func(_ *testing.T, c *Config) { c.Disks = []Disk{{Path: image}} }, 0, ""},
		{"disk image read-only", blkLinked, func(_ *testing.T, c *Config) { c.Disks = []Disk{{Path: image, ReadOnly: true}} }, 0, ""},
		{"disk on a block device", blkLinked, func(t *testing.T, c *Config) { c.Disks = []Disk{{Path: loopDevice(t)}} }, 0, ""},
		{"disk is a directory", blkLinked, func(_ *testing.T, c *Config) { c.Disks = []Disk{{Path: dir}} }, FieldDisks, "is a directory"},
		{"disk is a FIFO", blkLinked, func(t *testing.T, c *Config) { c.Disks = []Disk{{Path: fifo(t, "rw.fifo")}} }, FieldDisks, "not a regular file or block device"},
		{"read-only disk is a FIFO", blkLinked, func(t *testing.T, c *Config) { c.Disks = []Disk{{Path: fifo(t, "ro.fifo"), ReadOnly: true}} }, FieldDisks, "not a regular file or block device"},
		{"disk is missing", blkLinked, func(_ *testing.T, c *Config) { c.Disks = []Disk{{Path: image + ".nope"}} }, FieldDisks, "no such file"},
		{"disk without a path", blkLinked, func(_ *testing.T, c *Config) { c.Disks = []Disk{{}} }, FieldDisks, "no path"},
		{"tap name", netLinked, func(_ *testing.T, c *Config) { c.Nets = []Net{{Tap: "tap0"}} }, 0, ""},
		{"tap name too long", netLinked, func(_ *testing.T, c *Config) { c.Nets = []Net{{Tap: "a-very-long-tap-name"}} }, FieldNets, "the limit is 15"},
		{"tap name with a slash", netLinked, func(_ *testing.T, c *Config) { c.Nets = []Net{{Tap: "a/b"}} }, FieldNets, "cannot contain '/'"},
		{"bad MAC", netLinked, func(_ *testing.T, c *Config) { c.Nets = []Net{{Tap: "tap0", MAC: "01:02"}} }, FieldNets, "net tap0"},
		{"disk rate limit", blkLinked, func(_ *testing.T, c *Config) {
			c.Disks = []Disk{{Path: image, Limit: RateLimit{Bytes: ratelimit.Bucket{Rate: 1 << 20}, Ops: ratelimit.Bucket{Rate: 100}}}}
		}, 0, ""},
		{"disk burst too large", blkLinked, func(_ *testing.T, c *Config) {
			c.Disks = []Disk{{Path: image, Limit: RateLimit{Ops: ratelimit.Bucket{Rate: 1, OneTimeBurst: ratelimit.MaxTokens + 1}}}}
		}, FieldDisks, "ops bucket"},
		{"net rate too high", netLinked, func(_ *testing.T, c *Config) {
			c.Nets = []Net{{Tap: "tap0", TxLimit: RateLimit{Bytes: ratelimit.Bucket{Rate: ratelimit.MaxTokens + 1}}}}
		}, FieldNets, "net tap0"},
		{"console bucket too large", true, func(_ *testing.T, c *Config) {
			c.ConsoleLimit = ratelimit.Bucket{Rate: 1, Size: ratelimit.MaxTokens + 1}
		}, FieldConsoleDevice, "console rate limit"},
		{"kernel is a FIFO", true, func(t *testing.T, c *Config) { c.Kernel = fifo(t, "kernel.fifo") }, FieldKernel, "not a regular file"},
		{"initrd is a directory", true, func(_ *testing.T, c *Config) { c.Initrd = dir }, FieldInitrd, "is a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if !tc.needs {
				hosttest.Skip(t, hosttest.ReasonLeftOut, "the component this case needs is left out of this build")
			}
			c := Config{CPUs: 1, MemMiB: 64}
			tc.edit(t, &c)
			var err error
			within(t, "Validate", func() { err = c.Validate(1, 0) })
			if tc.field == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want a ConfigError on %s saying %q", err, tc.field, tc.want)
			}
		})
	}
}

// A -c error quotes the limit that applies: the tighter of KVM's and the
// boot tables'.
func TestValidateQuotesTheCPULimitThatApplies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cpus    int
		kvmMax  int
		wantMsg string
	}{
		{"boot tables tighter", 2000, 1024, fmt.Sprintf("at most %d", x86.MaxCPUs)},
		{"boot tables tighter, between", x86.MaxCPUs + 1, 1024, fmt.Sprintf("at most %d", x86.MaxCPUs)},
		{"KVM tighter", 100, 64, "KVM on this host allows at most 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Config{CPUs: tt.cpus, MemMiB: 64}
			err := c.Validate(tt.kvmMax, 0)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != FieldCPUs {
				t.Fatalf("Validate = %v, want a ConfigError on FieldCPUs", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Validate = %q, want it to say %q", err, tt.wantMsg)
			}
		})
	}
}
