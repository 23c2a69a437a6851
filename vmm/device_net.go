//go:build !glue_no_net && !glue_minimal

package vmm

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/tap"
	"github.com/gluevmm/glue/virtio/vnet"
)

// virtio-net: Config.Nets, one device per host tap, in order.
// Build tag glue_no_net leaves this file, virtio/vnet and tap out of glue.
func init() { provide("virtio-net", (*VM).addNets) }

func (vm *VM) addNets() error {
	for i, n := range vm.cfg.Nets {
		if err := vm.addNet(i, n); err != nil {
			return err
		}
	}
	return nil
}

// addNet opens the tap and adds a virtio-net device on it. The event loop
// reads the tap while the guest has receive buffers; the device turns that
// interest off when it has none (so a busy tap cannot spin the loop) and on
// again when the guest posts more.
func (vm *VM) addNet(i int, n Net) error {
	t, err := tap.Open(n.Tap, tap.Options{})
	if err != nil {
		return &ConfigError{Field: "Nets", Err: err}
	}
	vm.closers = append(vm.closers, t)
	mac := vnet.MACFromName(fmt.Sprintf("%s/%d", vm.cfg.Name, i))
	if n.MAC != "" {
		if mac, err = vnet.ParseMAC(n.MAC); err != nil {
			return &ConfigError{Field: "Nets", Err: fmt.Errorf("net %s: %w", n.Tap, err)}
		}
	}
	fd := t.Fd()
	dev, err := vnet.New(vnet.Config{
		MAC:     mac,
		Backend: t,
		SetRxInterest: func(on bool) {
			events := uint32(0)
			if on {
				events = unix.EPOLLIN
			}
			vm.loop.Modify(fd, events)
		},
		Log: vm.log.With("net", n.Tap),
	})
	if err != nil {
		return err
	}
	var receive func()
	receive = func() {
		if dev.HandleRx() {
			vm.loop.Submit(receive) // bounded work per call; the rest after other fds
		}
	}
	if err := vm.loop.Add(fd, unix.EPOLLIN, func(uint32) { receive() }); err != nil {
		return err
	}
	return vm.addVirtio(dev)
}
