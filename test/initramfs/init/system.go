package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// kernelParams reads /proc/cmdline into name -> value ("" for a bare
// name). A repeated name keeps its last value; loadModules reads the raw
// line again for repeatable module parameters.
func kernelParams(r *report) map[string]string {
	params := map[string]string{}
	line, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		r.fail("cmdline", "%v", err)
		return params
	}
	for _, f := range strings.Fields(string(line)) {
		k, v, _ := strings.Cut(f, "=")
		params[k] = v
	}
	params[rawCmdline] = strings.TrimSpace(string(line))
	return params
}

// rawCmdline keys the whole line in the params map; it cannot clash with
// a parameter, which never contains a space.
const rawCmdline = " cmdline"

// cmdlineCheck shows that the command line glue built reached userspace.
func cmdlineCheck(params map[string]string) (string, error) {
	token, ok := params["glue.hw.token"]
	if !ok {
		return "", fmt.Errorf("no glue.hw.token in %q", params[rawCmdline])
	}
	return "token=" + token, nil
}

// cpusCheck counts the online CPUs: the APs came up through the MP table
// and INIT/SIPI.
func cpusCheck() (string, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return "", err
	}
	online := strings.TrimSpace(string(b))
	n, err := countCPUList(online)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("online=%s n=%d", online, n), nil
}

// countCPUList counts the CPUs of a kernel CPU list such as "0-3,5".
func countCPUList(list string) (int, error) {
	n := 0
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return 0, fmt.Errorf("cpu list %q: %v", list, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0, fmt.Errorf("cpu list %q: bad range %q", list, part)
			}
		}
		n += b - a + 1
	}
	return n, nil
}

func memCheck() (string, error) {
	kib, err := memTotalKiB()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("total-kib=%d", kib), nil
}

// memTotalKiB is /proc/meminfo's MemTotal: the RAM the kernel manages.
func memTotalKiB() (uint64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kib, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("MemTotal %q: %v", rest, err)
			}
			return kib, nil
		}
	}
	return 0, fmt.Errorf("no MemTotal in /proc/meminfo")
}

// rtcCheck reads the CMOS clock as Linux's rtc-cmos driver sees it; the
// test compares it with the host's time.
func rtcCheck() (string, error) {
	b, err := os.ReadFile("/sys/class/rtc/rtc0/since_epoch")
	if err != nil {
		return "", err
	}
	// name is "DRIVER DEVICE" ("rtc_cmos rtc_cmos").
	driver := "unknown"
	if name, err := os.ReadFile("/sys/class/rtc/rtc0/name"); err == nil && len(strings.Fields(string(name))) > 0 {
		driver = strings.Fields(string(name))[0]
	}
	return fmt.Sprintf("since-epoch=%s driver=%s", strings.TrimSpace(string(b)), driver), nil
}

// virtioCheck lists the virtio devices Linux found and compares their
// number with glue.hw.virtio=N or, without it, with the
// virtio_mmio.device= entries glue put on the command line (a VMM that
// describes its devices in ACPI, as QEMU's microvm does, puts none there).
// Linux reads those entries only when built with
// CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES; without it virtio_mmio has no
// "device" parameter and the devices stay invisible, which is worth saying
// plainly since Debian's kernel is built that way.
func virtioCheck(params map[string]string) (string, error) {
	announced := strings.Count(" "+params[rawCmdline], " virtio_mmio.device=")
	want := announced
	if v, ok := params["glue.hw.virtio"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return "", fmt.Errorf("glue.hw.virtio=%q: %v", v, err)
		}
		want = n
	}
	paths, _ := filepath.Glob("/sys/bus/virtio/devices/*/device")
	var ids []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		id, err := strconv.ParseUint(strings.TrimSpace(string(b)), 0, 32)
		if err != nil {
			return "", fmt.Errorf("%s: %v", p, err)
		}
		ids = append(ids, strconv.FormatUint(id, 10))
	}
	slices.Sort(ids)
	if len(ids) != want {
		if _, err := os.Stat("/sys/module/virtio_mmio/parameters/device"); err != nil && announced > 0 {
			return "", fmt.Errorf("found %d devices, want %d, and virtio_mmio has no device= parameter for the %d on the command line: "+
				"this kernel lacks CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES", len(ids), want, announced)
		}
		return "", fmt.Errorf("found %d devices (ids %s), want %d", len(ids), strings.Join(ids, ","), want)
	}
	return fmt.Sprintf("devices=%d ids=%s", len(ids), strings.Join(ids, ",")), nil
}
