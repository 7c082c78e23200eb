/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0) */
/*
 * What every Tapio eBPF program writes to its ring buffer, and the helpers they share.
 *
 * The layout is read byte for byte by ingest/src/ebpf/record.rs: change both together.
 * Fields are little-endian, naturally aligned, with explicit padding; the static
 * assertion below fails the build if the size moves.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define TAPIO_COMM_LEN 16
#define TAPIO_CG_NAME_LEN 96
#define TAPIO_CG_DEPTH 4

enum tapio_kind {
	TAPIO_OOM_KILL = 1,
	TAPIO_PROCESS_EXIT = 2,
	TAPIO_TCP_CONNECT_FAILED = 3,
	TAPIO_TCP_RESET = 4,
	TAPIO_TCP_RETRANSMIT = 5,
	TAPIO_MEMCG_RECLAIM = 6,
};

/* The victim of an OOM kill. */
struct tapio_oom {
	__u64 limit_pages;    /* memcg limit, or the pages the kernel had for a system OOM */
	__u64 usage_pages;    /* memcg usage at the kill (0 for a system OOM) */
	__u64 rss_pages;      /* victim's anon + file + shmem resident pages */
	__u32 constraint;     /* 1 = memory cgroup limit, 2 = system-wide, 0 = unknown */
	__s32 oom_score_adj;
};

/* A process that ended badly: the thread-group leader, non-zero status only. */
struct tapio_exit {
	__s32 exit_code;      /* exit(2) status, 0 when killed by a signal */
	__u32 signal;         /* fatal signal number, 0 for a normal exit */
	__u32 core_dumped;
	__u32 ppid;
};

/* TCP trouble on one socket. Ports in host order; addresses in network order. */
struct tapio_tcp {
	__u16 family;         /* AF_INET (2) or AF_INET6 (10) */
	__u16 sport;
	__u16 dport;
	__u16 _pad;
	__u8 saddr[16];
	__u8 daddr[16];
	__s32 oldstate;
	__s32 newstate;
	__s32 err;            /* sk_err: ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ... */
	__u32 suppressed;     /* events of this kind on this socket folded into this one */
};

/* A memory cgroup reclaiming because it hit its limit (rate-limited per cgroup). */
struct tapio_memcg {
	__u64 usage_pages;
	__u64 limit_pages;
	__u32 suppressed;     /* reclaim rounds folded into this event */
	__u32 level;          /* how many levels above the task's cgroup the limit sits */
};

struct tapio_event {
	__u64 boot_ns;        /* bpf_ktime_get_boot_ns() */
	__u64 cgroup_id;      /* kernfs id of the cgroup named below */
	__u32 kind;           /* enum tapio_kind */
	__u32 pid;            /* process (thread-group) id, 0 when not known */
	__u32 tid;
	__u32 _pad;
	char comm[TAPIO_COMM_LEN];
	/* The memory cgroup's path, leaf first: [0] the task's cgroup, [1] its parent, ... */
	char cgroup[TAPIO_CG_DEPTH][TAPIO_CG_NAME_LEN];
	union {
		struct tapio_oom oom;
		struct tapio_exit exit;
		struct tapio_tcp tcp;
		struct tapio_memcg memcg;
		__u8 raw[64];
	} u;
};

_Static_assert(sizeof(struct tapio_event) == 496, "layout shared with record.rs");

/* Each program object has its own ring buffer and drop counter; the loader may resize
 * the ring buffer before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* A zeroed event with time and kind set, or NULL (counted as lost) when the ring is full. */
static __always_inline struct tapio_event *tapio_reserve(__u32 kind)
{
	struct tapio_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(&lost, &zero);
		if (n)
			*n += 1;
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->boot_ns = bpf_ktime_get_boot_ns();
	e->kind = kind;
	return e;
}

/* Wake the reader only once this much is waiting: a wakeup per record would cost the
 * reader more than the record (it also polls every 50 ms, so nothing waits longer). */
#define TAPIO_WAKEUP_BYTES (64 * 1024)

static __always_inline void tapio_submit(struct tapio_event *e)
{
	__u64 waiting = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	bpf_ringbuf_submit(e, waiting >= TAPIO_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

/* At most one event a second per key (a cgroup, a socket): the value of a rate map. */
struct tapio_rate {
	__u64 boot_ns;        /* when the last event for the key went out */
	__u32 suppressed;     /* events folded since */
	__u32 _pad;
};

#define TAPIO_NSEC_PER_SEC 1000000000ULL

/* 1 when an event for `key` may go out now, with the count folded since the last one in
 * *suppressed; 0 when this one is folded into the next. `rates` is an LRU hash of
 * __u64 -> struct tapio_rate. */
static __always_inline int tapio_rate_ok(void *rates, __u64 key, __u32 *suppressed)
{
	__u64 now = bpf_ktime_get_boot_ns();
	*suppressed = 0;
	struct tapio_rate *last = bpf_map_lookup_elem(rates, &key);
	if (last) {
		if (now - last->boot_ns < TAPIO_NSEC_PER_SEC) {
			__sync_fetch_and_add(&last->suppressed, 1);
			return 0;
		}
		*suppressed = last->suppressed;
	}
	struct tapio_rate fresh = { .boot_ns = now };
	bpf_map_update_elem(rates, &key, &fresh, BPF_ANY);
	return 1;
}

/* kernfs_node.parent was renamed __parent in Linux 6.15; read whichever this kernel has. */
struct kernfs_node___old {
	struct kernfs_node___old *parent;
} __attribute__((preserve_access_index));
struct kernfs_node___new {
	struct kernfs_node___new *__parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *tapio_kn_parent(struct kernfs_node *kn)
{
	struct kernfs_node___new *n = (void *)kn;
	struct kernfs_node___old *o = (void *)kn;
	if (bpf_core_field_exists(n->__parent))
		return (void *)BPF_CORE_READ(n, __parent);
	return (void *)BPF_CORE_READ(o, parent);
}

/* The task's memory cgroup: on cgroup v1 its memory hierarchy, on v2 the unified one. */
static __always_inline struct cgroup *tapio_memory_cgroup(struct task_struct *t)
{
	int id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	struct cgroup_subsys_state *css = BPF_CORE_READ(t, cgroups, subsys[id]);
	struct cgroup *cg = css ? BPF_CORE_READ(css, cgroup) : NULL;
	if (!cg || BPF_CORE_READ(cg, level) == 0) {
		struct cgroup *dfl = BPF_CORE_READ(t, cgroups, dfl_cgrp);
		if (dfl)
			cg = dfl;
	}
	return cg;
}

/* Copies the cgroup's id and the names of its last TAPIO_CG_DEPTH path components. */
static __always_inline void tapio_fill_cgroup(struct tapio_event *e, struct cgroup *cg)
{
	if (!cg)
		return;
	struct kernfs_node *kn = BPF_CORE_READ(cg, kn);
	if (!kn)
		return;
	e->cgroup_id = BPF_CORE_READ(kn, id);
#pragma unroll
	for (int i = 0; i < TAPIO_CG_DEPTH; i++) {
		if (!kn)
			break;
		struct kernfs_node *parent = tapio_kn_parent(kn);
		if (!parent)
			break; /* the root's name is "/": leave it out */
		const char *name = BPF_CORE_READ(kn, name);
		bpf_probe_read_kernel_str(e->cgroup[i], TAPIO_CG_NAME_LEN, name);
		kn = parent;
	}
}

/* Identity of a task: process id, thread id, command, memory cgroup. */
static __always_inline void tapio_fill_task(struct tapio_event *e, struct task_struct *t)
{
	e->pid = BPF_CORE_READ(t, tgid);
	e->tid = BPF_CORE_READ(t, pid);
	BPF_CORE_READ_STR_INTO(&e->comm, t, comm);
	tapio_fill_cgroup(e, tapio_memory_cgroup(t));
}
