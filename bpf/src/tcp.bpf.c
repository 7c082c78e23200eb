/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0) */
/*
 * TCP trouble: failed connects (SYN_SENT -> CLOSE, with the socket's error: ECONNREFUSED
 * when the peer or a kube-proxy REJECT rule answered with a reset or ICMP unreachable,
 * ETIMEDOUT when nothing answered), resets received on open connections, and
 * retransmits (at most one event a second per socket, the rest counted).
 *
 * A connect fails in softirq context, where `current` is whatever ran on that CPU, so
 * the owner (process and cgroup) is noted when the socket enters SYN_SENT, which happens
 * in the connecting task, and looked up when it fails.
 */
#include "tapio.h"
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

/* include/net/tcp_states.h */
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7

/* The connecting task, kept as a partly filled event (process, comm, cgroup). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64); /* struct sock * */
	__type(value, struct tapio_event);
} owners SEC(".maps");

/* Scratch space: an owner is larger than the eBPF stack can hold comfortably. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tapio_event);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* struct sock * */
	__type(value, struct tapio_rate);
} last_retransmit SEC(".maps");

static __always_inline void note_owner(const struct sock *sk)
{
	__u32 zero = 0;
	struct tapio_event *tmp = bpf_map_lookup_elem(&scratch, &zero);
	if (!tmp)
		return;
	__builtin_memset(tmp, 0, sizeof(*tmp));
	tapio_fill_task(tmp, bpf_get_current_task_btf());
	__u64 key = (__u64)sk;
	bpf_map_update_elem(&owners, &key, tmp, BPF_ANY);
}

static __always_inline void fill_owner(struct tapio_event *e, const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct tapio_event *o = bpf_map_lookup_elem(&owners, &key);
	if (!o)
		return;
	e->cgroup_id = o->cgroup_id;
	e->pid = o->pid;
	e->tid = o->tid;
	__builtin_memcpy(e->comm, o->comm, sizeof(e->comm));
	__builtin_memcpy(e->cgroup, o->cgroup, sizeof(e->cgroup));
}

static __always_inline void fill_addrs(struct tapio_event *e, const struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->u.tcp.family = family;
	/* inet_sport, not skc_num: closing a socket releases its port (skc_num = 0) before
	 * the state change is traced. */
	e->u.tcp.sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	e->u.tcp.dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		bpf_core_read(e->u.tcp.saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(e->u.tcp.daddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(e->u.tcp.saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->u.tcp.daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tapio_sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	if (newstate == TCP_SYN_SENT) {
		note_owner(sk);
		return 0;
	}
	if (newstate != TCP_CLOSE)
		return 0;
	if (oldstate == TCP_SYN_SENT) {
		struct tapio_event *e = tapio_reserve(TAPIO_TCP_CONNECT_FAILED);
		if (e) {
			fill_owner(e, sk);
			fill_addrs(e, sk);
			e->u.tcp.oldstate = oldstate;
			e->u.tcp.newstate = newstate;
			e->u.tcp.err = BPF_CORE_READ(sk, sk_err);
			tapio_submit(e);
		}
	}
	__u64 key = (__u64)sk;
	bpf_map_delete_elem(&owners, &key);
	bpf_map_delete_elem(&last_retransmit, &key);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(tapio_receive_reset, struct sock *sk)
{
	int state = BPF_CORE_READ(sk, __sk_common.skc_state);
	if (state == TCP_SYN_SENT)
		return 0; /* a refused connect: reported when the socket closes, with its error */
	struct tapio_event *e = tapio_reserve(TAPIO_TCP_RESET);
	if (!e)
		return 0;
	fill_owner(e, sk);
	fill_addrs(e, sk);
	e->u.tcp.oldstate = state;
	tapio_submit(e);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tapio_retransmit, const struct sock *sk)
{
	__u64 key = (__u64)sk;
	__u32 suppressed;
	if (!tapio_rate_ok(&last_retransmit, key, &suppressed))
		return 0;

	struct tapio_event *e = tapio_reserve(TAPIO_TCP_RETRANSMIT);
	if (!e)
		return 0;
	fill_owner(e, sk);
	fill_addrs(e, sk);
	e->u.tcp.oldstate = BPF_CORE_READ(sk, __sk_common.skc_state);
	e->u.tcp.suppressed = suppressed;
	tapio_submit(e);
	return 0;
}
