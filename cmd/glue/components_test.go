package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/gluevmm/glue/vmm"
)

func TestVersionVerbose(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-V"}, {"-V", "-v"}, {"-v", "--version"}} {
		root := newRootCommand()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs(args)
		if err := root.Execute(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if !strings.HasPrefix(lines[0], "glue ") {
			t.Fatalf("%v: first line %q", args, lines[0])
		}
		if len(args) == 1 {
			if len(lines) != 1 {
				t.Errorf("%v: %d lines, want 1: %q", args, len(lines), out.String())
			}
			continue
		}
		var in []string
		for _, c := range vmm.Components() {
			if c.Included() {
				in = append(in, c.Name)
			}
		}
		if want := "components: " + strings.Join(in, ", "); len(lines) < 4 || lines[1] != want {
			t.Errorf("%v: output %q, want second line %q", args, out.String(), want)
		}
	}
}

func TestConfigFlagError(t *testing.T) {
	t.Parallel()
	missing := &vmm.ConfigError{Field: "Disks", Err: &vmm.MissingComponentError{
		Component: vmm.Component{Name: "virtio-blk", Tag: "glue_no_blk", Field: "Disks", LeftOutBy: "glue_no_blk"},
	}}
	tests := []struct {
		name string
		err  error
		want string
		ue   bool
	}{
		{"missing component", missing, "--disk: this glue was built without virtio-blk (build tag glue_no_blk); see docs/building.md", true},
		{"other config error", &vmm.ConfigError{Field: "RNG", Err: errors.New("nope")}, "--rng: nope", true},
		{"field without a flag", &vmm.ConfigError{Field: "Console", Err: errors.New("nope")}, "nope", false},
		{"not a config error", errors.New("kvm: boom"), "kvm: boom", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := configFlagError(tc.err)
			var ue usageError
			if err.Error() != tc.want || errors.As(err, &ue) != tc.ue {
				t.Fatalf("got %q (usage error: %v), want %q (%v)", err, errors.As(err, &ue), tc.want, tc.ue)
			}
		})
	}
}
