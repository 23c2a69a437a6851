package initramfs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Module is a loadable kernel module, read and decompressed on the host so
// that the guest's init hands the kernel a plain ELF object.
type Module struct {
	Name     string   // the kernel's name for it, with "_" for "-" (virtio_rng)
	Path     string   // the file it came from
	Depends  []string // modules it needs loaded first, built-in ones left out
	Vermagic string   // the kernel release and options it was built for
	Data     []byte   // the ELF object
}

// Resolve finds the named modules and every module they depend on in dir,
// a kernel's module directory (lib/modules/RELEASE), and returns them so
// that each comes after its dependencies. Modules built into the kernel
// (listed in dir/modules.builtin) are left out: there is nothing to load.
//
// Dependencies come from each module's own .modinfo section ("depends="),
// not from modules.dep: that file is written by depmod when a kernel
// package is installed, and a package unpacked with dpkg -x has none.
// Every module's vermagic must name dir's release, as the kernel will
// refuse one that does not.
func Resolve(dir string, names ...string) ([]Module, error) {
	release := filepath.Base(dir)
	builtin, err := readBuiltin(filepath.Join(dir, "modules.builtin"))
	if err != nil {
		return nil, err
	}
	files, err := indexModules(dir)
	if err != nil {
		return nil, err
	}
	r := resolver{files: files, builtin: builtin, release: release, state: map[string]int{}}
	for _, name := range names {
		if err := r.visit(normalize(name), nil); err != nil {
			return nil, err
		}
	}
	return r.order, nil
}

// normalize spells a module name as the kernel does; file names and
// command lines may use "-" where the kernel uses "_".
func normalize(name string) string { return strings.ReplaceAll(name, "-", "_") }

type resolver struct {
	files   map[string]string // module name -> path
	builtin map[string]bool
	release string
	state   map[string]int // 1: being visited, 2: done
	order   []Module
}

// visit appends name after its dependencies, depth first; chain is the
// path of dependencies that led here, for the error messages.
func (r *resolver) visit(name string, chain []string) error {
	chain = append(chain, name)
	switch {
	case r.state[name] == 2 || r.builtin[name]:
		return nil
	case r.state[name] == 1:
		return fmt.Errorf("initramfs: module dependency cycle: %s", strings.Join(chain, " -> "))
	}
	path, ok := r.files[name]
	if !ok {
		return fmt.Errorf("initramfs: module %s (%s) is neither a file nor built into the kernel",
			name, strings.Join(chain, " needs "))
	}
	r.state[name] = 1
	m, err := ReadModule(path)
	if err != nil {
		return err
	}
	if release, _, _ := strings.Cut(m.Vermagic, " "); release != r.release {
		return fmt.Errorf("initramfs: %s was built for %q, not %s", path, release, r.release)
	}
	if m.Name != name {
		return fmt.Errorf("initramfs: %s calls itself %q, not %s", path, m.Name, name)
	}
	var deps []string
	for _, d := range m.Depends {
		if err := r.visit(d, chain); err != nil {
			return err
		}
		if !r.builtin[d] {
			deps = append(deps, d)
		}
	}
	m.Depends = deps
	r.state[name] = 2
	r.order = append(r.order, m)
	return nil
}

// moduleSuffixes are the file names of modules, plain or compressed as
// kbuild's CONFIG_MODULE_COMPRESS_* leaves them.
var moduleSuffixes = []string{".ko", ".ko.gz", ".ko.xz", ".ko.zst"}

func moduleName(file string) (string, bool) {
	for _, s := range moduleSuffixes {
		if name, ok := strings.CutSuffix(file, s); ok {
			return normalize(name), true
		}
	}
	return "", false
}

// indexModules maps every module file under dir to its name.
func indexModules(dir string) (map[string]string, error) {
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name, ok := moduleName(d.Name()); ok && d.Type().IsRegular() {
			if prev, dup := files[name]; dup {
				return fmt.Errorf("initramfs: module %s is both %s and %s", name, prev, path)
			}
			files[name] = path
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("initramfs: index modules: %w", err)
	}
	return files, nil
}

// readBuiltin reads modules.builtin (one kernel/.../NAME.ko a line); a
// missing file means nothing is known to be built in.
func readBuiltin(path string) (map[string]bool, error) {
	builtin := map[string]bool{}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return builtin, nil
	}
	if err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if name, ok := moduleName(filepath.Base(strings.TrimSpace(s.Text()))); ok {
			builtin[name] = true
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("initramfs: %s: %w", path, err)
	}
	return builtin, nil
}

// ReadModule reads a module file, decompressing it by its suffix, and its
// .modinfo section.
func ReadModule(path string) (Module, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Module{}, fmt.Errorf("initramfs: %w", err)
	}
	if data, err = decompress(path, data); err != nil {
		return Module{}, fmt.Errorf("initramfs: %s: %w", path, err)
	}
	info, err := modinfo(data)
	if err != nil {
		return Module{}, fmt.Errorf("initramfs: %s: %w", path, err)
	}
	base, _ := moduleName(filepath.Base(path))
	m := Module{Name: info["name"], Path: path, Vermagic: info["vermagic"], Data: data}
	if m.Name == "" {
		m.Name = base // kernels before 5.x wrote no name= for most modules
	}
	if deps := info["depends"]; deps != "" {
		for _, d := range strings.Split(deps, ",") {
			m.Depends = append(m.Depends, normalize(d))
		}
	}
	return m, nil
}

func decompress(path string, data []byte) ([]byte, error) {
	var r io.Reader
	switch {
	case strings.HasSuffix(path, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		r = zr
	case strings.HasSuffix(path, ".xz"):
		xr, err := xz.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		r = xr
	case strings.HasSuffix(path, ".zst"):
		zr, err := zstd.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	default:
		return data, nil
	}
	return io.ReadAll(r)
}

// modinfo parses a module's .modinfo section: NUL-separated key=value
// strings. A repeated key (alias=, parm=) keeps its last value; only
// single-valued keys are used here.
func modinfo(object []byte) (map[string]string, error) {
	f, err := elf.NewFile(bytes.NewReader(object))
	if err != nil {
		return nil, err
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, errors.New("no .modinfo section: not a kernel module")
	}
	raw, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf(".modinfo: %w", err)
	}
	info := map[string]string{}
	for _, kv := range bytes.Split(raw, []byte{0}) {
		if k, v, ok := bytes.Cut(kv, []byte("=")); ok {
			info[string(k)] = string(v)
		}
	}
	return info, nil
}
