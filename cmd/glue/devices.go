package main

import (
	"fmt"
	"strings"

	"github.com/gluevmm/glue/vmm"
)

// Device flags take either a bare value or comma-separated key=value
// options, as QEMU's and Firecracker's users expect:
//
//	--disk FILE | --disk path=FILE,ro=on[,transport=pci|mmio]
//	--net tap=NAME[,mac=MAC][,transport=pci|mmio]
//	--rng | --rng transport=pci|mmio
//	--console serial|virtio|file=FILE|virtio,file=FILE[,transport=pci|mmio]

// options splits "k=v,k2=v2" into a map; a bare first word is stored under
// bareKey. Unknown keys are an error naming the allowed ones.
func options(s, bareKey string, allowed ...string) (map[string]string, error) {
	opts := map[string]string{}
	for i, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			if i > 0 || bareKey == "" || part == "" {
				return nil, fmt.Errorf("%q: want key=value (keys: %s)", part, strings.Join(allowed, ", "))
			}
			k, v = bareKey, part
		}
		known := false
		for _, a := range allowed {
			known = known || a == k
		}
		if !known {
			return nil, fmt.Errorf("unknown option %q (keys: %s)", k, strings.Join(allowed, ", "))
		}
		if _, dup := opts[k]; dup {
			return nil, fmt.Errorf("option %q given twice", k)
		}
		opts[k] = v
	}
	return opts, nil
}

func onOff(v string) (bool, error) {
	switch v {
	case "on", "true", "1", "yes":
		return true, nil
	case "off", "false", "0", "no", "":
		return false, nil
	}
	return false, fmt.Errorf("%q: want on or off", v)
}

// parseTransport reads a transport= option; "" leaves the VM's default.
func parseTransport(v string) (vmm.Transport, error) {
	switch t := vmm.Transport(v); t {
	case vmm.TransportDefault, vmm.TransportPCI, vmm.TransportMMIO:
		return t, nil
	}
	return "", fmt.Errorf("transport=%q: want pci or mmio", v)
}

func parseDisk(s string) (vmm.Disk, error) {
	opts, err := options(s, "path", "path", "ro", "transport")
	if err != nil {
		return vmm.Disk{}, err
	}
	if opts["path"] == "" {
		return vmm.Disk{}, fmt.Errorf("%q: no path", s)
	}
	ro, err := onOff(opts["ro"])
	if err != nil {
		return vmm.Disk{}, fmt.Errorf("ro=%w", err)
	}
	t, err := parseTransport(opts["transport"])
	if err != nil {
		return vmm.Disk{}, err
	}
	return vmm.Disk{Path: opts["path"], ReadOnly: ro, Transport: t}, nil
}

func parseNet(s string) (vmm.Net, error) {
	opts, err := options(s, "", "tap", "mac", "transport")
	if err != nil {
		return vmm.Net{}, err
	}
	if opts["tap"] == "" {
		return vmm.Net{}, fmt.Errorf("%q: want tap=NAME", s)
	}
	t, err := parseTransport(opts["transport"])
	if err != nil {
		return vmm.Net{}, err
	}
	return vmm.Net{Tap: opts["tap"], MAC: opts["mac"], Transport: t}, nil
}

// parseRNG reads --rng's value: "on" (the bare flag), "off", or options.
func parseRNG(s string) (bool, vmm.Transport, error) {
	if on, err := onOff(s); err == nil {
		return on, vmm.TransportDefault, nil
	}
	opts, err := options(s, "", "transport")
	if err != nil {
		return false, "", err
	}
	t, err := parseTransport(opts["transport"])
	return err == nil, t, err
}

// parseConsole returns the console device, its transport (a virtio
// console's) and the output file ("" for stdout). A file must be given as
// file=FILE: a bare word that is not a device is refused, so that a typo
// ("--console virito") is not silently taken for a file name.
func parseConsole(s string) (vmm.ConsoleDevice, vmm.Transport, string, error) {
	var dev vmm.ConsoleDevice
	var transport vmm.Transport
	file, haveFile := "", false
	for part := range strings.SplitSeq(s, ",") {
		switch {
		case strings.HasPrefix(part, "transport="):
			t, err := parseTransport(strings.TrimPrefix(part, "transport="))
			if err != nil {
				return "", "", "", err
			}
			transport = t
		case part == "" && s == "":
		case part == "serial":
			dev = vmm.ConsoleSerial
		case part == "virtio":
			dev = vmm.ConsoleVirtio
		case strings.HasPrefix(part, "file="):
			if haveFile {
				return "", "", "", fmt.Errorf("file= given twice")
			}
			file, haveFile = strings.TrimPrefix(part, "file="), true
			if file == "" {
				return "", "", "", fmt.Errorf("file= names no file")
			}
		default:
			return "", "", "", fmt.Errorf("%q: want serial, virtio, file=FILE or transport=pci|mmio", part)
		}
	}
	if transport != vmm.TransportDefault && dev != vmm.ConsoleVirtio {
		return "", "", "", fmt.Errorf("transport=%s: only a virtio console has a transport", transport)
	}
	return dev, transport, file, nil
}
