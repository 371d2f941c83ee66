/* Calls lib_scale() of libprobedlib.so a known number of times. */
#include <stdio.h>

int lib_scale(int value, int factor);

int main(void)
{
	int total = 0;

	for (int i = 0; i < 3; i++)
		total += lib_scale(i, 7);
	printf("%d\n", total);
	return 0;
}
