/* A tiny stack machine for packet filters: one arithmetic step, and the disassembler. */
#include <stdint.h>
#include <stdio.h>

enum op { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_AND, OP_OR, OP_SHL };

struct vm {
	int32_t stack[32];
	int sp;
};

/* Pop two operands, push the result; return 0, or -1 to reject the packet. */
int vm_binop(struct vm *vm, enum op op)
{
	int32_t a, b;

	if (vm->sp < 2)
		return -1;
	b = vm->stack[--vm->sp];
	a = vm->stack[vm->sp - 1];
	switch (op) {
	case OP_ADD:
		a = (int32_t)((uint32_t)a + (uint32_t)b);
		break;
	case OP_SUB:
		a = (int32_t)((uint32_t)a - (uint32_t)b);
		break;
	case OP_MUL:
		a = (int32_t)((uint32_t)a * (uint32_t)b);
		break;
	case OP_DIV:
		a = b == 0 || (a == INT32_MIN && b == -1) ? 0 : a / b;
		break;
	case OP_MOD:
		a = b == 0 || b == -1 ? 0 : a % b;
		break;
	case OP_AND:
		a &= b;
		break;
	case OP_OR:
		a |= b;
		break;
	case OP_SHL:
		a = (int32_t)((uint32_t)a << (b & 31));
		break;
	default:
		return -1;
	}
	vm->stack[vm->sp - 1] = a;
	return 0;
}

int vm_print(FILE *out, enum op op)
{
	switch (op) {
	case OP_ADD:
		return fputs("add\n", out);
	case OP_SUB:
		return fputs("sub\n", out);
	case OP_MUL:
		return fputs("mul\n", out);
	case OP_DIV:
		return fputs("div\n", out);
	case OP_MOD:
		return fputs("mod\n", out);
	case OP_AND:
		return fputs("and\n", out);
	case OP_OR:
		return fputs("or\n", out);
	case OP_SHL:
		return fputs("shl\n", out);
	}
	return fprintf(out, "bad opcode %d\n", (int)op);
}
