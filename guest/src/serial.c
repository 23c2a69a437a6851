/*
 * serial.c - COM1 as a minimal polled 16550 driver, and print().
 *
 * Output waits for LSR.THRE ("transmitter holding register empty"); with
 * the 16550A's 16-byte FIFO enabled, THRE means the whole FIFO is empty,
 * so a driver may then write 16 bytes without looking again, as Linux's
 * 8250 driver does. That halves the VM exits per byte. Input waits for
 * LSR.DR. No interrupts are used. Lines end in "\n" alone (no "\r"): the markers are
 * for programs, and a terminal shows them well enough.
 */
#include "guest.h"
#include "io.h"

#define UART_IER 1 /* interrupt enable */
#define UART_IIR 2 /* interrupt identification (read) */
#define UART_FCR 2 /* FIFO control (write) */
#define UART_LCR 3 /* line control */
#define UART_MCR 4 /* modem control */
#define UART_DLL 0 /* divisor latch, low byte (when LCR.DLAB) */
#define UART_DLM 1 /* divisor latch, high byte (when LCR.DLAB) */
#define LCR_DLAB 0x80
#define LCR_8N1  0x03
#define IIR_FIFO 0xc0 /* both set: FIFOs enabled (a 16550A) */
#define FIFO_LEN 16

static volatile uint32_t serial_lock_word;
static bool mid_line; /* the last byte written was not '\n' */
static int tx_burst = 1; /* bytes we may write per THRE: FIFO_LEN or 1 */
static int tx_room;      /* bytes left in the current burst */

/* Bytes that arrived before serial_init, which resets the FIFOs. */
static char early_rx[FIFO_LEN];
static int early_rx_len, early_rx_pos;

void serial_init(void)
{
	/* Let the banner (written by the entry code) leave the transmitter
	 * before the FIFOs are reset below. */
	for (int spin = 0; spin < 100000 && !(inb(COM1 + UART_LSR) & LSR_TEMT); spin++)
		cpu_relax();
	/* Keep input that came early: resetting the FIFOs would drop it. */
	while (early_rx_len < FIFO_LEN && (inb(COM1 + UART_LSR) & LSR_DR))
		early_rx[early_rx_len++] = (char)inb(COM1 + UART_RBR);
	outb(COM1 + UART_IER, 0);             /* no interrupts: we poll */
	outb(COM1 + UART_LCR, LCR_DLAB);
	outb(COM1 + UART_DLL, 1);             /* 115200 baud */
	outb(COM1 + UART_DLM, 0);
	outb(COM1 + UART_LCR, LCR_8N1);
	outb(COM1 + UART_FCR, 0x07);          /* enable and clear the FIFOs */
	outb(COM1 + UART_MCR, 0x03);          /* DTR, RTS */
	if ((inb(COM1 + UART_IIR) & IIR_FIFO) == IIR_FIFO)
		tx_burst = FIFO_LEN;
}

/* Callers hold the output lock (or own the machine, as the exception
 * handler does). */
void serial_putc(char c)
{
	if (tx_room == 0) {
		/* Bounded: a missing UART reads 0xff (THRE set); a stuck
		 * one is written to anyway. */
		for (int spin = 0; spin < 100000; spin++) {
			if (inb(COM1 + UART_LSR) & LSR_THRE)
				break;
			cpu_relax();
		}
		tx_room = tx_burst;
	}
	outb(COM1 + UART_THR, (uint8_t)c);
	tx_room--;
	mid_line = c != '\n';
}

void serial_end_line(void)
{
	if (mid_line)
		serial_putc('\n');
}

int serial_getc(void)
{
	if (early_rx_pos < early_rx_len)
		return (unsigned char)early_rx[early_rx_pos++];
	while (!(inb(COM1 + UART_LSR) & LSR_DR))
		cpu_relax();
	return inb(COM1 + UART_RBR);
}

static void lock(void)
{
	while (__atomic_exchange_n(&serial_lock_word, 1, __ATOMIC_ACQUIRE))
		while (serial_lock_word)
			cpu_relax();
}

static void unlock(void)
{
	__atomic_store_n(&serial_lock_word, 0, __ATOMIC_RELEASE);
}

/* ---- the formatter ---- */

static void put_str(const char *s, size_t max)
{
	for (size_t i = 0; i < max && s[i]; i++) {
		char c = s[i];
		serial_putc(c >= 0x20 && c < 0x7f ? c : '?');
	}
}

static void put_num(uint64_t v, unsigned base, int width, char pad, bool neg)
{
	char buf[24];
	int n = 0;
	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		buf[n++] = '-';
	for (int w = n; w < width; w++)
		serial_putc(pad);
	while (n)
		serial_putc(buf[--n]);
}

static void format(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			serial_putc(*fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, lng = 0;
		size_t prec = (size_t)-1;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		if (*fmt == '.') {
			prec = 0;
			for (fmt++; *fmt >= '0' && *fmt <= '9'; fmt++)
				prec = prec * 10 + (size_t)(*fmt - '0');
		}
		while (*fmt == 'l' || *fmt == 'z') {
			lng++;
			fmt++;
		}
		uint64_t u;
		switch (*fmt) {
		case 'd': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			put_num(v < 0 ? -(uint64_t)v : (uint64_t)v, 10, width, pad, v < 0);
			break;
		}
		case 'u':
		case 'x':
			u = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			put_num(u, *fmt == 'u' ? 10 : 16, width, pad, false);
			break;
		case 's':
			put_str(va_arg(ap, const char *), prec);
			break;
		case 'c':
			serial_putc((char)va_arg(ap, int));
			break;
		case '%':
			serial_putc('%');
			break;
		default: /* unknown conversion: show it, do not guess at args */
			serial_putc('%');
			if (!*fmt)
				return;
			serial_putc(*fmt);
		}
	}
}

void vprint(const char *fmt, va_list ap)
{
	lock();
	format(fmt, ap);
	unlock();
}

void print(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
}

void print_unlocked(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	format(fmt, ap);
	va_end(ap);
}
