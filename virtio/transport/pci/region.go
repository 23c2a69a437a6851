package virtiopci

// region is the register file behind the BAR. pci.BARRegion serves the
// MSI-X table and PBA itself and passes only accesses inside the BAR with
// memory decoding enabled; region also serves the PCI_CFG capability's
// window, whatever the decoding.
type region struct{ t *Transport }

func (r region) Read(offset uint64, data []byte) {
	t := r.t
	clear(data)
	switch {
	case offset >= CommonOffset && offset < CommonOffset+commonLen:
		t.readCommon(offset-CommonOffset, data)
	case offset == ISROffset && len(data) == 1:
		data[0] = t.readISR()
	case offset >= DeviceOffset && offset < DeviceOffset+MaxConfigSize:
		if off, ok := t.configAccess(offset-DeviceOffset, len(data)); ok {
			t.mu.Lock()
			t.dev.ReadConfig(off, data)
			t.mu.Unlock()
		}
	}
}

func (r region) Write(offset uint64, data []byte) {
	t := r.t
	switch {
	case offset >= CommonOffset && offset < CommonOffset+commonLen:
		t.writeCommon(offset-CommonOffset, data)
	case offset >= DeviceOffset && offset < DeviceOffset+MaxConfigSize:
		if off, ok := t.configAccess(offset-DeviceOffset, len(data)); ok {
			t.mu.Lock()
			t.dev.WriteConfig(off, data)
			t.mu.Unlock()
		}
	case offset >= NotifyOffset && offset < NotifyOffset+uint64(t.numQueues)*NotifyMultiplier:
		if q, ok := notifyAccess(offset-NotifyOffset, len(data)); ok {
			// This kick covers q's deferred work; other queues' deferred
			// work gets its next share, which with MSI-X (no ISR read)
			// is how it continues without a Resubmit hook.
			t.kicks.Forget(q)
			t.resumeDeferred()
			t.kick(q)
		}
	}
}

// configAccess checks a device configuration access: 1, 2 or 4 bytes,
// naturally aligned, inside Device.ConfigSize.
func (t *Transport) configAccess(off uint64, n int) (int, bool) {
	if (n != 1 && n != 2 && n != 4) || off%uint64(n) != 0 {
		return 0, false
	}
	if off > uint64(t.configSize) || uint64(n) > uint64(t.configSize)-off {
		return 0, false
	}
	return int(off), true
}

// notifyAccess returns the queue a notification write names by its address:
// a 2-byte write (the 16-bit queue index, as Linux writes it) or 4-byte
// write at the start of the queue's slot. The value is not looked at.
func notifyAccess(off uint64, n int) (int, bool) {
	if (n != 2 && n != 4) || off%NotifyMultiplier != 0 {
		return 0, false
	}
	return int(off / NotifyMultiplier), true
}
