/*
 * i386.S: a 32-bit x86 process for hpapply to refuse (tests/e2e/hardened.sh).
 * No libc: writes "ready\n" to stdout, then waits in pause() forever.
 *
 *   as --32 -o i386.o i386.S && ld -m elf_i386 -o i386 i386.o
 */
	.section .rodata
msg:	.ascii "ready\n"
	len = . - msg

	.text
	.globl _start
_start:
	movl	$4, %eax		/* write(1, msg, len) */
	movl	$1, %ebx
	movl	$msg, %ecx
	movl	$len, %edx
	int	$0x80
1:	movl	$29, %eax		/* pause() */
	int	$0x80
	jmp	1b

	.section .note.GNU-stack, "", @progbits
