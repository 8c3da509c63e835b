/* The default port of each protocol: IMAPS was given IMAP's 143 instead of 993. gcc -O2 turns
 * the switch into a table (CSWTCH.N: data with no DWARF variable, so not a variable of the
 * program), clang -O2 into switch.table, -O0 into code. In every build default_port changes
 * and its new table travels in the patch with it. */
enum proto { FTP, SSH, TELNET, SMTP, DNS, HTTP, POP3, IMAP, IMAPS, HTTPS };

int default_port(enum proto p)
{
	switch (p) {
	case FTP: return 21;
	case SSH: return 22;
	case TELNET: return 23;
	case SMTP: return 25;
	case DNS: return 53;
	case HTTP: return 80;
	case POP3: return 110;
	case IMAP: return 143;
	case IMAPS: return 993;
	case HTTPS: return 443;
	}
	return -1;
}

int is_secure(enum proto p)
{
	return p == SSH || p == IMAPS || p == HTTPS;
}
