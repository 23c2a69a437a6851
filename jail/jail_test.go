package jail

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tree makes a directory with a file, a subdirectory and links that stay
// in and lead out, and a file outside it.
func tree(t *testing.T) (dir, outside string) {
	t.Helper()
	dir, outside = t.TempDir(), filepath.Join(t.TempDir(), "secret")
	for _, p := range []string{"vmlinux", "disks/a.img", outside} {
		full := p
		if !filepath.IsAbs(p) {
			full = filepath.Join(dir, p)
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must(t, os.Symlink(outside, filepath.Join(dir, "out.img")))
	must(t, os.Symlink("disks/a.img", filepath.Join(dir, "in.img")))
	return dir, outside
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	dir, outside := tree(t)
	ok := Config{Dir: dir, UID: 1000, GID: 1000, Devices: []Device{KVM, Tun}}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" for no error
	}{
		{"valid", func(*Config) {}, ""},
		{"relative", func(c *Config) { c.Dir = "jail" }, "not an absolute path"},
		{"missing", func(c *Config) { c.Dir = filepath.Join(dir, "none") }, "does not exist"},
		{"file", func(c *Config) { c.Dir = outside }, "is not a directory"},
		{"link", func(c *Config) { c.Dir = filepath.Join(dir, "in.img", "..") }, ""},
		{"root dir", func(c *Config) { c.Dir = "/" }, "would hide nothing"},
		{"uid 0", func(c *Config) { c.UID = 0 }, "not 0 (root)"},
		{"gid 0", func(c *Config) { c.GID = 0 }, "not 0 (root)"},
		{"netns missing", func(c *Config) { c.NetNS = filepath.Join(dir, "none") }, "network namespace"},
		{"device outside /dev", func(c *Config) { c.Devices = []Device{{Path: "/etc/kvm"}} }, "not a clean path under /dev"},
		{"device climbing out", func(c *Config) { c.Devices = []Device{{Path: "/dev/../etc/x"}} }, "not a clean path under /dev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := ok
			tc.edit(&c)
			err := c.Check()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Check: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Check: %v, want an error with %q", err, tc.want)
			case err != nil && !errors.As(err, new(*ConfigError)):
				t.Fatalf("Check: %T is not a *ConfigError", err)
			}
		})
	}
}

func TestConfigPath(t *testing.T) {
	t.Parallel()
	dir, outside := tree(t)
	c := Config{Dir: dir}
	for _, tc := range []struct {
		name, host, want string // want "" for refused
	}{
		{"top level", filepath.Join(dir, "vmlinux"), "/vm/vmlinux"},
		{"nested", filepath.Join(dir, "disks/a.img"), "/vm/disks/a.img"},
		{"link inside", filepath.Join(dir, "in.img"), "/vm/disks/a.img"},
		{"dot dot back in", filepath.Join(dir, "disks/../vmlinux"), "/vm/vmlinux"},
		{"outside", outside, ""},
		{"link out", filepath.Join(dir, "out.img"), ""},
		{"dot dot out", filepath.Join(dir, "../"+filepath.Base(filepath.Dir(outside))+"/secret"), ""},
		{"missing", filepath.Join(dir, "none"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Path(tc.host)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("Path(%s) = %s, want it refused", tc.host, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Path(%s) = %q, %v; want %q", tc.host, got, err, tc.want)
			}
		})
	}
}

func TestLookupID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		group    bool
		want     int
		err      string
	}{
		{"number", "64001", false, 64001, ""},
		{"root by name", "root", false, 0, ""},
		{"group by name", "root", true, 0, ""},
		{"unknown user", "no-such-user-glue", false, 0, "unknown user no-such-user-glue"},
		{"unknown group", "no-such-group-glue", true, 0, "unknown group no-such-group-glue"},
		{"negative", "-1", false, 0, "out of range"},
		{"too large", "4294967295", false, 0, "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := LookupID(tc.in, tc.group)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("LookupID(%q) = %d, %v; want an error with %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("LookupID(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestUnifiedPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want string
		ok             bool
	}{
		{"v2 only", "0::/user.slice/vm\n", "/user.slice/vm", true},
		{"hybrid", "4:memory:/x\n1:cpu:/\n0::/\n", "/", true},
		{"v1 only", "4:memory:/x\n1:cpu:/\n", "", false},
		{"garbage", "0::relative\n", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := unifiedPath([]byte(tc.in))
			if got != tc.want || ok != tc.ok {
				t.Fatalf("unifiedPath = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestDelegates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, control, missing string // missing "" for delegated
	}{
		{"all", "cpuset cpu io memory pids\n", ""},
		{"no pids", "cpu memory\n", "pids"},
		{"none", "\n", "cpu, memory, pids"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			must(t, os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte(tc.control), 0o644))
			err := delegates(parent)
			if tc.missing == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.As(err, new(*NoCgroupError)) || !strings.Contains(err.Error(), "does not delegate "+tc.missing+" ") {
				t.Fatalf("delegates: %v, want one naming %s", err, tc.missing)
			}
		})
	}
	if err := delegates(t.TempDir()); !errors.As(err, new(*NoCgroupError)) {
		t.Fatalf("a directory that is no cgroup: %v, want a NoCgroupError", err)
	}
}

// The cgroup's limit files, written into a directory standing in for a
// delegated cgroup (cgroupfs makes them on mkdir; a plain directory gets
// them created), a stale empty cgroup replaced, and the cgroup removed.
func TestCreateCgroup(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	must(t, os.Mkdir(filepath.Join(parent, "glue-vm1"), 0o755)) // left by a killed jail
	cg, err := createCgroup(parent, "glue-vm1", Limits{MemoryBytes: 320 << 20, CPUs: 3, Tasks: 1026})
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{"memory.max": "335544320", "cpu.max": "300000 100000", "pids.max": "1026"} {
		got, err := os.ReadFile(filepath.Join(cg.path, file))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", file, got, err, want)
		}
	}
	// A real cgroup's files go with it; a plain directory's must go first.
	for _, f := range []string{"memory.max", "cpu.max", "pids.max"} {
		must(t, os.Remove(filepath.Join(cg.path, f)))
	}
	if err := cg.remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cg.path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("cgroup still there after remove: %v", err)
	}
	if got := limitFiles(Limits{}); got != nil {
		t.Fatalf("zero limits write %v, want nothing", got)
	}
}

// Enter and Drop refuse to run where they would confine the wrong
// process: Enter outside a new PID namespace (here, the test binary),
// Drop to root.
func TestEnterDropRefuse(t *testing.T) {
	t.Parallel()
	dir, _ := tree(t)
	if err := Enter(Config{Dir: dir, UID: 1000, GID: 1000}); err == nil || !strings.Contains(err.Error(), "not the first of a new PID namespace") {
		t.Fatalf("Enter in the test process: %v", err)
	}
	if err := Drop(Config{UID: 0, GID: 1000}); err == nil {
		t.Fatal("Drop to uid 0 succeeded")
	}
}

// Only a root that is its mount namespace's own root mount (proc shows it
// as its own parent), as a host's initramfs is, needs attachRoot; the top
// one counts where mounts are stacked on /.
func TestRootIsNamespaceRoot(t *testing.T) {
	t.Parallel()
	const initramfs = "1 1 0:2 / / rw - rootfs none rw\n" +
		"21 1 0:20 / /proc rw,relatime - proc proc rw\n"
	const host = "29 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n" +
		"30 29 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw\n"
	for _, tt := range []struct {
		name, mountinfo string
		want            bool
	}{
		{"initramfs", initramfs, true},
		{"mounted root", host, false},
		{"bind stacked on the initramfs", initramfs + "40 1 0:2 / / rw - rootfs none rw\n", false},
		{"empty", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := rootIsNamespaceRoot([]byte(tt.mountinfo)); got != tt.want {
				t.Errorf("rootIsNamespaceRoot = %v, want %v", got, tt.want)
			}
		})
	}
}
