//go:build glue_no_vsock || glue_minimal

package vmm

import (
	"log/slog"

	"github.com/gluevmm/glue/eventloop"
)

// virtio-vsock is left out of this build (see device_vsock.go).

const vsockLinked = false

func checkVsock(Vsock) error { return missingComponent(vsockComponent) }

func newVsock(*eventloop.Loop, Vsock, *slog.Logger) (virtioDevice, error) {
	return virtioDevice{}, missingComponent(vsockComponent)
}
