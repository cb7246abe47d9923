/* jwt.c - HS256 JSON Web Tokens: verify, sign, secrets (jwt.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <nettle/hmac.h>

#include "jwt.h"
#include "util.h"

#define MAC_SIZE SHA256_DIGEST_SIZE

static const char *const reasons[JS_JWT_NSTATUS] = {
	"ok", "malformed", "unknown_algorithm", "bad_signature", "expired",
	"not_yet_valid", "too_long_lived", "revoked",
};

const char *
js_jwt_reason(enum js_jwt_status s)
{
	return (unsigned)s < JS_JWT_NSTATUS ? reasons[s] : "malformed";
}

const char *
js_jwt_role_name(enum js_jwt_role r)
{
	return r == JS_JWT_ADMIN ? "admin" : r == JS_JWT_WORKER ? "worker" :
	    "user";
}

int
js_jwt_role_parse(const char *s)
{
	if (strcmp(s, "admin") == 0)
		return JS_JWT_ADMIN;
	if (strcmp(s, "worker") == 0)
		return JS_JWT_WORKER;
	if (strcmp(s, "user") == 0)
		return JS_JWT_USER;
	return -1;
}

int
js_jwt_sub_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > JS_JWT_SUB_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    ch == '.'))
			return 0;
	}
	return 1;
}

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void
js_b64url_encode(const unsigned char *in, size_t len, char *out)
{
	size_t i, o = 0;
	unsigned v;

	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
		out[o++] = b64url[v & 63];
	}
	if (len - i == 1) {
		v = (unsigned)in[i] << 16;
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
	} else if (len - i == 2) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
	}
	out[o] = '\0';
}

static int
b64val(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '-')
		return 62;
	if (ch == '_')
		return 63;
	return -1;
}

long
js_b64url_decode(const char *in, size_t inlen, unsigned char *out,
    size_t outcap)
{
	size_t i, o = 0, bits = 0;
	unsigned long acc = 0;
	int v;

	if (inlen % 4 == 1)
		return -1;
	for (i = 0; i < inlen; i++) {
		if ((v = b64val(in[i])) < 0)
			return -1;
		acc = (acc << 6 | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == outcap)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* the bits left over must be zero: one text per byte string, so a
	 * changed last character is never the same signature */
	if (bits > 0 && (acc & ((1ul << bits) - 1)) != 0)
		return -1;
	return (long)o;
}

/* Decodes the base64url part in[0..len) as a JSON object; NULL if not. */
static json_t *
part_json(const char *in, size_t len)
{
	unsigned char *buf = malloc(len + 1);
	json_t *j = NULL;
	long n;

	if (buf == NULL)
		return NULL;
	n = js_b64url_decode(in, len, buf, len);
	if (n > 0)
		j = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES,
		    NULL);
	free(buf);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

static void
mac(const struct js_jwt_key *k, const char *data, size_t len,
    unsigned char out[MAC_SIZE])
{
	struct hmac_sha256_ctx ctx;

	hmac_sha256_set_key(&ctx, k->len, k->key);
	hmac_sha256_update(&ctx, len, (const uint8_t *)data);
	hmac_sha256_digest(&ctx, MAC_SIZE, out);
	explicit_bzero(&ctx, sizeof ctx);
}

/* Whether one of keys signs data with sig: every key is tried, each
 * compared over all its bytes. */
static int
mac_ok(const struct js_jwt_keys *keys, const char *data, size_t len,
    const unsigned char sig[MAC_SIZE])
{
	unsigned char m[MAC_SIZE];
	int good = 0;
	size_t i, j;

	for (i = 0; i < keys->n; i++) {
		unsigned char diff = 0;
		mac(&keys->k[i], data, len, m);
		for (j = 0; j < MAC_SIZE; j++)
			diff |= (unsigned char)(m[j] ^ sig[j]);
		good |= diff == 0;
	}
	explicit_bzero(m, sizeof m);
	return good;
}

/* The header's verdict: JS_JWT_OK for {"alg": "HS256"} (typ JWT allowed). */
static enum js_jwt_status
check_header(const char *in, size_t len, char *why, size_t whylen)
{
	json_t *h = part_json(in, len);
	const char *alg, *typ;
	enum js_jwt_status st = JS_JWT_OK;

	if (h == NULL) {
		js_errf(why, whylen, "the token's header is not base64url of a "
		    "JSON object");
		return JS_JWT_MALFORMED;
	}
	alg = json_string_value(json_object_get(h, "alg"));
	typ = json_string_value(json_object_get(h, "typ"));
	if (alg == NULL || strcmp(alg, "HS256") != 0) {
		js_errf(why, whylen, "the token is signed with '%.20s': only "
		    "HS256 is accepted", alg != NULL ? alg : "(no alg)");
		st = JS_JWT_ALG;
	} else if (json_object_get(h, "typ") != NULL &&
	    (typ == NULL || strcasecmp(typ, "JWT") != 0)) {
		js_errf(why, whylen, "the token's header has a typ other than "
		    "JWT");
		st = JS_JWT_MALFORMED;
	} else if (json_object_get(h, "crit") != NULL) {
		js_errf(why, whylen, "the token's header has a crit extension, "
		    "which this server does not understand");
		st = JS_JWT_MALFORMED;
	}
	json_decref(h);
	return st;
}

/* A NumericDate claim: 1 with *out, 0 if absent, -1 if not a number in a
 * sane range. */
static int
num_claim(const json_t *p, const char *name, int64_t *out)
{
	const json_t *v = json_object_get(p, name);
	double d;

	*out = 0;
	if (v == NULL)
		return 0;
	if (!json_is_number(v))
		return -1;
	d = json_number_value(v);
	if (!(d >= 0 && d < 1e13))
		return -1;
	*out = (int64_t)d;
	return 1;
}

static int
str_claim(const json_t *p, const char *name, char *out, size_t size,
    int need, char *why, size_t whylen)
{
	const json_t *v = json_object_get(p, name);
	size_t n;

	out[0] = '\0';
	if (v == NULL && !need)
		return 0;
	if (!json_is_string(v) || (n = json_string_length(v)) == 0 ||
	    n >= size || strlen(json_string_value(v)) != n) {
		js_errf(why, whylen, "the token's \"%s\" claim is %s", name,
		    v == NULL ? "missing" : "not a string of the right length");
		return -1;
	}
	memcpy(out, json_string_value(v), n + 1);
	return 0;
}

/* The claims of payload p into c; JS_JWT_MALFORMED with why if one is
 * missing or of the wrong type. */
static enum js_jwt_status
read_claims(const json_t *p, struct js_jwt_claims *c, char *why,
    size_t whylen)
{
	char role[16];
	int r;

	if (str_claim(p, "sub", c->sub, sizeof c->sub, 1, why, whylen) < 0 ||
	    str_claim(p, "jti", c->jti, sizeof c->jti, 0, why, whylen) < 0 ||
	    str_claim(p, "role", role, sizeof role, 0, why, whylen) < 0)
		return JS_JWT_MALFORMED;
	if (!js_jwt_sub_valid(c->sub, strlen(c->sub))) {
		js_errf(why, whylen, "the token's \"sub\" is not a name of "
		    "letters, digits, '-', '_' and '.'");
		return JS_JWT_MALFORMED;
	}
	r = role[0] != '\0' ? js_jwt_role_parse(role) : JS_JWT_USER;
	if (r < 0) {
		js_errf(why, whylen, "the token's \"role\" is neither admin, "
		    "worker nor user");
		return JS_JWT_MALFORMED;
	}
	c->role = (enum js_jwt_role)r;
	if (num_claim(p, "exp", &c->exp) != 1 || c->exp == 0) {
		js_errf(why, whylen, "the token has no \"exp\" (expiry time, "
		    "seconds since 1970): one is required");
		return JS_JWT_MALFORMED;
	}
	if (num_claim(p, "nbf", &c->nbf) < 0 ||
	    num_claim(p, "iat", &c->iat) < 0) {
		js_errf(why, whylen, "the token's \"nbf\" or \"iat\" is not a "
		    "time in seconds since 1970");
		return JS_JWT_MALFORMED;
	}
	return JS_JWT_OK;
}

/* The times of c against now: expired, not yet valid, or too long lived. */
static enum js_jwt_status
check_times(const struct js_jwt_claims *c, int64_t now, int64_t skew,
    int64_t max_life, char *why, size_t whylen)
{
	if (now - skew >= c->exp) {
		js_errf(why, whylen, "the token expired %lld s ago",
		    (long long)(now - c->exp));
		return JS_JWT_EXPIRED;
	}
	if (c->nbf != 0 && now + skew < c->nbf) {
		js_errf(why, whylen, "the token is not valid for another %lld s "
		    "(nbf)", (long long)(c->nbf - now));
		return JS_JWT_NOT_YET;
	}
	if (c->iat != 0 && now + skew < c->iat) {
		js_errf(why, whylen, "the token was issued %lld s in the future "
		    "(iat): check the clocks", (long long)(c->iat - now));
		return JS_JWT_NOT_YET;
	}
	if (max_life > 0 && c->exp - now > max_life + skew) {
		js_errf(why, whylen, "the token expires in %lld s, later than "
		    "this server's longest lifetime (%lld s)",
		    (long long)(c->exp - now), (long long)max_life);
		return JS_JWT_TOO_LONG;
	}
	return JS_JWT_OK;
}

/* The signature part against data; JS_JWT_SIGNATURE with why if wrong. */
static enum js_jwt_status
check_sig(const struct js_jwt_keys *keys, const char *data, size_t dlen,
    const char *sig, size_t slen, char *why, size_t whylen)
{
	unsigned char s[MAC_SIZE + 1];

	if (js_b64url_decode(sig, slen, s, sizeof s) != MAC_SIZE) {
		js_errf(why, whylen, "the token's signature is not 32 bytes of "
		    "base64url");
		return JS_JWT_SIGNATURE;
	}
	if (keys == NULL || keys->n == 0 || !mac_ok(keys, data, dlen, s)) {
		js_errf(why, whylen, "the token's signature is wrong: it was "
		    "not signed with a secret of this server, or was changed");
		return JS_JWT_SIGNATURE;
	}
	return JS_JWT_OK;
}

enum js_jwt_status
js_jwt_verify(const char *tok, size_t len, const struct js_jwt_keys *keys,
    int64_t now, int64_t skew, int64_t max_life, struct js_jwt_claims *c,
    char *why, size_t whylen)
{
	const char *d1, *d2;
	enum js_jwt_status st;
	json_t *p;

	memset(c, 0, sizeof *c);
	d1 = len <= JS_JWT_MAX ? memchr(tok, '.', len) : NULL;
	d2 = d1 != NULL ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok)) :
	    NULL;
	if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) ||
	    d1 == tok || d2 == d1 + 1) {
		js_errf(why, whylen, "the token is not three base64url parts "
		    "separated by dots");
		return JS_JWT_MALFORMED;
	}
	if ((st = check_header(tok, (size_t)(d1 - tok), why, whylen)) != 0 ||
	    (st = check_sig(keys, tok, (size_t)(d2 - tok), d2 + 1,
	    len - (size_t)(d2 + 1 - tok), why, whylen)) != 0)
		return st;
	if ((p = part_json(d1 + 1, (size_t)(d2 - d1 - 1))) == NULL) {
		js_errf(why, whylen, "the token's claims are not base64url of "
		    "a JSON object");
		return JS_JWT_MALFORMED;
	}
	st = read_claims(p, c, why, whylen);
	json_decref(p);
	if (st == JS_JWT_OK)
		st = check_times(c, now, skew, max_life, why, whylen);
	return st;
}

char *
js_jwt_sign(const struct js_jwt_key *key, const struct js_jwt_claims *c)
{
	static const char head[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	unsigned char m[MAC_SIZE];
	json_t *p = json_pack("{s:s, s:I}", "sub", c->sub, "exp",
	    (json_int_t)c->exp);
	char *text = NULL, *out = NULL;
	size_t tl, hl, o;

	if (p != NULL && c->role != JS_JWT_USER)
		json_object_set_new(p, "role", json_string(js_jwt_role_name(c->role)));
	if (p != NULL && c->iat != 0)
		json_object_set_new(p, "iat", json_integer(c->iat));
	if (p != NULL && c->nbf != 0)
		json_object_set_new(p, "nbf", json_integer(c->nbf));
	if (p != NULL && c->jti[0] != '\0')
		json_object_set_new(p, "jti", json_string(c->jti));
	if (p != NULL)
		text = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(p);
	if (text == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	tl = strlen(text);
	hl = JS_B64URL_SIZE(sizeof head - 1) - 1;
	out = malloc(hl + 1 + JS_B64URL_SIZE(tl) + JS_B64URL_SIZE(MAC_SIZE) + 1);
	if (out != NULL) {
		js_b64url_encode((const unsigned char *)head, sizeof head - 1, out);
		out[hl] = '.';
		js_b64url_encode((const unsigned char *)text, tl, out + hl + 1);
		o = strlen(out);
		mac(key, out, o, m);
		out[o] = '.';
		js_b64url_encode(m, MAC_SIZE, out + o + 1);
	} else {
		errno = ENOMEM;
	}
	free(text);
	return out;
}

void
js_jwt_keys_free(struct js_jwt_keys *keys)
{
	size_t i;

	for (i = 0; keys->k != NULL && i < keys->n; i++) {
		explicit_bzero(keys->k[i].key, keys->k[i].len);
		free(keys->k[i].key);
	}
	free(keys->k);
	keys->k = NULL;
	keys->n = 0;
}

/* Adds the secret line[0..len) to keys; -1 with err. */
static int
add_key(struct js_jwt_keys *keys, const char *line, size_t len,
    const char *path, int lineno, char *err, size_t errlen)
{
	struct js_jwt_key *k;

	if (len < JS_JWT_SECRET_MIN) {
		js_errf(err, errlen, "%s:%d: the secret has %zu bytes, fewer "
		    "than the %d an HS256 secret needs (make one with: head -c 48 "
		    "/dev/urandom | base64)", path, lineno, len,
		    JS_JWT_SECRET_MIN);
		return -1;
	}
	if (keys->n == JS_JWT_SECRETS_MAX) {
		js_errf(err, errlen, "%s: more than %d secrets", path,
		    JS_JWT_SECRETS_MAX);
		return -1;
	}
	if (keys->k == NULL &&
	    (keys->k = calloc(JS_JWT_SECRETS_MAX, sizeof *keys->k)) == NULL)
		goto oom;
	k = &keys->k[keys->n];
	if ((k->key = malloc(len)) == NULL)
		goto oom;
	memcpy(k->key, line, len);
	k->len = len;
	keys->n++;
	return 0;
oom:
	js_errf(err, errlen, "out of memory");
	return -1;
}

/* Reads the open secret file fd (of path) into buf (cap bytes); its
 * length, or -1 with err. */
static long
read_secret_file(int fd, const char *path, char *buf, size_t cap, char *err,
    size_t errlen)
{
	struct stat st;
	size_t len = 0;
	ssize_t n;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		js_errf(err, errlen, "%s is not a regular file", path);
		return -1;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH)) {
		js_errf(err, errlen, "%s may be read or written by other users "
		    "(mode %03o): chmod 600 it", path,
		    (unsigned)(st.st_mode & 0777));
		return -1;
	}
	while ((n = read(fd, buf + len, cap - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			js_errf(err, errlen, "cannot read %s: %s", path,
			    strerror(errno));
			return -1;
		}
		len += (size_t)n;
		if (len == cap) {
			js_errf(err, errlen, "%s is too large for a secret file",
			    path);
			return -1;
		}
	}
	return (long)len;
}

int
js_jwt_keys_load(const char *path, struct js_jwt_keys *keys, char *err,
    size_t errlen)
{
	char buf[16384], *line, *end;
	int fd, lineno = 0;
	long len;
	size_t ll;

	memset(keys, 0, sizeof *keys);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		js_errf(err, errlen, "cannot open the secret file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	len = read_secret_file(fd, path, buf, sizeof buf, err, errlen);
	close(fd);
	for (line = buf; len >= 0 && line < buf + len; line = end + 1) {
		end = memchr(line, '\n', (size_t)(buf + len - line));
		if (end == NULL)
			end = buf + len;
		lineno++;
		ll = (size_t)(end - line);
		while (ll > 0 && (line[ll - 1] == '\r' || line[ll - 1] == ' ' ||
		    line[ll - 1] == '\t'))
			ll--;
		if (ll == 0 || line[0] == '#')
			continue;
		if (add_key(keys, line, ll, path, lineno, err, errlen) < 0)
			len = -1;
	}
	if (len >= 0 && keys->n == 0) {
		js_errf(err, errlen, "%s holds no secret", path);
		len = -1;
	}
	explicit_bzero(buf, sizeof buf);
	if (len < 0)
		js_jwt_keys_free(keys);
	return len < 0 ? -1 : 0;
}
