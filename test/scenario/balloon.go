package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"time"

	"github.com/gluevmm/glue/control"
)

// BalloonMiB is the balloon check's target: an eighth of a 256 MiB VM.
const BalloonMiB = 32

// BalloonResult is the host's side of the balloon check, as glue balloon
// --json reported it.
type BalloonResult struct {
	// Inflated: actual_bytes reached the target; Stats are the guest's
	// latest statistics then, from a report it sent after that if
	// FreshStats.
	Inflated   bool
	Stats      map[string]uint64 `json:",omitempty"`
	FreshStats bool
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

// freshStatsWait bounds the wait for a statistics report sent after the
// inflate.
const freshStatsWait = 15 * time.Second

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
		out, err := exec.CommandContext(ctx, env.Glue, args...).Output()
		if err == nil {
			err = json.Unmarshal(out, &st)
		}
		if err != nil {
			return st, fmt.Errorf("glue balloon %v: %w", args[2:], err)
		}
		return st, nil
	}
	// untilCtx polls until done(status) or ctx ends; the last status it
	// saw is in st.
	var st control.BalloonStatus
	untilCtx := func(ctx context.Context, done func() bool) error {
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
	until := func(done func() bool) error { return untilCtx(ctx, done) }
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
	res.Stats = st.Stats
	// A report sent after the inflate shows the smaller MemTotal. In
	// the first run inside the emulated machine (2026-12-04) none came
	// after the inflate for two minutes (docs/testing.md), so the wait
	// is bounded and then the last report is checked instead.
	at := st.StatsUpdates
	freshCtx, cancel := context.WithTimeout(ctx, freshStatsWait)
	err := untilCtx(freshCtx, func() bool { return st.StatsUpdates > at })
	cancel()
	if err == nil {
		res.FreshStats, res.Stats = true, st.Stats
	} else if ctx.Err() != nil {
		return fail(fmt.Errorf("statistics after the inflate: %w", err))
	}
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
