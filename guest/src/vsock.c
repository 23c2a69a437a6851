/*
 * vsock.c - virtio-vsock (virtio 1.2, 5.10), stream sockets, and the
 * vsock test.
 *
 * Three queues: rx (0), whose device-writable buffers the device fills
 * with packets for us, tx (1), which carries ours, and the event queue
 * (2), given one buffer for a transport reset. Each packet is a 44-byte
 * header and, for RW, a payload. Flow control is by credit both ways: we
 * send at most buf_alloc - (sent - fwd_cnt) bytes the peer advertised,
 * and advertise a ring of RING bytes per connection, whose fwd_cnt moves
 * when an echoed byte has left it.
 *
 * glue.test=vsock reads the CID, then:
 *   glue.vsock.connect=P  connects to host port P, sends one line, closes;
 *   glue.vsock.send=P     opens glue.vsock.sconns= connections (default 1,
 *                         at most MAXC) to host port P at once and sends
 *                         glue.vsock.bytes= bytes of pattern() on each
 *                         (glue.vsock.bytes0= on connection 0, default
 *                         the same);
 *   glue.vsock.listen=L   listens on port L (prints GLUE-READY vsock) and
 *                         echoes each connection's bytes until the host
 *                         shuts it down, glue.vsock.conns= connections
 *                         (default 1), at most MAXC at once;
 *   glue.vsock.timeout=S  gives up after S seconds without progress (60);
 *   glue.vsock.deaf=1     ignores the host's connection REQUESTs, neither
 *                         accepting nor refusing them.
 *
 * Speed: on a host whose KVM runs guest kernel code in its instruction
 * emulator (PVM: about a microsecond per instruction) the cost is the
 * instructions this file executes per byte. So bytes are moved with
 * rep movsq (copy()), which the emulator repeats without returning to
 * the guest, the pattern comes from a table instead of being computed
 * byte by byte, and the main loop visits only connections that something
 * happened to (conn.wake).
 *
 * Polling: that loop spins over rx, tx and the connections, so its queues
 * ask for no interrupts (virtq_poll): waiting for one queue's interrupt
 * would halt the loop, up to the 1 ms backstop each time, while another
 * queue or connection has work. Interrupt delivery is the other devices'
 * tests' to prove (virtq_run).
 */
#include "virtio.h"
#include "io.h"

#define VIRTIO_ID_VSOCK 19

#define OP_REQUEST  1
#define OP_RESPONSE 2
#define OP_RST      3
#define OP_SHUTDOWN 4
#define OP_RW       5
#define OP_CREDIT_UPDATE  6
#define OP_CREDIT_REQUEST 7
#define SHUT_BOTH   3
#define HOST_CID    2

#define HDR      44
#define PAYLOAD  4096
#define RX_BUFS  16
#define TX_SLOTS 16   /* packets in flight: descriptors 2i, 2i+1 */
#define MAXC     64  /* 64 rings of RING bytes: 1 MiB of RAM above the image */
#define RING     16384 /* our buf_alloc per connection: a power of two */
#define CONNECT_PORT 1024 /* our port for the connection we make */
#define SEND_PORT    2048 /* ours for send connection i: SEND_PORT + i */

struct hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

struct conn {
	bool used, established, host_shut, closing;
	uint32_t port, peer;          /* ours, the host's */
	uint32_t peer_alloc, peer_fwd, sent; /* the host's credit, what we sent */
	uint32_t in, queued, done;    /* ring: received, handed to tx, tx finished */
	uint32_t advertised;          /* the fwd_cnt the host last heard */
	bool wake;                    /* service() has something to look at */
	bool gen;                     /* a send connection: the ring holds pattern() */
	uint32_t gen_idx;             /* its index, which seeds the pattern */
	uint64_t gen_off, gen_len;    /* pattern bytes put in the ring, to send */
	uint8_t *ring;                /* RING bytes of ram_above_image() */
};

struct slot {
	struct conn *c; /* NULL: a control packet */
	uint32_t len;
	bool busy;
};

static struct {
	struct virtio_dev *d;
	struct virtq rx, tx, ev;
	uint64_t cid;
	uint8_t *rxbuf;
	struct hdr *txhdr;
	struct slot slots[TX_SLOTS];
	struct conn conns[MAXC];
	uint32_t top; /* conns[top..] have never been used: loops stop there */
	uint32_t listen;
	uint64_t echoed, credit_updates, credit_waits, conns_done;
	uint64_t send_bytes, send_bytes0, sent_bytes; /* per send connection (0's); all sent */
	uint8_t (*xor_rows)[256]; /* row r, byte i: i ^ r, pattern()'s blocks */
	const char *err;
} v;

static uint64_t deaf; /* glue.vsock.deaf */

/* Copies n bytes with rep movsq then rep movsb: two instructions for the
 * emulator, against five per byte for a C loop (see Speed above). */
static void copy(void *d, const void *s, size_t n)
{
	size_t q = n / 8, r = n % 8;
	__asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(q) : : "memory");
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(r) : : "memory");
}

/* Zeroes n bytes, as copy() copies: v is over a megabyte. */
static void zero(void *d, size_t n)
{
	size_t q = n / 8, r = n % 8;
	__asm__ volatile("rep stosq" : "+D"(d), "+c"(q) : "a"(0UL) : "memory");
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(r) : "a"(0UL) : "memory");
}

extern char __image_end[]; /* guest.ld */

/* The rings and the pattern's table live in RAM above the image, which
 * the image's 4 MiB promise (README.md) has no room for: the first n
 * bytes of usable, identity-mapped RAM there, or NULL. */
static uint8_t *ram_above_image(uint64_t n)
{
	uint64_t low = ((uintptr_t)__image_end + 4095) & ~4095ULL;
	for (int i = 0; i < boot.memmap_n; i++) {
		const struct memmap_entry *e = &boot.memmap[i];
		uint64_t start = e->addr > low ? e->addr : low, end = e->addr + e->size;
		if (e->type == E820_RAM && end <= mapped_top && start < end && end - start >= n)
			return (uint8_t *)(uintptr_t)start;
	}
	return NULL;
}

static void tx_reap(void)
{
	uint32_t id, len;
	while (virtq_pop(&v.tx, &id, &len)) {
		uint32_t s = id / 2;
		if (id % 2 || s >= TX_SLOTS || !v.slots[s].busy) {
			v.err = "the device returned a tx descriptor we did not submit";
			return;
		}
		if (v.slots[s].c) {
			v.slots[s].c->done += v.slots[s].len;
			v.slots[s].c->wake = true;
		}
		v.slots[s].busy = false;
	}
}

/* A free tx slot, waiting for the device to finish one if need be. */
static int tx_slot(void)
{
	uint64_t start = rdtsc(), limit = ms_to_tsc(VIRTIO_REQ_TIMEOUT_MS);
	for (;;) {
		for (int i = 0; i < TX_SLOTS; i++)
			if (!v.slots[i].busy)
				return i;
		tx_reap();
		if (v.err)
			return -1;
		if (rdtsc() - start > limit) {
			v.err = "tx queue stuck: the device returns no packets";
			return -1;
		}
		cpu_relax();
	}
}

/* Sends a packet from c (or, c NULL, from our port to peer): the header,
 * then len ring bytes at c->queued if op is RW. */
static void send(struct conn *c, uint32_t port, uint32_t peer, uint16_t op, uint32_t flags, uint32_t len)
{
	int s = tx_slot();
	if (s < 0)
		return;
	struct hdr *h = &v.txhdr[s];
	*h = (struct hdr){.src_cid = v.cid, .dst_cid = HOST_CID, .src_port = port, .dst_port = peer,
			  .len = len, .type = 1, .op = op, .flags = flags, .buf_alloc = RING};
	if (c) {
		h->fwd_cnt = c->done;
		c->advertised = c->done;
	}
	v.tx.desc[2 * s] = (struct virtq_desc){(uintptr_t)h, HDR, 0, 0};
	if (len) {
		v.tx.desc[2 * s].flags = VIRTQ_DESC_F_NEXT;
		v.tx.desc[2 * s].next = (uint16_t)(2 * s + 1);
		v.tx.desc[2 * s + 1] = (struct virtq_desc){(uintptr_t)&c->ring[c->queued % RING], len, 0, 0};
		c->queued += len;
		c->sent += len;
	}
	v.slots[s] = (struct slot){.c = len ? c : NULL, .len = len, .busy = true};
	virtq_push(&v.tx, (uint16_t)(2 * s));
	virtq_notify(&v.tx);
}

/* Takes conns[i] into use. */
static struct conn *take(uint32_t i)
{
	if (i >= v.top)
		v.top = i + 1;
	return &v.conns[i];
}

static struct conn *find(uint32_t port, uint32_t peer)
{
	for (uint32_t i = 0; i < v.top; i++)
		if (v.conns[i].used && v.conns[i].port == port && v.conns[i].peer == peer)
			return &v.conns[i];
	return NULL;
}

static void drop(struct conn *c)
{
	if (c->gen && (!c->established || c->gen_off != c->gen_len || c->done != c->in))
		v.err = "the host refused or reset a send connection before its end";
	c->used = false;
	v.conns_done++;
}

/* Handles one packet the device sent us. */
static void receive(const struct hdr *h, const uint8_t *payload, uint32_t n)
{
	struct conn *c = find(h->dst_port, h->src_port);
	if (h->src_cid != HOST_CID || h->dst_cid != v.cid || h->len != n) {
		v.err = "a packet with bad addresses or length";
		return;
	}
	if (c) {
		c->peer_alloc = h->buf_alloc;
		c->peer_fwd = h->fwd_cnt;
		c->wake = true;
	}
	switch (h->op) {
	case OP_REQUEST:
		if (deaf)
			return; /* neither accept nor refuse: glue must give up */
		if (c || h->dst_port != v.listen || !v.listen) {
			send(NULL, h->dst_port, h->src_port, OP_RST, 0, 0);
			return;
		}
		for (uint32_t i = 0; i < MAXC && !c; i++)
			if (!v.conns[i].used)
				c = take(i);
		if (!c) {
			send(NULL, h->dst_port, h->src_port, OP_RST, 0, 0);
			return;
		}
		*c = (struct conn){.used = true, .established = true, .wake = true, .port = h->dst_port, .peer = h->src_port,
				   .peer_alloc = h->buf_alloc, .peer_fwd = h->fwd_cnt, .ring = c->ring};
		send(c, c->port, c->peer, OP_RESPONSE, 0, 0);
		return;
	case OP_RESPONSE:
		if (c)
			c->established = true;
		return;
	case OP_RST:
		if (c)
			drop(c);
		return;
	case OP_SHUTDOWN:
		if (c)
			c->host_shut = true;
		return;
	case OP_CREDIT_REQUEST:
		if (c)
			send(c, c->port, c->peer, OP_CREDIT_UPDATE, 0, 0);
		return;
	case OP_RW:
		if (!c || c->gen) /* a send connection's ring is ours alone */
			return;
		if (n > RING - (c->in - c->done)) {
			v.err = "the device sent more than our credit";
			return;
		}
		uint32_t at = c->in % RING, first = n < RING - at ? n : RING - at;
		copy(&c->ring[at], payload, first);
		copy(c->ring, payload + first, n - first);
		c->in += n;
		return;
	}
}

/* Byte off of send connection idx: the host recomputes it to check every
 * byte; the index keeps two connections' streams apart. */
static uint8_t pattern(uint32_t idx, uint64_t off)
{
	return (uint8_t)(off ^ (off >> 8) ^ (off >> 16) ^ (idx * 37 + 1));
}

/* Fills the table generate() copies from: pattern() is off's low byte
 * xor a value that changes every 256 bytes, so each 256-byte block is a
 * row of this table. Word at a time: the table is 64 KiB. */
static void fill_rows(void)
{
	uint64_t *w = (uint64_t *)v.xor_rows;
	for (uint32_t i = 0; i < 32; i++)
		w[i] = 0x0706050403020100ULL + i * 0x0808080808080808ULL;
	for (uint32_t r = 1; r < 256; r++)
		for (uint32_t i = 0; i < 32; i++)
			w[r * 32 + i] = w[i] ^ (r * 0x0101010101010101ULL);
}

/* Fills a send connection's free ring with the pattern's next bytes, a
 * block's piece at a time. in and gen_off move together from 0, so a
 * piece that ends at a 256-byte block also ends before the ring's end. */
static void generate(struct conn *c)
{
	while (c->gen_off < c->gen_len && c->in - c->done < RING) {
		uint32_t at = c->gen_off % 256, len = 256 - at;
		uint8_t row = pattern(c->gen_idx, c->gen_off) ^ (uint8_t)c->gen_off;
		len = len < RING - (c->in - c->done) ? len : RING - (c->in - c->done);
		len = len < c->gen_len - c->gen_off ? len : (uint32_t)(c->gen_len - c->gen_off);
		copy(&c->ring[c->in % RING], &v.xor_rows[row][at], len);
		c->in += len;
		c->gen_off += len;
	}
}

/* Echoes what waits in c's ring as far as the host's credit lets us,
 * tells the host of freed room, and closes c once the host is done. */
static void service(struct conn *c)
{
	if (!c->used || !c->wake || !c->established || c->closing)
		return;
	c->wake = false;
	if (c->gen)
		generate(c);
	while (c->queued != c->in && !v.err) {
		uint32_t credit = c->peer_alloc - (c->sent - c->peer_fwd);
		if (c->sent - c->peer_fwd > c->peer_alloc || credit == 0) {
			v.credit_waits++;
			break;
		}
		uint32_t at = c->queued % RING, len = c->in - c->queued;
		len = len < RING - at ? len : RING - at; /* up to the ring's end */
		len = len < credit ? len : credit;
		len = len < PAYLOAD ? len : PAYLOAD;
		v.echoed += len;
		send(c, c->port, c->peer, OP_RW, 0, len);
	}
	if (c->done != c->advertised && (c->done - c->advertised >= RING / 2 || c->done == c->in)) {
		v.credit_updates++;
		send(c, c->port, c->peer, OP_CREDIT_UPDATE, 0, 0);
	}
	if ((c->gen ? c->gen_off == c->gen_len : c->host_shut) && c->done == c->in) {
		c->closing = true; /* the host's RST ends it */
		send(c, c->port, c->peer, OP_SHUTDOWN, SHUT_BOTH, 0);
	}
}

/* Takes the packets the device has returned, reposting each buffer. */
static bool poll_rx(void)
{
	uint32_t id, len;
	bool any = false;
	while (!v.err && virtq_pop(&v.rx, &id, &len)) {
		if (id >= RX_BUFS || len < HDR || len > HDR + PAYLOAD) {
			v.err = "a bad rx used entry";
			return any;
		}
		uint8_t *b = v.rxbuf + id * (HDR + PAYLOAD);
		struct hdr h;
		copy(&h, b, HDR);
		receive(&h, b + HDR, len - HDR);
		virtq_push(&v.rx, (uint16_t)id);
		any = true;
	}
	if (any)
		virtq_notify(&v.rx);
	return any;
}

static const char *setup(void)
{
	dma_reset();
	v.rxbuf = dma_alloc(RX_BUFS * (HDR + PAYLOAD), 16);
	v.txhdr = dma_alloc(TX_SLOTS * sizeof(struct hdr), 16);
	uint32_t *event = dma_alloc(8, 8);
	if (!v.rxbuf || !v.txhdr || !event)
		return "out of DMA memory";
	const char *err = virtio_init(v.d, 0);
	if (!err)
		err = virtq_setup(v.d, &v.rx, 0, RX_BUFS);
	if (!err)
		err = virtq_setup(v.d, &v.tx, 1, 2 * TX_SLOTS);
	if (!err)
		err = virtq_setup(v.d, &v.ev, 2, 1);
	if (!err && (v.rx.size < RX_BUFS || v.tx.size < 2 * TX_SLOTS))
		err = "queues too small";
	if (err)
		return err;
	/* One loop serves every connection and queue; it never waits for an
	 * interrupt (see Polling above). */
	virtq_poll(&v.rx);
	virtq_poll(&v.tx);
	virtq_poll(&v.ev);
	v.cid = virtio_cfg64(v.d, 0);
	virtio_driver_ok(v.d);
	for (uint16_t i = 0; i < RX_BUFS; i++) {
		v.rx.desc[i] = (struct virtq_desc){(uintptr_t)v.rxbuf + i * (HDR + PAYLOAD), HDR + PAYLOAD, VIRTQ_DESC_F_WRITE, 0};
		virtq_push(&v.rx, i);
	}
	virtq_notify(&v.rx);
	v.ev.desc[0] = (struct virtq_desc){(uintptr_t)event, 4, VIRTQ_DESC_F_WRITE, 0};
	virtq_push(&v.ev, 0);
	virtq_notify(&v.ev);
	return NULL;
}

/* Runs until done() or timeout_s without a packet. */
static void run_until(bool (*done)(void), uint64_t timeout_s, const char *what)
{
	uint64_t limit = ms_to_tsc(timeout_s * 1000), last = rdtsc();
	while (!v.err && !done()) {
		if (poll_rx())
			last = rdtsc();
		tx_reap();
		for (uint32_t i = 0; i < v.top; i++)
			service(&v.conns[i]);
		if (rdtsc() - last > limit)
			v.err = what;
		cpu_relax();
	}
}

static uint64_t want_conns;
static bool connect_done(void) { return !v.conns[0].used || v.conns[0].established; }
static bool closed_done(void) { return !v.conns[0].used; }
static bool listen_done(void) { return v.conns_done >= want_conns; }

static uint64_t want_send;
static bool send_up(void)
{
	for (uint64_t i = 0; i < want_send; i++)
		if (v.conns[i].used && !v.conns[i].established)
			return false;
	return true;
}
static bool send_done(void) { return v.conns_done >= want_send; }

/* Opens n connections to the host's port at once and sends v.send_bytes
 * of pattern() on each, closing each after its last byte. */
static void send_many(uint32_t port, uint64_t n, uint64_t timeout_s)
{
	want_send = n;
	v.conns_done = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct conn *c = take(i);
		*c = (struct conn){.used = true, .port = SEND_PORT + i, .peer = port, .gen = true, .gen_idx = i,
				   .gen_len = i ? v.send_bytes : v.send_bytes0, .ring = c->ring};
		send(c, c->port, c->peer, OP_REQUEST, 0, 0);
	}
	run_until(send_up, timeout_s, "no RESPONSE to a send connection's REQUEST");
	run_until(send_done, timeout_s, "a send connection made no progress within the timeout");
	if (!v.err)
		v.sent_bytes = (n - 1) * v.send_bytes + v.send_bytes0;
	v.conns_done = 0;
}

static const char line_fmt[] = "GLUE-VSOCK hello from cid ";

/* Connects to the host's port, sends a line, closes: bytes sent or 0. */
static uint32_t connect_and_send(uint32_t port, uint64_t timeout_s)
{
	struct conn *c = take(0);
	*c = (struct conn){.used = true, .port = CONNECT_PORT, .peer = port, .ring = c->ring};
	send(c, c->port, c->peer, OP_REQUEST, 0, 0);
	run_until(connect_done, timeout_s, "no RESPONSE to our REQUEST");
	if (v.err || !c->used) {
		if (!v.err)
			v.err = "the host refused our connection (RST)";
		return 0;
	}
	/* The line into the ring, as received bytes to send. */
	uint32_t n = 0;
	for (const char *p = line_fmt; *p; p++)
		c->ring[n++] = (uint8_t)*p;
	char digits[24];
	int k = 0;
	uint64_t cid = v.cid;
	do
		digits[k++] = (char)('0' + cid % 10);
	while ((cid /= 10) && k < 20);
	while (k)
		c->ring[n++] = (uint8_t)digits[--k];
	c->ring[n++] = '\n';
	c->in = n;
	c->host_shut = true; /* we send one line, then close */
	c->wake = true;
	v.conns_done = 0;
	run_until(closed_done, timeout_s, "the host did not end our connection");
	v.conns_done = 0;
	return v.err ? 0 : n;
}

bool test_vsock(void)
{
	uint64_t connect = 0, listen = 0, timeout_s = 60, send_port = 0, sconns = 1, bytes = 0, bytes0 = UINT64_MAX;
	want_conns = 1;
	if (!cmdline_num("glue.vsock.connect", 0xffffffff, &connect) || !cmdline_num("glue.vsock.listen", 0xffffffff, &listen) ||
	    !cmdline_num("glue.vsock.conns", 1 << 20, &want_conns) || !cmdline_num("glue.vsock.timeout", 86400, &timeout_s) ||
	    !cmdline_num("glue.vsock.send", 0xffffffff, &send_port) || !cmdline_num("glue.vsock.sconns", MAXC, &sconns) ||
	    !cmdline_num("glue.vsock.bytes", 1ULL << 40, &bytes) || !cmdline_num("glue.vsock.bytes0", 1ULL << 40, &bytes0) ||
	    !cmdline_num("glue.vsock.deaf", 1, &deaf)) {
		print("GLUE-FAIL vsock glue.vsock.connect=, listen=, conns=, timeout=, send=, bytes=, bytes0= want numbers, sconns= at most %d, deaf= 0 or 1\n", MAXC);
		return false;
	}
	zero(&v, sizeof(v));
	uint8_t *ram = ram_above_image(MAXC * RING + 256 * 256);
	if (!ram) {
		print("GLUE-FAIL vsock needs %d KiB of RAM above the image\n", (MAXC * RING + 256 * 256) >> 10);
		return false;
	}
	for (int i = 0; i < MAXC; i++)
		v.conns[i].ring = ram + i * RING;
	v.xor_rows = (uint8_t (*)[256])(ram + MAXC * RING);
	v.send_bytes = bytes;
	v.send_bytes0 = bytes0 == UINT64_MAX ? bytes : bytes0;
	fill_rows();
	v.d = virtio_find(VIRTIO_ID_VSOCK, 0);
	if (!v.d) {
		virtio_missing("vsock", "virtio-vsock");
		return false;
	}
	const char *err = setup();
	if (err) {
		print("GLUE-FAIL vsock %s\n", err);
		virtio_fail(v.d);
		return false;
	}
	uint32_t sent = 0;
	if (connect)
		sent = connect_and_send((uint32_t)connect, timeout_s);
	if (!v.err && send_port && sconns)
		send_many((uint32_t)send_port, sconns, timeout_s);
	if (!v.err && listen) {
		v.listen = (uint32_t)listen;
		print("GLUE-READY vsock cid=%lu listen=%lu\n", v.cid, listen);
		run_until(listen_done, timeout_s, "no packet from the host within the timeout");
	}
	virtio_reset(v.d);
	print("%s vsock cid=%lu line=%u conns=%lu sent=%lu echoed=%lu credit_updates=%lu credit_waits=%lu",
	      v.err ? "GLUE-FAIL" : "GLUE-OK", v.cid, sent, v.conns_done, v.sent_bytes, v.echoed, v.credit_updates,
	      v.credit_waits);
	virtio_print_transport(v.d);
	if (v.err)
		print(": %s\n", v.err);
	else
		print("\n");
	return !v.err;
}
