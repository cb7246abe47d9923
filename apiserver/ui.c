/*
 * ui.c - the status page (GET /, GET /ui/{file}): one HTML page, its
 * script and its style sheet, compiled into the program from apiserver/ui/
 * (the assembler's .incbin; the Makefile rebuilds ui.o when they change).
 * Nothing is fetched from elsewhere: a strict Content-Security-Policy
 * allows only this server's own script, style and API, no inline script.
 * The page asks for the token and calls the JSON API itself.
 */
#include <string.h>

#include "api.h"

#define EMBED(sym, file) \
	__asm__(".section .rodata\n.balign 16\n.global " #sym "\n" #sym ":\n" \
	    ".incbin \"" file "\"\n.global " #sym "_end\n" #sym "_end:\n" \
	    ".byte 0\n.previous\n")
EMBED(js_ui_index, "apiserver/ui/index.html");
EMBED(js_ui_js, "apiserver/ui/app.js");
EMBED(js_ui_css, "apiserver/ui/app.css");
EMBED(js_ui_icon, "apiserver/ui/icon.svg");
extern const char js_ui_index[], js_ui_index_end[];
extern const char js_ui_js[], js_ui_js_end[];
extern const char js_ui_css[], js_ui_css_end[];
extern const char js_ui_icon[], js_ui_icon_end[];

#define UI_CSP "default-src 'none'; script-src 'self'; style-src 'self'; " \
	"connect-src 'self'; img-src 'self'; base-uri 'none'; " \
	"form-action 'none'; frame-ancestors 'none'"

static enum MHD_Result
ui_send(struct MHD_Connection *c, const char *start, const char *end,
    const char *type)
{
	size_t len = (size_t)(end - start);
	struct MHD_Response *resp = MHD_create_response_from_buffer(len,
	    (void *)start, MHD_RESPMEM_PERSISTENT);

	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, "Content-Security-Policy", UI_CSP);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	return reply_queue_len(c, MHD_HTTP_OK, resp, len);
}

enum MHD_Result
route_ui_index(struct api *a, struct MHD_Connection *c)
{
	(void)a;
	return ui_send(c, js_ui_index, js_ui_index_end,
	    "text/html; charset=utf-8");
}

enum MHD_Result
route_ui_file(struct api *a, struct MHD_Connection *c, struct req *r,
    const char *file)
{
	(void)a;
	(void)r;
	if (strcmp(file, "app.js") == 0)
		return ui_send(c, js_ui_js, js_ui_js_end,
		    "text/javascript; charset=utf-8");
	if (strcmp(file, "app.css") == 0)
		return ui_send(c, js_ui_css, js_ui_css_end,
		    "text/css; charset=utf-8");
	if (strcmp(file, "icon.svg") == 0)
		return ui_send(c, js_ui_icon, js_ui_icon_end, "image/svg+xml");
	return reply_error(c, MHD_HTTP_NOT_FOUND, "no such file of the status "
	    "page: it has app.js, app.css and icon.svg");
}
