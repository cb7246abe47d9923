/*
 * curlfn.h - libcurl, loaded when the processor first needs it.
 *
 * A processor in local mode talks no HTTP, but linking libcurl would map
 * it and its dependencies (GnuTLS, OpenSSL's libcrypto through libssh2,
 * Kerberos, LDAP, p11-kit: about 5 MiB of resident pages, most of the
 * processor's memory) into every processor.  So the processor is not
 * linked with libcurl: remote mode and the webhook/Telegram notifiers call
 * curlfn_load() first, which dlopen()s the libcurl the build was made
 * against (the names below) once, and the curl_* calls of processor/
 * go through its table (the macros below: include this file, never
 * <curl/curl.h> directly), which loads it on first use too.  Where it
 * cannot be loaded the table's functions fail as libcurl does when it
 * cannot start (CURLE_FAILED_INIT, NULL): an error, never a crash.
 */
#ifndef JS_PROC_CURLFN_H
#define JS_PROC_CURLFN_H

#include <stddef.h>

#define CURL_DISABLE_TYPECHECK 1	/* its macros would call by name */
#include <curl/curl.h>

struct curlfn {
	CURLcode (*global_init)(long flags);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *h);
	void (*easy_reset)(CURL *h);
	CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	CURLcode (*easy_perform)(CURL *h);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *l,
	    const char *s);
	void (*slist_free_all)(struct curl_slist *l);
};

/* Loads libcurl (once per process; later calls return what the first
 * did).  0, or -1 with why in err (the library is not installed). */
int curlfn_load(char *err, size_t errlen);

/* The table (loading libcurl at the first call): libcurl's functions, or
 * failing stand-ins where it cannot be loaded. */
const struct curlfn *curlfn(void);

#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init (*curlfn()->global_init)
#define curl_global_cleanup (*curlfn()->global_cleanup)
#define curl_easy_init (*curlfn()->easy_init)
#define curl_easy_cleanup (*curlfn()->easy_cleanup)
#define curl_easy_reset (*curlfn()->easy_reset)
#define curl_easy_setopt (*curlfn()->easy_setopt)
#define curl_easy_getinfo (*curlfn()->easy_getinfo)
#define curl_easy_perform (*curlfn()->easy_perform)
#define curl_easy_strerror (*curlfn()->easy_strerror)
#define curl_slist_append (*curlfn()->slist_append)
#define curl_slist_free_all (*curlfn()->slist_free_all)

#endif
