package archtest

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

const glue = "github.com/gluevmm/glue/"

// TestCheckReportsInjectedEdges injects one change into the module's real
// graph or into the real allow-list and checks that the checker reports
// exactly it, with the message that says what to do.
func TestCheckReportsInjectedEdges(t *testing.T) {
	t.Parallel()
	real := loadModule(t)
	tests := []struct {
		name   string
		inject func(g graph, rules []rule) []rule
		want   []string
	}{{
		name:   "a new edge the design allows must be added to the table",
		inject: addCode("rtc", glue+"guestmem"),
		want:   []string{`rtc/injected.go:1: imports "github.com/gluevmm/glue/guestmem", which the allow-list does not allow: if the edge is meant, add "guestmem" to imports of {pkg: "rtc"} in test/archtest/allowlist_test.go`},
	}, {
		name:   "a new third-party import must be added to the table",
		inject: addCode("x86", "github.com/spf13/cobra"),
		want:   []string{`x86/injected.go:1: imports "github.com/spf13/cobra", which the allow-list does not allow: if the edge is meant, add "github.com/spf13/cobra" to imports of {pkg: "x86"} in test/archtest/allowlist_test.go`},
	}, {
		name:   "a new test-only edge goes to tests",
		inject: addTest("rtc", glue+"virtio/virtiotest"),
		want:   []string{`rtc/injected_test.go:1: imports "github.com/gluevmm/glue/virtio/virtiotest", which the allow-list does not allow: if the edge is meant, add "virtio/virtiotest" to tests of {pkg: "rtc"} in test/archtest/allowlist_test.go`},
	}, {
		name:   "a device package imports kvm",
		inject: addCode("virtio/blk", glue+"kvm"),
		want:   []string{`virtio/blk/injected.go:1: imports "github.com/gluevmm/glue/kvm", which the design forbids: device packages never import kvm, vcpu, eventloop or vmm`},
	}, {
		name:   "a device package's test imports the event loop",
		inject: addTest("virtio/rng", glue+"eventloop"),
		want:   []string{`virtio/rng/injected_test.go:1: imports "github.com/gluevmm/glue/eventloop", which the design forbids: device packages never import kvm, vcpu, eventloop or vmm`},
	}, {
		name:   "the virtio core imports a transport",
		inject: addCode("virtio", glue+"virtio/transport/mmio"),
		want:   []string{`virtio/injected.go:1: imports "github.com/gluevmm/glue/virtio/transport/mmio", which the design forbids: virtio never imports a transport or a device`},
	}, {
		name:   "control imports vmm",
		inject: addCode("control", glue+"vmm"),
		want:   []string{`control/injected.go:1: imports "github.com/gluevmm/glue/vmm", which the design forbids: only cmd/glue imports vmm (control defines Target, which *vmm.VM satisfies)`},
	}, {
		name:   "a test imports cmd/glue",
		inject: addTest("test/integration", glue+"cmd/glue"),
		want:   []string{`test/integration/injected_test.go:1: imports "github.com/gluevmm/glue/cmd/glue", which the design forbids: nothing imports cmd/glue`},
	}, {
		name:   "a leaf imports a module package",
		inject: addCode("bus", glue+"guestmem"),
		want:   []string{`bus/injected.go:1: imports "github.com/gluevmm/glue/guestmem", which the design forbids: kvm, guestmem, bus, serial, i8042, pci, tap import only the standard library and golang.org/x/sys`},
	}, {
		name:   "package code imports a test helper",
		inject: addCode("x86", glue+"kvm/kvmtest"),
		want:   []string{`x86/injected.go:1: imports "github.com/gluevmm/glue/kvm/kvmtest", which the design forbids: only tests and other test helpers import a test helper (it links package testing)`},
	}, {
		name:   "unsafe outside an *_unsafe.go file",
		inject: addCode("guestmem", "unsafe"),
		want:   []string{`guestmem/injected.go:1: imports unsafe: only files named *_unsafe.go may, so a reviewer knows where to look`},
	}, {
		name:   "cgo in package code",
		inject: addCode("kvm", "C"),
		want:   []string{`kvm/injected.go:1: imports "C": glue builds with CGO_ENABLED=0; cgo belongs only in //go:build ignore files (cgo -godefs input)`},
	}, {
		name: "a generator imports a module package",
		inject: func(g graph, rules []rule) []rule {
			g.pkgs["kvm"].generators = append(g.pkgs["kvm"].generators, imp{glue + "guestmem", "kvm/gen.go:1"})
			return rules
		},
		want: []string{`kvm/gen.go:1: a //go:build ignore file imports "github.com/gluevmm/glue/guestmem": generators and cgo -godefs input use only the standard library`},
	}, {
		name:   "package code that imports testing is a test helper",
		inject: addCode("vcpu", "testing"),
		want:   []string{`package "vcpu" imports "testing" outside its tests: mark it a test helper, {pkg: "vcpu", helper: true, ...} in test/archtest/allowlist_test.go, so that only tests may import it`},
	}, {
		name: "a new package without a line",
		inject: func(g graph, rules []rule) []rule {
			g.pkgs["pci"] = &pkgFiles{} // as if pci were new
			addCode("pci", "golang.org/x/sys/unix")(g, rules)
			addTest("pci", glue+"bus")(g, rules)
			addTest("pci", glue+"pci")(g, rules)
			return slices.DeleteFunc(rules, func(r rule) bool { return r.pkg == "pci" })
		},
		want: []string{`package "pci" has no line in the allow-list: add {pkg: "pci", imports: "golang.org/x/sys/unix", tests: "bus"}, to allowList in test/archtest/allowlist_test.go`},
	}, {
		name: "a new package with a forbidden edge",
		inject: func(g graph, rules []rule) []rule {
			g.pkgs["pci"] = &pkgFiles{} // as if pci were new
			addCode("pci", glue+"virtio")(g, rules)
			return slices.DeleteFunc(rules, func(r rule) bool { return r.pkg == "pci" })
		},
		want: []string{
			`package "pci" has no line in the allow-list: add {pkg: "pci"}, to allowList in test/archtest/allowlist_test.go`,
			`pci/injected.go:1: imports "github.com/gluevmm/glue/virtio", which the design forbids: pci never imports virtio`,
		},
	}, {
		name: "a package dropped from the table",
		inject: func(g graph, rules []rule) []rule {
			return slices.DeleteFunc(rules, func(r rule) bool { return r.pkg == "loader/loadertest" })
		},
		want: []string{`package "loader/loadertest" has no line in the allow-list: add {pkg: "loader/loadertest", helper: true, imports: "loader/internal/bcj github.com/klauspost/compress/zstd github.com/pierrec/lz4/v4 github.com/ulikunitz/xz/lzma"}, to allowList in test/archtest/allowlist_test.go`},
	}, {
		name: "the table allows an edge the design forbids",
		inject: func(g graph, rules []rule) []rule {
			addCode("serial", glue+"kvm")(g, rules)
			return setRule(rules, rule{pkg: "serial", imports: "kvm"})
		},
		want: []string{
			`test/archtest/allowlist_test.go: {pkg: "serial"} lists "kvm" in imports, which the design forbids (device packages never import kvm, vcpu, eventloop or vmm): remove it`,
		},
	}, {
		name: "the table lists an edge no file has",
		inject: func(g graph, rules []rule) []rule {
			return setRule(rules, rule{pkg: "rtc", imports: "guestmem", tests: "bus"})
		},
		want: []string{
			`test/archtest/allowlist_test.go: no file of "rtc" imports "guestmem": remove it from imports of {pkg: "rtc"}`,
			`test/archtest/allowlist_test.go: no test of "rtc" imports "bus": remove it from tests of {pkg: "rtc"}`,
		},
	}, {
		name: "the table lists a test-only edge as imports",
		inject: func(g graph, rules []rule) []rule {
			return setRule(rules, rule{pkg: "test/integration", imports: "control", tests: "kvm kvm/kvmtest test/hosttest test/initramfs test/procstat test/scenario x86 golang.org/x/sys/unix"})
		},
		want: []string{`test/archtest/allowlist_test.go: no non-test file of "test/integration" imports "control", only its tests: move it from imports to tests of {pkg: "test/integration"}`},
	}, {
		name: "the table names a package the module lacks",
		inject: func(g graph, rules []rule) []rule {
			return append(rules, rule{pkg: "nosuchpkg", imports: "os"})
		},
		want: []string{
			`test/archtest/allowlist_test.go: {pkg: "nosuchpkg"} names no package of the module: remove the line`,
			`test/archtest/allowlist_test.go: {pkg: "nosuchpkg"} lists "os" in imports, which is no package of the module (the standard library needs no entry): remove it`,
		},
	}, {
		name: "the table lists a package twice",
		inject: func(g graph, rules []rule) []rule {
			return append(rules, rule{pkg: "rtc"})
		},
		want: []string{`test/archtest/allowlist_test.go: {pkg: "rtc"} is listed twice: merge the lines`},
	}, {
		name: "the table lists an import again in tests",
		inject: func(g graph, rules []rule) []rule {
			return setRule(rules, rule{pkg: "guestmem", imports: "golang.org/x/sys/unix", tests: "golang.org/x/sys/unix"})
		},
		want: []string{
			`test/archtest/allowlist_test.go: {pkg: "guestmem"} lists "golang.org/x/sys/unix" in both imports and tests: remove it from tests`,
			`test/archtest/allowlist_test.go: no test of "guestmem" imports "golang.org/x/sys/unix": remove it from tests of {pkg: "guestmem"}`,
		},
	}, {
		name: "the table marks a package that does not import testing as a helper",
		inject: func(g graph, rules []rule) []rule {
			return setRule(rules, rule{pkg: "test/initramfs/init", imports: "golang.org/x/sys/unix", helper: true})
		},
		want: []string{`test/archtest/allowlist_test.go: {pkg: "test/initramfs/init"} is marked helper but does not import "testing": remove helper: true`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := clone(real)
			rules := tt.inject(g, slices.Clone(allowList))
			got := check(g, rules)
			if !slices.Equal(got, tt.want) {
				t.Errorf("check reported\n\t%q\nwant\n\t%q", got, tt.want)
			}
		})
	}
}

// TestCheckFixtureModule runs loader and checker on the files of a small
// module in testdata, then again with a file that adds a forbidden edge.
func TestCheckFixtureModule(t *testing.T) {
	t.Parallel()
	rules := []rule{
		{pkg: "kvm", imports: "golang.org/x/sys/unix", tests: "kvm/kvmtest"},
		{pkg: "kvm/kvmtest", helper: true, imports: "kvm"},
		{pkg: "virtio"},
		{pkg: "virtio/blk", imports: "virtio"},
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/module")); err != nil {
		t.Fatal(err)
	}
	g, err := loadGraph(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := check(g, rules); len(got) != 0 {
		t.Fatalf("the fixture as committed: check reported %q, want nothing", got)
	}

	bad := "package blk\n\nimport _ \"example.com/fixture/kvm\"\n"
	if err := os.WriteFile(filepath.Join(dir, "virtio/blk/injected.go"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err = loadGraph(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`virtio/blk/injected.go:3: imports "example.com/fixture/kvm", which the design forbids: device packages never import kvm, vcpu, eventloop or vmm`}
	if got := check(g, rules); !slices.Equal(got, want) {
		t.Errorf("with a forbidden edge added: check reported\n\t%q\nwant\n\t%q", got, want)
	}
}

// loadedFiles is what TestLoadGraph compares: "file:line path" per import.
type loadedFiles struct{ code, tests, generators []string }

// TestLoadGraph checks which files the loader reads and how it sorts them:
// the fixture has one file of each kind and one of each kind to skip.
func TestLoadGraph(t *testing.T) {
	t.Parallel()
	g, err := loadGraph("testdata/module")
	if err != nil {
		t.Fatal(err)
	}
	if g.module != "example.com/fixture" {
		t.Errorf("module %q, want example.com/fixture", g.module)
	}
	lines := func(imps []imp) []string {
		var out []string
		for _, i := range imps {
			out = append(out, i.pos+" "+i.path)
		}
		return out
	}
	got := map[string]loadedFiles{}
	for dir, p := range g.pkgs {
		got[dir] = loadedFiles{lines(p.code), lines(p.tests), lines(p.generators)}
	}
	want := map[string]loadedFiles{
		"kvm": {
			code:       []string{"kvm/kvm.go:4 os", "kvm/kvm.go:6 golang.org/x/sys/unix"},
			tests:      []string{"kvm/kvm_test.go:4 testing", "kvm/kvm_test.go:6 example.com/fixture/kvm", "kvm/kvm_test.go:7 example.com/fixture/kvm/kvmtest"},
			generators: []string{"kvm/gen.go:6 C"},
		},
		"kvm/kvmtest": {code: []string{"kvm/kvmtest/kvmtest.go:4 testing", "kvm/kvmtest/kvmtest.go:6 example.com/fixture/kvm"}},
		"virtio":      {},
		"virtio/blk":  {code: []string{"virtio/blk/blk.go:3 example.com/fixture/virtio"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("loaded\n\t%+v\nwant\n\t%+v", got, want)
	}
}

// TestForbidden covers each design rule from both sides: an edge it
// forbids, and the nearest edge it allows.
func TestForbidden(t *testing.T) {
	t.Parallel()
	isHelper := func(pkg string) bool { return pkg == "kvm/kvmtest" || pkg == "virtio/virtiotest" || pkg == "testenv" }
	tests := []struct {
		e        edge
		reported bool
	}{
		{edge{"cmd/glue", "vmm", false}, false},
		{edge{"vmm", "vmm", true}, false},
		{edge{"control", "vmm", false}, true},
		{edge{"test/integration", "vmm", true}, true},
		{edge{"vmm", "cmd/glue", false}, true},
		{edge{"rtc", "eventloop", false}, true},
		{edge{"virtio/transport/pci", "kvm", false}, true},
		{edge{"pci", "vcpu", true}, true},
		{edge{"serial", "vmm", true}, true},
		{edge{"vmm", "kvm", false}, false},
		{edge{"virtio", "virtio/blk", false}, true},
		{edge{"virtio", "virtio/transport/mmio", true}, true},
		{edge{"virtio", "virtio/virtiotest", true}, false},
		{edge{"virtio/blk", "virtio", false}, false},
		{edge{"pci", "virtio", false}, true},
		{edge{"pci/msix", "virtio/blk", false}, true},
		{edge{"virtio/transport/pci", "pci", false}, false},
		{edge{"tap", "eventloop", false}, true},
		{edge{"tap", "eventloop", true}, false},
		{edge{"guestmem", "golang.org/x/sys/unix", false}, false},
		{edge{"i8042", "golang.org/x/term", false}, true},
		{edge{"x86", "kvm/kvmtest", false}, true},
		{edge{"x86", "kvm/kvmtest", true}, false},
		{edge{"kvm/kvmtest", "testenv", false}, false},
	}
	for _, tt := range tests {
		if why := forbidden(tt.e, isHelper); (why != "") != tt.reported {
			t.Errorf("forbidden(%+v) = %q, want reported=%v", tt.e, why, tt.reported)
		}
	}
}

// addCode and addTest return an injection of one import into a new file of
// pkg.
func addCode(pkg, path string) func(graph, []rule) []rule {
	return func(g graph, rules []rule) []rule {
		p := g.pkgs[pkg]
		p.code = append(p.code, imp{path, pkg + "/injected.go:1"})
		return rules
	}
}

func addTest(pkg, path string) func(graph, []rule) []rule {
	return func(g graph, rules []rule) []rule {
		p := g.pkgs[pkg]
		p.tests = append(p.tests, imp{path, pkg + "/injected_test.go:1"})
		return rules
	}
}

// setRule replaces pkg's line.
func setRule(rules []rule, r rule) []rule {
	for i := range rules {
		if rules[i].pkg == r.pkg {
			rules[i] = r
		}
	}
	return rules
}

func clone(g graph) graph {
	c := graph{module: g.module, pkgs: map[string]*pkgFiles{}}
	for dir, p := range g.pkgs {
		c.pkgs[dir] = &pkgFiles{
			code:       slices.Clone(p.code),
			tests:      slices.Clone(p.tests),
			generators: slices.Clone(p.generators),
		}
	}
	return c
}
