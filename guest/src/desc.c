/*
 * desc.c - the guest's own GDT and IDT, and the exception handler.
 *
 * Both tables are in the image, so nothing the loader put in low memory is
 * needed after start64 has called desc_init. Every vector gets a handler:
 * an unexpected exception or interrupt prints
 *   GLUE-FAIL <current test> exception vector=<n> (<name>) rip=0x... ...
 * and ends the VM the way glue.end= asks (see vm_end in main.c).
 */
#include "guest.h"
#include "io.h"
#include "intr.h"

/* Flat segments (Intel SDM vol. 3, 3.4.5); accessed bits preset. */
uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16))) = {
	[0] = 0,
	[SEL_CODE64 / 8] = 0x00af9b000000ffff, /* 64-bit code: L=1 */
	[SEL_DATA / 8] = 0x00cf93000000ffff,   /* data, 4 GiB, writable */
	[SEL_CODE32 / 8] = 0x00cf9b000000ffff, /* 32-bit code: D=1 */
};

struct table_desc {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

/* Also loaded by the PVH stub in 32-bit mode, which reads limit + base[31:0]. */
struct table_desc gdt_desc = {sizeof(gdt) - 1, (uintptr_t)gdt};

struct idt_gate {
	uint16_t off0, sel;
	uint8_t ist, type;
	uint16_t off1;
	uint32_t off2, reserved;
};

static struct idt_gate idt[256] __attribute__((aligned(16)));
static struct table_desc idt_desc;

extern char isr_stubs[]; /* isr.S: 256 stubs, 16 bytes apart */

/* What isr.S pushed, lowest address first. */
struct frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

const char *current_test = "boot";

#define SPURIOUS_VECTOR 0xff /* the LAPIC's spurious vector (smp.c) */

static const char *const exception_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "#22", "#23",
	"#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31",
};

void idt_load(void)
{
	__asm__ volatile("lidt %0" : : "m"(idt_desc));
}

void desc_init(void)
{
	/* GDT: load it, then reload CS with a far return and the data segments. */
	__asm__ volatile("lgdt %0\n\t"
			 "pushq %1\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "mov %2, %%eax\n\t"
			 "mov %%eax, %%ds\n\t"
			 "mov %%eax, %%es\n\t"
			 "mov %%eax, %%ss\n\t"
			 "xor %%eax, %%eax\n\t"
			 "mov %%eax, %%fs\n\t"
			 "mov %%eax, %%gs"
			 :
			 : "m"(gdt_desc), "i"(SEL_CODE64), "i"(SEL_DATA)
			 : "rax", "memory");

	for (unsigned v = 0; v < 256; v++) {
		uint64_t h = (uintptr_t)isr_stubs + 16 * v;
		idt[v] = (struct idt_gate){
			.off0 = (uint16_t)h,
			.sel = SEL_CODE64,
			.type = 0x8e, /* present, DPL 0, 64-bit interrupt gate */
			.off1 = (uint16_t)(h >> 16),
			.off2 = (uint32_t)(h >> 32),
		};
	}
	idt_desc = (struct table_desc){sizeof(idt) - 1, (uintptr_t)idt};
	idt_load();
}

void interrupt(struct frame *f);
void interrupt(struct frame *f)
{
	static volatile uint32_t reporting;

	if (f->vector == SPURIOUS_VECTOR)
		return; /* harmless by definition; not even an EOI is due */
	if (intr_handle(f->vector))
		return; /* a device interrupt some driver asked for */

	/* A fault while reporting a fault: give up quietly. */
	if (__atomic_exchange_n(&reporting, 1, __ATOMIC_ACQ_REL))
		halt_forever();

	uint64_t cr2;
	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	const char *name = f->vector < 32 ? exception_names[f->vector] : "interrupt";
	/* Unlocked: the faulting code may hold the output lock. */
	serial_end_line();
	print_unlocked("GLUE-FAIL %s exception vector=%lu (%s) rip=0x%lx err=0x%lx cr2=0x%lx rsp=0x%lx\n",
		       current_test, f->vector, name, f->rip, f->error, cr2, f->rsp);
	vm_end();
}

/* Triple fault on purpose: with an empty IDT, #UD cannot be delivered, nor
 * can the #GP or #DF that follow, so the CPU shuts down. (ud2 rather than
 * int3: KVM's instruction emulator cannot run int3, see docs/testing.md.) */
void triple_fault(void)
{
	static const struct table_desc empty = {0, 0};
	__asm__ volatile("lidt %0\n\tud2" : : "m"(empty));
	halt_forever();
}
