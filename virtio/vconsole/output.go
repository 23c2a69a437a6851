package vconsole

import (
	"io"

	"github.com/gluevmm/glue/virtio"
)

// transmit writes one transmit chain's bytes out and returns the used
// length, always 0. Called with mu held.
func (d *Device) transmit(c *virtio.DescriptorChain) uint32 {
	if hasWritable(c) {
		d.txMalformed.Add(1)
		return 0
	}
	r := c.Reader()
	n := r.Len()
	if n > MaxTransmitBytes {
		d.txDropped.Add(uint64(n - MaxTransmitBytes))
		n = MaxTransmitBytes
	}
	for n > 0 {
		k := min(n, len(d.txBuf))
		if _, err := io.ReadFull(r, d.txBuf[:k]); err != nil {
			// The chain was validated inside RAM: only a device bug gets here.
			d.txDropped.Add(uint64(n))
			return 0
		}
		m, err := d.out.Write(d.txBuf[:k])
		m = max(0, min(m, k)) // do not trust a broken writer's count
		d.txBytes.Add(uint64(m))
		n -= m
		if err != nil || m < k {
			d.txDropped.Add(uint64(n)) // a stalled consumer: lose output, never wait
			return 0
		}
	}
	return 0
}
