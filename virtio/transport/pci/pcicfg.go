package virtiopci

import "encoding/binary"

// The PCI configuration access capability (VIRTIO_PCI_CAP_PCI_CFG, section
// 4.1.4.9): a struct virtio_pci_cap whose bar, offset and length the driver
// writes, followed by the 4-byte pci_cfg_data window through which it then
// reads or writes length bytes at offset in that BAR, without mapping it.
const (
	pciCfgLen    = 20 // struct virtio_pci_cfg_cap
	pciCfgBAR    = 4
	pciCfgOffset = 8
	pciCfgLength = 12
	pciCfgData   = 16
)

// pciCfgCap implements pci.Capability. Its registers are guarded by the
// transport's mu; the BAR access runs after mu is released (region takes
// it itself).
type pciCfgCap struct {
	t    *Transport
	regs [pciCfgLen]byte // bytes 2-19 are used: the pci package owns 0 and 1
}

func (*pciCfgCap) ID() uint8 { return 0x09 }
func (*pciCfgCap) Len() int  { return pciCfgLen }

// target returns the BAR offset and width the driver selected, ok only for
// BAR and a width of 1, 2 or 4 inside it; other selections make the window
// read zero and ignore writes. A misaligned offset gets what the register
// file gives any misaligned access: zero, and writes ignored.
func (c *pciCfgCap) target() (off uint64, n int, ok bool) {
	n = int(binary.LittleEndian.Uint32(c.regs[pciCfgLength:]))
	off = uint64(binary.LittleEndian.Uint32(c.regs[pciCfgOffset:]))
	ok = c.regs[pciCfgBAR] == BAR && (n == 1 || n == 2 || n == 4) && off+uint64(n) <= BARSize
	return off, n, ok
}

func (c *pciCfgCap) ReadCapability(offset int, data []byte) {
	t := c.t
	t.mu.Lock()
	covers := offset <= pciCfgData && offset+len(data) > pciCfgData
	off, n, ok := c.target()
	t.mu.Unlock()
	if covers {
		// A read that covers the window's first byte performs the BAR
		// read and latches the result into the window.
		var buf [4]byte
		if ok {
			region{t}.Read(off, buf[:n])
		}
		t.mu.Lock()
		copy(c.regs[pciCfgData:], buf[:])
		t.mu.Unlock()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	img := c.regs
	img[2], img[3] = pciCfgLen, capPCICfg
	copy(data, img[offset:])
}

func (c *pciCfgCap) WriteCapability(offset int, data []byte) {
	t := c.t
	t.mu.Lock()
	for i, v := range data {
		at := offset + i
		if at == pciCfgBAR || at >= pciCfgOffset { // cap_len, cfg_type, id, padding: read-only
			c.regs[at] = v
		}
	}
	covers := offset <= pciCfgData && offset+len(data) > pciCfgData
	off, n, ok := c.target()
	var buf [4]byte
	copy(buf[:], c.regs[pciCfgData:])
	t.mu.Unlock()
	if covers && ok {
		region{t}.Write(off, buf[:n])
	}
}
