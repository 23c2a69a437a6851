//go:build glue_no_blk || glue_minimal

package vmm

import "log/slog"

// virtio-blk is left out of this build (see device_blk.go).

const blkLinked = false

func checkDisk(Disk) error { return missingComponent(blkComponent) }

func newDisks([]Disk, *slog.Logger) ([]virtioDevice, error) {
	return nil, missingComponent(blkComponent)
}
