//go:build !glue_no_blk && !glue_minimal

package vmm

import "github.com/gluevmm/glue/virtio/blk"

// virtio-blk: Config.Disks, one device per image, in order (vda, vdb, ...).
// Build tag glue_no_blk leaves this file, and virtio/blk, out of glue.
func init() { provide("virtio-blk", (*VM).addDisks) }

func (vm *VM) addDisks() error {
	for _, d := range vm.cfg.Disks {
		disk, err := blk.Open(d.Path, blk.Options{ReadOnly: d.ReadOnly})
		if err != nil {
			return &ConfigError{Field: "Disks", Err: err}
		}
		vm.closers = append(vm.closers, disk)
		if err := vm.addVirtio(blk.New(disk, vm.log.With("disk", d.Path))); err != nil {
			return err
		}
	}
	return nil
}
