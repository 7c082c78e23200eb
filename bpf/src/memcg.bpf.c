/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0) */
/*
 * Memory pressure inside a container: vmscan/mm_vmscan_memcg_reclaim_begin fires when an
 * allocation pushes a memory cgroup over its limit and the allocating task has to reclaim
 * its own pages. That is the stall that precedes an OOM kill and slows the application
 * long before one (PSI shows the same thing only as a polled average, not as an event).
 * Reclaim comes in bursts of thousands, so each cgroup reports at most once a second, with
 * the count of rounds folded in.
 */
#include "tapio.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* page_counter.max is PAGE_COUNTER_MAX (LONG_MAX / PAGE_SIZE) when unlimited. */
#define UNLIMITED_PAGES (1ULL << 50)

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64); /* cgroup kernfs id */
	__type(value, struct tapio_rate);
} last_reports SEC(".maps");

SEC("tp_btf/mm_vmscan_memcg_reclaim_begin")
int BPF_PROG(tapio_memcg_reclaim)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct cgroup *cg = tapio_memory_cgroup(task);
	if (!cg)
		return 0;
	__u64 id = BPF_CORE_READ(cg, kn, id);
	__u32 suppressed;
	if (!tapio_rate_ok(&last_reports, id, &suppressed))
		return 0;

	struct tapio_event *e = tapio_reserve(TAPIO_MEMCG_RECLAIM);
	if (!e)
		return 0;
	tapio_fill_task(e, task);
	e->u.memcg.suppressed = suppressed;

	/* The limit may sit on the pod's cgroup rather than the container's: walk up to it. */
	int id_mem = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	struct cgroup_subsys_state *css = BPF_CORE_READ(task, cgroups, subsys[id_mem]);
	for (int level = 0; level < TAPIO_CG_DEPTH; level++) {
		if (!css)
			break;
		/* css is the first member of struct mem_cgroup */
		struct mem_cgroup *memcg = (void *)css;
		__u64 max = BPF_CORE_READ(memcg, memory.max);
		if (max < UNLIMITED_PAGES) {
			e->u.memcg.limit_pages = max;
			e->u.memcg.usage_pages = BPF_CORE_READ(memcg, memory.usage.counter);
			e->u.memcg.level = level;
			break;
		}
		css = BPF_CORE_READ(css, parent);
	}
	tapio_submit(e);
	return 0;
}
