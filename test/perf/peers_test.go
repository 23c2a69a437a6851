package perf

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gluevmm/glue/test/hosttest"
)

// The start-up and exits benchmarks' peers besides QEMU: kvmtool, the
// small C VMM; the suite's own bare C harness (bare/bare.c), the
// practical limit of a VMM on this host's KVM; and the same harness in Go
// (barego), the limit of a VMM written in Go.
const (
	kvmtoolName = "kvmtool"
	bareName    = "bare"
	bareGoName  = "barego"
	// kvmtoolEnv names the kvmtool binary (lkvm) to compare against;
	// kvmtool is not packaged for Debian, see docs/performance.md.
	kvmtoolEnv = "GLUE_PERF_KVMTOOL"
)

var (
	peersOnce sync.Once
	peerVMMs  []vmm
	// peerNotes say, for the report, what each peer is or why it was
	// not measured.
	peerNotes []string
)

// peers returns the peers that can run here, built once into the suite's
// temporary directory; those that cannot are logged and named with the
// reason in the report. vmms(b) must have run.
func peers(b *testing.B) []vmm {
	b.Helper()
	elfPath, err := filepath.Abs(guestELF)
	if err != nil {
		b.Fatal(err)
	}
	peersOnce.Do(func() { peerVMMs, peerNotes = findPeers(b, buildDir, stateDir, elfPath) })
	for _, n := range peerNotes {
		b.Log(n)
	}
	return peerVMMs
}

// findPeers builds the bare Go harness, and the bare C harness and
// kvmtool's boot wrapper with gcc, into dir (kvmtool's home goes into
// state) and returns the peers it could set up, and a note on each. A
// missing gcc or objcopy fails tb where skips are not allowed
// (hosttest.LookPathOptional).
func findPeers(tb testing.TB, dir, state, elfPath string) ([]vmm, []string) {
	var vs []vmm
	var notes []string
	if bin, note, err := buildBareGo(dir); err != nil {
		notes = append(notes, "bare Go harness: not measured, "+err.Error())
	} else {
		vs = append(vs, bareVMM(bareGoName, bin, elfPath))
		notes = append(notes, "bare Go harness: "+note)
	}
	gcc, ok := hosttest.LookPathOptional(tb, "gcc")
	if !ok {
		return vs, append(notes, "bare C harness and kvmtool: not measured, no gcc to build the harness and kvmtool's boot wrapper")
	}
	if bare, note, err := buildBare(gcc, dir); err != nil {
		notes = append(notes, "bare C harness: not measured, "+err.Error())
	} else {
		vs = append(vs, bareVMM(bareName, bare, elfPath))
		notes = append(notes, "bare C harness: "+note)
	}
	if v, note, err := setUpKvmtool(tb, gcc, dir, state, elfPath); err != nil {
		notes = append(notes, "kvmtool: not measured, "+err.Error())
	} else {
		vs = append(vs, v)
		notes = append(notes, "kvmtool: "+note)
	}
	return vs, notes
}

// buildBare compiles bare/bare.c, statically linked where the C library
// allows it (as glue is), and says how it was built.
func buildBare(gcc, dir string) (bin, note string, err error) {
	src, err := filepath.Abs(filepath.Join("bare", "bare.c"))
	if err != nil {
		return "", "", err
	}
	bin = filepath.Join(dir, "bare")
	args := []string{"-O2", "-o", bin, src}
	out, err := exec.Command(gcc, append([]string{"-static"}, args...)...).CombinedOutput()
	if err == nil {
		return bin, "`gcc -O2 -static`, gcc " + firstLine(gcc, "-dumpfullversion"), nil
	}
	static, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("gcc failed: %v\n%s", err, out)
	}
	return bin, "`gcc -O2`, dynamically linked (the static link failed: " + static + ")", nil
}

// buildBareGo builds barego as glue is built (make glue: static, no cgo,
// -trimpath) and says so.
func buildBareGo(dir string) (bin, note string, err error) {
	bin = filepath.Join(dir, "barego")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "github.com/gluevmm/glue/test/perf/barego")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build failed: %v\n%s", err, out)
	}
	return bin, "`CGO_ENABLED=0 go build -trimpath`, as glue", nil
}

// setUpKvmtool finds kvmtool by kvmtoolEnv and builds the image it boots
// into dir; its home is in state.
func setUpKvmtool(tb testing.TB, gcc, dir, state, elfPath string) (vmm, string, error) {
	lkvm := os.Getenv(kvmtoolEnv)
	if lkvm == "" {
		return vmm{}, "", errors.New(kvmtoolEnv + " is unset (the path to kvmtool's lkvm; see Method)")
	}
	if _, err := os.Stat(lkvm); err != nil {
		return vmm{}, "", fmt.Errorf("%s: %w", kvmtoolEnv, err)
	}
	objcopy, ok := hosttest.LookPathOptional(tb, "objcopy")
	if !ok {
		return vmm{}, "", errors.New("no objcopy to build its boot wrapper")
	}
	src, err := filepath.Abs(filepath.Join("kvmtool", "setup.S"))
	if err != nil {
		return vmm{}, "", err
	}
	obj, bin := filepath.Join(dir, "setup.o"), filepath.Join(dir, "setup.bin")
	for _, c := range [][]string{{gcc, "-c", "-o", obj, src}, {objcopy, "-O", "binary", "-j", ".text", obj, bin}} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			return vmm{}, "", fmt.Errorf("building the boot wrapper: %s: %v\n%s", c[0], err, out)
		}
	}
	setup, err := os.ReadFile(bin)
	if err != nil {
		return vmm{}, "", err
	}
	guestELF, err := os.ReadFile(elfPath)
	if err != nil {
		return vmm{}, "", err
	}
	bzImage, initrd, err := wrapperImage(setup, guestELF)
	if err != nil {
		return vmm{}, "", fmt.Errorf("boot wrapper: %w", err)
	}
	wrapper, image := filepath.Join(dir, "kvmtool-setup.bin"), filepath.Join(dir, "glue-guest.bin")
	if err := errors.Join(os.WriteFile(wrapper, bzImage, 0o644), os.WriteFile(image, initrd, 0o644)); err != nil {
		return vmm{}, "", err
	}
	// kvmtool keeps a socket per VM in $HOME/.lkvm, which a killed VM
	// leaves behind: in the suite's directory, removed at the end.
	home := filepath.Join(state, "kvmtool-home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return vmm{}, "", err
	}
	v := kvmtoolVMM(lkvm, wrapper, image, home)
	version := exec.Command(lkvm, "version") // kvmtool makes ~/.lkvm for any command
	version.Env = append(os.Environ(), v.env...)
	out, err := version.Output()
	if err != nil {
		return vmm{}, "", fmt.Errorf("%s version: %w", lkvm, err)
	}
	return v, strings.TrimSpace(string(out)) + ", " + lkvm, nil
}

// bareVMM runs a bare harness, C or Go (they take the same arguments);
// -w keeps it alive at the guest's halt until the benchmark has read
// /proc and killed it, as the other VMMs are. It has no devices.
func bareVMM(name, bin, elfPath string) vmm {
	return vmm{
		name: name,
		path: bin,
		args: func(cmdline string, _ devices) []string {
			return []string{"-w", "-m", fmt.Sprint(guestMiB), elfPath, cmdline}
		},
	}
}

// kvmtoolVMM runs kvmtool on the wrapped guest (the setup sectors as the
// kernel, the guest's image as the initrd) with nothing but the serial
// console: --nodefaults drops its 9p root and its additions to the
// command line, --network mode=none its default virtio-net device. HOME
// points its socket directory (~/.lkvm) at home. It has no devices here.
func kvmtoolVMM(bin, wrapper, image, home string) vmm {
	return vmm{
		name: kvmtoolName,
		path: bin,
		env:  []string{"HOME=" + home},
		args: func(cmdline string, _ devices) []string {
			return []string{"run", "-c", "1", "-m", fmt.Sprint(guestMiB), "-k", wrapper, "-i", image,
				"--nodefaults", "--network", "mode=none", "--console", "serial", "-p", cmdline}
		},
	}
}

// Where setup.S keeps what wrapperImage fills in.
const (
	setupSectsAt    = 0x1f1 // setup_sects: sectors after the boot sector
	headerMagicAt   = 0x202 // "HdrS"
	initrdAddrMaxAt = 0x22c // initrd_addr_max
	paramsAt        = 0x260 // image_at, entry (u32 each)
	initrdAlign     = 1 << 20
)

// wrapperImage makes the guest ELF something kvmtool boots: setup (the
// assembled setup.S: setup sectors and page tables) with its parameters
// filled in, as the bzImage, and
// the ELF's PT_LOAD segments laid out as one flat image, as the initrd,
// which kvmtool puts at initrd_addr_max rounded down to 1 MiB: the image's
// link address. setup.S enters the ELF entry in 64-bit mode.
func wrapperImage(setup, guestELF []byte) (bzImage, initrd []byte, err error) {
	if len(setup) <= setupSectsAt || len(setup) <= (int(setup[setupSectsAt])+1)*512 ||
		!bytes.Equal(setup[headerMagicAt:headerMagicAt+4], []byte("HdrS")) {
		return nil, nil, errors.New("setup: no bzImage header, or nothing after its setup sectors")
	}
	f, err := elf.NewFile(bytes.NewReader(guestELF))
	if err != nil {
		return nil, nil, err
	}
	lo, hi := ^uint64(0), uint64(0)
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Filesz > 0 {
			lo, hi = min(lo, p.Paddr), max(hi, p.Paddr+p.Filesz)
		}
	}
	if hi == 0 {
		return nil, nil, errors.New("ELF: no PT_LOAD segment")
	}
	if f.Entry < lo || f.Entry >= hi {
		return nil, nil, fmt.Errorf("ELF: entry %#x not in the loaded image %#x-%#x", f.Entry, lo, hi)
	}
	if lo%initrdAlign != 0 || lo < initrdAlign || hi > guestMiB<<20 {
		return nil, nil, fmt.Errorf("ELF: image %#x-%#x is not at a 1 MiB boundary inside the guest's %d MiB", lo, hi, guestMiB)
	}
	initrd = make([]byte, hi-lo)
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Filesz > 0 {
			if _, err := p.ReadAt(initrd[p.Paddr-lo:p.Paddr-lo+p.Filesz], 0); err != nil {
				return nil, nil, fmt.Errorf("ELF segment at %#x: %w", p.Paddr, err)
			}
		}
	}
	bzImage = bytes.Clone(setup)
	le := binary.LittleEndian
	le.PutUint32(bzImage[initrdAddrMaxAt:], uint32(lo+initrdAlign-1))
	le.PutUint32(bzImage[paramsAt:], uint32(lo))
	le.PutUint32(bzImage[paramsAt+4:], uint32(f.Entry))
	return bzImage, initrd, nil
}
