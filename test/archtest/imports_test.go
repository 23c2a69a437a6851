// Package archtest enforces the import-direction rules written down in
// docs/design.md by parsing every Go file in the module. It needs no build
// and runs in milliseconds.
package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/gluevmm/glue"

// goFile is one parsed file: its package directory relative to the module
// root and its imports.
type goFile struct {
	path    string // relative to the module root
	pkg     string // package directory, e.g. "virtio/blk"
	imports []string
	test    bool
}

func loadFiles(t *testing.T) []goFile {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var files []goFile
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		gf := goFile{path: rel, pkg: filepath.ToSlash(filepath.Dir(rel)), test: strings.HasSuffix(path, "_test.go")}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			gf.imports = append(gf.imports, p)
		}
		files = append(files, gf)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("found only %d Go files: wrong root?", len(files))
	}
	return files
}

// local returns the in-module package directory of an import path, or "".
func local(imp string) string {
	if imp == module {
		return "."
	}
	if rest, ok := strings.CutPrefix(imp, module+"/"); ok {
		return rest
	}
	return ""
}

func under(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

func isStdlib(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}

var devicePackages = []string{"serial", "i8042", "rtc", "virtio", "pci"}

// TestImportDirection checks, for package code (not tests), the rules of
// docs/design.md.
func TestImportDirection(t *testing.T) {
	t.Parallel()
	for _, f := range loadFiles(t) {
		if f.test {
			continue
		}
		for _, imp := range f.imports {
			dep := local(imp)
			if dep == "" {
				if leafOnly(f.pkg) && !isStdlib(imp) && imp != "golang.org/x/sys/unix" && !strings.HasPrefix(imp, "golang.org/x/sys/") {
					t.Errorf("%s imports %s: package %s may import only the standard library and golang.org/x/sys", f.path, imp, f.pkg)
				}
				continue
			}
			if (under(dep, "vmm") && !under(f.pkg, "cmd/glue")) || under(dep, "cmd") {
				t.Errorf("%s imports %s: only cmd/glue may import vmm, and nothing imports cmd/glue", f.path, imp)
			}
			if leafOnly(f.pkg) && !under(dep, f.pkg) {
				t.Errorf("%s imports %s: package %s may import only the standard library and golang.org/x/sys", f.path, imp, f.pkg)
			}
			for _, d := range devicePackages {
				if under(f.pkg, d) && (under(dep, "kvm") || under(dep, "vcpu") || under(dep, "eventloop")) {
					t.Errorf("%s imports %s: device packages must not import kvm, vcpu or eventloop", f.path, imp)
				}
			}
			if f.pkg == "virtio" && dep != "virtio" && under(dep, "virtio") {
				t.Errorf("%s imports %s: the virtio core must not import a transport or a device", f.path, imp)
			}
			if under(f.pkg, "pci") && under(dep, "virtio") {
				t.Errorf("%s imports %s: pci must not import virtio", f.path, imp)
			}
		}
	}
}

// leafOnly lists the packages that sit at the bottom of the graph.
func leafOnly(pkg string) bool {
	for _, p := range []string{"kvm", "guestmem", "bus", "serial", "i8042", "pci", "tap", "acpi", "acpi/aml"} {
		if pkg == p {
			return true
		}
	}
	return false
}

// TestUnsafeOnlyInUnsafeFiles keeps every use of package unsafe in files
// named *_unsafe.go, so a reviewer knows exactly where to look.
func TestUnsafeOnlyInUnsafeFiles(t *testing.T) {
	t.Parallel()
	for _, f := range loadFiles(t) {
		for _, imp := range f.imports {
			if imp == "unsafe" && !strings.HasSuffix(strings.TrimSuffix(f.path, "_test.go"), "_unsafe") && !strings.HasSuffix(f.path, "_unsafe.go") {
				t.Errorf("%s imports unsafe: only *_unsafe.go files may", f.path)
			}
		}
	}
}
