/*
 * Fuzz target: the linked-image reader (formats/elfimage.c, image_read), which
 * hpbuild --target and the applier use on executables and shared libraries:
 * build-id note, PT_LOAD segments, .symtab and .dynsym. image_read takes a
 * path, so the input is written to a memory file and read through
 * /proc/self/fd. Then every symbol is looked up as an .hpx record would name
 * it, and its bytes fetched.
 */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "formats/base.h"
#include "formats/elfread.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-image", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	for (size_t done = 0; done < size;) {
		ssize_t w = write(fd, data + done, size - done);
		if (w <= 0)
			abort();
		done += (size_t)w;
	}
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "fuzz");
	struct image *img = NULL;
	if (image_read(&ctx, path, &img) == 0) {
		fuzz_touch(img->build_id, img->build_id_size);
		for (size_t i = 0; i < img->nsyms; i++) {
			const struct image_sym *s = &img->syms[i];
			const struct image_sym *out[4];
			fuzz_touch_str(s->name);
			fuzz_touch_str(s->file);
			image_find(img, s->name, s->file ? s->file : "", 0, out, 4);
			if (s->size <= 65536) {
				const uint8_t *b = image_bytes(img, s->value, s->size);
				if (b)
					fuzz_touch(b, s->size);
			}
		}
		image_free(img);
	}
	hp_ctx_fini(&ctx);
	close(fd);
	return 0;
}
