//go:build glue_no_blk || glue_minimal

package vmm

import (
	"log/slog"

	"github.com/gluevmm/glue/eventloop"
)

// virtio-blk is left out of this build (see device_blk.go).

const blkLinked = false

func checkDisk(Disk) error { return missingComponent(blkComponent) }

func newDisks(*eventloop.Loop, []Disk, *slog.Logger) ([]virtioDevice, error) {
	return nil, missingComponent(blkComponent)
}
