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
static bool wake_ready;

/* The backstop timer of intr_window: 1 ms at a 1 GHz APIC bus. */
#define WAKE_COUNT 1000000u

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
 * Waits for an interrupt: sti; hlt, with sti's shadow covering the hlt,
 * so an interrupt that became pending while interrupts were off ends the
 * hlt at once, and one that comes later wakes the halted vCPU. The
 * LAPIC's one-shot timer, restarted each time, bounds the wait (about
 * 1 ms with KVM's 1 GHz APIC bus), so a device that never interrupts
 * still leaves the caller's timeout in charge.
 *
 * An earlier version opened a two-instruction window, sti; nop; LAPIC
 * read; cli, relying on the read's VM exit to let the interrupt in. On
 * this project's PVM hosts that lost most of the time a request took:
 * the guest kernel runs in KVM's instruction emulator there, the LAPIC
 * read is handled inside it without a new VM entry, and an interrupt
 * pending in the IRR went in only at the next real entry, tens to
 * thousands of windows later (host trace: kvm_msi_set_irq to the
 * guest's EOI). QEMU's virtio-pci was as slow with that guest, so it
 * was not the VMM's delivery; see docs/performance.md.
 */
void intr_window(void)
{
	if (!wake_ready) {
		lapic_setup();
		lapic_timer_setup(INTR_WAKE);
		wake_ready = true;
	}
	lapic_timer_start(WAKE_COUNT);
	__asm__ volatile("sti; hlt; cli" ::: "memory");
}

uint32_t intr_count(uint8_t v)
{
	return counts[v];
}

bool intr_handle(uint64_t v)
{
	if (v == INTR_WAKE) {
		lapic_eoi();
		return true;
	}
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

