package main

import (
	"fmt"
	"strings"

	"github.com/gluevmm/glue/vmm"
)

// Device flags take either a bare value or comma-separated key=value
// options, as QEMU's and Firecracker's users expect:
//
//	--disk FILE | --disk path=FILE,ro=on
//	--net tap=NAME[,mac=MAC]
//	--console serial|virtio|file=FILE|virtio,file=FILE

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

func parseDisk(s string) (vmm.Disk, error) {
	opts, err := options(s, "path", "path", "ro")
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
	return vmm.Disk{Path: opts["path"], ReadOnly: ro}, nil
}

func parseNet(s string) (vmm.Net, error) {
	opts, err := options(s, "", "tap", "mac")
	if err != nil {
		return vmm.Net{}, err
	}
	if opts["tap"] == "" {
		return vmm.Net{}, fmt.Errorf("%q: want tap=NAME", s)
	}
	return vmm.Net{Tap: opts["tap"], MAC: opts["mac"]}, nil
}

// parseConsole returns the console device and the output file ("" for
// stdout). A file must be given as file=FILE: a bare word that is not a
// device is refused, so that a typo ("--console virito") is not silently
// taken for a file name.
func parseConsole(s string) (vmm.ConsoleDevice, string, error) {
	var dev vmm.ConsoleDevice
	file, haveFile := "", false
	for part := range strings.SplitSeq(s, ",") {
		switch {
		case part == "" && s == "":
		case part == "serial":
			dev = vmm.ConsoleSerial
		case part == "virtio":
			dev = vmm.ConsoleVirtio
		case strings.HasPrefix(part, "file="):
			if haveFile {
				return "", "", fmt.Errorf("file= given twice")
			}
			file, haveFile = strings.TrimPrefix(part, "file="), true
			if file == "" {
				return "", "", fmt.Errorf("file= names no file")
			}
		default:
			return "", "", fmt.Errorf("%q: want serial, virtio and/or file=FILE", part)
		}
	}
	return dev, file, nil
}
