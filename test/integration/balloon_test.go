package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/control"
)

// vmRSS is the resident memory of process pid in bytes (VmRSS).
func vmRSS(t *testing.T, pid int) uint64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

func balloonJSON(t *testing.T, dir, name string) control.BalloonStatus {
	t.Helper()
	var st control.BalloonStatus
	if err := json.Unmarshal([]byte(glueIn(t, dir, "balloon", "-n", name, "--json")), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// The own guest touches all of its memory; a balloon target of half of it
// set with `glue balloon --target` makes the guest give that much up, and
// glue's RSS drops by at least 90 % of it: the pages really went back to
// the host. The guest answers requests for statistics, then a target of 0
// gives the memory back: the guest finds every page it gave up zeroed (the
// host discarded it) and touches it again. On both transports.
func TestFeaturesBalloonReturnsMemory(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	const memMiB, targetMiB = 256, 128
	for _, transport := range []string{"pci", "mmio"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			dir, name := vmDir(t), "balloon-"+transport
			s := startGlue(t, "--runtime-dir", dir, "run", "-n", name, "-m", strconv.Itoa(memMiB),
				"--balloon=transport="+transport, "-p", "glue.test=balloon glue.balloon.follow=1")
			s.waitFor("GLUE-READY balloon", time.Minute)
			pid := listJSON(t, dir)[name].PID
			// The guest touched at least the memory the balloon will take.
			before := vmRSS(t, pid)
			if before < targetMiB<<20 {
				t.Fatalf("RSS %d MiB before inflating: the guest did not touch its memory", before>>20)
			}
			st := balloonJSON(t, dir, name)
			if st.TargetBytes != 0 || st.Stats["total-memory"] == 0 || st.StatsUpdates < 1 {
				t.Fatalf("before a target: %+v", st)
			}

			start := time.Now()
			glueIn(t, dir, "balloon", "-n", name, "--target", fmt.Sprint(targetMiB))
			s.waitFor(fmt.Sprintf("GLUE-BALLOON actual=%d", targetMiB*256), 2*time.Minute)
			took := time.Since(start)
			after := vmRSS(t, pid)
			dropped := int64(before) - int64(after)
			t.Logf("RSS %d KiB -> %d KiB: %d KiB returned of %d KiB inflated, in %v with the command (%.0f MiB/s)",
				before>>10, after>>10, dropped>>10, targetMiB<<10, took.Round(time.Millisecond), targetMiB/took.Seconds())
			if dropped < targetMiB<<20*9/10 {
				t.Fatalf("RSS dropped by %d KiB; want at least 90%% of the %d KiB inflated", dropped>>10, targetMiB<<10)
			}
			st = balloonJSON(t, dir, name)
			if st.TargetBytes != targetMiB<<20 || st.ActualBytes != targetMiB<<20 || st.InflatedBytes != targetMiB<<20 || st.BadPages != 0 {
				t.Fatalf("inflated: %+v", st)
			}
			// The guest reported its statistics again on request: its free
			// memory went down by what it gave up.
			if free, total := st.Stats["free-memory"], st.Stats["total-memory"]; total-free != targetMiB<<20 {
				t.Fatalf("guest statistics after inflating: free %d of %d, want %d less", free, total, uint64(targetMiB<<20))
			}

			glueIn(t, dir, "balloon", "-n", name, "--target", "0")
			if code := s.wait(2 * time.Minute); code != 0 {
				t.Fatalf("exit %d", code)
			}
			ok := markers(t, s.output())["balloon"]
			pages := fmt.Sprint(targetMiB * 256)
			for k, want := range map[string]string{"inflated": pages, "deflated": pages, "zeroed": pages, "retouched": pages, "reported": "512", "transport": transport} {
				if got := field(ok, k); got != want {
					t.Errorf("GLUE-OK balloon %s=%s, want %s (%s)", k, got, want, ok)
				}
			}
		})
	}
}

// glue balloon refuses bad input with exit status 2 and one line naming the
// flag; a VM without a balloon device is an error of the VM (status 1).
func TestFeaturesBalloonBadInput(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	withBalloon := detach(t, dir, "-n", "with", "-m", "64", "--balloon", "-p", "glue.test=counter")
	without := detach(t, dir, "-n", "without", "-m", "64", "-p", "glue.test=counter")
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"balloon"}, 2, "glue: --name: which VM?"},
		{[]string{"balloon", "-n", "bad/name"}, 2, "glue: --name: "},
		{[]string{"balloon", "-n", withBalloon, "--target", "lots"}, 2, `glue: --target: "lots" is not a size in MiB`},
		{[]string{"balloon", "-n", withBalloon, "--target", "65"}, 2, "glue: --target: balloon target 65 MiB is more than the VM's 64 MiB"},
		{[]string{"balloon", "-n", without}, 1, "glue: without: unavailable: this VM has no balloon device (glue run --balloon)"},
		{[]string{"run", "--balloon=stats=maybe"}, 2, `glue: --balloon: stats="maybe": want on or off`},
		{[]string{"run", "--balloon=size=1G"}, 2, `glue: --balloon: unknown option "size"`},
	}
	for _, tc := range tests {
		res := runGlue(t, nil, append([]string{"--runtime-dir", dir}, tc.args...)...)
		lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
		if res.code != tc.code || len(lines) != 1 || !strings.HasPrefix(lines[0], tc.want) {
			t.Errorf("glue %s: exit %d, stderr %q; want exit %d and one line starting %q", strings.Join(tc.args, " "), res.code, res.stderr, tc.code, tc.want)
		}
	}
}
