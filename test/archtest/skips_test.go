package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSkipsGoThroughHosttest keeps every skip in the module's tests going
// through test/hosttest, which fails it under GLUE_REQUIRE_KVM=1 unless
// GLUE_ALLOW_SKIP names its reason: a bare t.Skip would hide in CI. The
// one exception is a skip inside `if testing.Short()`, a mode the user
// asks for.
func TestSkipsGoThroughHosttest(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	files, err := moduleGoFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, rel := range files {
		if !strings.HasSuffix(rel, "_test.go") || strings.HasPrefix(rel, "test/hosttest/") {
			continue
		}
		n++
		for _, at := range bareSkips(t, filepath.Join(root, rel), nil) {
			t.Errorf("%s:%s: skips without hosttest.Skip (or LookPath, Root, Kernel), so GLUE_REQUIRE_KVM=1 cannot catch it", rel, at)
		}
	}
	if n < 10 {
		t.Fatalf("found only %d test files: wrong root?", n)
	}
}

// The check finds what it is for.
func TestBareSkipsFindsThem(t *testing.T) {
	t.Parallel()
	src := `package p
import "testing"
func TestA(t *testing.T) { t.Skip("no ping") }
func TestB(t *testing.T) { if x { t.Skipf("%v", 1) } }
func BenchmarkC(b *testing.B) { b.SkipNow() }
func TestD(t *testing.T) { if testing.Short() { t.Skip("long") } }
func TestE(t *testing.T) { hosttest.Skip(t, hosttest.ReasonRoot, "root") }
`
	got := bareSkips(t, "p_test.go", src)
	want := []string{"3", "4", "5"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("bare skips on lines %v, want %v", got, want)
	}
}

// bareSkips returns the lines of calls to a Skip, Skipf or SkipNow method
// in the file (src, or read from path if src is nil), except hosttest's
// and those inside `if testing.Short()`.
func bareSkips(t *testing.T, path string, src any) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var visit func(n ast.Node) bool
	visit = func(n ast.Node) bool {
		if ifs, ok := n.(*ast.IfStmt); ok && isTestingShort(ifs.Cond) {
			if ifs.Else != nil {
				ast.Inspect(ifs.Else, visit)
			}
			return false
		}
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		switch sel.Sel.Name {
		case "Skip", "Skipf", "SkipNow":
			if id, ok := sel.X.(*ast.Ident); !ok || id.Name != "hosttest" {
				lines = append(lines, strconv.Itoa(fset.Position(call.Pos()).Line))
			}
		}
		return true
	}
	ast.Inspect(f, visit)
	return lines
}

func isTestingShort(e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == "testing" && sel.Sel.Name == "Short"
}
