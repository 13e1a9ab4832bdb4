/* arena.c — bump allocator: the inventory and the ruleset are built once and freed whole, so
 * thousands of small strings and arrays cost one free. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "xalloc.h"

#define ARENA_BLOCK (64 * 1024)
#define ARENA_FIRST 1024 /* blocks double from here up to ARENA_BLOCK: the ruleset builder keeps
			    thousands of small arenas (one per policy and pod fragment) alive */

struct arena_block {
	struct arena_block *next;
	size_t used, size;
	max_align_t data[];
};

struct np_arena {
	struct arena_block *head;
	size_t next; /* size of the next block */
};

struct np_arena *np_arena_new(void)
{
	return xcalloc(1, sizeof(struct np_arena));
}

void np_arena_free(struct np_arena *a)
{
	if (!a)
		return;
	for (struct arena_block *b = a->head, *n; b; b = n) {
		n = b->next;
		free(b);
	}
	free(a);
}

void *np_arena_alloc_raw(struct np_arena *a, size_t size)
{
	const size_t align = sizeof(max_align_t);
	size = (size + align - 1) / align * align;
	struct arena_block *b = a->head;
	if (!b || b->size - b->used < size) {
		if (!a->next)
			a->next = ARENA_FIRST;
		size_t cap = size > a->next ? size : a->next;
		if (a->next < ARENA_BLOCK)
			a->next *= 2;
		b = xmalloc(sizeof(*b) + cap);
		b->size = cap;
		b->used = 0;
		/* a large one-off allocation goes behind the current block so the block's free
		 * space is not wasted */
		if (a->head && size > ARENA_BLOCK) {
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	void *p = (char *)b->data + b->used;
	b->used += size;
	return p;
}

void *np_arena_alloc(struct np_arena *a, size_t size)
{
	return memset(np_arena_alloc_raw(a, size), 0, size);
}

const char *np_arena_strdup(struct np_arena *a, const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *p = np_arena_alloc(a, n);
	memcpy(p, s, n);
	return p;
}

const char *np_arena_printf(struct np_arena *a, const char *fmt, ...)
{
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *p = np_arena_alloc(a, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	return p;
}
