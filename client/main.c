/* main.c - jobspool(1), the command-line client: see client.h. */
#include "client.h"

int
main(int argc, char **argv)
{
	return cl_main(argc, argv);
}
