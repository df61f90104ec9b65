/* Loads the canary cdylib as node loads an addon (dlopen) and calls it: see canary.rs. */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  void *lib = dlopen(argv[1], RTLD_NOW);
  if (!lib) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 2; }
  unsigned char (*overflow)(size_t) = (unsigned char (*)(size_t))dlsym(lib, "canary_overflow");
  if (!overflow) { fprintf(stderr, "dlsym: %s\n", dlerror()); return 2; }
  printf("read %d past the end and nothing was reported\n", overflow(8));
  return 0;
}
