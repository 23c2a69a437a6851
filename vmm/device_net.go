//go:build !glue_no_net && !glue_minimal

package vmm

import (
	"errors"
	"fmt"
	"log/slog"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/eventloop"
	"github.com/gluevmm/glue/tap"
	"github.com/gluevmm/glue/virtio/vnet"
)

// virtio-net: Config.Nets, one device per host tap, in order.
// Build tag glue_no_net leaves this file, virtio/vnet and tap out of glue;
// device_net_missing.go takes its place.

const netLinked = true

// checkNet asks the tap backend whether it would accept n's interface
// name, and the device whether it would accept n's MAC.
func checkNet(n Net) error {
	if err := tap.CheckName(n.Tap); err != nil {
		return err
	}
	if n.MAC != "" {
		if _, err := vnet.ParseMAC(n.MAC); err != nil {
			return fmt.Errorf("net %s: %w", n.Tap, err)
		}
	}
	return nil
}

// newNets makes a virtio-net device on each tap, its receive side driven
// by loop. Without a MAC in the config, a device's MAC is derived from the
// VM's name and its index, so it is the same every time the VM runs.
func newNets(loop *eventloop.Loop, vmName string, nets []Net, log *slog.Logger) ([]virtioDevice, error) {
	var devs []virtioDevice
	for i, n := range nets {
		d, err := newNet(loop, vmName, i, n, log)
		if err != nil {
			for _, d := range devs {
				d.backend.Close()
			}
			return nil, err
		}
		devs = append(devs, d)
	}
	return devs, nil
}

// newNet opens the tap of n, the VM's i-th net, and makes a virtio-net
// device on it. The event loop reads the tap while the guest has receive
// buffers; the device turns that interest off when it has none (so a busy
// tap cannot spin the loop) and on again when the guest posts more.
func newNet(loop *eventloop.Loop, vmName string, i int, n Net, log *slog.Logger) (virtioDevice, error) {
	mac := vnet.MACFromName(fmt.Sprintf("%s/%d", vmName, i))
	if n.MAC != "" {
		var err error
		if mac, err = vnet.ParseMAC(n.MAC); err != nil {
			return virtioDevice{}, &ConfigError{Field: FieldNets, Err: fmt.Errorf("net %s: %w", n.Tap, err)}
		}
	}
	existed := tap.Exists(n.Tap)
	t, err := tap.Open(n.Tap, tap.Options{})
	if err != nil {
		return virtioDevice{}, &ConfigError{Field: FieldNets, Err: err}
	}
	if !existed {
		// Opening a missing tap creates it: say so, since a mistyped
		// name otherwise gives the guest a NIC connected to nothing.
		log.Warn("net: the tap did not exist, so glue created it; it is connected to nothing until the host configures it, and goes away when the VM ends", "tap", t.Name())
	}
	fd := t.Fd()
	rxLimit, err := n.RxLimit.limiter()
	if err != nil {
		t.Close()
		return virtioDevice{}, &ConfigError{Field: FieldNets, Err: err}
	}
	txLimit, err := n.TxLimit.limiter()
	if err != nil {
		t.Close()
		return virtioDevice{}, &ConfigError{Field: FieldNets, Err: err}
	}
	wake := newQueueWake(loop)
	dev, err := vnet.New(vnet.Config{
		MAC:     mac,
		Backend: t,
		SetRxInterest: func(on bool) {
			events := uint32(0)
			if on {
				events = unix.EPOLLIN
			}
			loop.Modify(fd, events)
		},
		Log:     log.With("net", n.Tap),
		RxLimit: rxLimit,
		TxLimit: txLimit,
		Wake:    wake.wake,
	})
	if err != nil {
		t.Close()
		return virtioDevice{}, err
	}
	var receive func()
	receive = func() {
		if dev.HandleRx() {
			loop.Submit(receive) // bounded work per call; the rest after other fds
		}
	}
	if err := loop.Add(fd, unix.EPOLLIN, func(uint32) { receive() }); err != nil {
		t.Close()
		return virtioDevice{}, err
	}
	return virtioDevice{dev: dev, backend: loopedTap{loop, t}, onTransport: wake.bind}, nil
}

// loopedTap is a tap the event loop reads; closing it takes it out of the
// loop first (which does nothing once the loop is closed).
type loopedTap struct {
	loop *eventloop.Loop
	tap  *tap.Tap
}

func (b loopedTap) Close() error {
	return errors.Join(b.loop.Remove(b.tap.Fd()), b.tap.Close())
}
