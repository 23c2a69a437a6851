//go:build !glue_no_blk && !glue_minimal

package vmm

import (
	"log/slog"

	"github.com/gluevmm/glue/eventloop"
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

// newDisks opens each image and makes a virtio-blk device on it, rate
// limited as its Disk.Limit says, its deferred requests resumed through
// loop.
func newDisks(loop *eventloop.Loop, disks []Disk, log *slog.Logger) ([]virtioDevice, error) {
	var devs []virtioDevice
	fail := func(err error) ([]virtioDevice, error) {
		for _, d := range devs {
			d.backend.Close()
		}
		return nil, &ConfigError{Field: FieldDisks, Err: err}
	}
	for _, d := range disks {
		limit, err := d.Limit.limiter()
		if err != nil {
			return fail(err)
		}
		disk, err := blk.Open(d.Path, blk.Options{ReadOnly: d.ReadOnly})
		if err != nil {
			return fail(err)
		}
		vd := virtioDevice{dev: blk.New(disk, log.With("disk", d.Path)), backend: disk}
		if limit != nil {
			w := newQueueWake(loop)
			vd.dev.(*blk.Device).SetLimiter(limit, w.wake)
			vd.onTransport = w.bind
		}
		devs = append(devs, vd)
	}
	return devs, nil
}
