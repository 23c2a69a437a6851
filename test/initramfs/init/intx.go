package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// intxCheck reports how Linux delivers the virtio devices' interrupts, from
// /proc/interrupts: with pci=nomsi virtio-pci has to fall back to its INTx
// line, which reaches the guest through the IOAPIC. Run it after a check
// that made a device interrupt (rng reads entropy).
func intxCheck(r *report, _ map[string]string) {
	r.check("intx", func() (string, error) {
		b, err := os.ReadFile("/proc/interrupts")
		if err != nil {
			return "", err
		}
		c := countInterrupts(string(b))
		return fmt.Sprintf("ioapic=%d fired=%d msi=%d", c.ioapic, c.fired, c.msi), nil
	})
}

type interruptCounts struct {
	ioapic int // virtio lines through the IOAPIC
	fired  int // of those, lines that have counted an interrupt
	msi    int // lines of any device delivered by MSI
}

// countInterrupts reads /proc/interrupts: per line the IRQ, a count per
// CPU, the controller ("IO-APIC", "PCI-MSI", ...), then the handlers.
func countInterrupts(text string) interruptCounts {
	var c interruptCounts
	for _, line := range strings.Split(text, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 3 || !strings.HasSuffix(fields[0], ":") {
			continue
		}
		if strings.Contains(line, "PCI-MSI") {
			c.msi++
			continue
		}
		ioapic := -1
		for i, f := range fields {
			if f == "IO-APIC" {
				ioapic = i
				break
			}
		}
		if ioapic < 0 || !strings.Contains(line, "virtio") {
			continue
		}
		c.ioapic++
		for _, f := range fields[1:ioapic] {
			if n, err := strconv.ParseUint(f, 10, 64); err == nil && n > 0 {
				c.fired++
				break
			}
		}
	}
	return c
}
