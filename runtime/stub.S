/*
 * stub.S: the code a thread of the target runs to make system calls for us.
 *
 * The applier never leaves a thread with registers it did not have. To run
 * system calls in the target it copies these bytes (rt_stub .. rt_stub_end,
 * position-independent) into padding that no code uses (the tail of the last
 * page of an executable segment, past its end), writes a block below the
 * thread's stack pointer (past the 128-byte red zone) holding the calls and
 * the thread's own registers, and points the thread's rip at the stub and its
 * rsp at the block. The stub makes the calls, stores each result in the
 * block, then restores every register from the block and returns to where the
 * thread was, in one instruction (`ret 128` sets rip and rsp together).
 *
 * The tracer follows the calls with PTRACE_SYSCALL and reads the results, but
 * nothing depends on it: if it dies at any instant after setting the
 * registers, the thread finishes the calls and goes back to its own code with
 * its own registers. The normal path is that same path: the tracer detaches
 * and the stub's tail restores the thread.
 *
 * rt_park and rt_commit are the same idea for the switch of several entries
 * at once (apply.c, set_entries()): every thread but one waits in rt_park,
 * the last writes every entry through /proc/self/mem in rt_commit; each then
 * goes home through the same tail (rt_stub_home).
 *
 * Block (rsp at entry = B; B + 848 = the thread's rsp):
 *   B+0     ncalls (at most 8)
 *   B+8     calls[8], 72 bytes each: nr, arg0..arg5, flags, result
 *           flags bits 0-5: argument i is replaced by the result of call
 *           (flags >> 8) & 0xff (an earlier one: the fd of memfd_create)
 *   B+584   r15 r14 r13 r12 r11 r10 r9 r8 rdi rsi rbp rbx rdx rcx rax
 *   B+704   rflags
 *   B+712   rip
 *   B+720   the thread's red zone (128 bytes), then its rsp at B+848
 * runtime/ptrace.c (stub_block()) builds it; RT_STUB_* name the offsets.
 */
	.section .rodata
	.globl rt_stub, rt_stub_end, rt_park, rt_commit, rt_stub_ret
	.p2align 4
rt_stub:
	mov	(%rsp), %r12		/* calls left */
	lea	8(%rsp), %rbx		/* this call */
	lea	8(%rsp), %r15		/* call 0 */
1:	test	%r12, %r12
	jz	3f
	mov	8(%rbx), %rdi
	mov	16(%rbx), %rsi
	mov	24(%rbx), %rdx
	mov	32(%rbx), %r10
	mov	40(%rbx), %r8
	mov	48(%rbx), %r9
	mov	56(%rbx), %r13		/* flags */
	movzbl	57(%rbx), %ecx		/* the call whose result is substituted */
	imul	$72, %ecx, %ecx
	mov	64(%r15,%rcx), %r14	/* its result */
	test	$1, %r13b
	cmovnz	%r14, %rdi
	test	$2, %r13b
	cmovnz	%r14, %rsi
	test	$4, %r13b
	cmovnz	%r14, %rdx
	test	$8, %r13b
	cmovnz	%r14, %r10
	test	$16, %r13b
	cmovnz	%r14, %r8
	test	$32, %r13b
	cmovnz	%r14, %r9
	mov	(%rbx), %rax
	syscall
rt_stub_ret:				/* what a seccomp filter sees as the caller */
	mov	%rax, 64(%rbx)
	add	$72, %rbx
	dec	%r12
	jmp	1b
rt_stub_home:
3:	add	$584, %rsp
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rdi
	pop	%rsi
	pop	%rbp
	pop	%rbx
	pop	%rdx
	pop	%rcx
	pop	%rax
	popfq
	ret	$128

/*
 * Park: rdi = the commit word. Block every signal (the old mask kept in the
 * block), then wait until the word says the commit is over; a commit that has
 * not begun within about a second (by the process's own CLOCK_MONOTONIC) is
 * called off (0 -> 4) and the thread goes home: it can never be left waiting
 * for a tracer that died. It waits by yielding, not by a futex with a timeout:
 * a timed wait that a stop interrupts rewrites the thread's restart block,
 * which a thread stopped inside nanosleep still needs to restart it.
 */
rt_park:
	mov	%rdi, %r12
	call	9f			/* block signals */
	mov	$1, %edi		/* the deadline: now + 1 s (block+24) */
	lea	24(%rsp), %rsi
	mov	$228, %eax		/* clock_gettime(CLOCK_MONOTONIC) */
	syscall
	incq	24(%rsp)
1:	mov	(%r12), %eax
	cmp	$2, %eax
	jae	8f			/* done (2), failed (3) or called off (4) */
	test	%eax, %eax
	jnz	2f			/* committing: wait for it, whatever the time */
	mov	$1, %edi		/* nothing began yet: past the deadline? */
	lea	40(%rsp), %rsi
	mov	$228, %eax
	syscall
	mov	40(%rsp), %rax
	cmp	24(%rsp), %rax
	jb	2f
	ja	3f
	mov	48(%rsp), %rax
	cmp	32(%rsp), %rax
	jb	2f
3:	xor	%eax, %eax		/* call it off, unless it just began */
	mov	$4, %ecx
	lock cmpxchg %ecx, (%r12)
	jz	8f
	jmp	1b
2:	mov	$24, %eax		/* sched_yield */
	syscall
	jmp	1b
8:	jmp	7f

/*
 * Commit: rdi = the commit word, followed by the count of entries, the path
 * "/proc/self/mem" (at +8) and the entries (at +32, 24 bytes each: address,
 * the 5 bytes to write, padded to 8, the 5 bytes there now, padded to 8).
 * Begin (0 -> 1) unless the parked threads called it off; write every entry
 * through /proc/self/mem; on a failed write put back the ones written; say
 * done (2) or failed (3).
 */
rt_commit:
	mov	%rdi, %r12
	call	9f
	xor	%eax, %eax
	mov	$1, %ecx
	lock cmpxchg %ecx, (%r12)
	jnz	7f			/* called off: nothing written */
	lea	8(%r12), %rdi		/* open("/proc/self/mem", O_RDWR | O_CLOEXEC) */
	mov	$0x80002, %esi
	xor	%edx, %edx
	mov	$2, %eax
	syscall
	test	%rax, %rax
	js	5f
	mov	%rax, %r14		/* fd */
	mov	4(%r12), %r15d		/* entries */
	lea	32(%r12), %rbx
	xor	%r13d, %r13d		/* written */
3:	cmp	%r15, %r13
	jae	4f
	mov	%r14, %rdi		/* pwrite64(fd, to, 5, address) */
	lea	8(%rbx), %rsi
	mov	$5, %edx
	mov	(%rbx), %r10
	mov	$18, %eax
	syscall
	cmp	$5, %rax
	jne	6f
	add	$24, %rbx
	inc	%r13
	jmp	3b
6:	lea	32(%r12), %rbx		/* put back what was written */
61:	test	%r13, %r13
	jz	62f
	mov	%r14, %rdi
	lea	16(%rbx), %rsi
	mov	$5, %edx
	mov	(%rbx), %r10
	mov	$18, %eax
	syscall
	add	$24, %rbx
	dec	%r13
	jmp	61b
62:	mov	%r14, %rdi		/* close */
	mov	$3, %eax
	syscall
5:	movl	$3, (%r12)		/* failed */
	jmp	7f
4:	mov	%r14, %rdi		/* close */
	mov	$3, %eax
	syscall
	movl	$2, (%r12)		/* done */
7:	mov	$2, %edi		/* rt_sigprocmask(SIG_SETMASK, old, NULL, 8) */
	lea	16(%rsp), %rsi
	xor	%edx, %edx
	mov	$8, %r10d
	mov	$14, %eax
	syscall
	jmp	rt_stub_home

/* rt_sigprocmask(SIG_BLOCK, all (block+8), old (block+16), 8); a call: the
 * block is 8 bytes further up while it runs. */
9:	xor	%edi, %edi
	lea	16(%rsp), %rsi
	lea	24(%rsp), %rdx
	mov	$8, %r10d
	mov	$14, %eax
	syscall
	ret
rt_stub_end:

	.section .note.GNU-stack, "", @progbits
