package doctest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README lists every Debian package .ci/run installs for the tests,
// for someone who runs them elsewhere.
func TestREADMEListsCIPackages(t *testing.T) {
	t.Parallel()
	ci, err := os.ReadFile(filepath.Join(repoRoot, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs := regexp.MustCompile(`need\+=\(([^)]+)\)`).FindAllStringSubmatch(string(ci), -1)
	if len(pkgs) < 5 {
		t.Fatalf(".ci/run installs only %d packages: has its install step changed shape?", len(pkgs))
	}
	for _, m := range pkgs {
		for _, pkg := range strings.Fields(m[1]) {
			if !strings.Contains(string(readme), "`"+pkg+"`") {
				t.Errorf("README.md does not list `%s`, which .ci/run installs for the tests", pkg)
			}
		}
	}
}
