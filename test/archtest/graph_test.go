package archtest

import (
	"fmt"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// An imp is one import declaration.
type imp struct {
	path string // as written: "github.com/gluevmm/glue/kvm", "unsafe"
	pos  string // file:line, relative to the module root
}

// pkgFiles is what one package directory imports, file kind by file kind.
type pkgFiles struct {
	code       []imp // non-test files of the package
	tests      []imp // its _test.go files, internal and external
	generators []imp // files built only with the tag "ignore": go:generate programs and cgo -godefs input
}

// graph is the module's import graph, keyed by package directory ("." for
// the module root).
type graph struct {
	module string
	pkgs   map[string]*pkgFiles
}

// loadGraph parses every Go file of the module at root (moduleGoFiles).
// Build tags are not evaluated, so the graph holds every build variant's
// imports.
func loadGraph(root string) (graph, error) {
	module, err := modulePath(filepath.Join(root, "go.mod"))
	if err != nil {
		return graph{}, err
	}
	g := graph{module: module, pkgs: map[string]*pkgFiles{}}
	files, err := moduleGoFiles(root)
	for _, rel := range files {
		if err == nil {
			err = g.addFile(filepath.Join(root, rel), rel)
		}
	}
	if err != nil {
		return graph{}, fmt.Errorf("load import graph of %s: %w", root, err)
	}
	return g, nil
}

// moduleGoFiles returns the Go files under root, the directory of a go.mod,
// slash-separated and relative to it, selected the way the go command
// selects them: it skips testdata, names starting with "." or "_", and
// nested modules.
func moduleGoFiles(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if path != root && (name == "testdata" || fileExists(filepath.Join(path, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	return files, err
}

func (g graph) addFile(path, rel string) error {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly|parser.ParseComments)
	if err != nil {
		return err
	}
	dir := filepath.ToSlash(filepath.Dir(rel))
	p := g.pkgs[dir]
	if p == nil {
		p = &pkgFiles{}
		g.pkgs[dir] = p
	}
	var imps []imp
	for _, spec := range f.Imports {
		ip, err := strconv.Unquote(spec.Path.Value)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		imps = append(imps, imp{path: ip, pos: fmt.Sprintf("%s:%d", rel, fset.Position(spec.Pos()).Line)})
	}
	switch {
	case isGenerator(f.Comments, f.Package):
		p.generators = append(p.generators, imps...)
	case strings.HasSuffix(rel, "_test.go"):
		p.tests = append(p.tests, imps...)
	default:
		p.code = append(p.code, imps...)
	}
	return nil
}

// isGenerator reports whether a file's build constraint is "ignore": it is
// never part of its package, only run or read by go:generate.
func isGenerator(comments []*ast.CommentGroup, pkgPos token.Pos) bool {
	for _, cg := range comments {
		if cg.Pos() >= pkgPos {
			break
		}
		for _, c := range cg.List {
			if constraint.IsGoBuild(c.Text) {
				expr, err := constraint.Parse(c.Text)
				return err == nil && expr.String() == "ignore"
			}
		}
	}
	return false
}

// name returns how the allow-list writes an import path: a module package
// by its directory, anything else unchanged.
func (g graph) name(importPath string) string {
	if importPath == g.module {
		return "."
	}
	if rest, ok := strings.CutPrefix(importPath, g.module+"/"); ok {
		return rest
	}
	return importPath
}

// isStd reports whether an import path is the standard library's, "C"
// included: its first element has no dot (the module's path, like every
// third-party one, starts with a domain name).
func isStd(importPath string) bool {
	first, _, _ := strings.Cut(importPath, "/")
	return !strings.Contains(first, ".")
}

// importsTesting reports whether the package's code (not its tests) links
// package testing, which makes it a test helper.
func (p *pkgFiles) importsTesting() bool {
	return slices.ContainsFunc(p.code, func(i imp) bool { return i.path == "testing" })
}

func modulePath(gomod string) (string, error) {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", fmt.Errorf("%s: no module line", gomod)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
