//go:build !glue_no_blk && !glue_minimal

package vmm

import (
	"log/slog"

	"github.com/gluevmm/glue/virtio/blk"
)

// virtio-blk: Config.Disks, one device per image, in order (vda, vdb, ...).
// Build tag glue_no_blk leaves this file, and virtio/blk, out of glue;
// device_blk_missing.go takes its place.

const blkLinked = true

// checkDisk asks the block backend whether it could open d.
func checkDisk(d Disk) error {
	return blk.CheckImage(d.Path, blk.Options{ReadOnly: d.ReadOnly})
}

// newDisks opens each image and makes a virtio-blk device on it.
func newDisks(disks []Disk, log *slog.Logger) ([]virtioDevice, error) {
	var devs []virtioDevice
	for _, d := range disks {
		disk, err := blk.Open(d.Path, blk.Options{ReadOnly: d.ReadOnly})
		if err != nil {
			for _, d := range devs {
				d.backend.Close()
			}
			return nil, &ConfigError{Field: FieldDisks, Err: err}
		}
		devs = append(devs, virtioDevice{blk.New(disk, log.With("disk", d.Path)), disk})
	}
	return devs, nil
}
