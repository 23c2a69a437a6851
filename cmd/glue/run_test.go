package main

import (
	"errors"
	"testing"

	"github.com/gluevmm/glue/vmm"
)

func TestParseMiB(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"512", 512, true},
		{"512M", 512, true},
		{"512MiB", 512, true},
		{"2G", 2048, true},
		{"2gib", 2048, true},
		{" 64 ", 64, true},
		{"0", 0, true}, // rejected later by vmm.Config.Validate, with its reason
		{"", 0, false},
		{"-1", 0, false},
		{"1.5G", 0, false},
		{"lots", 0, false},
		{"9999999999999999999G", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseMiB(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("parseMiB(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestExitStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"version", []string{"-V"}, exitOK},
		{"unknown flag", []string{"--nope"}, exitUsage},
		{"unknown subcommand", []string{"nope"}, exitUsage},
		{"run with a stray argument", []string{"run", "stray"}, exitUsage},
		{"bad memory size", []string{"run", "-m", "x"}, exitUsage},
		{"bad name", []string{"run", "-n", "a/b"}, exitUsage},
		{"bad transport", []string{"run", "--transport", "isa"}, exitUsage},
		{"bad acpi", []string{"run", "--acpi", "maybe"}, exitUsage},
		{"bad seccomp mode", []string{"run", "--seccomp", "trap"}, exitUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(tc.args); got != tc.want {
				t.Fatalf("glue %v exited %d, want %d", tc.args, got, tc.want)
			}
		})
	}
}

func TestParseSeccomp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want vmm.SeccompMode
		ok   bool
	}{
		{"on", vmm.SeccompOn, true},
		{"log", vmm.SeccompLog, true},
		{"off", vmm.SeccompOff, true},
		{"", "", false},
		{"ON", "", false},
		{"kill", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseSeccomp(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("parseSeccomp(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestUserMessageDropsPackagePrefixes(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"loader: open /x: no such file or directory", "open /x: no such file or directory"},
		{"--kernel: loader: bzImage: vmm: too big", "--kernel: bzImage: too big"},
		{"control: VM \"a\" in /run/glue: not running", "VM \"a\" in /run/glue: not running"},
		{"--name: name: vmm-ish", "--name: name: vmm-ish"},
	}
	for _, tt := range tests {
		if got := userMessage(errors.New(tt.in)); got != tt.want {
			t.Errorf("userMessage(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
