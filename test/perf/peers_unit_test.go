package perf

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gluevmm/glue/test/hosttest"
)

// fakeSetup is a bzImage with only what wrapperImage checks: a header,
// setup_sects sectors after the boot sector, and one sector after them.
func fakeSetup(sects int) []byte {
	s := make([]byte, (sects+2)*512)
	s[setupSectsAt] = byte(sects)
	copy(s[headerMagicAt:], "HdrS")
	return s
}

// The guest's PT_LOAD segments become the initrd, byte for byte, and the
// setup sectors learn where kvmtool must put it and where to enter.
func TestWrapperImage(t *testing.T) {
	t.Parallel()
	guest, err := os.ReadFile(guestELF)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(guest))
	if err != nil {
		t.Fatal(err)
	}
	setup := fakeSetup(7)
	bz, initrd, err := wrapperImage(setup, guest)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	var lo uint64
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		lo = p.Paddr
		want := make([]byte, p.Filesz)
		p.ReadAt(want, 0)
		if got := initrd[p.Paddr-lo : p.Paddr-lo+p.Filesz]; !bytes.Equal(got, want) {
			t.Errorf("initrd at %#x differs from the ELF segment", p.Paddr)
		}
	}
	if len(bz) != len(setup) {
		t.Errorf("bzImage is %d bytes, want the %d of the setup sectors", len(bz), len(setup))
	}
	// kvmtool: addr = initrd_addr_max & ~0xfffff, used when it fits below
	// the end of RAM.
	if got := uint64(le.Uint32(bz[initrdAddrMaxAt:])) &^ 0xfffff; got != lo {
		t.Errorf("kvmtool would load the initrd at %#x, want the link address %#x", got, lo)
	}
	if got := uint64(le.Uint32(bz[paramsAt:])); got != lo {
		t.Errorf("image_at = %#x, want %#x", got, lo)
	}
	if got := uint64(le.Uint32(bz[paramsAt+4:])); got != f.Entry {
		t.Errorf("entry = %#x, want the ELF's %#x", got, f.Entry)
	}
	if _, _, err := wrapperImage(setup[:8*512], guest); err == nil {
		t.Error("nothing after the setup sectors (kvmtool refuses that): no error")
	}
	if _, _, err := wrapperImage(setup, guest[:64]); err == nil {
		t.Error("truncated ELF: no error")
	}
}

// setup.S assembles into its setup sectors and the page tables after
// them, with no relocations (objcopy's output is the image), and holds the
// header fields where kvmtool reads them.
func TestSetupAssembles(t *testing.T) {
	t.Parallel()
	gcc, objcopy, readelf := hosttest.LookPath(t, "gcc"), hosttest.LookPath(t, "objcopy"), hosttest.LookPath(t, "readelf")
	dir := t.TempDir()
	obj, bin := filepath.Join(dir, "setup.o"), filepath.Join(dir, "setup.bin")
	for _, c := range [][]string{{gcc, "-c", "-o", obj, "kvmtool/setup.S"}, {objcopy, "-O", "binary", "-j", ".text", obj, bin}} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", c[0], err, out)
		}
	}
	if out, err := exec.Command(readelf, "-r", obj).Output(); err != nil || !strings.Contains(string(out), "no relocations") {
		t.Errorf("setup.o has relocations:\n%s", out)
	}
	setup, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := wrapperImage(setup, mustRead(t, guestELF)); err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if v := le.Uint16(setup[0x206:]); v != 0x0206 {
		t.Errorf("boot protocol %#x, want 0x0206", v)
	}
	if v := le.Uint16(setup[0x1fe:]); v != 0xaa55 {
		t.Errorf("boot_flag %#x", v)
	}
	if v := le.Uint32(setup[0x238:]); v != 4095 {
		t.Errorf("cmdline_size %d, want 4095 (the guest keeps 4095 bytes)", v)
	}
	if setup[0x200] != 0xeb {
		t.Errorf("no short jump at the entry 0x200")
	}
	// The page tables after the setup sectors: PML4[0] → the PDPT at
	// 1 MiB + 4 KiB, the first 2 MiB page identity-mapped.
	pt := setup[(int(setup[setupSectsAt])+1)*512:]
	if len(pt) != 6*4096 || le.Uint64(pt) != 0x101003 || le.Uint64(pt[2*4096:]) != 0x83 || le.Uint64(pt[6*4096-8:]) != 0xffe00083 {
		t.Errorf("page tables: %d bytes, PML4[0] %#x, PD[0] %#x", len(pt), le.Uint64(pt), le.Uint64(pt[2*4096:]))
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Without GLUE_PERF_KVMTOOL, or with a path that is not there, kvmtool
// is left out with the reason; the bare C harness builds wherever gcc is,
// the bare Go one wherever go is.
func TestFindPeers(t *testing.T) {
	hosttest.LookPath(t, "gcc")
	elfPath, _ := filepath.Abs(guestELF)
	for _, tc := range []struct{ env, note string }{
		{"", "kvmtool: not measured, " + kvmtoolEnv + " is unset"},
		{"/nonexistent/lkvm", "kvmtool: not measured, " + kvmtoolEnv + ": stat /nonexistent/lkvm"},
	} {
		t.Setenv(kvmtoolEnv, tc.env)
		dir := t.TempDir()
		vs, notes := findPeers(t, dir, dir, elfPath)
		if len(vs) != 2 || vs[0].name != bareGoName || vs[1].name != bareName {
			t.Errorf("%s=%q: peers %v, want the bare Go and C harnesses alone", kvmtoolEnv, tc.env, vs)
		}
		if joined := strings.Join(notes, "; "); !strings.Contains(joined, tc.note) || !strings.Contains(joined, "bare C harness: `gcc -O2") ||
			!strings.Contains(joined, "bare Go harness: `CGO_ENABLED=0 go build") {
			t.Errorf("%s=%q: notes %q, want %q and the harness's build", kvmtoolEnv, tc.env, joined, tc.note)
		}
	}
}

// The peers' command lines: the bare harness waits at the guest's halt;
// kvmtool boots the wrapper with its image as the initrd and none of its
// defaults, its socket directory under the given home.
func TestPeerArgs(t *testing.T) {
	t.Parallel()
	b := bareVMM(bareName, "bare", "g.elf")
	if got := strings.Join(b.args("x y", devices{}), " "); got != "-w -m 512 g.elf x y" {
		t.Errorf("bare: %s", got)
	}
	k := kvmtoolVMM("lkvm", "w.bin", "g.bin", "/h")
	got := strings.Join(k.args("x", devices{}), " ")
	if got != "run -c 1 -m 512 -k w.bin -i g.bin --nodefaults --network mode=none --console serial -p x" {
		t.Errorf("kvmtool: %s", got)
	}
	if len(k.env) != 1 || k.env[0] != "HOME=/h" {
		t.Errorf("kvmtool's environment %v: its ~/.lkvm sockets would land in the user's home", k.env)
	}
}
