package kvm

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name            string
		errno           unix.Errno
		wantMsg         string
		wantUnavailable bool
	}{
		{
			name:            "no device",
			errno:           unix.ENOENT,
			wantMsg:         "kvm: open /dev/kvm: KVM is not available: no such file or directory (enable virtualization in the firmware, or nested virtualization if this is a VM, and load kvm_intel or kvm_amd)",
			wantUnavailable: true,
		},
		{
			name:            "module not loaded",
			errno:           unix.ENXIO,
			wantMsg:         "kvm: open /dev/kvm: KVM is not available: no such device or address (enable",
			wantUnavailable: true,
		},
		{
			name:            "permission denied",
			errno:           unix.EACCES,
			wantMsg:         "kvm: /dev/kvm: permission denied: add your user to the 'kvm' group or run as root",
			wantUnavailable: true,
		},
		{
			name:    "other errno",
			errno:   unix.EMFILE,
			wantMsg: "kvm: open /dev/kvm: too many open files",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := openError("/dev/kvm", tt.errno)
			if !strings.HasPrefix(err.Error(), tt.wantMsg) {
				t.Errorf("message %q\nwant prefix %q", err, tt.wantMsg)
			}
			if errors.Is(err, ErrUnavailable) != tt.wantUnavailable {
				t.Errorf("errors.Is(err, ErrUnavailable) = %t, want %t", !tt.wantUnavailable, tt.wantUnavailable)
			}
			if !errors.Is(err, tt.errno) {
				t.Errorf("%v does not wrap %v", err, tt.errno)
			}
		})
	}
}

// TestOpenNotKVM opens paths that exist but are not KVM devices, and one that
// does not exist; none needs /dev/kvm.
func TestOpenNotKVM(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		wantMsg string
		wantIs  error
	}{
		{"nonexistent path", "/nonexistent/kvm", "kvm: open /nonexistent/kvm: KVM is not available", fs.ErrNotExist},
		{"not a kvm device", "/dev/null", "kvm: /dev/null: get API version", unix.ENOTTY},
		{"a directory", "/", "kvm: open /:", unix.EISDIR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys, err := Open(tt.path)
			if err == nil {
				sys.Close()
				t.Fatalf("Open(%q) succeeded", tt.path)
			}
			if !strings.HasPrefix(err.Error(), tt.wantMsg) {
				t.Errorf("message %q\nwant prefix %q", err, tt.wantMsg)
			}
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("%v does not match %v", err, tt.wantIs)
			}
		})
	}
}
