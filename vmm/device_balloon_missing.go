//go:build glue_no_balloon || glue_minimal

package vmm

import "log/slog"

// virtio-balloon is left out of this build (see device_balloon.go).

const balloonLinked = false

func newBalloon(Balloon, *slog.Logger) (virtioDevice, balloonControl, error) {
	return virtioDevice{}, nil, missingComponent(balloonComponent)
}
