package vsock

import (
	"errors"
	"fmt"
)

// ErrInactive is Connect's error while the driver has not started the
// device: there is no guest socket to connect to.
var ErrInactive = errors.New("vsock: the guest's driver is not running")

// Connect starts a connection from a host program's stream to the guest's
// port, and returns the host port it has on the guest's side. The guest
// gets a REQUEST; when it accepts, host reads "OK <host port>\n" and then
// the guest's data; when it refuses, the device closes host. On error the
// caller keeps host.
func (d *Device) Connect(port uint32, host HostConn) (uint32, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rxq == nil || d.txq == nil {
		return 0, ErrInactive
	}
	if len(d.conns) >= d.maxConns {
		return 0, fmt.Errorf("vsock: %d connections open, the most there may be", len(d.conns))
	}
	key := connKey{peer: port}
	for {
		key.local = d.nextPort
		d.nextPort++
		if d.nextPort == 0 {
			d.nextPort = firstHostPort
		}
		if d.conns[key] == nil {
			break
		}
	}
	k := &conn{key: key, host: host, owe: oweRequest}
	d.conns[key], d.byHost[host] = k, k
	d.schedule(k)
	d.pumpRx()
	return key.local, nil
}

// Abandon gives up the connection Connect started from host port local
// to the guest's port if the guest has not accepted it yet: the guest
// gets an RST, and the host stream is closed without its OK line. It
// reports whether there was such a connection.
func (d *Device) Abandon(local, port uint32) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := d.conns[connKey{local: local, peer: port}]
	if k == nil || k.established {
		return false
	}
	d.reset(k.key, k)
	d.pumpRx()
	return true
}
