/*
 * virtio_pci.c - the modern virtio-pci transport (virtio 1.2, 4.1) and
 * the pci-msix test.
 *
 * A virtio-pci function has vendor 0x1af4 and device 0x1040 + the virtio
 * device ID (0x1000-0x103f are transitional devices, counted as legacy
 * and not driven: pci-legacy= on the virtio line). Its registers sit in memory BARs, found through
 * vendor-specific capabilities (ID 0x09): 3 u8 cfg_type (1 common, 2
 * notify, 3 ISR, 4 device), 4 u8 bar, 8 u32 offset, 12 u32 length; the
 * notify capability adds 16 u32 notify_off_multiplier. The first
 * capability of each type is used, and each must lie inside its BAR.
 *
 * Common configuration (4.1.4.3), byte offsets:
 *   0 u32 device_feature_select   4 u32 device_feature
 *   8 u32 driver_feature_select  12 u32 driver_feature
 *  16 u16 config_msix_vector     18 u16 num_queues
 *  20 u8 device_status           21 u8 config_generation
 *  22 u16 queue_select           24 u16 queue_size
 *  26 u16 queue_msix_vector      28 u16 queue_enable
 *  30 u16 queue_notify_off       32 u64 queue_desc
 *  40 u64 queue_driver           48 u64 queue_device
 * A queue is notified by writing its index (u16) at the notify
 * capability's address + queue_notify_off * notify_off_multiplier.
 *
 * Interrupts (glue.pci.intr=msix|intx|poll, default msix): MSI-X table
 * entry 0 for configuration changes and 1 + q for queue q, each with a
 * vector of its own, to the BSP (queues share the last entry where the
 * table is smaller: QEMU's virtio-serial-pci has two); or INTx: the function's pin through the
 * host bridge's _PRT (or, without one, the interrupt line register) to an
 * IOAPIC input, level-triggered, whose handler reads the ISR (which
 * lowers the line). Each device has four CPU vectors, 0x40 + 4 * its
 * index among the virtio-pci devices.
 */
#include "virtio.h"
#include "pci.h"
#include "intr.h"
#include "aml.h"
#include "io.h"

#define VIRTIO_PCI_VENDOR   0x1af4
#define VIRTIO_PCI_MODERN   0x1040
#define VIRTIO_PCI_LAST     0x107f

#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR    3
#define CAP_DEVICE 4

#define COMMON_DFSELECT   0
#define COMMON_DF         4
#define COMMON_GFSELECT   8
#define COMMON_GF        12
#define COMMON_MSIX      16
#define COMMON_NUMQ      18
#define COMMON_STATUS    20
#define COMMON_CFGGEN    21
#define COMMON_Q_SELECT  22
#define COMMON_Q_SIZE    24
#define COMMON_Q_MSIX    26
#define COMMON_Q_ENABLE  28
#define COMMON_Q_NOFF    30
#define COMMON_Q_DESC    32
#define COMMON_Q_DRIVER  40
#define COMMON_Q_DEVICE  48
#define COMMON_LEN       56

#define NO_VECTOR 0xffff
#define VECTORS_PER_DEV 4

/* Where each structure is: BAR and offset, checked at probe time and
 * mapped again at every virtio_init (a BAR may have moved meanwhile). */
struct vpci_caps {
	uint8_t bar[5];
	uint32_t off[5], len[5];
	uint32_t notify_mul;
};

static struct vpci_caps caps[VIRTIO_MAX_DEVS];

static volatile uint16_t *c16(struct virtio_dev *d, unsigned off)
{
	return (volatile uint16_t *)(d->common + off);
}

static volatile uint32_t *c32(struct virtio_dev *d, unsigned off)
{
	return (volatile uint32_t *)(d->common + off);
}

/* Status accesses are safe before mapping worked: a test that gives up
 * on a device resets it whatever went wrong. */
static uint32_t pci_get_status(struct virtio_dev *d)
{
	return d->common ? d->common[COMMON_STATUS] : 0;
}

static void pci_set_status(struct virtio_dev *d, uint32_t s)
{
	if (d->common)
		d->common[COMMON_STATUS] = (uint8_t)s;
}

static uint64_t pci_get_features(struct virtio_dev *d)
{
	*c32(d, COMMON_DFSELECT) = 0;
	uint64_t f = *c32(d, COMMON_DF);
	*c32(d, COMMON_DFSELECT) = 1;
	return f | (uint64_t)*c32(d, COMMON_DF) << 32;
}

static void pci_set_features(struct virtio_dev *d, uint64_t f)
{
	*c32(d, COMMON_GFSELECT) = 0;
	*c32(d, COMMON_GF) = (uint32_t)f;
	*c32(d, COMMON_GFSELECT) = 1;
	*c32(d, COMMON_GF) = (uint32_t)(f >> 32);
}

static uint32_t pci_queue_max(struct virtio_dev *d, uint16_t index, bool *live)
{
	if (index >= *c16(d, COMMON_NUMQ))
		return 0;
	*c16(d, COMMON_Q_SELECT) = index;
	*live = *c16(d, COMMON_Q_ENABLE) != 0;
	return *c16(d, COMMON_Q_SIZE);
}

static void write64(struct virtio_dev *d, unsigned off, const volatile void *p)
{
	*c32(d, off) = (uint32_t)(uintptr_t)p;
	*c32(d, off + 4) = (uint32_t)((uintptr_t)p >> 32);
}

static const char *pci_queue_enable(struct virtio_dev *d, struct virtq *q)
{
	*c16(d, COMMON_Q_SELECT) = q->index;
	*c16(d, COMMON_Q_SIZE) = q->size;
	write64(d, COMMON_Q_DESC, q->desc);
	write64(d, COMMON_Q_DRIVER, q->avail);
	write64(d, COMMON_Q_DEVICE, q->used);

	uint64_t noff = (uint64_t)*c16(d, COMMON_Q_NOFF) * d->notify_mul;
	if (noff > d->notify_len || d->notify_len - noff < 2)
		return "queue_notify_off * notify_off_multiplier lies outside the notify structure";
	q->notify_at = d->notify + noff;

	uint16_t want = NO_VECTOR;
	if (d->intr == INTR_MSIX) {
		/* Entry 1 + q where the table has it, else the queues share the
		 * last entry (entry 0, the configuration's, if that is all). */
		unsigned e = 1u + q->index, last = d->pci->msix_n - 1u;
		if (last > VECTORS_PER_DEV - 1u)
			last = VECTORS_PER_DEV - 1u;
		if (e > last)
			e = last;
		if (!msix_program(d->pci, e, (uint8_t)(d->vector_base + e), false))
			return "the MSI-X table is not inside its BAR";
		want = (uint16_t)e;
		q->vector = (uint8_t)(d->vector_base + e);
	} else if (d->intr == INTR_INTX) {
		q->vector = d->vector_base; /* one line for everything */
	}
	*c16(d, COMMON_Q_MSIX) = want;
	if (*c16(d, COMMON_Q_MSIX) != want)
		return "the device refused the queue's MSI-X vector (queue_msix_vector reads back otherwise)";
	if (d->intr == INTR_MSIX)
		intr_arm(q->vector, NULL, NULL);
	*c16(d, COMMON_Q_ENABLE) = 1;
	return NULL;
}

static void pci_notify(struct virtq *q)
{
	*(volatile uint16_t *)q->notify_at = q->index;
}

static uint32_t pci_config_gen(struct virtio_dev *d)
{
	return d->common[COMMON_CFGGEN];
}

/* INTx: reading the ISR lowers the line (4.1.4.5). */
static void isr_hook(void *arg)
{
	struct virtio_dev *d = arg;
	(void)*d->isr;
}

static bool intx_route(struct virtio_dev *d, struct aml_res *irq)
{
	struct pci_func *f = d->pci;
	if (f->irq_pin < 1 || f->irq_pin > 4)
		return false;
	if (acpi_pci_route(f->dev, f->irq_pin - 1u, irq))
		return true;
	if (f->irq_line == 0 || f->irq_line == 0xff)
		return false;
	*irq = (struct aml_res){AML_RES_IRQ, f->irq_line, 0, true, true}; /* PCI: level, low */
	return true;
}

static enum virtio_intr wanted_intr(void)
{
	const char *v;
	size_t len;
	if (!cmdline_get("glue.pci.intr", &v, &len) || span_eq(v, len, "msix"))
		return INTR_MSIX;
	if (span_eq(v, len, "intx"))
		return INTR_INTX;
	return INTR_POLL;
}

/* Maps the structures again (BARs may have moved since the last time). */
static const char *pci_map(struct virtio_dev *d)
{
	struct vpci_caps *c = &caps[d - virtio_probe()->dev];
	struct pci_func *f = d->pci;
	d->common = pci_bar_ptr(f, c->bar[CAP_COMMON], c->off[CAP_COMMON], COMMON_LEN);
	d->notify = pci_bar_ptr(f, c->bar[CAP_NOTIFY], c->off[CAP_NOTIFY], c->len[CAP_NOTIFY]);
	d->isr = pci_bar_ptr(f, c->bar[CAP_ISR], c->off[CAP_ISR], 1);
	d->config = c->len[CAP_DEVICE] ? pci_bar_ptr(f, c->bar[CAP_DEVICE], c->off[CAP_DEVICE],
						      c->len[CAP_DEVICE])
				       : NULL;
	d->notify_len = c->len[CAP_NOTIFY];
	d->notify_mul = c->notify_mul;
	if (!d->common || !d->notify || !d->isr) {
		d->common = NULL;
		return "a virtio-pci structure is not inside its BAR";
	}
	return NULL;
}

/* After reset: the interrupts glue.pci.intr= asks for. */
static const char *pci_prepare(struct virtio_dev *d)
{
	struct pci_func *f = d->pci;
	d->intr = wanted_intr();
	if (d->intr == INTR_MSIX && !f->msix)
		d->intr = INTR_INTX; /* what a driver falls back to */
	if (d->intr == INTR_MSIX) {
		if (!msix_enable(f, true) || !msix_program(f, 0, d->vector_base, false))
			return "the MSI-X table is not inside its BAR";
		intr_arm(d->vector_base, NULL, NULL);
		*c16(d, COMMON_MSIX) = 0;
		if (*c16(d, COMMON_MSIX) != 0)
			return "the device refused config_msix_vector 0";
	} else if (d->intr == INTR_INTX) {
		struct aml_res irq;
		if (!intx_route(d, &irq))
			return "no INTx route (no _PRT entry, no interrupt line)";
		d->irq = (uint32_t)irq.a;
		/* Armed and unmasked now, while the device (just reset) keeps
		 * the line low: see ioapic_route. */
		intr_arm(d->vector_base, isr_hook, d);
		if (!ioapic_route(d->irq, d->vector_base, irq.level, irq.active_low, false))
			return "no IOAPIC input for the INTx route";
	}
	return NULL;
}

/* After DRIVER_OK: let MSI-X messages through (a masked vector keeps
 * its pending bit and is sent on unmask, so nothing is lost). */
static void pci_started(struct virtio_dev *d)
{
	if (d->intr == INTR_MSIX)
		msix_function_mask(d->pci, false);
}

static void pci_stopped(struct virtio_dev *d)
{
	if (!d->common)
		return;
	if (d->intr == INTR_MSIX)
		msix_disable(d->pci);
	else if (d->intr == INTR_INTX)
		ioapic_mask(d->irq, true);
}

static const struct virtio_ops pci_ops = {
	.name = "pci",
	.map = pci_map,
	.prepare = pci_prepare,
	.get_status = pci_get_status,
	.set_status = pci_set_status,
	.get_features = pci_get_features,
	.set_features = pci_set_features,
	.queue_max = pci_queue_max,
	.queue_enable = pci_queue_enable,
	.notify = pci_notify,
	.config_gen = pci_config_gen,
	.started = pci_started,
	.stopped = pci_stopped,
};

/* The vendor capabilities: false if one we need is missing or does not
 * fit its BAR. */
static bool find_caps(struct pci_func *f, struct vpci_caps *c)
{
	bool have[5] = {0};
	if (!(pci_read16(f, PCI_STATUS) & PCI_STATUS_CAPS))
		return false;
	uint8_t at = pci_read8(f, PCI_CAP_PTR) & 0xfc;
	for (int steps = 0; at >= 0x40 && steps < 48; steps++) {
		if (pci_read8(f, at) == PCI_CAP_VENDOR && pci_read8(f, at + 2) >= 16) {
			uint8_t type = pci_read8(f, at + 3), bar = pci_read8(f, at + 4);
			uint32_t off = pci_read32(f, at + 8), len = pci_read32(f, at + 12);
			if (type >= CAP_COMMON && type <= CAP_DEVICE && !have[type] && bar < 6 &&
			    pci_bar_ptr(f, bar, off, len)) {
				have[type] = true;
				c->bar[type] = bar;
				c->off[type] = off;
				c->len[type] = len;
				if (type == CAP_NOTIFY)
					c->notify_mul = pci_read8(f, at + 2) >= 20 ? pci_read32(f, at + 16) : 0;
			}
		}
		at = pci_read8(f, at + 1) & 0xfc;
	}
	return have[CAP_COMMON] && have[CAP_NOTIFY] && have[CAP_ISR] && c->len[CAP_COMMON] >= COMMON_LEN;
}

void virtio_pci_probe(struct virtio_list *list)
{
	struct pci_bus *b = pci_scan();
	int k = 0;
	for (int i = 0; i < b->n && list->n < VIRTIO_MAX_DEVS; i++) {
		struct pci_func *f = &b->f[i];
		if (f->vendor != VIRTIO_PCI_VENDOR || f->device < 0x1000 || f->device > VIRTIO_PCI_LAST)
			continue;
		if (f->device < VIRTIO_PCI_MODERN) {
			list->pci_legacy++;
			continue;
		}
		struct vpci_caps *c = &caps[list->n];
		*c = (struct vpci_caps){0};
		if (!find_caps(f, c) || INTR_FIRST + VECTORS_PER_DEV * (k + 1) > INTR_LAST + 1) {
			list->pci_bad++;
			continue;
		}
		list->dev[list->n++] = (struct virtio_dev){
			.ops = &pci_ops,
			.version = 2,
			.id = f->device - VIRTIO_PCI_MODERN,
			.pci = f,
			.vector_base = (uint8_t)(INTR_FIRST + VECTORS_PER_DEV * k),
			.vectors = VECTORS_PER_DEV,
		};
		list->pci++;
		k++;
	}
}

/* ---- the pci-msix test ---- */

/* One rng request of 16 bytes, waited for by polling the used ring, not
 * by interrupt: the test looks at the interrupts itself. */
static bool rng_request(struct virtq *q, uint8_t *buf)
{
	q->desc[0] = (struct virtq_desc){(uintptr_t)buf, 16, VIRTQ_DESC_F_WRITE, 0};
	uint16_t want = (uint16_t)(q->used_seen + 1);
	virtq_push(q, 0);
	virtq_notify(q);
	uint64_t start = rdtsc(), limit = ms_to_tsc(VIRTIO_REQ_TIMEOUT_MS);
	while (q->used->idx != want) {
		if (rdtsc() - start > limit)
			return false;
		cpu_relax();
	}
	q->used_seen = want;
	return true;
}

/* Opens interrupt windows for about ms milliseconds, or until vector v
 * has counted past n. */
static uint32_t windows(uint8_t v, uint32_t n, uint64_t ms)
{
	uint64_t start = rdtsc(), limit = ms_to_tsc(ms);
	while (intr_count(v) == n && rdtsc() - start < limit)
		intr_window();
	return intr_count(v) - n;
}

/*
 * MSI-X masking (PCI 3.0, 6.8.2.9): while a vector is masked, by its
 * entry's mask bit or by the function mask, the device must not send its
 * message but set the vector's pending bit, and send the message once it
 * is unmasked. On the first virtio-rng function over PCI, queue 0's
 * entry: a request completes while masked (no interrupt, pending set),
 * then the unmask delivers it (pending clear); then the same with the
 * function mask.
 */
bool test_pci_msix(void)
{
	struct virtio_dev *d = NULL;
	for (int i = 0; (d = virtio_find(VIRTIO_ID_RNG, i)) && !d->pci; i++)
		;
	if (!d) {
		print("GLUE-FAIL pci-msix no virtio-rng device on PCI\n");
		return false;
	}
	if (!d->pci->msix || wanted_intr() != INTR_MSIX) {
		print("GLUE-FAIL pci-msix the device has no MSI-X capability, or glue.pci.intr= is not msix\n");
		return false;
	}
	struct virtq q;
	dma_reset();
	uint8_t *buf = dma_alloc(16, 16);
	const char *err = virtio_init(d, 0);
	if (!err)
		err = virtq_setup(d, &q, 0, 4);
	if (err) {
		print("GLUE-FAIL pci-msix %s\n", err);
		virtio_fail(d);
		return false;
	}
	virtio_driver_ok(d);
	struct pci_func *f = d->pci;
	unsigned e = (unsigned)(q.vector - d->vector_base);
	uint32_t fired_masked = 0, fired_unmask = 0, fired_fmask = 0, fired_funmask = 0;
	bool pend_masked = false, pend_after = true, fpend = false, fpend_after = true, ok;

	msix_mask(f, e, true);
	ok = rng_request(&q, buf);
	if (ok) {
		fired_masked = windows(q.vector, intr_count(q.vector), 50);
		pend_masked = msix_pending(f, e);
		uint32_t n = intr_count(q.vector);
		msix_mask(f, e, false);
		fired_unmask = windows(q.vector, n, 1000);
		pend_after = msix_pending(f, e);
	}
	if (ok) {
		msix_function_mask(f, true);
		ok = rng_request(&q, buf);
	}
	if (ok) {
		fired_fmask = windows(q.vector, intr_count(q.vector), 50);
		fpend = msix_pending(f, e);
		uint32_t n = intr_count(q.vector);
		msix_function_mask(f, false);
		fired_funmask = windows(q.vector, n, 1000);
		fpend_after = msix_pending(f, e);
	}
	virtio_reset(d);
	bool pass = ok && fired_masked == 0 && pend_masked && fired_unmask == 1 && !pend_after &&
		    fired_fmask == 0 && fpend && fired_funmask == 1 && !fpend_after;
	print("GLUE-%s pci-msix dev=%04x:%04x entry=%u masked-fired=%u pending=%d unmask-fired=%u "
	      "pending-after=%d fmask-fired=%u fmask-pending=%d funmask-fired=%u fmask-pending-after=%d%s\n",
	      pass ? "OK" : "FAIL", f->vendor, f->device, e, fired_masked, pend_masked, fired_unmask,
	      pend_after, fired_fmask, fpend, fired_funmask, fpend_after,
	      ok ? "" : ": timeout: the device did not return the request");
	return pass;
}
