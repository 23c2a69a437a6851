/*
 * dsdtcheck.c - runs the guest's DSDT pattern reader (src/aml.c,
 * src/acpi_dev.c) on the host, for dsdt_test.go: the AML body (the DSDT
 * after its 36-byte header) on stdin, exactly as long as it is, so that
 * the sanitizers the test builds with catch any read past it. Prints what
 * the guest would find, one fact a line.
 */
#include <stdio.h>
#include <stdlib.h>

#include "aml.h"

static const uint8_t *body;
static uint32_t body_len;

const uint8_t *acpi_dsdt(uint32_t *len)
{
	*len = body_len;
	return body;
}

int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int main(void)
{
	static uint8_t in[1 << 20];
	size_t n = fread(in, 1, sizeof(in), stdin);
	uint8_t *exact = malloc(n ? n : 1);
	if (!exact)
		return 2;
	memcpy(exact, in, n);
	body = exact;
	body_len = (uint32_t)n;

	uint64_t cba;
	if (acpi_pci_cba(&cba))
		printf("cba 0x%llx\n", (unsigned long long)cba);
	struct aml_res w[4];
	int k = acpi_pci_windows(w, 4);
	for (int i = 0; i < k; i++)
		printf("window 0x%llx 0x%llx\n", (unsigned long long)w[i].a, (unsigned long long)w[i].b);
	for (unsigned slot = 0; slot < 32; slot++)
		for (unsigned pin = 0; pin < 4; pin++) {
			struct aml_res irq;
			if (acpi_pci_route(slot, pin, &irq))
				printf("route %u %u %llu %d %d\n", slot, pin, (unsigned long long)irq.a, irq.level,
				       irq.active_low);
		}
	struct aml_res mem[32], irqs[32];
	k = acpi_virtio_mmio(mem, irqs, 32);
	for (int i = 0; i < k; i++)
		printf("mmio 0x%llx 0x%llx %llu\n", (unsigned long long)mem[i].a, (unsigned long long)mem[i].b,
		       (unsigned long long)irqs[i].a);
	free(exact);
	return 0;
}
