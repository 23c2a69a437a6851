package hosttest

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB whose Skipf and Fatalf are recorded and end the
// calling goroutine, as the real ones do.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn with a recorder in a goroutine of its own.
func run(t *testing.T, fn func(testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}

func TestSkip(t *testing.T) {
	tests := []struct {
		name, require, allow string
		wantFail             bool
	}{
		{"not required", "", "", false},
		{"required", "1", "", true},
		{"required, reason allowed", "1", "regenerate,hardware-kvm", false},
		{"required, another reason allowed", "1", "regenerate,kvm", true},
		{"required, a key that only starts alike", "1", "hardware", true},
		{"required, a longer key that contains it", "1", "hardware-kvm-x", true},
		{"only 1 requires", "true", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(RequireEnv, tt.require)
			t.Setenv(AllowEnv, tt.allow)
			r := run(t, func(tb testing.TB) { Skip(tb, ReasonHardwareKVM, "this host is PVM") })
			if got := r.failed != ""; got != tt.wantFail {
				t.Fatalf("failed %q, skipped %q; want failure %t", r.failed, r.skipped, tt.wantFail)
			}
			msg := r.failed + r.skipped
			if !strings.Contains(msg, "this host is PVM") || !strings.Contains(msg, `"hardware-kvm"`) {
				t.Errorf("message %q does not give the reason and its key", msg)
			}
			if tt.wantFail && !strings.Contains(msg, AllowEnv+"=hardware-kvm") {
				t.Errorf("failure %q does not say how to allow the skip", msg)
			}
		})
	}
}

func TestLookPath(t *testing.T) {
	t.Setenv(RequireEnv, "1")
	t.Setenv(AllowEnv, "")
	if r := run(t, func(tb testing.TB) { LookPath(tb, "sh") }); r.failed != "" || r.skipped != "" {
		t.Fatalf("sh: failed %q, skipped %q", r.failed, r.skipped)
	}
	r := run(t, func(tb testing.TB) { LookPath(tb, "glue-no-such-tool") })
	if !strings.Contains(r.failed, `"tool:glue-no-such-tool"`) {
		t.Fatalf("a missing tool under %s=1: failed %q, skipped %q", RequireEnv, r.failed, r.skipped)
	}
	t.Setenv(AllowEnv, "tool:glue-no-such-tool")
	if r := run(t, func(tb testing.TB) { LookPath(tb, "glue-no-such-tool") }); r.skipped == "" {
		t.Fatalf("an allowed missing tool: failed %q, want a skip", r.failed)
	}
}

func TestLookPathOptional(t *testing.T) {
	tests := []struct {
		name, tool, require, allow string
		wantFound, wantFail        bool
	}{
		{"present", "sh", "1", "", true, false},
		{"missing, not required", "glue-no-such-tool", "", "", false, false},
		{"missing, required", "glue-no-such-tool", "1", "", false, true},
		{"missing, required, allowed", "glue-no-such-tool", "1", "tool:glue-no-such-tool", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(RequireEnv, tt.require)
			t.Setenv(AllowEnv, tt.allow)
			var found bool
			r := run(t, func(tb testing.TB) { _, found = LookPathOptional(tb, tt.tool) })
			if r.skipped != "" {
				t.Fatalf("skipped %q: an optional tool never skips", r.skipped)
			}
			if got := r.failed != ""; got != tt.wantFail || found != tt.wantFound {
				t.Fatalf("found %t, failed %q; want found %t, failure %t", found, r.failed, tt.wantFound, tt.wantFail)
			}
			if tt.wantFail && !strings.Contains(r.failed, AllowEnv+"=tool:"+tt.tool) {
				t.Errorf("failure %q does not say how to allow it", r.failed)
			}
		})
	}
}

func TestKernel(t *testing.T) {
	t.Setenv(RequireEnv, "1")
	t.Setenv(AllowEnv, "")
	t.Setenv(KernelEnv, "")
	if r := run(t, func(tb testing.TB) { Kernel(tb) }); !strings.Contains(r.failed, `"kernel"`) {
		t.Fatalf("no kernel under %s=1: failed %q, skipped %q", RequireEnv, r.failed, r.skipped)
	}
	t.Setenv(KernelEnv, t.TempDir()+"/missing")
	if r := run(t, func(tb testing.TB) { Kernel(tb) }); !strings.Contains(r.failed, "missing") {
		t.Fatalf("a kernel path that names nothing: failed %q, skipped %q", r.failed, r.skipped)
	}
}

func TestTimeoutScalesBySlowdown(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want time.Duration
	}{{"", time.Minute}, {"4", 4 * time.Minute}, {"0", time.Minute}, {"-3", time.Minute}, {"x", time.Minute}} {
		t.Setenv(SlowdownEnv, tc.env)
		if got := Timeout(time.Minute); got != tc.want {
			t.Errorf("%s=%q: Timeout(1m) = %v, want %v", SlowdownEnv, tc.env, got, tc.want)
		}
	}
}
