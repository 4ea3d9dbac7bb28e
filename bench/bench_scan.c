/* Placeholder: replaced by the scan benchmark. */
int main(void)
{
	return 0;
}
