package kvmtest

import "testing"

func TestRequired(t *testing.T) {
	tests := []struct {
		value string
		want  bool
	}{
		{"", false},
		{"0", false},
		{"true", false}, // only "1" counts, so a typo cannot silently require KVM
		{"1", true},
	}
	for _, tt := range tests {
		t.Run("GLUE_REQUIRE_KVM="+tt.value, func(t *testing.T) {
			t.Setenv(RequireEnv, tt.value)
			if got := Required(); got != tt.want {
				t.Errorf("Required() = %t, want %t", got, tt.want)
			}
		})
	}
}

// TestOpen uses the helpers as KVM tests do; without KVM it skips.
func TestOpen(t *testing.T) {
	sys := Open(t)
	if sys == nil {
		t.Fatal("Open returned nil without skipping")
	}
	vm, mem := NewVM(t, sys, 1<<16)
	if vm == nil || len(mem) != 1<<16 {
		t.Fatalf("NewVM: vm %v, %d bytes of RAM", vm, len(mem))
	}
}
