package control

import (
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"vm-3f9a1c", true},
		{"web.prod_2", true},
		{"..x", true},
		{strings.Repeat("x", 64), true},
		{"", false},
		{strings.Repeat("x", 65), false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"../etc", false},
		{"has space", false},
		{"tab\t", false},
		{"nul\x00", false},
		{"é", false},
		{"semi;colon", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := ValidName(tc.name)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "control: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestGenerateName(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		n := GenerateName()
		if err := ValidName(n); err != nil || len(n) != len("vm-123456") {
			t.Fatalf("GenerateName() = %q: %v", n, err)
		}
		seen[n] = true
	}
	if len(seen) < 95 { // 24 random bits: collisions in 100 draws are rare
		t.Fatalf("only %d distinct names in 100", len(seen))
	}
}
