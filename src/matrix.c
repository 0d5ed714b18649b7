/* matrix.c: placeholder, being written. */
#include "config.h"
#include "connector.h"
#include "log.h"
void *matrix_thread(void *arg) { (void)arg; fatalx("Matrix connector not built yet"); }
