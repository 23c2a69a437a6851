/*
 * smp.c - start the application processors (APs) the standard way.
 *
 * For each AP the BSP sends, through its local APIC's interrupt command
 * register (ICR), INIT (assert, then de-assert), waits 10 ms, then sends
 * STARTUP (SIPI) twice, 200 us apart, with vector TRAMPOLINE_ADDR >> 12.
 * The AP runs trampoline.S from that page up to long mode and calls
 * ap_main, which prints "GLUE-OK cpu <apic-id> online", counts itself in
 * and halts. The BSP waits up to ~1 s for each AP before the next, so the
 * lines come out in table order. All waits are bounded (TSC, see tsc.c).
 *
 * xAPIC registers are MMIO at the base in IA32_APIC_BASE (0xfee00000);
 * if the firmware left the APIC in x2APIC mode they are MSRs instead.
 */
#include "guest.h"
#include "io.h"

#define MSR_APIC_BASE  0x1b
#define APIC_BASE_EXTD (1u << 10) /* x2APIC mode */
#define APIC_BASE_EN   (1u << 11) /* globally enabled */

#define LAPIC_ID     0x020
#define LAPIC_EOI    0x0b0
#define LAPIC_SVR    0x0f0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_DIV  0x3e0

#define SVR_ENABLE      0x100
#define SPURIOUS_VECTOR 0xff
#define ICR_BUSY        (1u << 12) /* delivery status: send pending */
#define ICR_INIT        0x00000500
#define ICR_STARTUP     0x00000600
#define ICR_ASSERT      0x00004000
#define ICR_LEVEL       0x00008000

/* Used by trampoline.S (absolute addresses). */
uint32_t ap_next_stack;
char ap_stacks[MAX_CPUS * AP_STACK_SIZE]
	__attribute__((section(".bss.stacks"), aligned(AP_STACK_SIZE)));

extern const char trampoline_start[], trampoline_end[];

static uintptr_t lapic;
static bool x2apic;

/*
 * Filled in by the APs: each takes a slot, stores its APIC ID there, then
 * counts itself in ap_online (which the BSP polls). Slots not yet written
 * hold NO_ID, so a late AP cannot make the BSP read a stale ID.
 */
#define NO_ID 0xffffffffu
static uint32_t ap_slot;
static uint32_t ap_online;
static uint32_t ap_ids[MAX_CPUS];

static uint32_t lapic_read(unsigned reg)
{
	return x2apic ? (uint32_t)rdmsr(0x800 + (reg >> 4)) : mmio_read32(lapic + reg);
}

static void lapic_write(unsigned reg, uint32_t v)
{
	if (x2apic)
		wrmsr(0x800 + (reg >> 4), v);
	else
		mmio_write32(lapic + reg, v);
}

void lapic_setup(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);
	if (!(base & APIC_BASE_EN)) {
		base |= APIC_BASE_EN;
		wrmsr(MSR_APIC_BASE, base);
	}
	x2apic = base & APIC_BASE_EXTD;
	lapic = base & 0x000ffffffffff000ull;
	/* Software-enable the APIC; spurious interrupts go to a vector
	 * whose handler ignores them (desc.c). Interrupts stay off anyway. */
	lapic_write(LAPIC_SVR, SVR_ENABLE | SPURIOUS_VECTOR);
}

/* One-shot LAPIC timer: vector, divide by 1. */
void lapic_timer_setup(uint8_t vector)
{
	lapic_write(LAPIC_TIMER_DIV, 0xb);
	lapic_write(LAPIC_LVT_TIMER, vector);
}

/* (Re)starts the one-shot timer: it fires after count bus clocks. */
void lapic_timer_start(uint32_t count)
{
	lapic_write(LAPIC_TIMER_INIT, count);
}

/* End of interrupt: the in-service vector is done. */
void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

uint32_t cpu_apic_id(void)
{
	uint32_t r[4];
	cpuid(1, 0, r);
	return r[1] >> 24;
}

/* Waits (bounded, ~100 ms) until the previous IPI has left the ICR. */
static bool icr_idle(void)
{
	if (x2apic)
		return true; /* x2APIC has no delivery status bit */
	uint64_t limit = 100 * tsc_khz(false), start = rdtsc();
	while (lapic_read(LAPIC_ICR_LO) & ICR_BUSY) {
		if (rdtsc() - start > limit)
			return false;
		cpu_relax();
	}
	return true;
}

static bool send_ipi(uint32_t apic_id, uint32_t icr)
{
	if (!icr_idle())
		return false;
	if (x2apic) {
		wrmsr(0x800 + (LAPIC_ICR_LO >> 4), (uint64_t)apic_id << 32 | icr);
		return true;
	}
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, icr);
	return icr_idle();
}

static bool start_ap(uint32_t id)
{
	uint32_t vector = TRAMPOLINE_ADDR >> 12;
	if (!send_ipi(id, ICR_INIT | ICR_LEVEL | ICR_ASSERT) ||
	    !send_ipi(id, ICR_INIT | ICR_LEVEL))
		return false;
	delay_us(10000);
	for (int i = 0; i < 2; i++) {
		if (!send_ipi(id, ICR_STARTUP | vector))
			return false;
		delay_us(200);
	}
	return true;
}

/* The trampoline page must be RAM the memory map lets us use. */
static bool trampoline_page_usable(void)
{
	for (int i = 0; i < boot.memmap_n; i++) {
		const struct memmap_entry *e = &boot.memmap[i];
		if (e->type == E820_RAM && e->addr <= TRAMPOLINE_ADDR &&
		    e->addr + e->size >= TRAMPOLINE_ADDR + 4096)
			return true;
	}
	return false;
}

void smp_start_aps(const struct cpu_list *cpus, struct smp_result *res)
{
	uint32_t bsp = cpu_apic_id();
	res->started = 0;
	res->online = 1;
	res->online_id[0] = bsp;
	res->error = NULL;
	if (cpus->n <= 1)
		return;
	if (!trampoline_page_usable()) {
		res->error = "trampoline page 0x1000 is not usable RAM";
		return;
	}
	lapic_setup();
	if (!x2apic && lapic >= mapped_top) {
		res->error = "local APIC outside the identity map";
		return;
	}

	/* Any earlier run's APs are halted, so the page and counters are ours. */
	memcpy((void *)TRAMPOLINE_ADDR, trampoline_start, (size_t)(trampoline_end - trampoline_start));
	ap_next_stack = 0;
	ap_slot = 0;
	ap_online = 0;
	for (int i = 0; i < MAX_CPUS; i++)
		ap_ids[i] = NO_ID;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	for (int i = 0; i < cpus->n; i++) {
		uint32_t id = cpus->apic_id[i];
		if (id == bsp)
			continue;
		if (!x2apic && id > 0xfe) {
			res->error = "APIC ID above 254 needs x2APIC";
			continue;
		}
		uint32_t before = __atomic_load_n(&ap_online, __ATOMIC_ACQUIRE);
		if (!start_ap(id)) {
			res->error = "IPI not delivered (ICR stayed busy)";
			continue;
		}
		res->started++;
		uint64_t limit = 1000 * tsc_khz(false), start = rdtsc();
		while (__atomic_load_n(&ap_online, __ATOMIC_ACQUIRE) == before &&
		       rdtsc() - start < limit)
			cpu_relax();
	}

	for (int i = 0; i < MAX_CPUS && res->online < MAX_CPUS; i++) {
		uint32_t id = __atomic_load_n(&ap_ids[i], __ATOMIC_ACQUIRE);
		if (id != NO_ID)
			res->online_id[res->online++] = id;
	}
}

/* Where each AP lands after trampoline.S; index picks its stack. */
NORETURN void ap_main(uint32_t index);
void ap_main(uint32_t index)
{
	(void)index;
	idt_load();
	uint32_t id = cpu_apic_id(); /* CPUID.1:EBX[31:24] of this CPU */
	print("GLUE-OK cpu %u online\n", id);
	uint32_t slot = __atomic_fetch_add(&ap_slot, 1, __ATOMIC_RELAXED);
	if (slot < MAX_CPUS)
		__atomic_store_n(&ap_ids[slot], id, __ATOMIC_RELEASE);
	__atomic_fetch_add(&ap_online, 1, __ATOMIC_RELEASE);
	halt_forever();
}
