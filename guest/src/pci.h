/*
 * pci.h - PCI configuration access, bus 0 discovery, MSI-X (pci.c).
 */
#ifndef GUEST_PCI_H
#define GUEST_PCI_H

#include "guest.h"

#define PCI_MAX_FUNCS 32

/* Configuration header offsets (PCI local bus spec 3.0, 6.1). */
#define PCI_VENDOR     0x00
#define PCI_DEVICE     0x02
#define PCI_COMMAND    0x04
#define PCI_STATUS     0x06
#define PCI_REVISION   0x08
#define PCI_CLASS      0x0a /* u16: class << 8 | subclass */
#define PCI_HEADER     0x0e
#define PCI_BAR0       0x10
#define PCI_SUBSYS_ID  0x2e
#define PCI_CAP_PTR    0x34
#define PCI_INT_LINE   0x3c
#define PCI_INT_PIN    0x3d

#define PCI_CMD_IO     0x0001
#define PCI_CMD_MEM    0x0002
#define PCI_CMD_MASTER 0x0004
#define PCI_CMD_INTX_OFF 0x0400
#define PCI_STATUS_CAPS 0x0010

#define PCI_CAP_MSIX   0x11
#define PCI_CAP_VENDOR 0x09

struct pci_bar {
	uint64_t addr, size; /* size 0: no BAR here (or the upper half of a 64-bit one) */
	bool io, is64;
};

struct pci_func {
	uint8_t bus, dev, fn;
	uint16_t vendor, device, subsys;
	uint16_t class;      /* class << 8 | subclass */
	uint8_t header, irq_pin, irq_line;
	struct pci_bar bar[6];
	int caps;            /* capabilities walked */
	bool caps_bad;       /* the list looped or left the header */
	uint8_t msix;        /* MSI-X capability offset, 0: none */
	uint16_t msix_n;     /* table entries */
	uint8_t msix_table_bir, msix_pba_bir;
	uint32_t msix_table_off, msix_pba_off;
};

struct pci_bus {
	const char *via;     /* "ecam", "cf8" or "none" */
	uint64_t ecam;       /* via ecam: the MCFG's base (bus 0) */
	uint8_t bus;         /* the bus scanned */
	int n;
	struct pci_func f[PCI_MAX_FUNCS];
	int dropped;         /* functions beyond PCI_MAX_FUNCS, not kept */
	int assigned;        /* BARs we gave an address (they read 0) */
	int unplaced;        /* BARs that read 0 and found no room */
	int unusable;        /* BARs outside the identity map, or overlapping RAM */
	struct { uint64_t base, size; } win[4]; /* memory windows (host bridge _CRS) */
	int windows;
	uint64_t next_free;  /* the lowest free address in win[0] above every BAR */
};

/* Scans once (glue.pci.via= ecam|cf8 forces the mechanism), then cached. */
struct pci_bus *pci_scan(void);
uint32_t pci_read32(const struct pci_func *f, unsigned off);
uint16_t pci_read16(const struct pci_func *f, unsigned off);
uint8_t pci_read8(const struct pci_func *f, unsigned off);
void pci_write32(const struct pci_func *f, unsigned off, uint32_t v);
void pci_write16(const struct pci_func *f, unsigned off, uint16_t v);
/* Where off..off+len of BAR i is, if it lies inside the BAR and is mapped. */
volatile uint8_t *pci_bar_ptr(const struct pci_func *f, unsigned bar, uint64_t off, uint64_t len);
/* Moves BAR i to addr (memory decoding off while the BAR changes). */
void pci_bar_move(struct pci_func *f, unsigned bar, uint64_t addr);
/* A free, naturally aligned address for size bytes in the first window, or 0. */
uint64_t pci_alloc(struct pci_bus *b, uint64_t size);

/* MSI-X (PCI 3.0, 6.8.2): a table of 16-byte entries {addr lo, addr hi,
 * data, vector control (bit 0: masked)} and a pending bit array. */
bool msix_enable(struct pci_func *f, bool function_mask);
void msix_function_mask(struct pci_func *f, bool masked);
void msix_disable(struct pci_func *f);
/* Entry e to the BSP's LAPIC with this vector, left masked or not. */
bool msix_program(struct pci_func *f, unsigned e, uint8_t vector, bool masked);
void msix_mask(struct pci_func *f, unsigned e, bool masked);
bool msix_pending(struct pci_func *f, unsigned e);

bool test_pci(void);

#endif
