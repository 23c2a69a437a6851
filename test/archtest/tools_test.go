package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestToolsGoThroughHosttest keeps every lookup of a host program in the
// module's tests and test helpers going through hosttest.LookPath, so that
// a missing tool is a skip with the reason "tool:NAME" (a failure under
// GLUE_REQUIRE_KVM=1), never a bare t.Fatalf that reads like a glue bug:
// no exec.LookPath outside test/hosttest, and no exec.Command naming a
// program by a literal that the file does not look up with hosttest.LookPath
// ("go", which runs the tests, and "/proc/self/exe", the program itself,
// are the exceptions).
func TestToolsGoThroughHosttest(t *testing.T) {
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
		if !isTestSource(rel) || strings.HasPrefix(rel, "test/hosttest/") {
			continue
		}
		n++
		for _, problem := range toolMisuses(t, filepath.Join(root, rel), nil) {
			t.Errorf("%s:%s", rel, problem)
		}
	}
	if n < 10 {
		t.Fatalf("found only %d test files: wrong root?", n)
	}
}

// isTestSource reports whether the file at rel (slash-separated, relative
// to the module root) is a test or part of a test helper package
// (kvm/kvmtest, loader/loadertest, ...).
func isTestSource(rel string) bool {
	if !strings.HasSuffix(rel, ".go") {
		return false
	}
	return strings.HasSuffix(rel, "_test.go") || strings.HasSuffix(filepath.Base(filepath.Dir(rel)), "test")
}

// The check finds what it is for, and accepts what the rule allows.
func TestToolMisusesFindsThem(t *testing.T) {
	t.Parallel()
	src := `package p
import ("os"; "os/exec"; "testing")
func TestA(t *testing.T) { p, err := exec.LookPath("ping"); _, _ = p, err }
func TestB(t *testing.T) { exec.Command("strace", "-f").Run() }
func TestC(t *testing.T) { exec.CommandContext(ctx, "qemu-img", "info").Run() }
func TestD(t *testing.T) { hosttest.LookPath(t, "ip"); exec.Command("ip", "link").Run() }
func TestE(t *testing.T) { exec.Command(hosttest.LookPath(t, "xz"), "-d").Run() }
func TestF(t *testing.T) { exec.Command("go", "build").Run(); exec.Command(os.Args[0]).Run(); exec.Command("/proc/self/exe").Run() }
`
	got := toolMisuses(t, "p_test.go", src)
	want := []string{
		`3: exec.LookPath("ping"): use hosttest.LookPath, which skips (or fails under GLUE_REQUIRE_KVM=1) with the reason "tool:NAME"`,
		`4: exec.Command runs "strace", which this file never looks up with hosttest.LookPath: a missing tool must be a skip by the rule, not a failure`,
		`5: exec.CommandContext runs "qemu-img", which this file never looks up with hosttest.LookPath: a missing tool must be a skip by the rule, not a failure`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// toolMisuses returns "line: problem" for each lookup of a host program in
// the file (src, or read from path if src is nil) that bypasses
// hosttest.LookPath.
func toolMisuses(t *testing.T, path string, src any) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	lookedUp := map[string]bool{}
	type run struct {
		line     int
		fn, tool string
	}
	var runs []run
	var problems []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		pkg, fn := selector(call.Fun)
		line := fset.Position(call.Pos()).Line
		switch {
		case pkg == "hosttest" && fn == "LookPath" && len(call.Args) == 2:
			if name, ok := stringLit(call.Args[1]); ok {
				lookedUp[name] = true
			}
		case pkg == "exec" && fn == "LookPath":
			problems = append(problems, strconv.Itoa(line)+": exec.LookPath("+types.ExprString(call.Args[0])+
				`): use hosttest.LookPath, which skips (or fails under GLUE_REQUIRE_KVM=1) with the reason "tool:NAME"`)
		case pkg == "exec" && (fn == "Command" || fn == "CommandContext"):
			arg := 0
			if fn == "CommandContext" {
				arg = 1
			}
			if len(call.Args) > arg {
				if name, ok := stringLit(call.Args[arg]); ok && name != "go" && name != "/proc/self/exe" {
					runs = append(runs, run{line, fn, name})
				}
			}
		}
		return true
	})
	for _, r := range runs {
		if !lookedUp[r.tool] {
			problems = append(problems, strconv.Itoa(r.line)+": exec."+r.fn+" runs "+strconv.Quote(r.tool)+
				", which this file never looks up with hosttest.LookPath: a missing tool must be a skip by the rule, not a failure")
		}
	}
	return problems
}

// selector returns pkg and name of a call to pkg.name.
func selector(e ast.Expr) (pkg, name string) {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return "", ""
	}
	id, ok := sel.X.(*ast.Ident)
	if !ok {
		return "", ""
	}
	return id.Name, sel.Sel.Name
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}
