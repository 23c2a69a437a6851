package perf

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// balloonMiB is the target: half of the guest's memory, all of which the
// own guest touched first.
const balloonMiB = guestMiB / 2

// BenchmarkBalloon times `glue balloon --target` on the own guest
// following the target (glue.balloon.follow=1): from the command's start
// until glue's RSS has dropped by 90 % of the target, as the
// integration test TestFeaturesBalloonReturnsMemory requires, and reports
// the MiB/s by which it dropped. The limit is this process doing the
// release alone: the same bytes touched in an anonymous mapping, then
// madvise(MADV_DONTNEED) on them in 1 MiB pieces (the guest's lists of
// 256 page numbers, which glue coalesces into one madvise per run).
func BenchmarkBalloon(b *testing.B) {
	start := time.Now()
	glue, _ := vmms(b)
	cmdline := guestCmdline("balloon glue.balloon.follow=1 glue.balloon.timeout=120")
	n := *nRounds
	rate := newRounds(n)
	for r := range n {
		for i := range *devRuns {
			name := fmt.Sprintf("perf-balloon-%d-%d", r, i)
			var pid int
			var mibs float64
			var err error
			_, berr := bootWith(withArgs(glue, "-n", name, "--balloon"), cmdline, bootOpts{
				onStart: func(p int) { pid = p },
				onLine: func(l line) {
					if strings.HasPrefix(l.text, "GLUE-READY balloon") {
						mibs, err = inflate(name, pid)
					}
				},
			}, 3*time.Minute)
			if err = errors.Join(berr, err); err == nil && mibs == 0 {
				err = errors.New("glue: no GLUE-READY balloon line")
			}
			if err != nil {
				b.Fatal(err)
			}
			host, err := madviseRate()
			if err != nil {
				b.Fatal(err)
			}
			rate.add(r, "glue", mibs)
			rate.add(r, hostName, host)
			b.Logf("round %d run %d: glue %.0f MiB/s, madvise loop %.0f MiB/s", r+1, i+1, mibs, host)
		}
	}
	rate.pooled().report(b, "MiB/s", "")
	devRows = append(devRows, devRow{row{fmt.Sprintf("balloon inflate, %d MiB of a %d MiB guest: glue's RSS drop (MiB/s)", balloonMiB, guestMiB), "%.0f", rate, nil},
		hostName, "madvise(MADV_DONTNEED) of as many touched bytes, 1 MiB per call, in the benchmark"})
	devSetups = append(devSetups, fmt.Sprintf("balloon: %d runs of glue `--balloon`, guest `%s`, `glue balloon --target %d` timed until RSS fell by 90 %% of it, each followed by one madvise loop",
		*devRuns, cmdline, balloonMiB))
	devTook += time.Since(start)
}

// inflate sets the target of VM name (glue's PID pid), waits for glue's
// RSS to drop by 90 % of it and returns the rate it dropped at, then sets
// the target back to 0 so the guest deflates and ends its test.
func inflate(name string, pid int) (float64, error) {
	before, err := rssKiB(pid)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := glueBalloon(name, balloonMiB); err != nil {
		return 0, err
	}
	var dropped int64
	for dropped < balloonMiB<<10*9/10 {
		if time.Since(start) > 2*time.Minute {
			return 0, fmt.Errorf("glue's RSS dropped by %d KiB in 2 minutes, want %d", dropped, balloonMiB<<10*9/10)
		}
		time.Sleep(time.Millisecond)
		now, err := rssKiB(pid)
		if err != nil {
			return 0, err
		}
		dropped = before - now
	}
	secs := time.Since(start).Seconds()
	return mib(dropped) / secs, glueBalloon(name, 0)
}

func glueBalloon(name string, target int) error {
	out, err := exec.Command(glueBin, "--runtime-dir", runtimeDir(), "balloon", "-n", name, "--target", fmt.Sprint(target)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("glue balloon --target %d: %v: %s", target, err, out)
	}
	return nil
}

func rssKiB(pid int) (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return kib(status, "VmRSS:")
}

// madviseRate is the limit: MiB/s of MADV_DONTNEED on balloonMiB MiB of
// touched anonymous memory, 1 MiB per call.
func madviseRate() (float64, error) {
	mem, err := syscall.Mmap(-1, 0, balloonMiB<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
	if err != nil {
		return 0, err
	}
	defer syscall.Munmap(mem)
	for i := 0; i < len(mem); i += 4096 {
		mem[i] = 1
	}
	start := time.Now()
	for off := 0; off < len(mem); off += 1 << 20 {
		if err := syscall.Madvise(mem[off:off+1<<20], syscall.MADV_DONTNEED); err != nil {
			return 0, err
		}
	}
	return balloonMiB / time.Since(start).Seconds(), nil
}
