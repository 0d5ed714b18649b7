/* xmpp.c: placeholder, being written. */
#include "config.h"
#include "connector.h"
#include "log.h"
void *xmpp_thread(void *arg) { (void)arg; fatalx("XMPP connector not built yet"); }
