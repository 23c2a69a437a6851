//go:build glue_no_net || glue_minimal

package vmm

import (
	"log/slog"

	"github.com/gluevmm/glue/eventloop"
)

// virtio-net is left out of this build (see device_net.go).

const netLinked = false

func checkNet(Net) error { return missingComponent(netComponent) }

func newNets(*eventloop.Loop, string, []Net, *slog.Logger) ([]virtioDevice, error) {
	return nil, missingComponent(netComponent)
}
