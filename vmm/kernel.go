package vmm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gluevmm/glue/guest"
	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/loader"
	"github.com/gluevmm/glue/x86"
)

// loadKernel is the "load kernel" step: it loads the kernel (cfg.Kernel, or
// the built-in guest) and the initrd into mem, builds the command line from
// cfg.Cmdline and the devices' command-line entries, and writes the boot
// structures that point at them, the RSDP and the reserved ranges of desc
// included. It returns the entry the boot processor starts at; when ctx
// ends first (decompression looks at it), its error.
func loadKernel(ctx context.Context, mem *guestmem.Memory, cfg *Config, desc bootDescription, log *slog.Logger) (loader.EntryPoint, error) {
	opts := loader.Options{MinAddr: x86.HighMemStart, Context: ctx}
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
		k, err = loader.Load(mem, guest.ELF, opts)
	} else {
		k, err = loader.LoadFile(mem, cfg.Kernel, opts)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return loader.EntryPoint{}, err // a stop, not the kernel's fault
	}
	if err != nil {
		return loader.EntryPoint{}, kernelError(FieldKernel, err)
	}
	log.Info("kernel loaded", "path", k.Path, "protocol", k.Protocol, "entry", fmt.Sprintf("%#x", k.Entry),
		"end", fmt.Sprintf("%#x", k.End), "version", k.Version)

	var initrd loader.Initrd
	if cfg.Initrd != "" {
		if initrd, err = loader.LoadInitrdFile(mem, cfg.Initrd, k); err != nil {
			return loader.EntryPoint{}, kernelError(FieldInitrd, err)
		}
	}

	cmdline, err := kernelCmdline(cfg, desc.params, k.CmdlineMax)
	if err != nil {
		return loader.EntryPoint{}, err
	}
	boot := x86.BootConfig{Cmdline: cmdline, NumCPUs: cfg.CPUs, RSDPAddr: desc.rsdp, Reserved: desc.reserved}
	boot.Initrd.Base, boot.Initrd.Size = initrd.Addr, initrd.Size
	boot.Protocol = k.Protocol
	if k.Protocol == loader.Linux64 {
		boot.SetupHeader = k.SetupHeader // PVH has hvm_start_info instead
	}
	if err := x86.WriteBootMemory(mem, boot); err != nil {
		return loader.EntryPoint{}, fmt.Errorf("vmm: write boot structures: %w", err)
	}
	return loader.EntryPoint{Protocol: k.Protocol, Addr: k.Entry}, nil
}

// kernelCmdline is cfg's command line (or the default for a Linux kernel)
// followed by the devices' parameters, checked against the kernel's limit
// (kernelMax bytes) and the space glue reserves.
func kernelCmdline(cfg *Config, deviceParams []string, kernelMax int) (string, error) {
	params := cfg.Cmdline
	if params == "" && cfg.Kernel != "" {
		params = DefaultCmdline
		if cfg.ConsoleDevice == ConsoleVirtio {
			params = DefaultVirtioCmdline
		}
	}
	var c loader.Cmdline
	if params != "" {
		if err := c.Add(params); err != nil {
			return "", &ConfigError{Field: FieldCmdline, Err: err}
		}
	}
	if err := c.Add(deviceParams...); err != nil {
		return "", err
	}
	if err := c.CheckLength(kernelMax); err != nil {
		return "", &ConfigError{Field: FieldCmdline, Err: err}
	}
	if c.Len() > x86.CmdlineRegionSize-1 {
		return "", configErr(FieldCmdline, "command line is %d bytes; glue reserves %d", c.Len(), x86.CmdlineRegionSize-1)
	}
	return c.String(), nil
}

// kernelError attributes a loader error to the config field the user can
// change: a kernel or initrd that does not fit is a memory-size problem,
// anything else is the file's.
func kernelError(field Field, err error) error {
	if errors.Is(err, loader.ErrOutsideRAM) || errors.Is(err, loader.ErrInitrdDoesNotFit) || errors.Is(err, loader.ErrFileLargerThanRAM) {
		return &ConfigError{Field: FieldMemMiB, Err: fmt.Errorf("too little memory for the %s: %w", strings.ToLower(field.String()), err)}
	}
	return &ConfigError{Field: field, Err: err}
}
