/* plug(), fixed: no trace. */
int plug(int x)
{
	return x + 200;
}
