/*
 * dlopen.S: the dlopen and dlmopen this library exports.
 *
 * The real dlopen looks at its return address to know who calls it: the
 * caller's namespace, its RUNPATH and RPATH for a bare name, its directory
 * for $ORIGIN. A wrapper written in C would be the caller. So each entry asks
 * load.c first, with the caller's return address; when the answer could
 * depend on the caller, load.c gives back the real function and this code
 * jumps to it with the stack exactly as the program made it: the real dlopen
 * sees the program's return address and returns to the program. Otherwise it
 * jumps to the C wrapper, which calls the real one and patches what it mapped.
 */
	.text

	.globl	dlopen
	.type	dlopen, @function
dlopen:				/* rdi file, rsi mode; (%rsp) the caller */
	.cfi_startproc
	push	%rdi
	.cfi_adjust_cfa_offset 8
	push	%rsi
	.cfi_adjust_cfa_offset 8
	sub	$8, %rsp	/* 16-byte aligned for the call */
	.cfi_adjust_cfa_offset 8
	mov	24(%rsp), %rdx
	call	pl_dlopen_route
	add	$8, %rsp
	.cfi_adjust_cfa_offset -8
	pop	%rsi
	.cfi_adjust_cfa_offset -8
	pop	%rdi
	.cfi_adjust_cfa_offset -8
	test	%rax, %rax
	jz	1f
	jmp	*%rax		/* the real dlopen, called by the program */
1:	jmp	pl_dlopen_wrapped
	.cfi_endproc
	.size	dlopen, .-dlopen

	.globl	dlmopen
	.type	dlmopen, @function
dlmopen:			/* rdi namespace, rsi file, rdx mode; (%rsp) the caller */
	.cfi_startproc
	push	%rdi
	.cfi_adjust_cfa_offset 8
	push	%rsi
	.cfi_adjust_cfa_offset 8
	push	%rdx
	.cfi_adjust_cfa_offset 8
	mov	24(%rsp), %rcx
	call	pl_dlmopen_route
	pop	%rdx
	.cfi_adjust_cfa_offset -8
	pop	%rsi
	.cfi_adjust_cfa_offset -8
	pop	%rdi
	.cfi_adjust_cfa_offset -8
	test	%rax, %rax
	jz	1f
	jmp	*%rax
1:	jmp	pl_dlmopen_wrapped
	.cfi_endproc
	.size	dlmopen, .-dlmopen

	.section .note.GNU-stack,"",@progbits
