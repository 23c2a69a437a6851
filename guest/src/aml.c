/*
 * aml.c - a minimal pattern reader for the DSDT's AML (ACPI 6.5, 20).
 *
 * The guest runs no AML interpreter. It looks for the few fixed shapes
 * glue's and QEMU's DSDTs use for what it needs, byte patterns inside
 * bounds-checked package extents:
 *
 *   Device:   0x5b 0x82 PkgLength NameString TermList
 *   Name:     0x08 NameSeg DataObject           (_HID, _CRS, _PRT, _S5_)
 *   _HID:     a String (0x0d "LNRO0005" 0) or an EISAID DWord (0x0c u32)
 *   _CRS:     a Buffer (0x11 PkgLength BufferSize bytes) of resource
 *             descriptors (6.4): Memory32Fixed (0x86), DWord/QWord
 *             address space (0x87, 0x8a), Extended Interrupt (0x89), IRQ
 *             (small type 4), ended by the End tag (0x79)
 *   Package:  0x12 PkgLength NumElements, or VarPackage 0x13 with an
 *             integer count, elements integers (0x00, 0x01, 0xff, 0x0a
 *             u8, 0x0b u16, 0x0c u32, 0x0e u64) or NameStrings
 *   OperationRegion: 0x5b 0x80 NameSeg space offset length
 *
 * Limits: Devices are found by scanning for their opcode, so bytes inside
 * a buffer that happen to read 0x5b 0x82 are taken for a Device if their
 * extent fits (they then hold no _HID we look for). Names must be plain
 * data objects: a _CRS or _PRT computed by a method, an object declared
 * with a path outside its device, or integers computed by expressions are
 * not understood and read as absent. Nothing here is ever executed.
 */
#include "guest.h"
#include "aml.h"

#define OP_NAME     0x08
#define OP_STRING   0x0d
#define OP_BUFFER   0x11
#define OP_PACKAGE  0x12
#define OP_VARPKG   0x13
#define OP_EXT      0x5b
#define OP_DEVICE   0x82 /* after OP_EXT */
#define OP_OPREGION 0x80 /* after OP_EXT */
#define OP_METHOD   0x14

/* PkgLength at p (before end): the extent it covers, counted from p.
 * False if malformed or not inside [p, end). */
static bool pkg_length(const uint8_t *p, const uint8_t *end, uint32_t *len, uint32_t *hdr)
{
	if (p >= end)
		return false;
	unsigned follow = p[0] >> 6;
	if (end - p < 1 + (long)follow)
		return false;
	uint32_t v = follow ? p[0] & 0x0f : p[0] & 0x3f;
	for (unsigned i = 0; i < follow; i++)
		v |= (uint32_t)p[1 + i] << (4 + 8 * i);
	if (v < 1 + follow || v > (uint32_t)(end - p))
		return false;
	*len = v;
	*hdr = 1 + follow;
	return true;
}

/* Skips a NameString at *p, keeping its last NameSeg in seg. */
static bool name_string(const uint8_t **p, const uint8_t *end, char seg[4])
{
	const uint8_t *s = *p;
	while (s < end && (*s == '\\' || *s == '^'))
		s++;
	unsigned segs = 1;
	if (s < end && *s == 0x2e) { /* DualNamePrefix */
		segs = 2;
		s++;
	} else if (s < end && *s == 0x2f) { /* MultiNamePrefix */
		if (end - s < 2)
			return false;
		segs = s[1];
		s += 2;
	} else if (s < end && *s == 0x00) { /* NullName */
		*p = s + 1;
		memset(seg, 0, 4);
		return true;
	}
	if (segs == 0 || (uint64_t)(end - s) < 4ull * segs)
		return false;
	memcpy(seg, s + 4 * (segs - 1), 4);
	*p = s + 4 * segs;
	return true;
}

bool aml_integer(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	const uint8_t *s = *p;
	if (s >= end)
		return false;
	unsigned n;
	switch (*s) {
	case 0x00: *v = 0; *p = s + 1; return true;
	case 0x01: *v = 1; *p = s + 1; return true;
	case 0xff: *v = UINT64_MAX; *p = s + 1; return true;
	case 0x0a: n = 1; break;
	case 0x0b: n = 2; break;
	case 0x0c: n = 4; break;
	case 0x0e: n = 8; break;
	default: return false;
	}
	if ((unsigned long)(end - s) < 1 + n)
		return false;
	*v = 0;
	for (unsigned i = 0; i < n; i++)
		*v |= (uint64_t)s[1 + i] << (8 * i);
	*p = s + 1 + n;
	return true;
}

bool aml_next_device(const uint8_t *aml, uint32_t len, uint32_t *cursor, struct aml_scope *dev)
{
	const uint8_t *end = aml + len;
	for (uint32_t at = *cursor; at + 2 < len; at++) {
		if (aml[at] != OP_EXT || aml[at + 1] != OP_DEVICE)
			continue;
		const uint8_t *p = aml + at + 2;
		uint32_t plen, hdr;
		if (!pkg_length(p, end, &plen, &hdr))
			continue;
		const uint8_t *body_end = p + plen, *q = p + hdr;
		if (!name_string(&q, body_end, dev->name))
			continue;
		dev->body = q;
		dev->len = (uint32_t)(body_end - q);
		*cursor = at + 2;
		return true;
	}
	*cursor = len;
	return false;
}

/* The data object of "Name(<seg>, ...)" directly in the scope (not in a
 * nested Device or Method), or NULL. */
const uint8_t *aml_name(const struct aml_scope *s, const char seg[4], const uint8_t **end)
{
	const uint8_t *p = s->body, *e = s->body + s->len;
	*end = e;
	while (p + 5 < e) {
		uint32_t plen, hdr;
		if (p[0] == OP_EXT && p[1] == OP_DEVICE && pkg_length(p + 2, e, &plen, &hdr)) {
			p += 2 + plen; /* not ours */
			continue;
		}
		if (p[0] == OP_METHOD && pkg_length(p + 1, e, &plen, &hdr)) {
			p += 1 + plen;
			continue;
		}
		if (p[0] == OP_NAME && memcmp(p + 1, seg, 4) == 0)
			return p + 5;
		p++;
	}
	return NULL;
}

bool aml_hid_is(const struct aml_scope *s, const char *hid)
{
	const uint8_t *end, *v = aml_name(s, "_HID", &end);
	if (!v)
		return false;
	size_t n = strlen(hid);
	if (*v == OP_STRING)
		return (size_t)(end - v) > n + 1 && memcmp(v + 1, hid, n) == 0 && v[1 + n] == 0;
	uint64_t id;
	if (n != 7 || !aml_integer(&v, end, &id))
		return false;
	/* EISAID: three letters in 5 bits each, four hex digits; big-endian
	 * within the little-endian DWord. */
	uint32_t want = (uint32_t)((hid[0] - '@') & 31) << 26 | (uint32_t)((hid[1] - '@') & 31) << 21 |
			(uint32_t)((hid[2] - '@') & 31) << 16;
	for (int i = 3; i < 7; i++) {
		int d = hex_digit(hid[i]);
		if (d < 0)
			return false;
		want |= (uint32_t)d << (4 * (6 - i));
	}
	uint32_t be = (uint32_t)id;
	be = be >> 24 | (be >> 8 & 0xff00) | (be << 8 & 0xff0000) | be << 24;
	return be == want;
}

bool aml_buffer(const uint8_t *v, const uint8_t *end, const uint8_t **data, uint32_t *len)
{
	uint32_t plen, hdr;
	if (!v || v >= end || *v != OP_BUFFER || !pkg_length(v + 1, end, &plen, &hdr))
		return false;
	const uint8_t *p = v + 1 + hdr, *bend = v + 1 + plen;
	uint64_t size;
	if (!aml_integer(&p, bend, &size) || size > (uint64_t)(bend - p))
		return false;
	*data = p;
	*len = (uint32_t)size;
	return true;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

int aml_resources(const uint8_t *buf, uint32_t len, struct aml_res *out, int max)
{
	int n = 0;
	for (uint32_t at = 0; at < len && n < max;) {
		uint8_t tag = buf[at];
		uint32_t dlen, hdr;
		if (tag & 0x80) { /* large item: u16 length */
			if (len - at < 3)
				break;
			dlen = buf[at + 1] | (uint32_t)buf[at + 2] << 8;
			hdr = 3;
		} else {
			dlen = tag & 7;
			hdr = 1;
			tag = (uint8_t)((tag >> 3) & 0xf);
		}
		if (dlen > len - at - hdr)
			break;
		const uint8_t *d = buf + at + hdr;
		struct aml_res r = {0};
		switch (tag) {
		case 0x0f: /* end tag */
			return n;
		case 0x86: /* Memory32Fixed: info, base, length */
			if (dlen >= 9)
				r = (struct aml_res){AML_RES_MEM, rd32(d + 1), rd32(d + 5), 0, 0};
			break;
		case 0x87: /* DWord address space: type, flags, tflags, gran, min, max, tra, len */
			if (dlen >= 23 && d[0] == 0)
				r = (struct aml_res){AML_RES_WINDOW, rd32(d + 7), rd32(d + 19), 0, 0};
			break;
		case 0x8a: /* QWord address space */
			if (dlen >= 43 && d[0] == 0)
				r = (struct aml_res){AML_RES_WINDOW, rd64(d + 11), rd64(d + 35), 0, 0};
			break;
		case 0x89: /* Extended Interrupt: flags, count, u32 GSIs */
			if (dlen >= 6 && d[1] >= 1)
				r = (struct aml_res){AML_RES_IRQ, rd32(d + 2), 0, (d[0] & 2) == 0,
						     (d[0] & 4) != 0};
			break;
		case 0x04: /* IRQ: u16 mask [, flags]: the lowest IRQ of the mask */
			if (dlen >= 2 && (d[0] | d[1])) {
				unsigned mask = d[0] | (unsigned)d[1] << 8, irq = 0;
				while (!(mask & 1u << irq))
					irq++;
				bool level = dlen >= 3 && !(d[2] & 1);
				r = (struct aml_res){AML_RES_IRQ, irq, 0, level, dlen >= 3 && (d[2] & 8)};
			}
			break;
		}
		if (r.kind)
			out[n++] = r;
		at += hdr + dlen;
	}
	return n;
}

int aml_crs(const struct aml_scope *s, struct aml_res *out, int max)
{
	const uint8_t *end, *v = aml_name(s, "_CRS", &end), *data;
	uint32_t len;
	if (!aml_buffer(v, end, &data, &len))
		return 0;
	return aml_resources(data, len, out, max);
}

bool aml_package(const uint8_t **p, const uint8_t *end, const uint8_t **pend, uint64_t *count)
{
	const uint8_t *s = *p;
	uint32_t plen, hdr;
	if (s >= end || (*s != OP_PACKAGE && *s != OP_VARPKG) || !pkg_length(s + 1, end, &plen, &hdr))
		return false;
	const uint8_t *e = s + 1 + plen, *q = s + 1 + hdr;
	if (*s == OP_PACKAGE) {
		if (q >= e)
			return false;
		*count = *q++;
	} else if (!aml_integer(&q, e, count)) {
		return false;
	}
	*p = q;
	*pend = e;
	return true;
}

bool aml_element_name(const uint8_t **p, const uint8_t *end, char seg[4])
{
	const uint8_t *s = *p;
	if (s >= end || !(*s == '\\' || *s == '^' || *s == '_' || (*s >= 'A' && *s <= 'Z') ||
			  *s == 0x2e || *s == 0x2f))
		return false;
	return name_string(p, end, seg);
}

bool aml_opregion(const struct aml_scope *s, uint8_t *space, uint64_t *base, uint64_t *len)
{
	const uint8_t *p = s->body, *e = s->body + s->len;
	for (; p + 7 < e; p++) {
		if (p[0] != OP_EXT || p[1] != OP_OPREGION)
			continue;
		const uint8_t *q = p + 2;
		char seg[4];
		if (!name_string(&q, e, seg) || q >= e)
			continue;
		*space = *q++;
		if (aml_integer(&q, e, base) && aml_integer(&q, e, len))
			return true;
	}
	return false;
}

/* A method that does nothing but return a constant, or a Name holding
 * one: "Method(seg, 0) { Return (<integer>) }" (QEMU's _CBA). */
bool aml_constant(const struct aml_scope *s, const char seg[4], uint64_t *v)
{
	const uint8_t *end, *p = aml_name(s, seg, &end);
	if (p)
		return aml_integer(&p, end, v);
	const uint8_t *e = s->body + s->len;
	for (p = s->body; p + 7 < e; p++) {
		uint32_t plen, hdr;
		if (p[0] != OP_METHOD || !pkg_length(p + 1, e, &plen, &hdr) || hdr + 6 > plen ||
		    memcmp(p + 1 + hdr, seg, 4) != 0)
			continue;
		const uint8_t *q = p + 1 + hdr + 5, *mend = p + 1 + plen; /* after the flags */
		if (q < mend && *q == 0xa4) { /* ReturnOp */
			q++;
			return aml_integer(&q, mend, v) && q == mend;
		}
		return false;
	}
	return false;
}
