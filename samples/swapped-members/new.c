/* Traffic counters per interface. The fix stops counting runt frames as received; while at
 * it, the developer swapped rx and tx "to match the order of the stats dump". */
#include <stddef.h>

struct if_stats {
	unsigned long tx;       /* frames sent */
	unsigned long rx;       /* frames received */
	unsigned long dropped;
};

static struct if_stats stats[4];

void count_rx(unsigned iface, size_t frame_len)
{
	if (iface >= 4)
		return;
	if (frame_len < 64) {
		stats[iface].dropped++;
		return;
	}
	stats[iface].rx++;
}

void count_tx(unsigned iface)
{
	if (iface < 4)
		stats[iface].tx++;
}

unsigned long total_dropped(void)
{
	unsigned long n = 0;
	for (unsigned i = 0; i < 4; i++)
		n += stats[i].dropped;
	return n;
}

const struct if_stats *if_stats_get(unsigned iface)
{
	return iface < 4 ? &stats[iface] : NULL;
}
