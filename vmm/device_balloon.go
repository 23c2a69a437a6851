//go:build !glue_no_balloon && !glue_minimal

package vmm

import (
	"context"
	"log/slog"
	"time"

	"github.com/gluevmm/glue/control"
	"github.com/gluevmm/glue/virtio/balloon"
)

// virtio-balloon: Config.Balloon. Build tag glue_no_balloon leaves this
// file, and virtio/balloon, out of glue; device_balloon_missing.go takes
// its place.

const balloonLinked = true

func newBalloon(cfg Balloon, log *slog.Logger) (virtioDevice, balloonControl, error) {
	dev := balloon.New(balloon.Config{
		Stats: cfg.Stats, DeflateOnOOM: cfg.DeflateOnOOM, Reporting: cfg.Reporting,
		Log: log.With("device", "virtio-balloon"),
	})
	return virtioDevice{dev: dev}, balloonDevice{dev}, nil
}

// statsWait bounds how long a balloon request waits for the guest to
// answer a request for fresh statistics; a guest that does not (paused,
// busy, a driver without statistics) gets its last ones reported.
const statsWait = time.Second

type balloonDevice struct{ dev *balloon.Device }

func (b balloonDevice) setTarget(pages uint32) { b.dev.SetTarget(pages) }

func (b balloonDevice) status(ctx context.Context) control.BalloonStatus {
	before := b.dev.Status().StatsUpdates
	if b.dev.RequestStats() {
		ctx, cancel := context.WithTimeout(ctx, statsWait)
		defer cancel()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for b.dev.Status().StatsUpdates == before && ctx.Err() == nil {
			select {
			case <-tick.C:
			case <-ctx.Done():
			}
		}
	}
	s := b.dev.Status()
	out := control.BalloonStatus{
		TargetBytes:   uint64(s.TargetPages) * balloon.PageSize,
		ActualBytes:   uint64(s.ActualPages) * balloon.PageSize,
		InflatedBytes: s.Inflated * balloon.PageSize,
		DeflatedBytes: s.Deflated * balloon.PageSize,
		ReportedBytes: s.Reported * balloon.PageSize,
		BadPages:      s.BadPages,
		Malformed:     s.Malformed,
		StatsUpdates:  s.StatsUpdates,
	}
	if s.Stats != nil {
		out.Stats = map[string]uint64{}
		for tag, name := range balloon.StatNames {
			if s.Stats.Known[tag] {
				out.Stats[name] = s.Stats.Values[tag]
			}
		}
	}
	return out
}
