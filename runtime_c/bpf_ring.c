/* Consuming a BPF ring buffer map from user space.
 *
 * The kernel maps one writable page holding the consumer position, then a read-only
 * page holding the producer position followed by the data area mapped twice, so a
 * record that wraps around the end is still contiguous.  Each record has an 8-byte
 * header: its length with BUSY (still being written) and DISCARD bits, and a page
 * offset the reader does not need.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bpf_runtime.h"

struct stp_bpf_ring {
	uint64_t *consumer_pos;
	const uint64_t *producer_pos;
	const uint8_t *data;
	uint64_t mask;
	size_t page;
	uint32_t bytes;
};

struct stp_bpf_ring *stp_bpf_ring_open(int map_fd, uint32_t bytes)
{
	struct stp_bpf_ring *ring = calloc(1, sizeof(*ring));
	void *consumer, *producer;

	if (ring == NULL) {
		stp_bpf_fail("cannot map the BPF ring buffer: out of memory");
		return NULL;
	}
	ring->page = (size_t)sysconf(_SC_PAGESIZE);
	ring->bytes = bytes;
	ring->mask = bytes - 1;
	consumer = mmap(NULL, ring->page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (consumer == MAP_FAILED) {
		stp_bpf_fail("cannot map the BPF ring buffer's consumer page: %s", strerror(errno));
		free(ring);
		return NULL;
	}
	producer = mmap(NULL, ring->page + 2 * (size_t)bytes, PROT_READ, MAP_SHARED, map_fd, ring->page);
	if (producer == MAP_FAILED) {
		stp_bpf_fail("cannot map the BPF ring buffer's data: %s", strerror(errno));
		munmap(consumer, ring->page);
		free(ring);
		return NULL;
	}
	ring->consumer_pos = consumer;
	ring->producer_pos = producer;
	ring->data = (const uint8_t *)producer + ring->page;
	return ring;
}

/* Hand committed records to fn, at most STP_BPF_DRAIN_BATCH; stop at one still being written.
 * The records stay in place while fn runs (it reads them there), and the consumer
 * position moves after the batch, not per record: a store per record would bounce its
 * cache line to every CPU that reserves.  The release store orders our reads of the
 * records before the kernel may write over them.  A batch of large records gives the
 * space back every quarter of the ring, so producers are not held up by a whole one. */
int stp_bpf_ring_drain(struct stp_bpf_ring *ring, stp_bpf_record_fn fn, void *arg)
{
	uint64_t released = __atomic_load_n(ring->consumer_pos, __ATOMIC_RELAXED);  /* only we write it */
	uint64_t prod = __atomic_load_n(ring->producer_pos, __ATOMIC_ACQUIRE);
	uint64_t cons = released;
	int count = 0;

	while (cons < prod && count < STP_BPF_DRAIN_BATCH) {
		const uint32_t *header = (const uint32_t *)(ring->data + (cons & ring->mask));
		uint32_t len = __atomic_load_n(header, __ATOMIC_ACQUIRE);
		uint32_t size = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);

		if (len & BPF_RINGBUF_BUSY_BIT)
			break;
		if (!(len & BPF_RINGBUF_DISCARD_BIT) && size >= STP_BPF_RECORD_HEADER) {
			fn((const struct stp_bpf_record *)(header + 2), size, arg);
			count++;
		}
		cons += (size + BPF_RINGBUF_HDR_SZ + 7) & ~7u;
		if (cons - released >= ring->bytes / 4) {
			__atomic_store_n(ring->consumer_pos, cons, __ATOMIC_RELEASE);
			released = cons;
		}
		if (cons >= prod)
			prod = __atomic_load_n(ring->producer_pos, __ATOMIC_ACQUIRE);
	}
	if (cons != released)
		__atomic_store_n(ring->consumer_pos, cons, __ATOMIC_RELEASE);
	return count;
}

void stp_bpf_ring_close(struct stp_bpf_ring *ring)
{
	if (ring == NULL)
		return;
	munmap(ring->consumer_pos, ring->page);
	munmap((void *)ring->producer_pos, ring->page + 2 * (size_t)ring->bytes);
	free(ring);
}
