/*
 * intr.h - device interrupts: counting handlers, the LAPIC's EOI, the
 * IOAPIC (intr.c).
 */
#ifndef GUEST_INTR_H
#define GUEST_INTR_H

#include "guest.h"

/* Vectors the devices may use; every other one is still fatal (desc.c). */
#define INTR_FIRST 0x40
#define INTR_LAST  0xdf
/* The LAPIC timer that bounds intr_window's hlt. */
#define INTR_WAKE  0xe0

typedef void (*intr_hook)(void *arg);

/* Software-enables the LAPIC (once) and arms vector v: its interrupts are
 * counted, hook (if any) runs, then EOI. */
void intr_arm(uint8_t v, intr_hook hook, void *arg);
void intr_disarm(uint8_t v);
uint32_t intr_count(uint8_t v);
/* desc.c: true if the vector was an armed device interrupt (handled). */
bool intr_handle(uint64_t v);
/* Waits for an interrupt, at most about 1 ms: sti; hlt; cli. */
void intr_window(void);

/* IOAPIC redirection for gsi: vector, trigger, polarity, to the BSP;
 * masked or not. False if no MADT IOAPIC serves it. */
bool ioapic_route(uint32_t gsi, uint8_t vector, bool level, bool active_low, bool masked);
void ioapic_mask(uint32_t gsi, bool masked);

#endif
