/* Unit tests for lib/jwt.c and lib/revoke.c: tokens made by python3's
 * hmac and base64 (known vectors) verified, each refusal with its reason,
 * strict base64url, signing and verifying back, rotation, secret files,
 * and revocations in a spool. */
#include <errno.h>

#include "testutil.h"
#include "jwt.h"
#include "revoke.h"

static unsigned char secret1[] = "0123456789abcdef0123456789abcdef";
static unsigned char secret2[] = "another-secret-of-thirty-two-byte";

/* made by python3: hmac.new(secret1, h + "." + p, hashlib.sha256) */
static const char *const V_ADMIN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJhbGljZSIsImV4cCI6MjAwMDAwMDAwMCwiaWF0IjoxNzAwMDAwMDAwLCJqdG"
    "kiOiJqLTEiLCJyb2xlIjoiYWRtaW4ifQ.AeawdmEV9daLnFefhbwm-rxeuxUM14RjTtehM"
    "uDku5U";
static const char *const V_NBF = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJib2IiLCJleHAiOjIwMDAwMDAwMDAsIm5iZiI6MTkwMDAwMDAwMH0."
    "6klP4OLCcGKuyDxcJeTEqoUikSxNfawxqMKuESbuhss";
static const char *const V_HS512 = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJib2IiLCJleHAiOjIwMDAwMDAwMDB9."
    "p2xrVw9t2Ww3lpsaGYlGovOtwXYjo-fDn06sGLU4Tuc";

static struct js_jwt_key k1 = { secret1, 32 }, k2 = { secret2, 32 };

static enum js_jwt_status
verify(const char *tok, struct js_jwt_key *keys, size_t n, int64_t now,
    struct js_jwt_claims *c)
{
	struct js_jwt_keys ks = { keys, n };
	char why[256];

	return js_jwt_verify(tok, strlen(tok), &ks, now, 60, 0, c, why,
	    sizeof why);
}

static void
test_vectors(void **state)
{
	struct js_jwt_claims c;
	struct js_jwt_key both[2] = { k2, k1 };

	(void)state;
	assert_int_equal(verify(V_ADMIN, &k1, 1, 1800000000, &c), JS_JWT_OK);
	assert_string_equal(c.sub, "alice");
	assert_string_equal(c.jti, "j-1");
	assert_int_equal(c.role, JS_JWT_ADMIN);
	assert_int_equal(c.exp, 2000000000);
	assert_int_equal(c.iat, 1700000000);
	/* a second secret verifies too (rotation), whichever comes first */
	assert_int_equal(verify(V_ADMIN, both, 2, 1800000000, &c), JS_JWT_OK);
	assert_int_equal(verify(V_ADMIN, &k2, 1, 1800000000, &c),
	    JS_JWT_SIGNATURE);
	assert_int_equal(verify(V_ADMIN, NULL, 0, 1800000000, &c),
	    JS_JWT_SIGNATURE);
	/* exp, with the skew of 60 s */
	assert_int_equal(verify(V_ADMIN, &k1, 1, 2000000000 + 59, &c), JS_JWT_OK);
	assert_int_equal(verify(V_ADMIN, &k1, 1, 2000000000 + 60, &c),
	    JS_JWT_EXPIRED);
	/* iat in the future, nbf */
	assert_int_equal(verify(V_ADMIN, &k1, 1, 1700000000 - 61, &c),
	    JS_JWT_NOT_YET);
	assert_int_equal(verify(V_NBF, &k1, 1, 1900000000 - 61, &c),
	    JS_JWT_NOT_YET);
	assert_int_equal(verify(V_NBF, &k1, 1, 1900000000 - 60, &c), JS_JWT_OK);
	assert_int_equal(c.role, JS_JWT_USER);
	assert_int_equal(verify(V_HS512, &k1, 1, 1800000000, &c), JS_JWT_ALG);
	assert_string_equal(js_jwt_reason(JS_JWT_ALG), "unknown_algorithm");
	assert_string_equal(js_jwt_reason(JS_JWT_EXPIRED), "expired");
}

static void
test_tampered(void **state)
{
	struct js_jwt_claims c;
	char t[512];
	size_t n = strlen(V_ADMIN), i;

	(void)state;
	/* every single character changed: never accepted */
	for (i = 0; i < n; i++) {
		memcpy(t, V_ADMIN, n + 1);
		if (t[i] == '.')
			continue;
		t[i] = t[i] == 'A' ? 'B' : 'A';
		assert_int_not_equal(verify(t, &k1, 1, 1800000000, &c), JS_JWT_OK);
	}
	/* the last character of the signature with other unused bits */
	memcpy(t, V_ADMIN, n + 1);
	t[n - 1] = 'V';
	assert_int_equal(verify(t, &k1, 1, 1800000000, &c), JS_JWT_SIGNATURE);
	assert_int_equal(verify("", &k1, 1, 1, &c), JS_JWT_MALFORMED);
	assert_int_equal(verify("a.b", &k1, 1, 1, &c), JS_JWT_MALFORMED);
	assert_int_equal(verify("a.b.c.d", &k1, 1, 1, &c), JS_JWT_MALFORMED);
	assert_int_equal(verify("..", &k1, 1, 1, &c), JS_JWT_MALFORMED);
	/* {"alg":"none"} with an empty signature */
	assert_int_equal(verify("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIiwiZXhwIjo"
	    "yMDAwMDAwMDAwfQ.", &k1, 1, 1, &c), JS_JWT_ALG);
}

static void
test_sign_roundtrip(void **state)
{
	struct js_jwt_claims c, back;
	char *tok;

	(void)state;
	memset(&c, 0, sizeof c);
	strcpy(c.sub, "w-1.x_y");
	strcpy(c.jti, "id-42");
	c.role = JS_JWT_WORKER;
	c.iat = 1800000000;
	c.exp = c.iat + 3600;
	tok = js_jwt_sign(&k2, &c);
	assert_non_null(tok);
	assert_int_equal(verify(tok, &k2, 1, c.iat + 10, &back), JS_JWT_OK);
	assert_string_equal(back.sub, "w-1.x_y");
	assert_string_equal(back.jti, "id-42");
	assert_int_equal(back.role, JS_JWT_WORKER);
	assert_int_equal(back.exp, c.exp);
	{
		struct js_jwt_keys ks = { &k2, 1 };
		char why[200];
		assert_int_equal(js_jwt_verify(tok, strlen(tok), &ks, c.iat, 60,
		    600, &back, why, sizeof why), JS_JWT_TOO_LONG);
		assert_null(strstr(why, (const char *)secret2));
	}
	free(tok);
}

static void
test_b64url(void **state)
{
	unsigned char out[16];
	char enc[16];

	(void)state;
	js_b64url_encode((const unsigned char *)"\xfb\xff", 2, enc);
	assert_string_equal(enc, "-_8");
	assert_int_equal(js_b64url_decode("-_8", 3, out, sizeof out), 2);
	assert_memory_equal(out, "\xfb\xff", 2);
	assert_int_equal(js_b64url_decode("-_9", 3, out, sizeof out), -1);
	assert_int_equal(js_b64url_decode("Zg==", 4, out, sizeof out), -1);
	assert_int_equal(js_b64url_decode("Z+8", 3, out, sizeof out), -1);
	assert_int_equal(js_b64url_decode("Z", 1, out, sizeof out), -1);
	assert_int_equal(js_b64url_decode("Zm9vYmFy", 8, out, 5), -1);
}

static void
test_keys_file(void **state)
{
	char *d = tu_tempdir(), path[300], err[300];
	struct js_jwt_keys ks;
	FILE *fp;

	(void)state;
	snprintf(path, sizeof path, "%s/sec", d);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "# rotation\n%s\r\n\n%s  \n", secret1, secret2);
	fclose(fp);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(js_jwt_keys_load(path, &ks, err, sizeof err), 0);
	assert_int_equal(ks.n, 2);
	assert_int_equal(ks.k[0].len, 32);
	assert_memory_equal(ks.k[0].key, secret1, 32);
	assert_memory_equal(ks.k[1].key, secret2, 32);
	js_jwt_keys_free(&ks);
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(js_jwt_keys_load(path, &ks, err, sizeof err), -1);
	assert_non_null(strstr(err, "chmod 600"));
	fp = fopen(path, "w");
	fprintf(fp, "too-short-secret\n");
	fclose(fp);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(js_jwt_keys_load(path, &ks, err, sizeof err), -1);
	assert_non_null(strstr(err, "fewer than the 32"));
	assert_null(strstr(err, "too-short-secret"));
	fp = fopen(path, "w");
	fclose(fp);
	assert_int_equal(js_jwt_keys_load(path, &ks, err, sizeof err), -1);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(d), 0);
	free(d);
}

static void
test_revoke(void **state)
{
	char *d = tu_tempdir(), err[256];
	struct js_spool *sp;

	(void)state;
	sp = js_spool_open(d, JS_SPOOL_CREATE, err, sizeof err);
	assert_non_null(sp);
	assert_int_equal(js_revoke_has(sp, "j-1"), 0);
	assert_int_equal(js_revoke_has(sp, ""), 0);
	assert_int_equal(js_revoke_add(sp, "j-1", 1000, "root"), 0);
	assert_int_equal(js_revoke_add(sp, "../../etc/x", 5000, NULL), 0);
	assert_int_equal(js_revoke_add(sp, "", 5000, NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(js_revoke_has(sp, "j-1"), 1);
	assert_int_equal(js_revoke_has(sp, "../../etc/x"), 1);
	assert_int_equal(js_revoke_has(sp, "j-2"), 0);
	/* pruned once past its "until", the other kept */
	assert_int_equal(js_revoke_prune(sp, 999), 0);
	assert_int_equal(js_revoke_prune(sp, 1001), 1);
	assert_int_equal(js_revoke_has(sp, "j-1"), 0);
	assert_int_equal(js_revoke_has(sp, "../../etc/x"), 1);
	js_spool_close(sp);
	tu_rm_tree(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_sign_roundtrip),
		cmocka_unit_test(test_b64url),
		cmocka_unit_test(test_keys_file),
		cmocka_unit_test(test_revoke),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
