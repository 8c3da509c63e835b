/* A feature probe compiled to a stub that always said "no". The fix makes it say "yes" when
 * the build has the feature. At -O2 the old stub is 3 bytes (xor eax,eax; ret): too short for
 * the 5-byte jump that would send its callers to the new version. */
int have_sendfile(void)
{
	return 0;
}

int copy_mode(void)
{
	return have_sendfile() ? 2 : 1;
}
