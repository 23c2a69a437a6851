/*
 * virtio.h - minimal virtio 1.x over virtio-mmio (version 2) and modern
 * virtio-pci, polled or interrupt-driven.
 *
 * References: the virtio 1.2 specification, 2.7 (split virtqueues),
 * 3.1 (device initialization), 4.1 (virtio over PCI), 4.2 (virtio over
 * MMIO), 5.1 (network),
 * 5.2 (block), 5.3 (console), 5.4 (entropy).
 *
 * The guest identity-maps memory, so a pointer is also the physical
 * address the device is given. All buffers the devices see come from a
 * small arena in the image (dma_alloc); every test starts it afresh and
 * resets the devices it used before it returns, so no device keeps a
 * pointer into memory a later test reuses.
 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include "guest.h"

/* virtio-mmio registers (4.2.2), byte offsets into the device's window. */
#define VIRTIO_MMIO_MAGIC          0x000 /* "virt", little-endian */
#define VIRTIO_MMIO_VERSION        0x004 /* 2; 1 is the legacy interface */
#define VIRTIO_MMIO_DEVICE_ID      0x008 /* 0: no device in this slot */
#define VIRTIO_MMIO_VENDOR_ID      0x00c
#define VIRTIO_MMIO_DEV_FEATURES   0x010
#define VIRTIO_MMIO_DEV_FEAT_SEL   0x014
#define VIRTIO_MMIO_DRV_FEATURES   0x020
#define VIRTIO_MMIO_DRV_FEAT_SEL   0x024
#define VIRTIO_MMIO_QUEUE_SEL      0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX  0x034
#define VIRTIO_MMIO_QUEUE_NUM      0x038
#define VIRTIO_MMIO_QUEUE_READY    0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY   0x050
#define VIRTIO_MMIO_INT_STATUS     0x060
#define VIRTIO_MMIO_INT_ACK        0x064
#define VIRTIO_MMIO_STATUS         0x070
#define VIRTIO_MMIO_QUEUE_DESC     0x080 /* low 32 bits; high at +4 */
#define VIRTIO_MMIO_QUEUE_DRIVER   0x090 /* the available ring */
#define VIRTIO_MMIO_QUEUE_DEVICE   0x0a0 /* the used ring */
#define VIRTIO_MMIO_CONFIG_GEN     0x0fc
#define VIRTIO_MMIO_CONFIG         0x100 /* device-specific configuration */

#define VIRTIO_MMIO_MAGIC_VALUE    0x74726976
#define VIRTIO_MMIO_MIN_SIZE       0x200 /* registers + 256 bytes of config */

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER      2
#define VIRTIO_STATUS_DRIVER_OK   4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_FAILED      128

#define VIRTIO_F_VERSION_1 (1ull << 32)

/* Device IDs (5). */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4

/* Split virtqueue layout (2.7). Descriptor table 16-aligned, available
 * ring 2-aligned, used ring 4-aligned; all little-endian, as is x86. */
#define VIRTQ_DESC_F_NEXT  1 /* the chain goes on at .next */
#define VIRTQ_DESC_F_WRITE 2 /* the device writes this buffer */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1 /* we poll: a hint, no interrupts needed */
#define VIRTQ_MAX_SIZE 64 /* what fits the one page each queue gets */

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct virtq_avail {
	uint16_t flags, idx;
	uint16_t ring[]; /* then used_event, unused without EVENT_IDX */
};

struct virtq_used_elem {
	uint32_t id;  /* head of the chain the device is done with */
	uint32_t len; /* bytes it wrote into the chain */
};

struct virtq_used {
	uint16_t flags, idx;
	struct virtq_used_elem ring[];
};

struct virtio_dev;
struct virtq;

/*
 * What differs between the transports (virtio_mmio.c, virtio_pci.c); the
 * start-up sequence, the queues and the drivers are shared. Each op is
 * the register access 4.2.2 or 4.1.4 describes.
 */
struct virtio_ops {
	const char *name; /* "mmio" or "pci", for the device lines */
	/* Before the first reset of virtio_init: find the registers (NULL: none to find). */
	const char *(*map)(struct virtio_dev *d);
	/* After it: set up interrupts (NULL: polled only). */
	const char *(*prepare)(struct virtio_dev *d);
	uint32_t (*get_status)(struct virtio_dev *d);
	void (*set_status)(struct virtio_dev *d, uint32_t status);
	uint64_t (*get_features)(struct virtio_dev *d);
	void (*set_features)(struct virtio_dev *d, uint64_t features);
	/* Selects queue `index`: its largest size (0: no such queue); *live
	 * says whether it is enabled already. */
	uint32_t (*queue_max)(struct virtio_dev *d, uint16_t index, bool *live);
	/* q is filled in (size, rings): hand it to the device and enable it. */
	const char *(*queue_enable)(struct virtio_dev *d, struct virtq *q);
	void (*notify)(struct virtq *q);
	uint32_t (*config_gen)(struct virtio_dev *d);
	/* Called after DRIVER_OK and after a reset: interrupts on or off. */
	void (*started)(struct virtio_dev *d);
	void (*stopped)(struct virtio_dev *d);
};

/* How a device tells the driver about used buffers (glue.pci.intr=). */
enum virtio_intr { INTR_POLL, INTR_MSIX, INTR_INTX };

struct pci_func;

struct virtio_dev {
	const struct virtio_ops *ops;
	uintptr_t base;    /* virtio-mmio: the window */
	uint64_t size;
	uint32_t irq;      /* virtio-mmio: from the command line or the DSDT (polled);
			    * virtio-pci with INTx: the GSI */
	uint32_t version;  /* 2 (virtio-pci: always), or 1 (legacy virtio-mmio: skipped) */
	uint32_t id;       /* VIRTIO_ID_*; 0: empty slot */
	uint64_t features; /* after virtio_init: what was negotiated */
	volatile uint8_t *config; /* the device-specific configuration */

	/* virtio-pci (virtio_pci.c) */
	struct pci_func *pci;
	volatile uint8_t *common, *isr, *notify;
	uint32_t notify_len, notify_mul;
	enum virtio_intr intr;     /* chosen in virtio_init */
	uint8_t vector_base;       /* CPU vectors vector_base .. +vectors-1 are its own */
	uint8_t vectors;
	uint32_t irqs_at_init;     /* interrupts on them before virtio_init */
};

struct virtq {
	struct virtio_dev *dev;
	uint16_t index, size;  /* size: a power of two */
	uint16_t avail_idx;    /* our copy of avail->idx */
	uint16_t used_seen;    /* used->idx up to which we have taken entries */
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	volatile struct virtq_used *used;
	volatile uint8_t *notify_at; /* virtio-pci: this queue's notify address */
	uint8_t vector;        /* the CPU vector interrupts for it arrive on; 0: poll */
	bool irq_pending;      /* an interrupt came: look at the used ring until empty */
	uint32_t irq_seen;     /* intr_count(vector) when last looked at */
};

/* The compiler must not move memory accesses across this. On x86 (TSO)
 * that is all the ordering virtqueues need between the guest's own
 * stores, or loads, to ordinary RAM (Linux's virt_wmb/virt_rmb are the
 * same there). */
#define barrier() __asm__ volatile("" ::: "memory")

/* virtio.c: the arena, the virtqueue core, waiting */
void dma_reset(void);
void *dma_alloc(size_t size, size_t align); /* NULL when the arena is full */
void zero_words(void *p, size_t bytes);     /* bytes: a multiple of 8 */
void virtq_push(struct virtq *q, uint16_t head); /* no notify */
void virtq_notify(struct virtq *q);
bool virtq_pop(struct virtq *q, uint32_t *id, uint32_t *len);
bool virtq_wait(struct virtq *q, uint32_t *id, uint32_t *len, uint64_t timeout_ms);
/* Push head, notify, wait for it: NULL, or what went wrong. */
const char *virtq_run(struct virtq *q, uint16_t head, uint32_t *len);
uint64_t ms_to_tsc(uint64_t ms);

#define VIRTIO_REQ_TIMEOUT_MS 10000 /* for one request; then GLUE-FAIL */

/* virtio_mmio.c and virtio_pci.c: finding devices */
#define VIRTIO_MAX_DEVS 48
#define VIRTIO_MMIO_MAX 32 /* of them virtio-mmio (QEMU microvm has 24 slots) */
struct virtio_list {
	int n;                 /* virtio-mmio windows, then virtio-pci functions */
	struct virtio_dev dev[VIRTIO_MAX_DEVS];
	int legacy, empty, bad; /* virtio-mmio: version 1, device ID 0, no "virt" */
	int ignored;           /* virtio-mmio entries that were unusable */
	const char *mmio_from; /* "cmdline", "dsdt" or NULL: where the windows came from */
	int pci, pci_bad;      /* virtio-pci functions driven / refused (virtio_pci.c) */
	int pci_legacy;        /* transitional virtio-pci functions (0x1000-0x103f), skipped */
};
const struct virtio_list *virtio_probe(void); /* probes once, then cached */
/* virtio_pci.c: adds the virtio-pci functions pci_scan found to the list. */
void virtio_pci_probe(struct virtio_list *list);
/* Prints " transport=<mmio|pci> intr=<poll|msix|intx> irqs=<n>" for a
 * device line: n counts the interrupts on its vectors since virtio_init. */
void virtio_print_transport(struct virtio_dev *d);
uint32_t virtio_irqs(struct virtio_dev *d);
/* The nth (from 0) modern device with this ID, or NULL. */
struct virtio_dev *virtio_find(uint32_t id, int nth);
int virtio_count(uint32_t id);
/* Prints "GLUE-FAIL <test> no <what> device", noting skipped legacy ones. */
void virtio_missing(const char *test, const char *what);

uint8_t virtio_cfg8(struct virtio_dev *d, unsigned off);
uint32_t virtio_cfg32(struct virtio_dev *d, unsigned off);
uint64_t virtio_cfg64(struct virtio_dev *d, unsigned off);

/* Reset, ACKNOWLEDGE, DRIVER, features (VERSION_1 plus those of `want`
 * the device offers), FEATURES_OK. NULL, or what went wrong. */
const char *virtio_init(struct virtio_dev *d, uint64_t want);
/* Queue `index` with up to `size` entries (fewer if the device says so). */
const char *virtq_setup(struct virtio_dev *d, struct virtq *q, uint16_t index, uint16_t size);
/* For a driver that polls: q's used ring is read without waiting for an
 * interrupt, and the device is asked not to send any. */
void virtq_poll(struct virtq *q);
void virtio_driver_ok(struct virtio_dev *d);
void virtio_fail(struct virtio_dev *d); /* sets FAILED, then resets */
void virtio_reset(struct virtio_dev *d);

/* The tests (blk.c, net.c, rng.c, vconsole.c, virtio_mmio.c, virtio_pci.c). */
bool test_blk(void);
bool test_blk_bench(void);
bool test_net(void);
bool test_rng(void);
bool test_console(void);
bool test_console_flood(void);
bool test_virtio(void);
bool test_pci_msix(void);
bool test_balloon(void); /* balloon.c */
bool test_vsock(void); /* vsock.c */

#endif
