#include "vmm/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void bus_init(struct bus *b)
{
	pthread_mutex_init(&b->lock, NULL);
	b->table = NULL;
}

void bus_destroy(struct bus *b)
{
	struct bus_table *t = b->table, *o;

	for (; t; t = o) {
		o = t->older;
		free(t);
	}
	b->table = NULL;
	pthread_mutex_destroy(&b->lock);
}

/* Index of the first range whose base is greater than addr. */
static size_t bus_upper(const struct bus_table *t, uint64_t addr)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (t->r[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Publish a copy of the current table with range i removed (del) or nr inserted at i. */
static int bus_publish(struct bus *b, size_t i, const struct bus_range *nr)
{
	struct bus_table *cur = b->table, *t;
	size_t n = cur ? cur->n : 0, newn = nr ? n + 1 : n - 1;

	t = malloc(sizeof(*t) + newn * sizeof(t->r[0]));
	if (!t)
		return -ENOMEM;
	t->older = cur;
	t->n = newn;
	if (cur) {
		memcpy(t->r, cur->r, i * sizeof(t->r[0]));
		if (nr)
			memcpy(&t->r[i + 1], &cur->r[i], (n - i) * sizeof(t->r[0]));
		else
			memcpy(&t->r[i], &cur->r[i + 1], (n - i - 1) * sizeof(t->r[0]));
	}
	if (nr)
		t->r[i] = *nr;
	__atomic_store_n(&b->table, t, __ATOMIC_RELEASE);
	return 0;
}

int bus_register(struct bus *b, uint64_t base, uint64_t len, bus_io_fn fn, void *opaque,
		 const char *name)
{
	struct bus_range nr = { base, len, fn, opaque, name };
	struct bus_table *t;
	size_t i = 0;
	int ret;

	if (!len || base + len - 1 < base || !fn)
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	t = b->table;
	if (t) {
		i = bus_upper(t, base);
		if ((i > 0 && t->r[i - 1].base + t->r[i - 1].len - 1 >= base) ||
		    (i < t->n && t->r[i].base <= base + len - 1)) {
			ret = -EEXIST;
			goto out;
		}
	}
	ret = bus_publish(b, i, &nr);
out:
	pthread_mutex_unlock(&b->lock);
	return ret;
}

int bus_unregister(struct bus *b, uint64_t base)
{
	struct bus_table *t;
	size_t i;
	int ret = -ENOENT;

	pthread_mutex_lock(&b->lock);
	t = b->table;
	if (t) {
		i = bus_upper(t, base);
		if (i > 0 && t->r[i - 1].base == base)
			ret = bus_publish(b, i - 1, NULL);
	}
	pthread_mutex_unlock(&b->lock);
	return ret;
}

int bus_dispatch(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	const struct bus_table *t = __atomic_load_n(&b->table, __ATOMIC_ACQUIRE);
	const struct bus_range *r;
	size_t i;

	if (!t)
		return -ENOENT;
	i = bus_upper(t, addr);
	if (i == 0)
		return -ENOENT;
	r = &t->r[i - 1];
	if (addr - r->base >= r->len)
		return -ENOENT;
	r->fn(r->opaque, addr - r->base, data, len, is_write);
	return 0;
}
