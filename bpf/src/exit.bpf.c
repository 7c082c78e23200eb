/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0) */
/*
 * Processes that end badly: sched/sched_process_exit for a thread-group leader whose
 * status is not 0. Clean exits (the vast majority on a node) and exits of single threads
 * never leave the kernel.
 */
#include "tapio.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sched_process_exit")
int BPF_PROG(tapio_process_exit, struct task_struct *task)
{
	__u32 pid = BPF_CORE_READ(task, pid);
	__u32 tgid = BPF_CORE_READ(task, tgid);
	if (pid != tgid)
		return 0;
	/* do_exit() stores the wait(2) status: exit code << 8, or the signal | 0x80 for core */
	int status = BPF_CORE_READ(task, exit_code);
	if (status == 0)
		return 0;

	struct tapio_event *e = tapio_reserve(TAPIO_PROCESS_EXIT);
	if (!e)
		return 0;
	tapio_fill_task(e, task);
	e->u.exit.signal = status & 0x7f;
	e->u.exit.core_dumped = (status & 0x80) ? 1 : 0;
	e->u.exit.exit_code = e->u.exit.signal ? 0 : (status >> 8) & 0xff;
	e->u.exit.ppid = BPF_CORE_READ(task, real_parent, tgid);
	tapio_submit(e);
	return 0;
}
