/*
 * aml.h - the DSDT pattern reader (aml.c) and what acpi.c finds with it.
 */
#ifndef GUEST_AML_H
#define GUEST_AML_H

#include "guest.h"

/* A Device's body: the bytes after its name, up to the end of its package. */
struct aml_scope {
	const uint8_t *body;
	uint32_t len;
	char name[4]; /* its last NameSeg */
};

enum { AML_RES_NONE, AML_RES_MEM, AML_RES_WINDOW, AML_RES_IRQ };
struct aml_res {
	int kind;
	uint64_t a;      /* MEM, WINDOW: base; IRQ: the GSI or IRQ */
	uint64_t b;      /* MEM, WINDOW: length */
	bool level;      /* IRQ: level-triggered */
	bool active_low; /* IRQ */
};

/* Every Device in [aml, aml+len), start with *cursor = 0. */
bool aml_next_device(const uint8_t *aml, uint32_t len, uint32_t *cursor, struct aml_scope *dev);
/* Name(seg, <object>) in the scope itself: the object, *end its bound. */
const uint8_t *aml_name(const struct aml_scope *s, const char seg[4], const uint8_t **end);
/* _HID is this string, or this EISA ID ("PNP0A08"). */
bool aml_hid_is(const struct aml_scope *s, const char *hid);
bool aml_integer(const uint8_t **p, const uint8_t *end, uint64_t *v);
bool aml_buffer(const uint8_t *v, const uint8_t *end, const uint8_t **data, uint32_t *len);
/* Up to max descriptors of a resource template we understand. */
int aml_resources(const uint8_t *buf, uint32_t len, struct aml_res *out, int max);
int aml_crs(const struct aml_scope *s, struct aml_res *out, int max);
/* A Package or VarPackage at *p: *p moves to its first element. */
bool aml_package(const uint8_t **p, const uint8_t *end, const uint8_t **pend, uint64_t *count);
bool aml_element_name(const uint8_t **p, const uint8_t *end, char seg[4]);
/* Name(seg, <integer>) or Method(seg) { Return(<integer>) } in the scope. */
bool aml_constant(const struct aml_scope *s, const char seg[4], uint64_t *v);
/* The first OperationRegion in the scope. */
bool aml_opregion(const struct aml_scope *s, uint8_t *space, uint64_t *base, uint64_t *len);

/* acpi.c: tables. */
/* The first table the root table lists with this signature (length and
 * checksum checked), or NULL. */
const uint8_t *acpi_table(const char sig[4], uint32_t *len);
/* The DSDT's AML (after the header), or NULL. */
const uint8_t *acpi_dsdt(uint32_t *len);
struct mcfg_entry {
	uint64_t base;
	uint16_t segment;
	uint8_t bus_start, bus_end;
};
bool acpi_mcfg(struct mcfg_entry *e); /* the first entry */
/* The IOAPIC serving gsi: its MMIO base and first GSI. */
bool acpi_ioapic(uint32_t gsi, uint64_t *base, uint32_t *gsi_base);
/* The PCI host bridge's ECAM base from its _CBA (QEMU's microvm has no MCFG). */
bool acpi_pci_cba(uint64_t *base);
/* The PCI host bridge's memory windows from its _CRS (below 4 GiB first). */
int acpi_pci_windows(struct aml_res *out, int max);
/* The INTx route of slot/pin (pin 0 = INTA) from the host bridge's _PRT,
 * through a link device's _CRS where the route names one. */
bool acpi_pci_route(unsigned slot, unsigned pin, struct aml_res *irq);
/* The LNRO0005 devices: each one's first memory range (kind 0 if none)
 * and interrupt; at most max. */
int acpi_virtio_mmio(struct aml_res mem[], struct aml_res irq[], int max);

#endif
