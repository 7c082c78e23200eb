/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0) */
/*
 * OOM kills, from tracepoints only (kprobes and fentry are not on every kernel).
 *
 * The victim comes from oom/mark_victim, which the kernel fires in the context of the
 * task whose allocation failed. Whether the OOM was a memory cgroup's (a container or pod
 * at its limit) or the whole node's follows from the reclaim that task tried just before
 * giving up: a memcg charge reclaims through try_to_free_mem_cgroup_pages()
 * (vmscan/mm_vmscan_memcg_reclaim_begin), a node-wide allocation through direct reclaim
 * (vmscan/mm_vmscan_direct_reclaim_begin). Each is noted per thread; mark_victim reads
 * the note. The limit and usage are read from the victim's memory cgroup, walking up to
 * the level that holds the limit (often the pod's, not the container's).
 */
#include "tapio.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define RECLAIM_MEMCG 1
#define RECLAIM_DIRECT 2
#define UNLIMITED_PAGES (1ULL << 50)

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);   /* thread id */
	__type(value, __u32); /* RECLAIM_* last tried by that thread */
} last_reclaim SEC(".maps");

static __always_inline void note_reclaim(__u32 kind)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&last_reclaim, &tid, &kind, BPF_ANY);
}

SEC("tp_btf/mm_vmscan_memcg_reclaim_begin")
int BPF_PROG(tapio_oom_memcg_reclaim)
{
	note_reclaim(RECLAIM_MEMCG);
	return 0;
}

SEC("tp_btf/mm_vmscan_direct_reclaim_begin")
int BPF_PROG(tapio_oom_direct_reclaim)
{
	note_reclaim(RECLAIM_DIRECT);
	return 0;
}

/* mm_struct.rss_stat became an array of percpu_counter in Linux 6.2. */
struct mm_struct___pcpu {
	struct percpu_counter rss_stat[4];
} __attribute__((preserve_access_index));

SEC("tp_btf/mark_victim")
int BPF_PROG(tapio_mark_victim, struct task_struct *task)
{
	struct tapio_event *e = tapio_reserve(TAPIO_OOM_KILL);
	if (!e)
		return 0;
	tapio_fill_task(e, task);
	e->u.oom.oom_score_adj = BPF_CORE_READ(task, signal, oom_score_adj);

	struct mm_struct___pcpu *mm = (void *)BPF_CORE_READ(task, mm);
	if (mm && bpf_core_field_exists(mm->rss_stat)) {
		__s64 file = BPF_CORE_READ(mm, rss_stat[0].count); /* MM_FILEPAGES */
		__s64 anon = BPF_CORE_READ(mm, rss_stat[1].count); /* MM_ANONPAGES */
		__s64 shmem = BPF_CORE_READ(mm, rss_stat[3].count); /* MM_SHMEMPAGES */
		__s64 rss = file + anon + shmem;
		e->u.oom.rss_pages = rss > 0 ? rss : 0;
	}

	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 *kind = bpf_map_lookup_elem(&last_reclaim, &tid);
	if (kind) {
		e->u.oom.constraint = *kind == RECLAIM_MEMCG ? 1 : 2;
		bpf_map_delete_elem(&last_reclaim, &tid);
	}
	if (e->u.oom.constraint == 1) {
		int id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
		struct cgroup_subsys_state *css = BPF_CORE_READ(task, cgroups, subsys[id]);
		for (int level = 0; level < TAPIO_CG_DEPTH; level++) {
			if (!css)
				break;
			struct mem_cgroup *memcg = (void *)css; /* css is its first member */
			__u64 max = BPF_CORE_READ(memcg, memory.max);
			if (max < UNLIMITED_PAGES) {
				e->u.oom.limit_pages = max;
				e->u.oom.usage_pages = BPF_CORE_READ(memcg, memory.usage.counter);
				break;
			}
			css = BPF_CORE_READ(css, parent);
		}
	}
	tapio_submit(e);
	return 0;
}
