/*
 * intr.c - device interrupts.
 *
 * The guest runs with interrupts off; drivers that want them open a
 * short window (intr_window) while they wait. A device vector
 * is counted and acknowledged at the LAPIC (EOI, which for a
 * level-triggered IOAPIC input also re-arms the line once the hook has
 * made the device drop it: the virtio ISR read).
 *
 * IOAPIC (82093AA): an index register at base, the data window at base +
 * 0x10; register 1 holds the number of redirection entries - 1 in bits
 * 16-23; entry n is registers 0x10 + 2n (low: vector, bit 13 active low,
 * bit 15 level, bit 16 masked) and 0x11 + 2n (destination APIC ID in bits
 * 24-31).
 */
#include "intr.h"
#include "aml.h"
#include "io.h"

static volatile uint32_t counts[256];
static intr_hook hooks[256];
static void *hook_args[256];
static bool armed[256];

/* Firmware (SeaBIOS on QEMU's q35) may leave the 8259 PICs unmasked with
 * the timer on IRQ 0 at vector 8: once interrupts open, that would look
 * like a double fault. Devices here use the LAPIC only. */
static void mask_8259(void)
{
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

void intr_arm(uint8_t v, intr_hook hook, void *arg)
{
	lapic_setup();
	mask_8259();
	hooks[v] = hook;
	hook_args[v] = arg;
	armed[v] = v >= INTR_FIRST && v <= INTR_LAST;
}

void intr_disarm(uint8_t v)
{
	armed[v] = false;
	hooks[v] = NULL;
}

/*
 * An interrupt that became pending while interrupts were off goes in when
 * the VMM next enters the guest with IF set and no interrupt shadow.
 * sti's shadow covers the nop; the LAPIC read after it is a VM exit (one
 * the kernel handles: cheap), so that entry comes at once rather than at
 * whatever exit happens next (on this project's PVM hosts the QEMU PCI
 * tests ran 13 s with it and 33 s without).
 */
void intr_window(void)
{
	__asm__ volatile("sti; nop" ::: "memory");
	lapic_touch();
	__asm__ volatile("cli" ::: "memory");
}

uint32_t intr_count(uint8_t v)
{
	return counts[v];
}

bool intr_handle(uint64_t v)
{
	if (v > 255 || !armed[v])
		return false;
	counts[v]++;
	if (hooks[v])
		hooks[v](hook_args[v]);
	lapic_eoi();
	return true;
}

static volatile uint32_t *ioapic_for(uint32_t gsi, unsigned *pin)
{
	uint64_t base;
	uint32_t first;
	if (!acpi_ioapic(gsi, &base, &first) || base == 0 || base >= mapped_top)
		return NULL;
	volatile uint32_t *io = (volatile uint32_t *)(uintptr_t)base;
	io[0] = 1;
	unsigned entries = ((io[4] >> 16) & 0xff) + 1;
	if (gsi - first >= entries)
		return NULL;
	*pin = gsi - first;
	return io;
}

/* Called with masked=false before the device can raise the line: under
 * QEMU's microvm an input that was already asserted when its entry was
 * unmasked was never delivered (remote IRR set, nothing in the LAPIC). */
bool ioapic_route(uint32_t gsi, uint8_t vector, bool level, bool active_low, bool masked)
{
	unsigned pin;
	volatile uint32_t *io = ioapic_for(gsi, &pin);
	if (!io)
		return false;
	io[0] = 0x10 + 2 * pin;
	io[4] = 1u << 16; /* masked while it changes */
	io[0] = 0x11 + 2 * pin;
	io[4] = (cpu_apic_id() & 0xff) << 24;
	io[0] = 0x10 + 2 * pin;
	io[4] = vector | (active_low ? 1u << 13 : 0) | (level ? 1u << 15 : 0) | (masked ? 1u << 16 : 0);
	return true;
}

void ioapic_mask(uint32_t gsi, bool masked)
{
	unsigned pin;
	volatile uint32_t *io = ioapic_for(gsi, &pin);
	if (!io)
		return;
	io[0] = 0x10 + 2 * pin;
	uint32_t lo = io[4];
	io[4] = masked ? lo | 1u << 16 : lo & ~(1u << 16);
}

