/* Placeholder: replaced by the open-archive example. */
int main(void)
{
	return 0;
}
