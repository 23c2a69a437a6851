package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gluevmm/glue/vmm"
)

func TestVersionVerbose(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-V"}, {"-V", "-v"}, {"-v", "--version"}} {
		var out bytes.Buffer
		if err := execute(context.Background(), commandTable(), args, &out); err != nil {
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
	missing := &vmm.ConfigError{Field: vmm.FieldDisks, Err: &vmm.MissingComponentError{
		Component: vmm.Component{Name: "virtio-blk", Tag: "glue_no_blk", Field: vmm.FieldDisks, LeftOutBy: "glue_no_blk"},
	}}
	tests := []struct {
		name string
		err  error
		want string
		ue   bool
	}{
		{"missing component", missing, "--disk: this glue was built without virtio-blk (build tag glue_no_blk); see docs/building.md", true},
		{"other config error", &vmm.ConfigError{Field: vmm.FieldRNG, Err: errors.New("nope")}, "--rng: nope", true},
		{"field without a flag", &vmm.ConfigError{Field: 0, Err: errors.New("nope")}, "nope", true},
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

// Every field a vmm.ConfigError can name maps to a flag of `glue run`, so
// every config error is reported on its flag with exit status 2. A field
// added to vmm without a flag here fails.
func TestFlagOfEveryField(t *testing.T) {
	t.Parallel()
	flags := newFlagSet("glue run")
	setupRun(flags, &globals{})
	seen := map[string]vmm.Field{}
	for _, f := range vmm.Fields() {
		flag, ok := flagOf(f)
		if !ok {
			t.Errorf("vmm.%s has no flag", f)
			continue
		}
		if flags.usage(strings.TrimPrefix(flag, "--")) == nil {
			t.Errorf("vmm.%s maps to %s, which glue run does not have", f, flag)
		}
		if other, dup := seen[flag]; dup {
			t.Errorf("vmm.%s and vmm.%s both map to %s", other, f, flag)
		}
		seen[flag] = f
		err := configFlagError(&vmm.ConfigError{Field: f, Err: errors.New("bad")})
		var ue usageError
		if !errors.As(err, &ue) || err.Error() != flag+": bad" {
			t.Errorf("vmm.%s: configFlagError = %q, want a usage error %q", f, err, flag+": bad")
		}
	}
}
