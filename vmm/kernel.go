package vmm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gluevmm/glue/guest"
	"github.com/gluevmm/glue/loader"
	"github.com/gluevmm/glue/x86"
)

// loadKernel loads the kernel (and initrd), then writes the boot structures
// that point at them.
func (vm *VM) loadKernel() error {
	cfg := vm.cfg
	opts := loader.Options{MinAddr: x86.HighMemStart}
	switch cfg.Boot {
	case BootPVH:
		opts.Protocol = loader.PVH
	case BootLinux64:
		opts.Protocol = loader.Linux64
	}
	if cfg.BzImageEntry {
		opts.BzImageMode = loader.BzImageEntry64
	}
	var (
		k   *loader.Kernel
		err error
	)
	if cfg.Kernel == "" {
		k, err = loader.Load(vm.mem, guest.ELF, opts)
	} else {
		k, err = loader.LoadFile(vm.mem, cfg.Kernel, opts)
	}
	if err != nil {
		return kernelError("Kernel", err)
	}
	vm.kernel = k
	vm.log.Info("kernel loaded", "path", k.Path, "protocol", k.Protocol, "entry", fmt.Sprintf("%#x", k.Entry),
		"end", fmt.Sprintf("%#x", k.End), "version", k.Version)

	var initrd loader.Initrd
	if cfg.Initrd != "" {
		if initrd, err = loader.LoadInitrdFile(vm.mem, cfg.Initrd, k); err != nil {
			return kernelError("Initrd", err)
		}
	}

	cmdline, err := vm.cmdline(k)
	if err != nil {
		return err
	}
	boot := x86.BootConfig{Cmdline: cmdline, NumCPUs: cfg.CPUs}
	boot.Initrd.Base, boot.Initrd.Size = initrd.Addr, initrd.Size
	boot.Protocol = k.Protocol
	if k.Protocol == loader.Linux64 {
		boot.SetupHeader = k.SetupHeader // PVH has hvm_start_info instead
	}
	if err := x86.WriteBootMemory(vm.mem, boot); err != nil {
		return fmt.Errorf("vmm: write boot structures: %w", err)
	}
	return nil
}

// cmdline builds the kernel command line and checks it against the limit
// the kernel states.
func (vm *VM) cmdline(k *loader.Kernel) (string, error) {
	params := vm.cfg.Cmdline
	if params == "" && vm.cfg.Kernel != "" {
		params = DefaultCmdline
		if vm.cfg.ConsoleDevice == ConsoleVirtio {
			params = DefaultVirtioCmdline
		}
	}
	var c loader.Cmdline
	if params != "" {
		if err := c.Add(params); err != nil {
			return "", &ConfigError{Field: "Cmdline", Err: err}
		}
	}
	if err := c.Add(vm.kernelParams...); err != nil {
		return "", err
	}
	if err := c.CheckLength(k.CmdlineMax); err != nil {
		return "", &ConfigError{Field: "Cmdline", Err: err}
	}
	if c.Len() > x86.CmdlineRegionSize-1 {
		return "", configErr("Cmdline", "command line is %d bytes; glue reserves %d", c.Len(), x86.CmdlineRegionSize-1)
	}
	return c.String(), nil
}

// kernelError attributes a loader error to the config field the user can
// change: a kernel or initrd that does not fit is a memory-size problem,
// anything else is the file's.
func kernelError(field string, err error) error {
	if errors.Is(err, loader.ErrOutsideRAM) || errors.Is(err, loader.ErrInitrdDoesNotFit) {
		return &ConfigError{Field: "MemMiB", Err: fmt.Errorf("too little memory for the %s: %w", strings.ToLower(field), err)}
	}
	return &ConfigError{Field: field, Err: err}
}
