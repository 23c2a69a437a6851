package archtest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// cgoImports are the packages that link cgo into a program built where a
// C compiler is installed (CGO_ENABLED's default): net (its resolver),
// os/user (getpwnam_r), runtime/cgo itself, and "C" (a package's own C). glue uses
// golang.org/x/sys/unix for what it needs of them (internal/unixsock,
// tap.Exists, jail's user database), so that a plain `go build` or `go
// install` gives a static binary that can be confined.
var cgoImports = []string{"net", "os/user", "runtime/cgo", "C"}

// TestGlueLinksNoCgo asks the go command, in the default environment,
// which packages cmd/glue links (build tags evaluated, the standard library
// and third-party modules included, which the allow-list does not see),
// and fails for each import of a cgoImports package, naming the import
// chain from cmd/glue that brings it in.
func TestGlueLinksNoCgo(t *testing.T) {
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
	for _, problem := range cgoChains(root, imports) {
		t.Error(problem)
	}
}

// cgoChains walks the import graph breadth-first from root, so that each
// package's chain is a shortest one, and describes every import of a
// cgoImports package; it does not walk on from one (net's own "C" is
// net's problem).
func cgoChains(root string, imports map[string][]string) []string {
	via := map[string]string{root: ""} // package → the package that first imports it
	queue := []string{root}
	var problems []string
	for len(queue) > 0 {
		pkg := queue[0]
		queue = queue[1:]
		for _, imp := range imports[pkg] {
			if slices.Contains(cgoImports, imp) {
				chain := []string{imp}
				for p := pkg; p != ""; p = via[p] {
					chain = append(chain, p)
				}
				slices.Reverse(chain)
				problems = append(problems, "cmd/glue links cgo where a C compiler is installed: "+
					strings.Join(chain, " → ")+" (use golang.org/x/sys/unix instead of "+imp+")")
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

func TestCgoChains(t *testing.T) {
	t.Parallel()
	got := cgoChains("cmd", map[string][]string{
		"cmd":     {"a", "b"},
		"a":       {"b", "os/user"},
		"b":       {"deep"},
		"deep":    {"net"},
		"net":     {"C", "runtime/cgo"},
		"os/user": {"C"},
	})
	want := []string{
		"cmd/glue links cgo where a C compiler is installed: cmd → a → os/user (use golang.org/x/sys/unix instead of os/user)",
		"cmd/glue links cgo where a C compiler is installed: cmd → b → deep → net (use golang.org/x/sys/unix instead of net)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("cgoChains:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
