package archtest

import (
	"path/filepath"
	"testing"
)

// TestImportGraph checks the module's import graph against allowList and
// allowList against the design rules.
func TestImportGraph(t *testing.T) {
	t.Parallel()
	g := loadModule(t)
	for _, p := range check(g, allowList) {
		t.Error(p)
	}
}

// loadModule loads the graph of the module this test is part of.
func loadModule(t *testing.T) graph {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	g, err := loadGraph(root)
	if err != nil {
		t.Fatal(err)
	}
	if g.module != "github.com/gluevmm/glue" || len(g.pkgs) < 10 {
		t.Fatalf("loaded module %q with %d packages from %s: wrong root?", g.module, len(g.pkgs), root)
	}
	return g
}
