/* A shared library for .library(...) probes (built with -shared -fPIC -g). */
__attribute__((noinline)) int lib_scale(int value, int factor)
{
	return value * factor;
}
