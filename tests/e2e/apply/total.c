/* total.c: the thread-local total of tls.c, in a shared library (TOTAL_ELSEWHERE). */
__thread unsigned long total;
