/* print_record.h - the harnesses' ring-buffer callback: one "record <hex bytes>" line
 * per record, which the Python tests decode. Included by harness.c and
 * tests/programs/uprobe_harness.c after stdio.h and bpf_runtime.h. */
static void print_record(const struct stp_bpf_record *record, uint32_t len, void *arg)
{
	const uint8_t *bytes = (const uint8_t *)record;
	uint32_t i;

	(void)arg;
	printf("record ");
	for (i = 0; i < len; i++)
		printf("%02x", bytes[i]);
	printf("\n");
}
