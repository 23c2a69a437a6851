package initramfs

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/gluevmm/glue/test/hosttest"
)

const testRelease = "6.1.0-test-amd64"

// fakeModule is a minimal relocatable ELF with just the .modinfo section a
// kernel module carries: what Resolve reads.
func fakeModule(t *testing.T, info ...string) []byte {
	t.Helper()
	modinfo := []byte(strings.Join(info, "\x00") + "\x00")
	shstrtab := []byte("\x00.modinfo\x00.shstrtab\x00")
	const ehsize, shentsize = 64, 64
	modinfoOff := uint64(ehsize)
	strtabOff := modinfoOff + uint64(len(modinfo))
	shoff := (strtabOff + uint64(len(shstrtab)) + 7) &^ 7

	var b bytes.Buffer
	hdr := elf.Header64{
		Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Shoff: shoff, Ehsize: ehsize, Shentsize: shentsize, Shnum: 3, Shstrndx: 2,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS], hdr.Ident[elf.EI_DATA], hdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	binary.Write(&b, binary.LittleEndian, hdr)
	b.Write(modinfo)
	b.Write(shstrtab)
	b.Write(make([]byte, shoff-uint64(b.Len())))
	for _, sh := range []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_ALLOC), Off: modinfoOff, Size: uint64(len(modinfo)), Addralign: 1},
		{Name: 10, Type: uint32(elf.SHT_STRTAB), Off: strtabOff, Size: uint64(len(shstrtab)), Addralign: 1},
	} {
		binary.Write(&b, binary.LittleEndian, sh)
	}
	return b.Bytes()
}

// moduleTree lays out lib/modules/RELEASE with the given module files
// (path relative to kernel/ -> object) and modules.builtin lines.
func moduleTree(t *testing.T, files map[string][]byte, builtin ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "lib", "modules", testRelease)
	for name, data := range files {
		path := filepath.Join(dir, "kernel", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte(strings.Join(builtin, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mod(t *testing.T, name, depends string) []byte {
	return fakeModule(t, "description=test", "depends="+depends, "name="+name,
		"vermagic="+testRelease+" SMP preempt mod_unload modversions ")
}

// The virtio modules of Debian's 6.1 kernel, dependencies as its
// .modinfo sections state them.
func virtioTree(t *testing.T) string {
	return moduleTree(t, map[string][]byte{
		"drivers/virtio/virtio_ring.ko":          mod(t, "virtio_ring", ""),
		"drivers/virtio/virtio.ko":               mod(t, "virtio", "virtio_ring"),
		"drivers/virtio/virtio_mmio.ko":          mod(t, "virtio_mmio", "virtio,virtio_ring"),
		"drivers/block/virtio_blk.ko":            mod(t, "virtio_blk", "virtio,virtio_ring"),
		"drivers/net/virtio_net.ko":              mod(t, "virtio_net", "virtio_ring,virtio,net_failover"),
		"drivers/net/net_failover.ko":            mod(t, "net_failover", "failover"),
		"net/core/failover.ko":                   mod(t, "failover", ""),
		"drivers/char/hw_random/virtio-rng.ko":   mod(t, "virtio_rng", "virtio,virtio_ring"),
		"drivers/char/virtio_console.ko":         mod(t, "virtio_console", "virtio,virtio_ring"),
		"drivers/char/hw_random/rng-core.ko.bak": []byte("not a module"),
	}, "kernel/drivers/char/hw_random/rng-core.ko")
}

func names(mods []Module) []string {
	var out []string
	for _, m := range mods {
		out = append(out, m.Name)
	}
	return out
}

func TestResolveOrder(t *testing.T) {
	t.Parallel()
	dir := virtioTree(t)
	mods, err := Resolve(dir, "virtio_mmio", "virtio_net", "virtio-rng", "virtio_ring")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"virtio_ring", "virtio", "virtio_mmio", "failover", "net_failover", "virtio_net", "virtio_rng"}
	if got := names(mods); !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	checkOrder(t, mods)
	if rng := mods[6]; !strings.HasSuffix(rng.Path, "virtio-rng.ko") || len(rng.Data) == 0 {
		t.Errorf("virtio_rng: path %s, %d bytes", rng.Path, len(rng.Data))
	}
}

// checkOrder fails unless every module comes after all its dependencies.
func checkOrder(t *testing.T, mods []Module) {
	t.Helper()
	seen := map[string]bool{}
	for _, m := range mods {
		for _, d := range m.Depends {
			if !seen[d] {
				t.Errorf("%s comes before its dependency %s", m.Name, d)
			}
		}
		seen[m.Name] = true
	}
}

// A built-in module is neither loaded nor listed as a dependency.
func TestResolveBuiltin(t *testing.T) {
	t.Parallel()
	dir := moduleTree(t, map[string][]byte{
		"drivers/char/hw_random/virtio-rng.ko": mod(t, "virtio_rng", "virtio,virtio_ring,rng_core"),
		"drivers/virtio/virtio.ko":             mod(t, "virtio", "virtio_ring"),
	}, "kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/char/hw_random/rng-core.ko")
	mods, err := Resolve(dir, "virtio_rng", "virtio_ring")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(mods); !slices.Equal(got, []string{"virtio", "virtio_rng"}) {
		t.Fatalf("modules %v", got)
	}
	if deps := mods[1].Depends; !slices.Equal(deps, []string{"virtio"}) {
		t.Fatalf("virtio_rng depends on %v, want the non-built-in virtio only", deps)
	}
}

func TestResolveErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"missing dependency", map[string][]byte{"a.ko": mod(t, "a", "b")}, "b (a needs b)"},
		{"cycle", map[string][]byte{"a.ko": mod(t, "a", "b"), "b.ko": mod(t, "b", "a")}, "cycle: a -> b -> a"},
		{"other kernel", map[string][]byte{"a.ko": fakeModule(t, "name=a", "vermagic=6.1.0-1-amd64 SMP")}, `built for "6.1.0-1-amd64"`},
		{"other name", map[string][]byte{"a.ko": mod(t, "b", "")}, `calls itself "b"`},
		{"not ELF", map[string][]byte{"a.ko": []byte("junk")}, "a.ko"},
		{"truncated", map[string][]byte{"a.ko": fakeModule(t, "name=a")[:64]}, "a.ko"},
		{"no modinfo", map[string][]byte{"a.ko": bytes.Replace(fakeModule(t, "name=a"), []byte(".modinfo"), []byte(".notinfo"), 1)}, "no .modinfo section"},
		{"duplicate", map[string][]byte{"x/a.ko": mod(t, "a", ""), "y/a.ko.xz": mod(t, "a", "")}, "both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Resolve(moduleTree(t, tt.files), "a")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// Compressed modules are unpacked on the host: the guest gets plain ELF.
func TestResolveCompressed(t *testing.T) {
	t.Parallel()
	plain := mod(t, "virtio_blk", "")
	var gz, x bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	xw, err := xz.NewWriter(&x)
	if err != nil {
		t.Fatal(err)
	}
	xw.Write(plain)
	xw.Close()
	for suffix, data := range map[string][]byte{".ko.gz": gz.Bytes(), ".ko.xz": x.Bytes()} {
		dir := moduleTree(t, map[string][]byte{"virtio_blk" + suffix: data})
		mods, err := Resolve(dir, "virtio_blk")
		if err != nil {
			t.Fatalf("%s: %v", suffix, err)
		}
		if !bytes.Equal(mods[0].Data, plain) {
			t.Errorf("%s: data differs from the uncompressed module", suffix)
		}
	}
}

// The modules the hardware-KVM tests load, from the Debian package that
// GLUE_TEST_KERNEL points into.
func TestResolveDebian(t *testing.T) {
	t.Parallel()
	dir, err := ModulesDir(hosttest.Kernel(t))
	if err != nil {
		hosttest.Skip(t, hosttest.ReasonKernel, err.Error())
	}
	mods, err := Resolve(dir, "virtio_mmio", "virtio_blk", "virtio_net", "virtio_rng", "virtio_console")
	if err != nil {
		t.Fatal(err)
	}
	checkOrder(t, mods)
	for _, want := range []string{"virtio_ring", "virtio", "virtio_mmio", "virtio_net", "virtio_console"} {
		if !slices.Contains(names(mods), want) {
			t.Errorf("%s missing from %v", want, names(mods))
		}
	}
	t.Logf("%s: %v", dir, names(mods))
}
