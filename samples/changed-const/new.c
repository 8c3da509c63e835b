/* Back-off delays for reconnecting, in seconds. The fix caps the last step at 30 instead of
 * 300; the table is const, but it is data the running process already holds. */
const unsigned retry_delays[5] = { 1, 2, 5, 10, 30 };

unsigned next_delay(unsigned attempt)
{
	if (attempt >= sizeof retry_delays / sizeof retry_delays[0])
		attempt = sizeof retry_delays / sizeof retry_delays[0] - 1;
	return retry_delays[attempt];
}
