package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// balloonWait bounds each phase of the balloon check: the host sets the
// target, Linux's driver inflates 256 pages per round trip, all of it
// emulated.
const balloonWait = 2 * time.Minute

// balloonCheck watches Linux's virtio_balloon follow the host's target,
// with Linux as the oracle: glue offers no DEFLATE_ON_OOM here
// (--balloon=deflate-on-oom=off), so the driver takes every page it gives
// the host out of MemTotal. Init notes MemTotal, tells the host to
// inflate (GLUE-READY init balloon), waits for MemTotal to drop by
// exactly glue.hw.balloon MiB, tells the host to deflate (GLUE-READY init
// deflate) and waits for MemTotal to come back.
func balloonCheck(r *report, params map[string]string) {
	mib, err := strconv.Atoi(params["glue.hw.balloon"])
	if err != nil || mib <= 0 {
		r.fail("balloon", "glue.hw.balloon=%q: want MiB", params["glue.hw.balloon"])
		return
	}
	err = waitFor(10*time.Second, func() error {
		devs, _ := filepath.Glob("/sys/bus/virtio/drivers/virtio_balloon/virtio*")
		if len(devs) == 0 {
			return fmt.Errorf("virtio_balloon bound to no device")
		}
		return nil
	})
	if err != nil {
		r.fail("balloon", "%v", err)
		return
	}
	base, err := memTotalKiB()
	if err != nil {
		r.fail("balloon", "%v", err)
		return
	}
	want := base - uint64(mib)<<10
	r.line("GLUE-READY init balloon")
	low, err := waitMemTotal(func(kib uint64) bool { return kib <= want })
	if err != nil {
		r.fail("balloon", "inflate to %d MiB: %v (MemTotal was %d KiB)", mib, err, base)
		return
	}
	r.line("GLUE-READY init deflate")
	back, err := waitMemTotal(func(kib uint64) bool { return kib >= base })
	if err != nil {
		r.fail("balloon", "deflate: %v (MemTotal was %d KiB, %d KiB inflated)", err, base, low)
		return
	}
	// MemTotal comes back before the driver's last deflate and its
	// actual reach glue: the host says when it has seen actual at 0,
	// on the serial console, and only then may init end the VM.
	r.line("GLUE-READY init deflated")
	if err := waitConsoleLine(balloonWait); err != nil {
		r.fail("balloon", "no word from the host after the deflate: %v", err)
		return
	}
	r.pass("balloon", fmt.Sprintf("base-kib=%d low-kib=%d back-kib=%d", base, low, back))
}

// waitConsoleLine reads one line the host typed on the console (init's
// stdin), for at most d.
func waitConsoleLine(d time.Duration) error {
	got := make(chan error, 1)
	go func() {
		_, err := bufio.NewReader(os.Stdin).ReadString('\n')
		got <- err
	}()
	select {
	case err := <-got:
		return err
	case <-time.After(d):
		return fmt.Errorf("nothing in %v", d)
	}
}

// waitMemTotal polls MemTotal until done says so, for balloonWait.
func waitMemTotal(done func(uint64) bool) (uint64, error) {
	var kib uint64
	err := waitFor(balloonWait, func() error {
		var err error
		if kib, err = memTotalKiB(); err == nil && !done(kib) {
			err = fmt.Errorf("MemTotal still %d KiB", kib)
		}
		return err
	})
	return kib, err
}
