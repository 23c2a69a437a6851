package virtio

// ReadChain exposes the chain walker to the external tests, so they can
// check why a chain is malformed.
func (q *Queue) ReadChain(head uint16) (*DescriptorChain, error) { return q.readChain(head) }
