package kvmtest

import "testing"

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
