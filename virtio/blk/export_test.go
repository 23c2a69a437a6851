package blk

// SetSync replaces the fdatasync of d's Flush, so that a test can count
// the calls, see the descriptor and make the sync fail.
func (d *Disk) SetSync(sync func(fd int) error) { d.sync = sync }
