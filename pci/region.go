package pci

// BARRegion is what the VMM registers on its MMIO bus at a BAR's address,
// with the BAR's size. It answers only while the guest has memory decoding
// enabled (reads all ones, drops writes otherwise, as no device claims the
// address), serves the MSI-X table and PBA when they live in this BAR, and
// passes everything else to the device model's Region.
type BARRegion struct {
	f     *Function
	index int
}

// BARRegion returns the region of BAR index, or nil for an unused index.
func (f *Function) BARRegion(index int) *BARRegion {
	f.mu.Lock()
	defer f.mu.Unlock()
	if index < 0 || index >= NumBARs || f.bars[index] == nil {
		return nil
	}
	return &BARRegion{f: f, index: index}
}

func (b *BARRegion) Read(offset uint64, data []byte)  { b.access(offset, data, false) }
func (b *BARRegion) Write(offset uint64, data []byte) { b.access(offset, data, true) }

func (b *BARRegion) access(offset uint64, data []byte, write bool) {
	f := b.f
	f.mu.Lock()
	bar := f.bars[b.index]
	decoded := f.memoryEnabled() && (Range{Size: bar.Size}).contains(Range{Base: offset, Size: uint64(len(data))}) && len(data) > 0
	if decoded && f.msix != nil && f.msix.tableAccess(b.index, offset, data, write) {
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	// The device model's region runs without f.mu: it may call Notify.
	if !decoded || bar.Region == nil {
		if !write {
			fillOnes(data)
		}
		return
	}
	if write {
		bar.Region.Write(offset, data)
	} else {
		bar.Region.Read(offset, data)
	}
}
