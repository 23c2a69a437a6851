package archtest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// tableFile is where the messages send a reader to change the allow-list.
const tableFile = "test/archtest/allowlist_test.go"

// allowed is one package's parsed rule.
type allowed struct {
	helper         bool
	imports, tests []string
}

// check compares the graph with the allow-list and the allow-list with the
// design rules. It returns one message per problem, each saying what to
// change; none means the graph is exactly the table.
func check(g graph, rules []rule) []string {
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	table := map[string]allowed{}
	for _, r := range rules {
		if _, dup := table[r.pkg]; dup {
			report("%s: {pkg: %q} is listed twice: merge the lines", tableFile, r.pkg)
		}
		table[r.pkg] = allowed{helper: r.helper, imports: strings.Fields(r.imports), tests: strings.Fields(r.tests)}
	}
	isHelper := func(pkg string) bool { return table[pkg].helper }

	for _, pkg := range slices.Sorted(maps.Keys(table)) {
		checkRule(g, pkg, table[pkg], isHelper, report)
	}
	for _, pkg := range slices.Sorted(maps.Keys(g.pkgs)) {
		p := g.pkgs[pkg]
		checkFiles(g, p, report)
		a, ok := table[pkg]
		if !ok {
			report("package %q has no line in the allow-list: add %s to allowList in %s", pkg, suggest(g, pkg, isHelper), tableFile)
			checkEdges(g, pkg, p.code, false, nil, false, isHelper, report)
			checkEdges(g, pkg, p.tests, true, nil, false, isHelper, report)
			continue
		}
		checkHelper(pkg, p, a.helper, report)
		checkEdges(g, pkg, p.code, false, a.imports, true, isHelper, report)
		checkEdges(g, pkg, p.tests, true, slices.Concat(a.imports, a.tests, []string{pkg}), true, isHelper, report)
		checkUnused(g, pkg, p, a, report)
	}
	return problems
}

// checkRule checks one line of the table on its own: every name it lists
// is a package of the module or a third-party import path, and no edge it
// allows breaks a design rule.
func checkRule(g graph, pkg string, a allowed, isHelper func(string) bool, report func(string, ...any)) {
	if _, ok := g.pkgs[pkg]; !ok {
		report("%s: {pkg: %q} names no package of the module: remove the line", tableFile, pkg)
	}
	for _, list := range []struct {
		field string
		names []string
		test  bool
	}{{"imports", a.imports, false}, {"tests", a.tests, true}} {
		for _, n := range list.names {
			if _, ok := g.pkgs[n]; !ok && !isThirdParty(n) {
				report("%s: {pkg: %q} lists %q in %s, which is no package of the module (the standard library needs no entry): remove it", tableFile, pkg, n, list.field)
			}
			if list.test && slices.Contains(a.imports, n) {
				report("%s: {pkg: %q} lists %q in both imports and tests: remove it from tests", tableFile, pkg, n)
			}
			if why := forbidden(edge{pkg, n, list.test}, isHelper); why != "" {
				report("%s: {pkg: %q} lists %q in %s, which the design forbids (%s): remove it", tableFile, pkg, n, list.field, why)
			}
		}
	}
}

// checkEdges reports each import of the module or a third party that ok
// does not list. A forbidden edge is reported as such; any other, if pkg
// has a line (listed), with the word to add to it.
func checkEdges(g graph, pkg string, imps []imp, test bool, ok []string, listed bool, isHelper func(string) bool, report func(string, ...any)) {
	field := "imports"
	if test {
		field = "tests"
	}
	for _, i := range imps {
		n := g.name(i.path)
		if isStd(i.path) || slices.Contains(ok, n) {
			continue
		}
		if why := forbidden(edge{pkg, n, test}, isHelper); why != "" {
			report("%s: imports %q, which the design forbids: %s", i.pos, i.path, why)
		} else if listed {
			report("%s: imports %q, which the allow-list does not allow: if the edge is meant, add %q to %s of {pkg: %q} in %s", i.pos, i.path, n, field, pkg, tableFile)
		}
	}
}

// checkFiles applies the file-level rules on the standard library.
func checkFiles(g graph, p *pkgFiles, report func(string, ...any)) {
	for _, i := range slices.Concat(p.code, p.tests, p.generators) {
		file, _, _ := strings.Cut(i.pos, ":")
		if i.path == "unsafe" && !strings.HasSuffix(file, "_unsafe.go") && !strings.HasSuffix(file, "_unsafe_test.go") {
			report("%s: imports unsafe: only files named *_unsafe.go may, so a reviewer knows where to look", i.pos)
		}
	}
	for _, i := range p.generators {
		if !isStd(i.path) {
			report("%s: a //go:build ignore file imports %q: generators and cgo -godefs input use only the standard library", i.pos, i.path)
		}
	}
	for _, i := range slices.Concat(p.code, p.tests) {
		if i.path == "C" {
			report("%s: imports \"C\": glue builds with CGO_ENABLED=0; cgo belongs only in //go:build ignore files (cgo -godefs input)", i.pos)
		}
	}
}

// checkHelper checks that the table marks exactly the packages whose
// non-test files import "testing" as test helpers.
func checkHelper(pkg string, p *pkgFiles, helper bool, report func(string, ...any)) {
	usesTesting := p.importsTesting()
	switch {
	case usesTesting && !helper:
		report("package %q imports \"testing\" outside its tests: mark it a test helper, {pkg: %q, helper: true, ...} in %s, so that only tests may import it", pkg, pkg, tableFile)
	case helper && !usesTesting:
		report("%s: {pkg: %q} is marked helper but does not import \"testing\": remove helper: true", tableFile, pkg)
	}
}

// checkUnused reports the table's words that no file needs any more, so the
// table stays an exact picture of the graph.
func checkUnused(g graph, pkg string, p *pkgFiles, a allowed, report func(string, ...any)) {
	used := func(imps []imp) map[string]bool {
		m := map[string]bool{}
		for _, i := range imps {
			m[g.name(i.path)] = true
		}
		return m
	}
	code, tests := used(p.code), used(p.tests)
	for _, n := range a.imports {
		switch {
		case code[n]:
		case tests[n]:
			report("%s: no non-test file of %q imports %q, only its tests: move it from imports to tests of {pkg: %q}", tableFile, pkg, n, pkg)
		default:
			report("%s: no file of %q imports %q: remove it from imports of {pkg: %q}", tableFile, pkg, n, pkg)
		}
	}
	for _, n := range a.tests {
		if !tests[n] {
			report("%s: no test of %q imports %q: remove it from tests of {pkg: %q}", tableFile, pkg, n, pkg)
		}
	}
}

// suggest writes the table line for a package that has none: what it
// imports today, less what the design forbids.
func suggest(g graph, pkg string, isHelper func(string) bool) string {
	p := g.pkgs[pkg]
	names := func(imps []imp, test bool, skip []string) []string {
		var out []string
		for _, i := range imps {
			n := g.name(i.path)
			if isStd(i.path) || n == pkg || slices.Contains(skip, n) || forbidden(edge{pkg, n, test}, isHelper) != "" {
				continue
			}
			out = append(out, n)
		}
		slices.SortFunc(out, func(a, b string) int {
			// Module packages first, then third-party ones, as in the table.
			if ta, tb := isThirdParty(a), isThirdParty(b); ta != tb {
				if ta {
					return 1
				}
				return -1
			}
			return strings.Compare(a, b)
		})
		return slices.Compact(out)
	}
	code := names(p.code, false, nil)
	tests := names(p.tests, true, code)
	s := fmt.Sprintf("{pkg: %q", pkg)
	if p.importsTesting() {
		s += ", helper: true"
	}
	if len(code) > 0 {
		s += fmt.Sprintf(", imports: %q", strings.Join(code, " "))
	}
	if len(tests) > 0 {
		s += fmt.Sprintf(", tests: %q", strings.Join(tests, " "))
	}
	return s + "},"
}

// isThirdParty reports whether an allow-list word is an import path outside
// the module, which always starts with a domain name.
func isThirdParty(name string) bool {
	first, _, _ := strings.Cut(name, "/")
	return strings.Contains(first, ".")
}
