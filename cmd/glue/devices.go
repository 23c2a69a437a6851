package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gluevmm/glue/ratelimit"
	"github.com/gluevmm/glue/vmm"
)

// Device flags take either a bare value or comma-separated key=value
// options, as QEMU's and Firecracker's users expect:
//
//	--disk FILE | --disk path=FILE,ro=on[,transport=pci|mmio][,bps=N][,bps-burst=N][,iops=N][,iops-burst=N]
//	--net tap=NAME[,mac=MAC][,transport=pci|mmio][,rx-bps=N][,rx-bps-burst=N][,tx-bps=N][,tx-bps-burst=N]
//	--rng | --rng transport=pci|mmio
//	--balloon | --balloon stats=on|off,deflate-on-oom=on|off,reporting=on|off,transport=pci|mmio
//	--vsock cid=N[,socket=PATH][,transport=pci|mmio]
//	--console serial|virtio|file=FILE|virtio,file=FILE[,transport=pci|mmio][,bps=N][,bps-burst=N]
//
// Rate limits (parseAmount): bps is bytes per second, iops requests per
// second; each -burst is a one-time allowance on top, spent first.

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

// parseAmount reads a rate or a burst: a whole number with an optional
// SI suffix, K, M, G or T (powers of 1000; k for K too), or an IEC one,
// Ki, Mi, Gi or Ti (powers of 1024). Zero is refused: leave the option out
// for no limit.
func parseAmount(v string) (uint64, error) {
	num, mult := v, uint64(1)
	for _, u := range []struct {
		suffix string
		mult   uint64
	}{
		{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
		{"K", 1e3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
	} {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n == 0 || n > ratelimit.MaxTokens/mult {
		return 0, fmt.Errorf("%q: want a number from 1 to %d, with an optional suffix K, M, G, T (powers of 1000) or Ki, Mi, Gi, Ti (powers of 1024)", v, uint64(ratelimit.MaxTokens))
	}
	return n * mult, nil
}

// parseBucket reads the rate option key and its one-time burst key-burst
// from opts into a bucket; neither given is no limit.
func parseBucket(opts map[string]string, key string) (ratelimit.Bucket, error) {
	var b ratelimit.Bucket
	for _, o := range []struct {
		key string
		dst *uint64
	}{{key, &b.Rate}, {key + "-burst", &b.OneTimeBurst}} {
		v, ok := opts[o.key]
		if !ok {
			continue
		}
		n, err := parseAmount(v)
		if err != nil {
			return ratelimit.Bucket{}, fmt.Errorf("%s=%w", o.key, err)
		}
		*o.dst = n
	}
	if b.OneTimeBurst > 0 && b.Rate == 0 {
		return ratelimit.Bucket{}, fmt.Errorf("%s-burst=%s: a burst needs %s= as well", key, opts[key+"-burst"], key)
	}
	return b, nil
}

func parseDisk(s string) (vmm.Disk, error) {
	opts, err := options(s, "path", "path", "ro", "transport", "bps", "bps-burst", "iops", "iops-burst")
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
	var limit vmm.RateLimit
	if limit.Bytes, err = parseBucket(opts, "bps"); err != nil {
		return vmm.Disk{}, err
	}
	if limit.Ops, err = parseBucket(opts, "iops"); err != nil {
		return vmm.Disk{}, err
	}
	return vmm.Disk{Path: opts["path"], ReadOnly: ro, Transport: t, Limit: limit}, nil
}

func parseNet(s string) (vmm.Net, error) {
	opts, err := options(s, "", "tap", "mac", "transport", "rx-bps", "rx-bps-burst", "tx-bps", "tx-bps-burst")
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
	n := vmm.Net{Tap: opts["tap"], MAC: opts["mac"], Transport: t}
	if n.RxLimit.Bytes, err = parseBucket(opts, "rx-bps"); err != nil {
		return vmm.Net{}, err
	}
	if n.TxLimit.Bytes, err = parseBucket(opts, "tx-bps"); err != nil {
		return vmm.Net{}, err
	}
	return n, nil
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

// parseBalloon reads --balloon's value: "on" (the bare flag: every
// feature), "off" (nil), or options, each feature on unless turned off.
func parseBalloon(s string) (*vmm.Balloon, error) {
	if on, err := onOff(s); err == nil {
		if !on {
			return nil, nil
		}
		s = ""
	}
	b := &vmm.Balloon{Stats: true, DeflateOnOOM: true, Reporting: true}
	if s == "" {
		return b, nil
	}
	opts, err := options(s, "", "stats", "deflate-on-oom", "reporting", "transport")
	if err != nil {
		return nil, err
	}
	for key, dst := range map[string]*bool{"stats": &b.Stats, "deflate-on-oom": &b.DeflateOnOOM, "reporting": &b.Reporting} {
		v, ok := opts[key]
		if !ok {
			continue
		}
		on, err := onOff(v)
		if err != nil || v == "" {
			return nil, fmt.Errorf("%s=%q: want on or off", key, v)
		}
		*dst = on
	}
	if b.Transport, err = parseTransport(opts["transport"]); err != nil {
		return nil, err
	}
	return b, nil
}

// parseVsock reads --vsock. The socket path may be left out: the CLI puts
// it next to the VM's control socket once the name is known.
func parseVsock(s string) (*vmm.Vsock, error) {
	opts, err := options(s, "", "cid", "socket", "transport")
	if err != nil {
		return nil, err
	}
	c, ok := opts["cid"]
	if !ok {
		return nil, fmt.Errorf("%q: cid=N is required", s)
	}
	cid, err := strconv.ParseUint(c, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("cid=%s: want a number 3..4294967294", c)
	}
	if cid <= 2 || cid == 1<<32-1 {
		return nil, fmt.Errorf("cid=%d is reserved (0, 1, 2 and 4294967295 are): want 3..4294967294", cid)
	}
	t, err := parseTransport(opts["transport"])
	if err != nil {
		return nil, err
	}
	if sock, given := opts["socket"]; given && sock == "" {
		return nil, fmt.Errorf("socket= needs a path")
	}
	return &vmm.Vsock{CID: uint32(cid), Socket: opts["socket"], Transport: t}, nil
}

// consoleOptions is what --console says.
type consoleOptions struct {
	dev       vmm.ConsoleDevice
	transport vmm.Transport // a virtio console's
	file      string        // "" for stdout
	limit     ratelimit.Bucket
}

// parseConsole reads --console. A file must be given as file=FILE: a bare
// word that is not a device is refused, so that a typo ("--console
// virito") is not silently taken for a file name.
func parseConsole(s string) (consoleOptions, error) {
	var dev vmm.ConsoleDevice
	var transport vmm.Transport
	file, haveFile := "", false
	limits := map[string]string{}
	for part := range strings.SplitSeq(s, ",") {
		switch {
		case strings.HasPrefix(part, "bps=") || strings.HasPrefix(part, "bps-burst="):
			k, v, _ := strings.Cut(part, "=")
			if _, dup := limits[k]; dup {
				return consoleOptions{}, fmt.Errorf("%s= given twice", k)
			}
			limits[k] = v
		case strings.HasPrefix(part, "transport="):
			t, err := parseTransport(strings.TrimPrefix(part, "transport="))
			if err != nil {
				return consoleOptions{}, err
			}
			transport = t
		case part == "" && s == "":
		case part == "serial":
			dev = vmm.ConsoleSerial
		case part == "virtio":
			dev = vmm.ConsoleVirtio
		case strings.HasPrefix(part, "file="):
			if haveFile {
				return consoleOptions{}, fmt.Errorf("file= given twice")
			}
			file, haveFile = strings.TrimPrefix(part, "file="), true
			if file == "" {
				return consoleOptions{}, fmt.Errorf("file= names no file")
			}
		default:
			return consoleOptions{}, fmt.Errorf("%q: want serial, virtio, file=FILE, transport=pci|mmio, bps=N or bps-burst=N", part)
		}
	}
	if transport != vmm.TransportDefault && dev != vmm.ConsoleVirtio {
		return consoleOptions{}, fmt.Errorf("transport=%s: only a virtio console has a transport", transport)
	}
	limit, err := parseBucket(limits, "bps")
	if err != nil {
		return consoleOptions{}, err
	}
	return consoleOptions{dev: dev, transport: transport, file: file, limit: limit}, nil
}
