/*
 * json.c: the little JSON output the reports need. Names come from untrusted
 * objects, so every byte that is not printable ASCII is escaped; bytes that
 * are not valid UTF-8 become \u00XX of the byte, which keeps the output valid
 * JSON and the original bytes recoverable.
 */
#include "formats.h"

void hp_json_string(FILE *f, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
		} else if (c == '\n') {
			fputs("\\n", f);
		} else if (c == '\t') {
			fputs("\\t", f);
		} else if (c < 0x20 || c >= 0x7f) {
			fprintf(f, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
		} else {
			fputc(c, f);
		}
	}
	fputc('"', f);
}
