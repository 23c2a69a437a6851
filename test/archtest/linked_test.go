package archtest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// unwanted is a package cmd/glue must not link, and why.
type unwanted struct {
	pkg    string // an import path; "crypto/..." matches crypto and every package under it, as in go list
	reason string // what to do instead, for the failure message
}

// unwantedImports: the packages that link cgo into a program built where a
// C compiler is installed (CGO_ENABLED's default) — net (its resolver),
// os/user (getpwnam_r), runtime/cgo itself and "C" (a package's own C) —
// and the standard library's crypto. glue uses golang.org/x/sys/unix for
// what it needs of the first (internal/unixsock, tap.Exists, jail's user
// database), so that a plain `go build` or `go install` gives a static
// binary that can be confined. Any crypto package links the FIPS 140
// module with its package inits, ~0.25 MiB more of the binary resident in
// every VM process (docs/performance.md); internal/hostrandom and
// internal/sha256 cover what glue needs.
var unwantedImports = []unwanted{
	{"net", "links cgo where a C compiler is installed; use golang.org/x/sys/unix"},
	{"os/user", "links cgo where a C compiler is installed; use golang.org/x/sys/unix"},
	{"runtime/cgo", "links cgo"},
	{"C", "links cgo"},
	{"crypto/...", "links the FIPS 140 module into every VM; use internal/hostrandom or internal/sha256"},
}

// TestGlueLinksNothingUnwanted asks the go command, in the default
// environment, which packages cmd/glue links (build tags evaluated, the
// standard library and third-party modules included, which the allow-list
// does not see), and fails for each import of an unwantedImports package,
// naming the import chain from cmd/glue that brings it in.
func TestGlueLinksNothingUnwanted(t *testing.T) {
	t.Parallel()
	const root = "github.com/gluevmm/glue/cmd/glue"
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", root)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr(err))
	}
	imports := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) > 0 {
			imports[fields[0]] = fields[1:]
		}
	}
	if len(imports[root]) == 0 {
		t.Fatalf("go list gave no imports for %s:\n%s", root, out)
	}
	for _, problem := range unwantedChains(root, imports, unwantedImports) {
		t.Error(problem)
	}
}

// match returns the rule imp breaks, if any.
func match(imp string, rules []unwanted) (unwanted, bool) {
	for _, r := range rules {
		if prefix, ok := strings.CutSuffix(r.pkg, "/..."); ok && (imp == prefix || strings.HasPrefix(imp, prefix+"/")) || imp == r.pkg {
			return r, true
		}
	}
	return unwanted{}, false
}

// unwantedChains walks the import graph breadth-first from root, so that
// each package's chain is a shortest one, and describes every import of
// an unwanted package; it does not walk on from one (net's own "C" is
// net's problem).
func unwantedChains(root string, imports map[string][]string, rules []unwanted) []string {
	via := map[string]string{root: ""} // package → the package that first imports it
	queue := []string{root}
	var problems []string
	for len(queue) > 0 {
		pkg := queue[0]
		queue = queue[1:]
		for _, imp := range imports[pkg] {
			if r, ok := match(imp, rules); ok {
				chain := []string{imp}
				for p := pkg; p != ""; p = via[p] {
					chain = append(chain, p)
				}
				slices.Reverse(chain)
				problems = append(problems, "cmd/glue links "+imp+": "+strings.Join(chain, " → ")+" ("+r.reason+")")
				continue
			}
			if _, seen := via[imp]; !seen {
				via[imp] = pkg
				queue = append(queue, imp)
			}
		}
	}
	return problems
}

// stderr returns what a failed command wrote to its standard error.
func stderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

func TestUnwantedChains(t *testing.T) {
	t.Parallel()
	got := unwantedChains("cmd", map[string][]string{
		"cmd":           {"a", "b", "cryptography"},
		"a":             {"b", "os/user"},
		"b":             {"deep", "crypto/sha256"},
		"deep":          {"net"},
		"net":           {"C", "runtime/cgo"},
		"os/user":       {"C"},
		"crypto/sha256": {"crypto/internal/x"},
		"cryptography":  {"net/netip"}, // neither is matched: not crypto/..., not net
	}, []unwanted{{"net", "N"}, {"os/user", "U"}, {"crypto/...", "K"}})
	want := []string{
		"cmd/glue links os/user: cmd → a → os/user (U)",
		"cmd/glue links crypto/sha256: cmd → b → crypto/sha256 (K)",
		"cmd/glue links net: cmd → b → deep → net (N)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("unwantedChains:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
