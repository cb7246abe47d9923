/* curlfn.c - libcurl loaded on first need (see curlfn.h). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "curlfn.h"
#include "util.h"

/* The names of libcurl's shared object on Debian: the GnuTLS build (what
 * libcurl4-gnutls-dev links), then the OpenSSL and NSS ones. */
static const char *const sonames[] = {
	"libcurl-gnutls.so.4", "libcurl.so.4", "libcurl-nss.so.4",
};

/* Stand-ins until libcurl is loaded: each fails as libcurl would. */
static CURLcode no_global_init(long f) { (void)f; return CURLE_FAILED_INIT; }
static void no_global_cleanup(void) { }
static CURL *no_easy_init(void) { return NULL; }
static void no_easy_handle(CURL *h) { (void)h; }
static CURLcode
no_easy_setopt(CURL *h, CURLoption o, ...)
{
	(void)h;
	(void)o;
	return CURLE_FAILED_INIT;
}
static CURLcode
no_easy_getinfo(CURL *h, CURLINFO i, ...)
{
	(void)h;
	(void)i;
	return CURLE_FAILED_INIT;
}
static CURLcode no_easy_perform(CURL *h) { (void)h; return CURLE_FAILED_INIT; }
static const char *
no_easy_strerror(CURLcode c)
{
	(void)c;
	return "libcurl is not loaded";
}
static struct curl_slist *
no_slist_append(struct curl_slist *l, const char *s)
{
	(void)l;
	(void)s;
	return NULL;
}
static void no_slist_free_all(struct curl_slist *l) { (void)l; }

static const struct curlfn none = {
	no_global_init, no_global_cleanup, no_easy_init, no_easy_handle,
	no_easy_handle, no_easy_setopt, no_easy_getinfo, no_easy_perform,
	no_easy_strerror, no_slist_append, no_slist_free_all,
};

/* Written once, under the once-control, before any caller reads it (the
 * process's one libcurl, as curl_global_init's state is libcurl's). */
static struct {
	pthread_once_t once;
	const struct curlfn *active;
	struct curlfn fns;
	char err[256];
} lib = { PTHREAD_ONCE_INIT, &none, { 0 }, "" };

/* One symbol of h into *slot; -1 if it is missing. */
static int
sym(void *h, const char *name, void *slot)
{
	void *p = dlsym(h, name);

	if (p == NULL) {
		snprintf(lib.err, sizeof lib.err, "%s has no %s", "libcurl",
		    name);
		return -1;
	}
	memcpy(slot, &p, sizeof p);	/* (object to function pointer) */
	return 0;
}

static void
load_once(void)
{
	struct curlfn f;
	void *h = NULL;
	size_t i;

	for (i = 0; h == NULL && i < sizeof sonames / sizeof sonames[0]; i++)
		h = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(lib.err, sizeof lib.err, "cannot load libcurl (%s): "
		    "install libcurl3-gnutls", dlerror());
		return;
	}
	if (sym(h, "curl_global_init", &f.global_init) < 0 ||
	    sym(h, "curl_global_cleanup", &f.global_cleanup) < 0 ||
	    sym(h, "curl_easy_init", &f.easy_init) < 0 ||
	    sym(h, "curl_easy_cleanup", &f.easy_cleanup) < 0 ||
	    sym(h, "curl_easy_reset", &f.easy_reset) < 0 ||
	    sym(h, "curl_easy_setopt", &f.easy_setopt) < 0 ||
	    sym(h, "curl_easy_getinfo", &f.easy_getinfo) < 0 ||
	    sym(h, "curl_easy_perform", &f.easy_perform) < 0 ||
	    sym(h, "curl_easy_strerror", &f.easy_strerror) < 0 ||
	    sym(h, "curl_slist_append", &f.slist_append) < 0 ||
	    sym(h, "curl_slist_free_all", &f.slist_free_all) < 0) {
		dlclose(h);
		return;
	}
	lib.fns = f;
	lib.active = &lib.fns;	/* (h stays open for the process) */
}

int
curlfn_load(char *err, size_t errlen)
{
	pthread_once(&lib.once, load_once);
	if (lib.active == &lib.fns)
		return 0;
	js_errf(err, errlen, "%s", lib.err);
	return -1;
}

const struct curlfn *
curlfn(void)
{
	pthread_once(&lib.once, load_once);
	return lib.active;
}
