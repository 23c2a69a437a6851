package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/gluevmm/glue/control"
)

// BalloonMiB is the balloon check's target: an eighth of a 256 MiB VM.
const BalloonMiB = 32

// BalloonResult is the host's side of the balloon check, as glue balloon
// --json reported it.
type BalloonResult struct {
	// Inflated: actual_bytes reached the target; Stats are the guest's
	// statistics from a report it sent after that.
	Inflated bool
	Stats    map[string]uint64 `json:",omitempty"`
	// Deflated: actual_bytes came back to 0 after --target 0.
	Deflated bool
	// InflatedBytes and DeflatedBytes are glue's counters at the end:
	// what the guest handed over and took back.
	InflatedBytes, DeflatedBytes uint64
	Err                          string `json:",omitempty"`
}

// balloonPoll spaces the glue balloon calls; each also waits up to 1 s
// for the guest's fresh statistics.
const balloonPoll = 200 * time.Millisecond

// driveBalloon is the host's side: it sets the target, waits until the
// guest's driver reports actual at it and a statistics report sent after
// that, waits for init to have seen its MemTotal drop (deflate), and
// sets the target back to 0 until actual is 0 again.
func driveBalloon(ctx context.Context, env Env, dir, name string, deflate <-chan struct{}) (res BalloonResult) {
	status := func(target *int) (control.BalloonStatus, error) {
		args := []string{"--runtime-dir", dir, "balloon", "-n", name, "--json"}
		if target != nil {
			args = append(args, "--target", strconv.Itoa(*target))
		}
		var st control.BalloonStatus
		var stderr strings.Builder
		cmd := exec.CommandContext(ctx, env.Glue, args...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err == nil {
			err = json.Unmarshal(out, &st)
		}
		if err != nil {
			return st, fmt.Errorf("glue balloon %v: %w: %s", args[2:], err, strings.TrimSpace(stderr.String()))
		}
		return st, nil
	}
	// untilCtx polls until done(status) or ctx ends; the last status it
	// saw is in st.
	var st control.BalloonStatus
	until := func(done func() bool) error {
		for {
			s, err := status(nil)
			if err != nil {
				return err
			}
			if st = s; done() {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w; last: %+v", ctx.Err(), st)
			case <-time.After(balloonPoll):
			}
		}
	}
	defer func() { res.InflatedBytes, res.DeflatedBytes = st.InflatedBytes, st.DeflatedBytes }()
	fail := func(err error) BalloonResult { res.Err = err.Error(); return res }
	target, zero := BalloonMiB, 0
	if _, err := status(&target); err != nil {
		return fail(err)
	}
	if err := until(func() bool { return st.ActualBytes == BalloonMiB<<20 }); err != nil {
		return fail(fmt.Errorf("inflate: %w", err))
	}
	res.Inflated = true
	// A report sent after the inflate shows the smaller MemTotal: each
	// glue balloon call hands the driver its statistics buffer back,
	// which only works if glue took the one Linux primed the queue
	// with before DRIVER_OK.
	at := st.StatsUpdates
	if err := until(func() bool { return st.StatsUpdates > at }); err != nil {
		return fail(fmt.Errorf("statistics after the inflate: %w", err))
	}
	res.Stats = st.Stats
	select {
	case <-deflate:
	case <-ctx.Done():
		return fail(fmt.Errorf("init did not see its memory shrink: %w", ctx.Err()))
	}
	if _, err := status(&zero); err != nil {
		return fail(err)
	}
	if err := until(func() bool { return st.ActualBytes == 0 }); err != nil {
		return fail(fmt.Errorf("deflate: %w", err))
	}
	res.Deflated = true
	return res
}
