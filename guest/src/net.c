/*
 * net.c - a polled virtio-net driver (virtio 1.2, 5.1) that answers ARP
 * and ping, and the net test.
 *
 * Queues: receiveq (0) and transmitq (1). Every buffer starts with the
 * 12-byte struct virtio_net_hdr (with num_buffers: VERSION_1 always has
 * it); no offloads are negotiated, so on transmit it is all zeros and on
 * receive it can be skipped, and a received frame never exceeds 1514
 * bytes. Only VIRTIO_NET_F_MAC (the MAC in config bytes 0-5) is asked for.
 *
 * The test posts the receive buffers, announces its address with a
 * gratuitous ARP, prints GLUE-READY, then answers ARP requests for its IP
 * (RFC 826) and ICMP echo requests (RFC 792) until it has answered
 * glue.net.pings of them or glue.net.timeout seconds have passed.
 */
#include "virtio.h"
#include "io.h"

#define NET_F_MAC (1ull << 5)

#define HDR_LEN  12
#define RX_BUFS  16
#define BUF_SIZE 2048
#define ETH_HLEN 14
#define ETH_MIN  60   /* shortest frame, without the FCS */
#define ETH_MAX  1514 /* longest, without the FCS or a VLAN tag */
#define ETH_ARP  0x0806
#define ETH_IPV4 0x0800

struct net {
	struct virtio_dev *dev;
	struct virtq rx, tx;
	uint8_t *rxbuf, *txbuf; /* DMA */
	uint8_t mac[6], ip[4];
	unsigned arp, echo;     /* requests answered */
	unsigned rx_frames, tx_frames;
	const char *error;      /* from a failed transmit */
};

static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t zero_mac[6];
/* Locally administered (bit 1 of the first byte), for a device without
 * VIRTIO_NET_F_MAC: 02:67:6c:75:65:00 ("glue"). */
static const uint8_t default_mac[6] = {0x02, 0x67, 0x6c, 0x75, 0x65, 0x00};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The Internet checksum (RFC 1071): the ones' complement of the ones'
 * complement sum of the 16-bit big-endian words. Over data that holds a
 * correct checksum it gives 0. */
static uint16_t inet_checksum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;
	for (; n > 1; p += 2, n -= 2)
		sum += be16(p);
	if (n)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* "A.B.C.D", each 0-255. */
static bool parse_ip(const char *s, size_t len, uint8_t ip[4])
{
	const char *end = s + len;
	for (int i = 0; i < 4; i++) {
		const char *start = s;
		while (s < end && *s != '.')
			s++;
		uint64_t v;
		if (!parse_u64(start, (size_t)(s - start), 255, &v))
			return false;
		ip[i] = (uint8_t)v;
		if (i < 3 && (s == end || *s++ != '.'))
			return false;
	}
	return s == end;
}

/* ---- sending ---- */

/* The frame being built: after the virtio-net header in txbuf. */
static uint8_t *tx_frame(struct net *n)
{
	return n->txbuf + HDR_LEN;
}

static uint8_t *eth_header(struct net *n, const uint8_t *dst, uint16_t type)
{
	uint8_t *f = tx_frame(n);
	memcpy(f, dst, 6);
	memcpy(f + 6, n->mac, 6);
	put16(f + 12, type);
	return f + ETH_HLEN;
}

/* Sends the frame of `len` bytes in txbuf and waits until the device has
 * taken it (one frame in flight keeps the buffer handling trivial). */
static bool net_send(struct net *n, size_t len)
{
	uint32_t used;
	if (len < ETH_MIN) {
		memset(tx_frame(n) + len, 0, ETH_MIN - len);
		len = ETH_MIN;
	}
	zero_words(n->txbuf, 8); /* the header (12 bytes) and a bit more */
	n->tx.desc[0] = (struct virtq_desc){(uintptr_t)n->txbuf, (uint32_t)(HDR_LEN + len), 0, 0};
	if ((n->error = virtq_run(&n->tx, 0, &used)))
		return false;
	n->tx_frames++;
	return true;
}

/* ARP for IPv4 over Ethernet, after the Ethernet header:
 *   0 htype 1, 2 ptype 0x0800, 4 hlen 6, 5 plen 4, 6 oper (1 request,
 *   2 reply), 8 sender MAC, 14 sender IP, 18 target MAC, 24 target IP. */
static bool send_arp(struct net *n, uint16_t oper, const uint8_t *dst, const uint8_t *tha,
		     const uint8_t *tpa)
{
	uint8_t *a = eth_header(n, dst, ETH_ARP);
	put16(a, 1);
	put16(a + 2, ETH_IPV4);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, oper);
	memcpy(a + 8, n->mac, 6);
	memcpy(a + 14, n->ip, 4);
	memcpy(a + 18, tha, 6);
	memcpy(a + 24, tpa, 4);
	return net_send(n, ETH_HLEN + 28);
}

/* ---- receiving ---- */

static bool arp_in(struct net *n, const uint8_t *a, size_t len)
{
	if (len < 28 || be16(a) != 1 || be16(a + 2) != ETH_IPV4 || a[4] != 6 || a[5] != 4 ||
	    be16(a + 6) != 1 || memcmp(a + 24, n->ip, 4) != 0)
		return true; /* not a request for our address */
	n->arp++;
	return send_arp(n, 2, a + 8, a + 8, a + 14);
}

/* IPv4 (RFC 791): 0 version 4 and header length in words, 2 total length,
 * 6 flags and fragment offset, 8 TTL, 9 protocol (1: ICMP), 10 header
 * checksum, 12 source, 16 destination. ICMP echo (RFC 792): 0 type (8
 * request, 0 reply), 1 code, 2 checksum over the whole ICMP message,
 * then identifier, sequence and data, which the reply returns unchanged. */
static bool ipv4_in(struct net *n, const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + ETH_HLEN;
	size_t iplen = len - ETH_HLEN, hl = (ip[0] & 15u) * 4u;
	if (iplen < 20 || ip[0] >> 4 != 4 || hl < 20)
		return true;
	size_t total = be16(ip + 2);
	if (total < hl || total > iplen || total - hl < 8 || ETH_HLEN + 20 + total - hl > ETH_MAX ||
	    inet_checksum(ip, hl) != 0 || (be16(ip + 6) & 0x3fff) != 0 || ip[9] != 1 ||
	    memcmp(ip + 16, n->ip, 4) != 0)
		return true; /* not an unfragmented ICMP packet to us */
	const uint8_t *icmp = ip + hl;
	size_t icmp_len = total - hl;
	if (icmp[0] != 8 || icmp[1] != 0 || inet_checksum(icmp, icmp_len) != 0)
		return true;

	/* The reply: a 20-byte header (the request's options are dropped). */
	uint8_t *o = eth_header(n, f + 6, ETH_IPV4);
	o[0] = 0x45;
	o[1] = ip[1];
	put16(o + 2, (uint16_t)(20 + icmp_len));
	memcpy(o + 4, ip + 4, 2); /* identification */
	put16(o + 6, 0);
	o[8] = 64;
	o[9] = 1;
	put16(o + 10, 0);
	memcpy(o + 12, n->ip, 4);
	memcpy(o + 16, ip + 12, 4);
	put16(o + 10, inet_checksum(o, 20));
	uint8_t *r = o + 20;
	memcpy(r, icmp, icmp_len);
	r[0] = 0;
	put16(r + 2, 0);
	put16(r + 2, inet_checksum(r, icmp_len));
	n->echo++;
	return net_send(n, ETH_HLEN + 20 + icmp_len);
}

static bool frame_in(struct net *n, const uint8_t *f, size_t len)
{
	n->rx_frames++;
	if (len < ETH_HLEN)
		return true;
	switch (be16(f + 12)) {
	case ETH_ARP:
		return arp_in(n, f + ETH_HLEN, len - ETH_HLEN);
	case ETH_IPV4:
		return ipv4_in(n, f, len);
	}
	return true;
}

/* ---- the test ---- */

static const char *net_open(struct net *n, struct virtio_dev *d)
{
	const char *err = virtio_init(d, NET_F_MAC);
	if (!err)
		err = virtq_setup(d, &n->rx, 0, RX_BUFS);
	if (!err)
		err = virtq_setup(d, &n->tx, 1, 4);
	n->rxbuf = dma_alloc(RX_BUFS * BUF_SIZE, 4096);
	n->txbuf = dma_alloc(BUF_SIZE, 4096);
	if (!err && (!n->rxbuf || !n->txbuf))
		err = "out of DMA memory";
	if (err)
		return err;
	for (int i = 0; i < 6; i++)
		n->mac[i] = d->features & NET_F_MAC ? virtio_cfg8(d, (unsigned)i) : default_mac[i];
	virtio_driver_ok(d);

	/* Each receive buffer is one device-writable descriptor, i for i. */
	for (uint16_t i = 0; i < n->rx.size && i < RX_BUFS; i++) {
		n->rx.desc[i] = (struct virtq_desc){(uintptr_t)n->rxbuf + i * BUF_SIZE, BUF_SIZE,
						    VIRTQ_DESC_F_WRITE, 0};
		virtq_push(&n->rx, i);
	}
	virtq_notify(&n->rx);
	return NULL;
}

bool test_net(void)
{
	struct net n = {.ip = {192, 0, 2, 2}};
	uint64_t pings = 3, timeout_s = 60;
	const char *v;
	size_t len;

	if (!cmdline_num("glue.net.pings", 1000000, &pings) ||
	    !cmdline_num("glue.net.timeout", 86400, &timeout_s) ||
	    (cmdline_get("glue.ip", &v, &len) && !parse_ip(v, len, n.ip))) {
		print("GLUE-FAIL net glue.net.pings=N, glue.net.timeout=S or glue.ip=A.B.C.D malformed\n");
		return false;
	}
	struct virtio_dev *d = n.dev = virtio_find(VIRTIO_ID_NET, 0);
	if (!d) {
		virtio_missing("net", "virtio-net");
		return false;
	}
	dma_reset();
	const char *err = net_open(&n, d);
	if (err) {
		print("GLUE-FAIL net %s\n", err);
		virtio_fail(d);
		return false;
	}
	char mac[18], ip[16];
	for (int i = 0; i < 6; i++) {
		mac[3 * i] = "0123456789abcdef"[n.mac[i] >> 4];
		mac[3 * i + 1] = "0123456789abcdef"[n.mac[i] & 15];
		mac[3 * i + 2] = i < 5 ? ':' : '\0';
	}
	char *p = ip;
	for (int i = 0; i < 4; i++) {
		unsigned b = n.ip[i];
		if (b >= 100)
			*p++ = (char)('0' + b / 100);
		if (b >= 10)
			*p++ = (char)('0' + b / 10 % 10);
		*p++ = (char)('0' + b % 10);
		*p++ = i < 3 ? '.' : '\0';
	}

	uint64_t limit = timeout_s * 1000 * tsc_khz(true); /* may calibrate, ~2 s */
	uint64_t start = rdtsc();
	bool ok = send_arp(&n, 1, broadcast, zero_mac, n.ip); /* gratuitous ARP */
	if (ok)
		print("GLUE-READY net ip=%s mac=%s\n", ip, mac);
	while (ok && n.echo < pings && rdtsc() - start <= limit) {
		uint32_t id, used;
		if (!virtq_pop(&n.rx, &id, &used)) {
			cpu_relax();
			continue;
		}
		if (id >= RX_BUFS || used < HDR_LEN || used > BUF_SIZE) {
			n.error = "the device returned a bad receive entry";
			ok = false;
			break;
		}
		ok = frame_in(&n, n.rxbuf + id * BUF_SIZE + HDR_LEN, used - HDR_LEN);
		virtq_push(&n.rx, (uint16_t)id); /* the buffer goes back to the device */
		virtq_notify(&n.rx);
	}
	virtio_reset(d);
	if (!ok || n.echo < pings) {
		print("GLUE-FAIL net mac=%s ip=%s arp=%u echo=%u rx=%u tx=%u: %s\n", mac, ip, n.arp,
		      n.echo, n.rx_frames, n.tx_frames, ok ? "timeout" : n.error);
		return false;
	}
	print("GLUE-OK net mac=%s ip=%s arp=%u echo=%u garp=1 rx=%u tx=%u", mac, ip, n.arp, n.echo,
	      n.rx_frames, n.tx_frames);
	virtio_print_transport(d);
	print("\n");
	return true;
}
