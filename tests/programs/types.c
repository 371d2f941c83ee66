/* Parameters of many kinds of types, for stap-style type names and capture sizes. */
#include <stdint.h>
typedef struct { int a; } anon_t;
union u { int i; float f; };
enum color { RED, GREEN };
struct s { char tag[8]; int m[2][3]; };
__attribute__((noinline)) int f(int (*fn)(int), const volatile int *cv, anon_t a, union u u, enum color c, struct s s, uint64_t x, char buf[4], void *vp, const char * const cp, double d, _Bool b, signed char sc, unsigned long long ull)
{ char local[16]; local[0]=0; return fn(*cv) + a.a + u.i + c + s.tag[0] + (int)x + buf[0] + (vp!=0) + cp[0] + (int)d + b + sc + (int)ull + local[0]; }
int g(int v){return v;}
int main(){ int v=1; struct s s = {0}; anon_t a={1}; union u u={1}; char b[4]={0}; return f(g,&v,a,u,RED,s,1,b,0,"x",1.0,1,1,1); }
