package virtiopci

// Side-effect-free views of the transport's state for the fuzz target's
// invariants (a guest read of the ISR would clear it).

func PeekISR(t *Transport) uint8 {
	t.irqMu.Lock()
	defer t.irqMu.Unlock()
	return t.isr
}

func PeekStatus(t *Transport) uint8 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.c.Status()
}

func PeekVectors(t *Transport) (config uint32, queues []uint32) {
	for i := range t.queueVectors {
		queues = append(queues, t.queueVectors[i].Load())
	}
	return t.configVector.Load(), queues
}
